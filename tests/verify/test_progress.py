"""Progress while a check waits: an updating line in a terminal (proved under a real pty),
plain timestamped WAIT| lines without one or in CI (proved with a pipe). The waiting check
is grafana against a real HTTP server that reports database=failing for its first seconds."""

import os
import pty
import re
import subprocess
import sys

import pytest

from fixtures.faults import run_verify
from fixtures.locked_grafana import locked_grafana
from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.core.run import CheckFailed, VerifyRun
from shadow_mvs.report.progress import CLEAR_LINE, RESERVE_BELOW, RESTORE, plain_wanted

NOT_CI = {"CI": "", "GITHUB_ACTIONS": ""}
STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ WAIT\|grafana\|", re.MULTILINE)


def run_in_pty(args, env):
    """`pytest verify/ …` with a pty as its terminal; returns (exit code, raw output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "verify/", *args],
        cwd=REPO_ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **env},
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_terminal_gets_one_updating_line_per_waiting_check(tmp_path):
    env = {**NOT_CI, "TERM": "xterm", "COLUMNS": "200"}
    with locked_grafana(healthy_after_s=2.5) as url:
        _code, out = run_in_pty(
            [
                "--stack=external",
                f"--grafana-url={url}",
                "-k",
                "grafana",
                f"--json-report-file={tmp_path / 'verify.json'}",
            ],
            env,
        )
    assert "PASS|grafana|" in out, out
    updates = out.split(CLEAR_LINE)[1:]
    assert len(updates) >= 2, out  # redrawn in place, not one line per attempt
    assert re.match(r"WAIT\|grafana\|\d+\.\d s / 30 s\|\d+ attempts\|last error: ", updates[0])
    assert "database=failing" in updates[0]
    # pytest's own line is never drawn over: the wait is drawn on the line below it and every
    # draw puts the cursor back where pytest left it. The wait is over: that line is cleared
    # and pytest's result letter lands right after its own line.
    assert "verify/test_grafana.py " + RESERVE_BELOW in out, out
    assert all(RESTORE in update for update in updates), updates
    assert re.match(re.escape(RESTORE) + r"(\x1b\[32m)?\.", updates[-1]), updates[-1]
    assert not STAMPED.search(out)


def test_without_a_terminal_plain_timestamped_lines(tmp_path):
    with locked_grafana(healthy_after_s=6.0) as url:
        outcome = run_verify(
            tmp_path / "verify.json", NOT_CI, (f"--grafana-url={url}", "-k", "grafana")
        )
    out = outcome.output
    assert "PASS|grafana|" in out, out
    stamped = STAMPED.findall(out)
    assert len(stamped) == 2, out  # throttled: one WAIT line at ~5 s, one closing line
    assert re.search(
        r"Z WAIT\|grafana\|[5-6]\.\d s / 30 s\|\d+ attempts\|last error: .*database=failing", out
    )
    assert re.search(r"Z WAIT\|grafana\|waited [6-9]\.\d s / 30 s, \d+ attempts", out)
    assert CLEAR_LINE not in out


@pytest.mark.parametrize(
    ("isatty", "env", "plain"),
    [
        (True, {}, False),
        (False, {}, True),
        (True, {"CI": "true"}, True),
        (True, {"CI": "false"}, False),
        (True, {"GITHUB_ACTIONS": "true"}, True),
        (True, {"TERM": "dumb"}, True),
    ],
)
def test_plain_mode_choice(isatty, env, plain):
    assert plain_wanted(isatty, env) is plain


def test_poll_tells_the_hook_each_failed_attempt_and_the_end():
    run = VerifyRun()
    seen = []
    run.progress = lambda record, elapsed, done: seen.append((record.last_error, done))
    ctx = run.context(load_contract().check("exporter"))
    answers = iter([CheckFailed("warming up"), CheckFailed("still warming"), "ok"])

    def probe():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert ctx.poll(probe) == "ok"
    assert seen == [("warming up", False), ("still warming", False), ("still warming", True)]
