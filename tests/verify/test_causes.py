"""The cause vocabulary cannot drift: every cause id raised in code is declared in
shadow_mvs/data/causes.toml, every declared cause routes to an existing node whose title fits it,
and the code scan turns red for an undeclared cause. No Docker."""

import ast
import string
from pathlib import Path

import pytest

from shadow_mvs.core.causes import cause_for_service, load_causes, sentence
from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.core.run import CheckFailed, VerifyRun
from shadow_mvs.core.triage import load_triage, route
from shadow_mvs.stack.bringup import SERVICE_CHECK

SCANNED = ("shadow_mvs", "verify", "fixtures")


def raised_cause_ids(paths: list[Path]) -> dict[str, list[str]]:
    """Every literal ``cause="…"`` keyword of a call (CheckFailed, StackStartError, their
    subclasses and ``super().__init__``), with where it is raised."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg != "cause" or not isinstance(value, ast.Constant):
                    continue
                if isinstance(value.value, str):  # cause=None names no cause
                    found.setdefault(value.value, []).append(f"{path.name}:{node.lineno}")
    return found


def source_files() -> list[Path]:
    return sorted(p for d in SCANNED for p in (REPO_ROOT / d).rglob("*.py"))


def undeclared(paths: list[Path]) -> dict[str, list[str]]:
    declared = load_causes()
    return {c: where for c, where in raised_cause_ids(paths).items() if c not in declared}


def test_every_cause_raised_in_code_is_declared():
    raised = raised_cause_ids(source_files())
    assert {"auth", "mini_stack_url", "empty", "cardinality"} <= set(raised)
    assert undeclared(source_files()) == {}


def test_the_scan_turns_red_for_an_undeclared_cause(tmp_path):
    module = tmp_path / "check.py"
    module.write_text(
        "from shadow_mvs.core.run import CheckFailed\n"
        "def probe():\n"
        "    raise CheckFailed('boom', cause='made_up_cause', retryable=False)\n"
    )
    assert undeclared([module]) == {"made_up_cause": ["check.py:3"]}


def test_every_declared_cause_routes_to_a_node_whose_title_fits():
    nodes = load_triage()
    for cause in load_causes().values():
        if cause.routes_by_check:
            # Transport causes (TLS, tenant, a 401) land on the failing check's node; their
            # topic must fit the endpoint nodes (exporter G-1, Prometheus G-2, Grafana G-4).
            endpoint_nodes = [
                route(load_contract().check(c).f_code) for c in SERVICE_CHECK.values()
            ]
            assert all(cause.topic in n.keywords for n in endpoint_nodes), cause.id
            continue
        assert cause.node in nodes, f"{cause.id} routes to unknown node {cause.node}"
        node = nodes[cause.node]
        assert cause.topic in node.keywords, (
            f"{cause.id}: topic {cause.topic!r} is not a keyword of {node.id} {node.keywords}"
        )
        assert route("F-ANY", cause.id) is node


def test_node_keywords_are_words_of_the_title():
    for node in load_triage().values():
        for keyword in node.keywords:
            assert keyword.lower() in node.title.lower(), f"{node.id}: {keyword!r} not in title"


@pytest.mark.parametrize(
    ("cause", "node"),
    [
        ("off_contract", "G-7"),  # answers but off-contract: the runbook's G-7, not "down"
        ("cardinality", "G-7"),
        ("not_exposition", "G-1"),
        ("grafana_exited", "G-4"),
        ("prometheus_config_rejected", "G-2"),
    ],
)
def test_runbook_routes(cause, node):
    assert load_causes()[cause].node == node


def test_cardinality_is_not_data_empty():
    causes = load_causes()
    assert causes["cardinality"].topic != causes["empty"].topic


def test_every_compose_service_has_a_final_state_cause():
    for service, check in SERVICE_CHECK.items():
        cause = cause_for_service(service)
        assert "{exit_code}" in cause.sentence, cause.id
        assert "{log}" in cause.sentence, cause.id
        assert route("F-ANY", cause.id).id == route(VerifyRun().records[check].f_code).id


def test_placeholders_are_plain_names():
    for cause in load_causes().values():
        fields = [f for _, f, _, _ in string.Formatter().parse(cause.sentence) if f is not None]
        assert all(f.isidentifier() for f in fields), cause.id


def test_sentence_leads_the_message_and_keeps_unknown_placeholders():
    failed = CheckFailed("HTTP 401", cause="auth", retryable=False)
    auth = sentence("auth")
    assert auth is not None
    assert failed.message.startswith(auth + " — HTTP 401")
    partial = CheckFailed("", cause="target_down", facts={"url": "http://x/metrics"})
    assert partial.message == "Prometheus cannot scrape http://x/metrics: {last_error}"


def test_record_carries_the_sentence_into_triage():
    run = VerifyRun()
    run.settle("exporter", CheckFailed("bad families", cause="off_contract"))
    record = run.records["exporter"]
    assert record.node.id == "G-7"
    assert record.cause_sentence == sentence("off_contract")


# --- warm-up or final: every cause has a class, and the class decides the wait ----------

CAUSE = '[[cause]]\nid = "probe_cause"\nnode = "G-3"\ntopic = "DOWN"\nsentence = "s"\n'


def test_every_cause_has_a_class():
    classes = {cause.id: cause.cls for cause in load_causes().values()}
    assert set(classes.values()) == {"warm-up", "final"}
    # The briefing's examples, both ways round.
    assert classes["target_not_scraped_yet"] == "warm-up"
    assert classes["rate_window_filling"] == "warm-up"
    assert classes["relabel_rewrites_label"] == "final"
    assert classes["samples_discarded"] == "final"
    assert classes["endpoint_auth"] == "final"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (CAUSE, "cause 'probe_cause' has no class"),
        (CAUSE + 'class = "later"\n', "cause 'probe_cause' has class 'later'"),
        (CAUSE.replace('node = "G-3"\n', "") + 'class = "final"\n', "'probe_cause' has no node"),
    ],
    ids=["no-class", "unknown-class", "no-route"],
)
def test_a_cause_without_a_class_or_a_route_is_refused(tmp_path, text, words):
    path = tmp_path / "causes.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=words) as refused:
        load_causes(path)
    assert str(path) in str(refused.value)


def test_the_class_decides_whether_the_poll_tries_again():
    assert CheckFailed("x", cause="target_not_scraped_yet").retryable
    assert not CheckFailed("x", cause="relabel_drops_label").retryable
    # A final cause cannot be made retryable; a warm-up one can end the wait when the
    # probe knows what it saw is final.
    assert not CheckFailed("x", cause="scrape_rejected", retryable=True).retryable
    assert not CheckFailed("x", cause="datasource_unhealthy", retryable=False).retryable
    assert CheckFailed("no cause").retryable


def test_a_final_cause_ends_the_poll_at_once_and_warm_up_keeps_the_budget():
    from shadow_mvs.core.run import CheckContext, CheckRecord

    def failing(cause: str):
        def probe() -> None:
            raise CheckFailed("seen", cause=cause)

        return probe

    final = CheckContext(CheckRecord("queries", "F-FAIL-QUERIES", (), budget_s=30), 0.01)
    with pytest.raises(CheckFailed) as ended:
        final.poll(failing("relabel_drops_label"))
    assert final.record.attempts == 1
    assert ended.value.cause == "relabel_drops_label"
    warm = CheckContext(CheckRecord("queries", "F-FAIL-QUERIES", (), budget_s=0.2), 0.01)
    with pytest.raises(CheckFailed) as spent:
        warm.poll(failing("rate_window_filling"))
    assert warm.record.attempts > 1
    assert spent.value.cause == "rate_window_filling"
    assert "gave up after" in spent.value.message
