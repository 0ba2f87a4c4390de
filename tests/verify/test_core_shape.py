"""One shape for every check: its module plus its data — a contract entry, its causes and
their routes (the rest — markers, docs, the README's check table, JSON — derives from
those), and every wait in the project goes through the one bounded poll in
shadow_mvs/core/waiting.py. Docker-free."""

import ast
import time
from pathlib import Path

import pytest
from tenacity import RetryCallState, Retrying

from shadow_mvs.config.settings import OPTIONS
from shadow_mvs.core.causes import BY_CHECK, load_causes
from shadow_mvs.core.contract import CHECKS_DIR, DATA_DIR, PACKAGE_DIR, REPO_ROOT, load_contract
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.core.triage import route
from shadow_mvs.core.waiting import MIN_WAIT_S, GaveUp, bounded_poll, next_wait
from tests.verify.test_causes import raised_cause_ids

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


def finding_causes(paths: list[Path], check: str) -> set[str]:
    """Literal causes of every ``Finding("<check>", …, cause="…")``: preflight findings
    that become the check's cause when it fails."""
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or getattr(node.func, "id", None) != "Finding":
                continue
            args = {k.arg: k.value for k in node.keywords}
            target = node.args[0] if node.args else args.get("check")
            cause = args.get("cause")
            names_check = isinstance(target, ast.Constant) and target.value == check
            if names_check and isinstance(cause, ast.Constant) and isinstance(cause.value, str):
                found.add(cause.value)
    return found


def unlisted_reroutes(check_name: str, module: Path) -> set[str]:
    """Causes the check can name that route away from its F-code's node but are missing
    from its ``also_routes`` (the README's triage column would hide them)."""
    contract = load_contract()
    check = contract.check(check_name)
    raised = set(raised_cause_ids([module]))
    raised |= finding_causes(sorted(PACKAGE_DIR.rglob("*.py")), check_name)
    if check_name == "slo":
        # verify/test_slo.py raises the breached objective's name (not a literal).
        raised |= {objective.name for objective in contract.slo_objectives}
    causes = load_causes()
    raised |= {agree for c in raised if c in causes and (agree := causes[c].files_agree)}
    own = route(check.f_code).id
    rerouted = {c for c in raised if causes[c].node not in (own, BY_CHECK)}
    return rerouted - set(check.also_routes)


def test_every_cause_that_leaves_the_checks_node_is_in_its_also_routes():
    for name, check in check_modules().items():
        assert unlisted_reroutes(check, CHECKS_DIR / name) == set(), name


def test_the_reroute_scan_turns_red_for_an_unlisted_cause(tmp_path: Path):
    module = tmp_path / "test_targets.py"
    module.write_text(
        "from shadow_mvs.core.run import CheckFailed\n"
        "CHECK = 'targets'\n"
        "def test_it():\n"
        "    raise CheckFailed('counters disagree', cause='ledger_mismatch')\n"
    )
    assert unlisted_reroutes("targets", module) == {"ledger_mismatch"}


def test_also_routes_name_declared_causes_that_leave_the_checks_node():
    causes = load_causes()
    for check in load_contract().checks:
        for cause in check.also_routes:
            assert cause in causes, f"{check.name}: also_routes names undeclared {cause!r}"
            assert causes[cause].node not in (route(check.f_code).id, BY_CHECK), (
                f"{check.name}: {cause!r} routes to the check's own node; drop it from also_routes"
            )


def test_every_check_says_what_it_proves_and_gates_only_by_a_real_switch():
    switches = {opt.flag for opt in OPTIONS if opt.is_switch}
    for check in load_contract().checks:
        assert check.proves.strip(), check.name
        assert check.gated_by is None or check.gated_by in switches, check.name


def python_files() -> list[Path]:
    return [p for d in SOURCE_DIRS for p in (REPO_ROOT / d).rglob("*.py")]


def test_one_poll_helper_no_private_retry_loops():
    own = {REPO_ROOT / "shadow_mvs" / "core" / "waiting.py", Path(__file__).resolve()}
    # The one deliberate delay: a benchmark choosing the wall-clock phase its run starts at
    # (bench/common.py ``start_at_grid_phase``). It waits for nothing to happen.
    own.add(REPO_ROOT / "bench" / "common.py")
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


def failed_attempt(error: BaseException) -> RetryCallState:
    """tenacity's record of one failed attempt, as its wait strategy receives it."""
    state = RetryCallState(Retrying(), None, (), {})
    state.set_exception((type(error), error, None))
    return state


def hint_of(error: BaseException) -> float | None:
    return error.retry_in_s if isinstance(error, CheckFailed) else None


def test_a_failed_attempt_that_says_when_to_look_again_sets_the_wait():
    aimed = failed_attempt(CheckFailed("panel empty", retry_in_s=2.7))
    assert next_wait(aimed, 0.5, 30, hint_of) == 2.7  # not the 0.5 s interval
    plain = failed_attempt(CheckFailed("panel empty"))
    assert next_wait(plain, 0.5, 30, hint_of) == 0.5
    assert next_wait(aimed, 0.5, 30, None) == 0.5  # a poll that reads no hints


def test_a_hinted_wait_never_runs_past_the_budget_nor_spins():
    late = failed_attempt(CheckFailed("panel empty", retry_in_s=60))
    assert next_wait(late, 0.5, 1.0, hint_of) <= 1.0
    due = failed_attempt(CheckFailed("panel empty", retry_in_s=-0.2))
    assert next_wait(due, 0.5, 30, hint_of) == MIN_WAIT_S
