"""The one bounded poll of the project: call a probe until it returns, within a budget.

The checks (``CheckContext.poll``), the fixtures that start real processes (local
Prometheus, the exporter, the stand-in, prod-shaped stacks), the tests and bench all wait
through ``bounded_poll``; nobody sleeps to synchronise. A probe signals "not yet" by raising;
``retry_if`` says which errors are worth another attempt (anything else ends the wait at
once, as itself); ``on_error`` sees every failed attempt first and may raise to end the wait
(a process that exited, a service in a final state). ``retry_in`` may read from an error
when the next attempt can first tell something new (a panel whose next point is due at its
step boundary): the poll then waits that long instead of ``interval_s``, never past the
budget. When the budget is spent the last error comes back inside ``GaveUp``, never a bare
"timed out".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception, stop_after_delay

T = TypeVar("T")
RetryIf = Callable[[BaseException], bool] | tuple[type[BaseException], ...]
RetryIn = Callable[[BaseException], float | None]
# A hinted wait never goes below this: a hint that is already due must not spin.
MIN_WAIT_S = 0.02


class GaveUp(Exception):
    """The budget ran out; ``last`` is the probe's last error."""

    def __init__(self, what: str, last: BaseException, attempts: int, elapsed_s: float):
        super().__init__(
            f"{what} not reached after {attempts} attempts in {elapsed_s:.1f} s; "
            f"last error: {type(last).__name__}: {last}"
        )
        self.what = what
        self.last = last
        self.attempts = attempts
        self.elapsed_s = elapsed_s


def bounded_poll(
    probe: Callable[[], T],
    *,
    budget_s: float,
    interval_s: float,
    retry_if: RetryIf,
    what: str = "condition",
    on_error: Callable[[BaseException], None] | None = None,
    retry_in: RetryIn | None = None,
) -> T:
    """``probe()``'s first result, polling every ``interval_s`` for at most ``budget_s``."""
    should_retry = (
        (lambda error: isinstance(error, retry_if)) if isinstance(retry_if, tuple) else retry_if
    )
    started = time.monotonic()
    attempts = 0
    retrying = Retrying(
        stop=stop_after_delay(budget_s),
        wait=lambda state: next_wait(state, interval_s, budget_s, retry_in),
        retry=retry_if_exception(should_retry),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt:
                attempts += 1
                try:
                    return probe()
                except BaseException as error:
                    if on_error is not None:
                        on_error(error)
                    raise
    except RetryError as exhausted:
        last = exhausted.last_attempt.exception()
        assert last is not None
        raise GaveUp(what, last, attempts, time.monotonic() - started) from None
    raise AssertionError("unreachable: tenacity either returns or raises")


def next_wait(
    state: RetryCallState, interval_s: float, budget_s: float, retry_in: RetryIn | None
) -> float:
    """Seconds until the next attempt: the failed attempt's own hint if it gave one (capped
    by what is left of the budget), else the fixed interval."""
    error = state.outcome.exception() if state.outcome is not None else None
    hint = retry_in(error) if retry_in is not None and error is not None else None
    if hint is None:
        return interval_s
    left = budget_s - (state.seconds_since_start or 0.0)
    return max(MIN_WAIT_S, min(hint, left))
