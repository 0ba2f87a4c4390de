"""One verify run: a record per check, bounded polling, blocking, and the verdict.

A check module asks the ``shadow_mvs_check`` fixture for its ``CheckContext`` and calls
``poll`` with a probe. The probe raises ``CheckFailed`` (or lets an HTTP error escape) until
the link it checks is healthy; ``poll`` retries quietly within the check's budget from the
contract and, on timeout, fails with the *last underlying error*, never a bare "timed out".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from shadow_mvs.core.causes import Finding, is_final, load_causes
from shadow_mvs.core.causes import sentence as cause_sentence
from shadow_mvs.core.contract import Check, Contract, load_contract
from shadow_mvs.core.triage import Node, route
from shadow_mvs.core.waiting import GaveUp, bounded_poll

if TYPE_CHECKING:
    import httpx
    import requests

T = TypeVar("T")
Status = Literal["pending", "pass", "fail", "blocked", "not_selected"]


class CheckFailed(Exception):
    """An expected failure of the link a check guards: reported as one FAIL line.

    ``cause`` is an id of shadow_mvs/data/causes.toml: its sentence (placeholders filled from
    ``facts``) leads the message, and its node is where triage routes; ``message`` is the
    detail the check saw. Whether the poll tries again is the cause's class (causes.toml):
    a "final" cause (a live server's 4xx, a relabel rule, an exited service) ends the check
    at once, a "warm-up" one keeps the budget. ``retryable=False`` ends it at once for an
    observation the probe knows is final under a warm-up cause or with no cause at all.
    ``retry_in_s``: seconds until another attempt can first see a change (a panel's next
    step-aligned point); the poll waits that instead of its interval, within the budget.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: str | None = None,
        retryable: bool | None = None,
        facts: Mapping[str, object] | None = None,
        retry_in_s: float | None = None,
    ):
        self.sentence = cause_sentence(cause, facts)
        if self.sentence and message and not message.startswith(self.sentence):
            message = f"{self.sentence} — {message}"
        super().__init__(message or self.sentence or "")
        self.message = message or self.sentence or ""
        self.cause = cause
        self.retryable = not is_final(cause) and retryable is not False
        # When another look can first see something new (None: the poll's interval).
        self.retry_in_s = retry_in_s


def not_as_files(error: CheckFailed) -> CheckFailed:
    """The files the component read are right (the preflight found nothing) but it reports
    otherwise: say so (causes.toml ``files_agree``), keeping what the check saw."""
    cause = load_causes().get(error.cause or "")
    if cause is None or not cause.files_agree:
        return error
    detail = error.message.removeprefix(f"{error.sentence} — ") if error.sentence else error.message
    return CheckFailed(detail, cause=cause.files_agree, retryable=False)


class CheckBlocked(CheckFailed):
    """The check did not run because a check it depends on failed."""

    def __init__(self, upstream: CheckRecord, waited_for: str | None = None):
        reason = (
            f"not waited for: {upstream.f_code} ({upstream.check}) cannot heal, the run fails"
            if waited_for
            else f"blocked by {upstream.f_code} ({upstream.check}); not retried"
        )
        super().__init__(reason, retryable=False)
        self.upstream = upstream


# The HTTP clients are imported where an error is judged, not at module level: the
# ``shadow-mvs`` CLI imports this module (through the settings) to validate flags and spawn
# pytest, and sends no request; httpx, requests and prometheus-api-client cost it ~0.2 s of
# CPU. In a verify run the checks have imported them long before any error is judged.


def transient_errors() -> tuple[type[BaseException], ...]:
    """The errors a poll retries: the HTTP clients' own, and an unparsable body."""
    import httpx
    import requests
    from prometheus_api_client.exceptions import PrometheusApiClientException

    return (
        httpx.HTTPError,
        requests.RequestException,
        PrometheusApiClientException,
        ValueError,  # unparsable body from a half-started service
    )


