"""One shape for the core: every check is a module + a contract entry + a triage route (the
rest — markers, docs, JSON — derives from those), and every wait in the project goes
through the one bounded poll in shadow_mvs/core/waiting.py. Docker-free."""

import ast
import time
from pathlib import Path

import pytest

from shadow_mvs.core.contract import CHECKS_DIR, DATA_DIR, REPO_ROOT, load_contract
from shadow_mvs.core.triage import route
from shadow_mvs.core.waiting import GaveUp, bounded_poll

SOURCE_DIRS = ("shadow_mvs", "verify", "fixtures", "grafana_standin", "tests", "bench", "exporter")


def check_modules() -> dict[str, str]:
    """CHECK of every verify/test_*.py module, by module file name."""
    found: dict[str, str] = {}
    for path in sorted(CHECKS_DIR.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CHECK" for t in node.targets
            ):
                assert isinstance(node.value, ast.Constant), path
                assert isinstance(node.value.value, str), path
                found[path.name] = node.value.value
    return found


def test_every_check_module_has_a_contract_entry_and_back():
    modules = check_modules()
    assert len(modules) == len(list(CHECKS_DIR.glob("test_*.py"))), "a module without CHECK"
    contract_checks = [c.name for c in load_contract().checks]
    assert sorted(modules.values()) == sorted(contract_checks)
    assert len(set(modules.values())) == len(modules), "two modules claim one check"


def test_every_contract_check_has_a_triage_route():
    for check in load_contract().checks:
        assert route(check.f_code).next_commands, check.name


def test_every_check_is_a_registered_marker(pytestconfig):
    markers = " ".join(pytestconfig.getini("markers"))
    for check in load_contract().checks:
        assert f"{check.name}: the {check.name} check ({check.f_code})" in markers


def python_files() -> list[Path]:
    return [p for d in SOURCE_DIRS for p in (REPO_ROOT / d).rglob("*.py")]


def test_one_poll_helper_no_private_retry_loops():
    own = {REPO_ROOT / "shadow_mvs" / "core" / "waiting.py", Path(__file__).resolve()}
    offenders = []
    for path in python_files():
        if path in own:
            continue
        text = path.read_text()
        if "from tenacity" in text or "import tenacity" in text or "time.sleep(" in text:
            offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []


def test_no_stale_node_range_in_texts():
    stale = "G-1" + "…G-8"
    texts = [
        *python_files(),
        *REPO_ROOT.glob("*.md"),
        *(REPO_ROOT / "docs").glob("*.md"),
        *DATA_DIR.glob("*.toml"),
    ]
    hits = [str(p.relative_to(REPO_ROOT)) for p in texts if stale in p.read_text()]
    assert hits == []


def test_bounded_poll_returns_the_first_result():
    answers = iter([KeyError("a"), KeyError("b"), "ok"])

    def probe():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert bounded_poll(probe, budget_s=5, interval_s=0.01, retry_if=(KeyError,)) == "ok"


def test_bounded_poll_gives_up_with_the_last_error_within_its_budget():
    calls = iter(range(10_000))

    def probe():
        raise KeyError(f"attempt {next(calls)}")

    started = time.monotonic()
    with pytest.raises(GaveUp) as gave_up:
        bounded_poll(probe, budget_s=0.3, interval_s=0.05, retry_if=(KeyError,), what="x ready")
    assert time.monotonic() - started < 2
    assert isinstance(gave_up.value.last, KeyError)
    assert gave_up.value.attempts >= 2
    assert "x ready not reached" in str(gave_up.value)


def test_bounded_poll_ends_at_once_on_an_error_it_does_not_retry_or_on_error_raises():
    def probe():
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        bounded_poll(probe, budget_s=30, interval_s=0.01, retry_if=(KeyError,))

    def stop(error):
        raise RuntimeError("process exited")

    with pytest.raises(RuntimeError, match="exited"):
        bounded_poll(
            lambda: (_ for _ in ()).throw(KeyError("x")),
            budget_s=30,
            interval_s=0.01,
            retry_if=(KeyError,),
            on_error=stop,
        )
