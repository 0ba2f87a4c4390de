"""Final states of the compose services a verify run started (compose mode only).

A service that has exited or is restart-looping cannot heal: the check that depends on it
(``service`` in contract.toml's [checks.*]) fails at once, with the exit code and the most
telling lines of the service's log, instead of burning its retry budget on "connection
refused". ``docker compose ps -a --format json`` is cheap but not free, so its answer is
cached for ``ttl_s`` and it is only asked when a probe has already failed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from shadow_mvs.core.causes import cause_for_service
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckBlocked, CheckFailed, CheckRecord, VerifyRun
from shadow_mvs.stack.compose import ComposeProject

FINAL_STATES = ("exited", "dead", "restarting")
MAX_LOG_TEXT = 300
_LOGFMT_FIELD = r'(?:^|\s){key}=("(?:[^"\\]|\\.)*"|\S+)'


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str
    exit_code: int
    status: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def described(self) -> str:
        return "is restart-looping" if self.state == "restarting" else self.state


def parse_ps(text: str) -> dict[str, ServiceState]:
    """``docker compose ps --format json``: one object per line (v2.21+) or one array."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("["):
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    states = {}
    for row in rows:
        service = row.get("Service") or row.get("Name", "")
        states[service] = ServiceState(
            service=service,
            state=str(row.get("State", "")).lower(),
            exit_code=int(row.get("ExitCode") or 0),
            status=str(row.get("Status", "")),
        )
    return states


def _logfmt_value(line: str, key: str) -> str | None:
    match = re.search(_LOGFMT_FIELD.format(key=re.escape(key)), line)
    if match is None:
        return None
    value = match.group(1)
    if value.startswith('"'):
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def telling_lines(log: str) -> str:
    """The lines of a dead service's log that say why it died.

    Grafana and Prometheus log logfmt: the ``level=error`` lines, as their ``error=``/``err=``
    (with ``msg=`` for context). A Python process: the last line of its traceback. Else the
    last non-empty line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    found: list[str] = []
    for line in lines:
        if "level=error" not in line and "level=fatal" not in line:
            continue
        msg = _logfmt_value(line, "msg")
        err = _logfmt_value(line, "error") or _logfmt_value(line, "err")
        text = f"{msg}: {err}" if msg and err else (err or msg or line)
        if text not in found:
            found.append(text)
    if not found:
        for index in range(len(lines) - 1, -1, -1):
            if lines[index].startswith("Traceback (most recent call last)"):
                tail = [line for line in lines[index + 1 :] if not line.startswith("File ")]
                found = tail[-1:] or []
                break
    if not found and lines:
        found = [lines[-1]]
    text = " | ".join(found[-2:])
    return text if len(text) <= MAX_LOG_TEXT else text[: MAX_LOG_TEXT - 1] + "…"


Runner = Callable[[str], str]


class ServiceWatch:
    """Answers, for a check whose probe failed, whether its service reached a final state."""

    def __init__(
        self,
        compose: ComposeProject,
        run: VerifyRun,
        ttl_s: float = 0.5,
        runner: Runner | None = None,
    ):
        self.run = run
        self.ttl_s = ttl_s
        self._runner: Runner = runner or (lambda sub: compose.run(sub, check=False).stdout)
        self._cached: tuple[float, dict[str, ServiceState]] | None = None
        self._failures: dict[str, CheckFailed] = {}

    def states(self) -> dict[str, ServiceState]:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.ttl_s:
            try:
                states = parse_ps(self._runner("ps -a --format json"))
            except ValueError:
                states = {}  # an unreadable answer is no evidence either way
            self._cached = (time.monotonic(), states)
        return self._cached[1]

    def failure(self, service: str) -> CheckFailed | None:
        """The non-retryable failure a final state of ``service`` means, or None."""
        if service in self._failures:
            return self._failures[service]
        state = self.states().get(service)
        if state is None or not state.final:
            return None
        log = self._runner(f"logs --no-color --no-log-prefix --tail 60 {service}")
        failed = CheckFailed(
            "",  # the sentence says it all: state, exit code, the telling log line
            cause=cause_for_service(service).id,
            facts={
                "state": state.described,
                "exit_code": state.exit_code,
                "log": telling_lines(log) or "no log output",
            },
            retryable=False,
        )
        self._failures[service] = failed
        return failed

    def __call__(self, record: CheckRecord) -> BaseException | None:
        """The hook ``CheckContext.poll`` calls after a failed attempt."""
        checks = {c.name: c for c in load_contract().checks}
        own = checks[record.check].service
        if own and (failed := self.failure(own)) is not None:
            return failed
        # Another service is dead: the run cannot pass, so stop waiting here. Its primary
        # check carries the failure (the root of the verdict), this one is blocked by it.
        for service in self.states():
            if service == own or (failed := self.failure(service)) is None:
                continue
            root = next((c for c in checks.values() if c.service == service), None)
            if root is None:
                continue
            self.run.fail_early(root.name, failed)
            return CheckBlocked(self.run.records[root.name], waited_for=record.check)
        return None