def describe(error: BaseException) -> str:
    """One line naming what went wrong, without a traceback."""
    if isinstance(error, CheckFailed):
        return error.message
    import httpx  # see transient_errors
    import requests

    if isinstance(error, httpx.TimeoutException):
        return f"{_request_line(error)}timed out ({type(error).__name__})"
    if isinstance(error, httpx.ConnectError):
        return f"{_request_line(error)}connection failed ({error})"
    if isinstance(error, httpx.HTTPStatusError):
        return f"{_request_line(error)}HTTP {error.response.status_code}"
    if isinstance(error, requests.exceptions.ConnectionError):
        return f"{_prepared_request_line(error)}connection failed ({_innermost(error)})"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}".rstrip(": ")


def _request_line(error: httpx.HTTPError) -> str:
    try:
        request = error.request
    except RuntimeError:
        return ""
    return f"{request.method} {request.url.copy_with(query=None)}: "


def is_unreachable(error: BaseException) -> bool:
    """Nothing answers at the address: refused, no route, no such host, connect timeout."""
    import httpx  # see transient_errors
    import requests

    return isinstance(
        error, httpx.ConnectError | httpx.ConnectTimeout | requests.exceptions.ConnectionError
    )


def _prepared_request_line(error: requests.RequestException) -> str:
    request = error.request
    if request is None or not request.url:
        return ""
    return f"{request.method} {str(request.url).split('?')[0]}: "


def _innermost(error: BaseException) -> str:
    """urllib3 wraps the socket error twice; the last line of its text names it."""
    text = str(error)
    for marker in ("[Errno", "timed out", "Name or service not known"):
        if marker in text:
            start = text.index(marker)
            return text[start:].split(")")[0].split("'")[0].strip(" \"'")
    return type(error).__name__


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, CheckFailed):
        return error.retryable
    return isinstance(error, transient_errors())


@dataclass
class CheckRecord:
    check: str
    f_code: str
    depends_on: tuple[str, ...]
    budget_s: float
    status: Status = "pending"
    message: str = ""
    cause: str | None = None
    cause_sentence: str | None = None  # the cause's sentence, as the operator reads it
    attempts: int = 0
    elapsed_s: float = 0.0
    last_error: str | None = None
    blocked_by: str | None = None
    # Upstream checks this one depends on that were not selected in a partial run: the
    # check ran anyway, so its verdict does not vouch for them.
    unselected_upstream: tuple[str, ...] = ()
    evidence: dict[str, str] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    # Numbers the check measured (e.g. an SLO's value and threshold): verify as metrics.
    measurements: dict[str, float] = field(default_factory=dict)

    @property
    def node(self) -> Node:
        return route(self.f_code, self.cause)

    def as_metadata(self) -> dict[str, Any]:
        data = asdict(self)
        data["g_node"] = self.node.id if self.status in ("fail", "blocked") else None
        data["depends_on"] = list(self.depends_on)
        data["unselected_upstream"] = list(self.unselected_upstream)
        return data


# Called after a failed attempt: a final state (an exited service) to fail with, or None.
FinalStateHook = Callable[[CheckRecord], BaseException | None]
# Told after every failed attempt (done=False) and when the poll ends (done=True).
ProgressHook = Callable[[CheckRecord, float, bool], None]


