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
