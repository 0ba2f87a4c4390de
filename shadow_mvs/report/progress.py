"""Something moves on the terminal while a check waits out its budget.

``CheckContext.poll`` tells the hook after each failed attempt and when it ends.

* In a terminal: one line per waiting check, redrawn in place (check, elapsed / budget,
  attempts, last error). It appears once a check has waited ``TTY_AFTER_S`` (quick warm-ups
  stay silent), below pytest's own line, and is cleared when the wait ends, the cursor back
  where pytest left it — so pytest's line and its result letter never move, and nothing
  here needs to know what pytest wrote.
* Not a TTY, or in CI (``CI`` or ``GITHUB_ACTIONS`` set, ``TERM=dumb``): plain timestamped
  ``WAIT|`` lines, at most one per check every ``PLAIN_EVERY_S``, and a closing line if any
  were printed.

Secrets are redacted like every other line the suite writes.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from shadow_mvs.core.run import CheckRecord
from shadow_mvs.report.session import redactor, verify_run

TTY_AFTER_S = 1.0
PLAIN_EVERY_S = 5.0
CLEAR_LINE = "\r\x1b[2K"
# VT100 cursor moves that keep the column: index (down one line, scrolling at the bottom),
# reverse index (up one line), save and restore the cursor position.
DOWN, UP, SAVE, RESTORE = "\x1bD", "\x1bM", "\x1b7", "\x1b8"
RESERVE_BELOW = DOWN + UP  # make sure a line exists below pytest's, and come back


def install(config: pytest.Config, to_stderr: bool = False) -> None:
    """Called from the verify plugin's configure: every poll of this run reports here.
    ``to_stderr``: a machine ``--format`` owns stdout, so the in-place lines go to stderr
    (where pytest's terminal reporter writes then too)."""
    run = verify_run(config)
    if run is not None:
        run.progress = Progress(config, to_stderr=to_stderr)


def plain_wanted(isatty: bool, env: Mapping[str, str] = os.environ) -> bool:
    ci = env.get("CI", "").lower() not in ("", "0", "false", "no")
    github = env.get("GITHUB_ACTIONS", "").lower() == "true"
    return not isatty or ci or github or env.get("TERM") == "dumb"


def wait_text(record: CheckRecord, elapsed_s: float) -> str:
    tries = f"{record.attempts} attempt{'s' if record.attempts != 1 else ''}"
    text = f"WAIT|{record.check}|{elapsed_s:.1f} s / {record.budget_s:g} s|{tries}"
    return f"{text}|last error: {record.last_error}" if record.last_error else text


def done_text(record: CheckRecord, elapsed_s: float) -> str:
    """How the wait went; whether it ended green is the check's PASS/FAIL line."""
    return (
        f"WAIT|{record.check}|waited {elapsed_s:.1f} s / {record.budget_s:g} s, "
        f"{record.attempts} attempts"
    )


@dataclass
class _Shown:
    last_plain: float = 0.0
    printed: bool = False


@dataclass
class Progress:
    config: pytest.Config
    shown: dict[str, _Shown] = field(default_factory=dict)
    to_stderr: bool = False

    def __call__(self, record: CheckRecord, elapsed_s: float, done: bool) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        shown = self.shown.setdefault(record.check, _Shown())
        if done:
            self.shown.pop(record.check, None)
        if plain_wanted(bool(reporter.isatty())):
            self._plain(reporter, record, elapsed_s, done, shown)
        else:
            self._tty(record, elapsed_s, done, shown)

    def _plain(
        self,
        reporter: pytest.TerminalReporter,
        record: CheckRecord,
        elapsed_s: float,
        done: bool,
        shown: _Shown,
    ) -> None:
        if done:
            if shown.printed:
                self._line(reporter, done_text(record, elapsed_s))
            return
        if elapsed_s - shown.last_plain < PLAIN_EVERY_S:
            return
        shown.last_plain, shown.printed = elapsed_s, True
        self._line(reporter, wait_text(record, elapsed_s))

    def _tty(self, record: CheckRecord, elapsed_s: float, done: bool, shown: _Shown) -> None:
        """Draw on the line below pytest's current one (e.g. ``verify/test_targets.py ``)
        and return the cursor to where pytest left it after every draw, so pytest's own
        result letter lands where it expects. Written past pytest's terminal writer, whose
        idea of the current line stays right because the cursor always comes back."""
        if not shown.printed and (done or elapsed_s < TTY_AFTER_S):
            return
        if done:
            self._raw(SAVE + DOWN + CLEAR_LINE + RESTORE)
            return
        if not shown.printed:
            self._raw(RESERVE_BELOW)  # at the screen's bottom, DOWN scrolls once, here
            shown.printed = True
        text = self._redacted(wait_text(record, elapsed_s))
        width = shutil.get_terminal_size().columns - 1
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        self._raw(SAVE + DOWN + CLEAR_LINE + text + RESTORE)

    def _raw(self, text: str) -> None:
        with self._uncaptured():
            stream = sys.stderr if self.to_stderr else sys.stdout
            stream.write(text)
            stream.flush()

    def _line(self, reporter: pytest.TerminalReporter, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._uncaptured():
            reporter.write_line(f"{stamp} {self._redacted(text)}")

    def _redacted(self, text: str) -> str:
        return redactor(self.config).text(text)

    @contextmanager
    def _uncaptured(self) -> Iterator[None]:
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is None:
            yield
            return
        with capture.global_and_fixture_disabled():
            yield