class CheckContext:
    """What a check module works with: its record, bounded polling and evidence."""

    def __init__(
        self,
        record: CheckRecord,
        interval_s: float,
        final_state: FinalStateHook | None = None,
        unreachable_grace_s: float | None = None,
        progress: ProgressHook | None = None,
    ):
        self.record = record
        self.interval_s = interval_s
        self.final_state = final_state
        # External stacks are not warming up: once nothing has answered for this long, a
        # connection error ends the poll (None: compose bring-up, keep the whole budget).
        self.unreachable_grace_s = unreachable_grace_s
        self.progress = progress

    def poll(self, probe: Callable[[], T]) -> T:
        """Call ``probe`` until it returns, within the check's budget; quiet while warming up."""
        started = time.monotonic()
        answered = False

        def keep_trying(error: BaseException) -> bool:
            if self.unreachable_grace_s is not None and is_unreachable(error) and not answered:
                return time.monotonic() - started < self.unreachable_grace_s
            return _is_transient(error)

        def counted() -> T:
            self.record.attempts += 1
            return probe()

        def on_error(error: BaseException) -> None:
            nonlocal answered
            answered = answered or not is_unreachable(error)
            self.record.last_error = describe(error)
            if self.progress:  # the terminal shows the wait (shadow_mvs/report/progress.py)
                self.progress(self.record, time.monotonic() - started, False)
            if self.final_state and _is_transient(error):
                final = self.final_state(self.record)  # a dead service ends the wait
                if final is not None:
                    raise final

        try:
            return bounded_poll(
                counted,
                budget_s=self.record.budget_s,
                interval_s=self.interval_s,
                retry_if=keep_trying,
                what=self.record.check,
                on_error=on_error,
                retry_in=lambda error: error.retry_in_s if isinstance(error, CheckFailed) else None,
            )
        except GaveUp as exhausted:
            raise self._gave_up(exhausted.last, started) from None
        except BaseException as error:
            if self.unreachable_grace_s is not None and is_unreachable(error):
                raise self._gave_up(error, started, unreachable=True) from None
            raise
        finally:
            self.record.elapsed_s = round(time.monotonic() - started, 3)
            if self.progress:
                self.progress(self.record, self.record.elapsed_s, True)

    def _gave_up(
        self, last: BaseException, started: float, unreachable: bool = False
    ) -> CheckFailed:
        elapsed = time.monotonic() - started
        why = "unreachable external stack, " if unreachable else ""
        gave_up = CheckFailed(
            f"{describe(last)} ({why}gave up after {self.record.attempts} attempts "
            f"in {elapsed:.1f} s)",
            retryable=False,
        )
        if isinstance(last, CheckFailed):
            gave_up.cause, gave_up.sentence = last.cause, last.sentence
        return gave_up

    def passed(self, summary: str) -> None:
        """The one-line summary of the PASS line."""
        self.record.message = summary

    def evidence(self, key: str, value: str) -> None:
        self.record.evidence[key] = value

    def info(self, key: str, value: str) -> None:
        self.record.info[key] = value

    def warn(self, text: str) -> None:
        """A finding that does not fail the check: one WARN line (e.g. an SLO breach)."""
        self.record.warnings.append(text)

    def measure(self, key: str, value: float) -> None:
        """A number the run's metrics expose (shadow_mvs/report/metrics.py)."""
        self.record.measurements[key] = value

    def version(self, component: str, value: str) -> None:
        self.record.versions[component] = value


class VerifyRun:
    """All check records of one session, in contract order.

    ``budget_scale`` multiplies every check's budget (slow machines); ``external`` means the
    run did not start the stack, so "connection refused" gets only the contract's short
    ``unreachable_grace_s`` instead of a warm-up budget.
    """

    def __init__(
        self,
        contract: Contract | None = None,
        mode: str = "shadow",
        budget_scale: float = 1.0,
        external: bool = False,
    ):
        self.contract = contract or load_contract()
        self.mode = mode
        self.budget_scale = budget_scale
        self.external = external
        self.records = {
            c.name: CheckRecord(c.name, c.f_code, c.depends_on, c.budget_s * budget_scale)
            for c in self.contract.checks
        }
        self.stack_error: str | None = None
        self.final_state: FinalStateHook | None = None  # compose mode: shadow_mvs/stack/services.py
        self.progress: ProgressHook | None = None  # shadow_mvs/report/progress.py
        self._early: dict[str, CheckFailed] = {}
        self.findings: dict[
            str | None, list[Finding]
        ] = {}  # compose mode: shadow_mvs/evidence/preflight.py
        self.files_read: set[str] = set()

    def attach(self, findings: Iterable[Finding], covered: Iterable[str] = ()) -> None:
        """Preflight findings, by the check each will break; ``covered``: the checks whose
        mounted files the preflight read."""
        self.files_read |= set(covered)
        for finding in findings:
            self.findings.setdefault(finding.check, []).append(finding)

    def _finding_failure(self, record: CheckRecord, last: str) -> CheckFailed | None:
        """A failed check with a finding: the finding is the cause, and it cannot heal."""
        found = self.findings.get(record.check)
        if not found:
            return None
        first = found[0]
        if not first.cause:
            last = f"{first.detail}; {last}" if last else first.detail
        elif (error := first.facts.get("error", "")) and error[-40:] in last:
            # The dead service logged the error the preflight found: say so, once.
            last = f"{last.split(':')[0]}, its log says the same"
        detail = last
        return CheckFailed(detail, cause=first.cause, facts=first.facts, retryable=False)

    def _final_state(self, record: CheckRecord) -> BaseException | None:
        final = self.final_state(record) if self.final_state else None
        own = (
            final.message
            if isinstance(final, CheckFailed) and not isinstance(final, CheckBlocked)
            else record.last_error
        )
        found = self._finding_failure(record, own or "") or final
        if found is None and (root := self._final_root(record)) is not None:
            # Another check failed with a final cause: the run cannot pass, so a warm-up
            # wait here cannot change the verdict (as for a dead service in compose mode).
            record.blocked_by = root.check
            return CheckBlocked(root, waited_for=record.check)
        return found

    def _final_root(self, record: CheckRecord) -> CheckRecord | None:
        """The first check that failed with a final cause (causes.toml), if any."""
        return next(
            (
                other
                for other in self.records.values()
                if other is not record and other.status == "fail" and is_final(other.cause)
            ),
            None,
        )

    def warnings(self) -> list[str]:
        """Findings that are no failing check's cause: printed once as WARN lines."""
        lines = []
        for check, found in self.findings.items():
            record = self.records.get(check) if check else None
            used = record is not None and record.status == "fail"
            lines += [f"{check or 'preflight'}: {f.text}" for f in (found[1:] if used else found)]
        return lines

    def fail_early(self, name: str, error: CheckFailed) -> None:
        """A failure known before its check runs (its service died): the check reports it."""
        if self.records[name].status == "pending" and name not in self._early:
            self._early[name] = error
            self.settle(name, error)

    def select(self, names: set[str]) -> None:
        """Only ``names`` run in this session (-k, -m, node ids, --deselect, --lf): every
        other check is "not selected", which is neither a pass nor a failure. A selected
        check whose upstream is not selected runs anyway; the record names that upstream."""
        for record in self.records.values():
            if record.check not in names:
                record.status = "not_selected"
                record.message = "not selected"
            else:
                record.unselected_upstream = tuple(
                    up for up in record.depends_on if up not in names
                )

    @property
    def selected(self) -> list[CheckRecord]:
        return [r for r in self.records.values() if r.status != "not_selected"]

    @property
    def partial(self) -> bool:
        return len(self.selected) < len(self.records)

    @property
    def selection_note(self) -> str:
        """ "" for a full run, else e.g. "partial: <selected> of <all> checks selected"."""
        if not self.partial:
            return ""
        return f"partial: {len(self.selected)} of {len(self.records)} checks selected"

    def context(self, check: Check) -> CheckContext:
        record = self.records[check.name]
        for upstream_name in record.depends_on:
            upstream = self.records[upstream_name]
            if upstream.status in ("fail", "blocked"):
                root = self.records[upstream.blocked_by] if upstream.blocked_by else upstream
                record.blocked_by = root.check
                raise CheckBlocked(root)
        if check.name in self._early:
            raise self._early[check.name]
        hook = self._final_state
        grace = self.contract.unreachable_grace_s if self.external else None
        return CheckContext(record, self.contract.retry_interval_s, hook, grace, self.progress)

    def settle(self, name: str, error: BaseException | None) -> CheckRecord:
        record = self.records[name]
        if error is None:
            record.status = "pass"
            return record
        if isinstance(error, CheckBlocked):
            record.status = "blocked"
        else:
            record.status = "fail"
            found = self.findings.get(name)
            if isinstance(error, CheckFailed) and found and error.cause != found[0].cause:
                error = self._finding_failure(record, error.message) or error
            elif isinstance(error, CheckFailed) and not found and name in self.files_read:
                error = not_as_files(error)
            if isinstance(error, CheckFailed):
                record.cause, record.cause_sentence = error.cause, error.sentence
        record.message = describe(error)
        return record

    @property
    def first_failure(self) -> CheckRecord | None:
        for record in self.records.values():
            if record.status == "fail":
                return record
        return None

    @property
    def passed(self) -> bool:
        """Every selected check passed (and at least one was selected)."""
        selected = self.selected
        return bool(selected) and all(r.status == "pass" for r in selected)

    @property
    def verify_code(self) -> str:
        first = self.first_failure
        if first is not None:
            return first.f_code
        return "F-OK" if self.passed else "F-INCOMPLETE"
