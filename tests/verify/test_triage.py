"""The triage tree is complete and every route leads somewhere real."""

import pytest

from shadow_mvs.core.causes import causes_routed_to
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.triage import load_triage, route


def test_every_f_code_routes_to_a_node():
    for check in load_contract().checks:
        assert route(check.f_code).id[:2] in {"G-", "R-"}


def test_nodes_g1_to_g8_and_r1_to_r5_exist_with_commands():
    nodes = load_triage()
    g_nodes = sorted((n for n in nodes if n.startswith("G-")), key=lambda n: int(n[2:]))
    assert [f"G-{i}" for i in range(1, 9)] == g_nodes[:8]
    assert [f"R-{i}" for i in range(1, 6)] == sorted(n for n in nodes if n.startswith("R-"))
    for node in nodes.values():
        assert node.next_commands, node.id
        assert node.routes or causes_routed_to(node.id), node.id


def test_routes_are_unique_and_name_known_f_codes():
    # Causes route by their own node (shadow_mvs/data/causes.toml, tests/verify/test_causes.py).
    f_codes = {check.f_code for check in load_contract().checks}
    seen: set[str] = set()
    for node in load_triage().values():
        for key in node.routes:
            assert key not in seen, f"{key} routes to two nodes"
            seen.add(key)
            assert key.split(":")[0] in f_codes


@pytest.mark.parametrize(
    ("f_code", "cause", "node"),
    [
        ("F-FAIL-EXPORTER", None, "G-1"),
        ("F-FAIL-PROMETHEUS", None, "G-2"),
        ("F-FAIL-TARGETS", None, "G-3"),
        ("F-FAIL-GRAFANA", None, "G-4"),
        ("F-FAIL-DATASOURCE", None, "G-5"),
        ("F-FAIL-DATASOURCE", "auth", "G-5"),
        ("F-FAIL-DASHBOARD", "auth", "G-5"),
        ("F-FAIL-DASHBOARD", None, "G-6"),
        ("F-FAIL-QUERIES", "empty", "G-7"),
        ("F-FAIL-QUERIES", "cardinality", "G-7"),
        ("F-FAIL-EXPORTER", "off_contract", "G-7"),
        ("F-FAIL-EXPORTER", "not_exposition", "G-1"),
        ("F-FAIL-DATASOURCE", "mini_stack_url", "G-8"),
        ("F-FAIL-SLO", "no_data", "R-1"),
        ("F-FAIL-SLO", "event_rate", "R-2"),
        ("F-FAIL-SLO", "feed_gaps", "R-2"),
        ("F-FAIL-SLO", "error_rate", "R-3"),
        ("F-FAIL-SLO", "intent_to_ack_p95", "R-3"),
        ("F-FAIL-SLO", "risk_block_rate", "R-4"),
        ("F-FAIL-EXPORTER", "ledger_mismatch", "R-5"),
    ],
)
def test_routing_table_matches_architecture(f_code, cause, node):
    assert route(f_code, cause).id == node


def test_compose_placeholder_is_expanded():
    node = load_triage()["G-1"]
    commands = node.commands("docker compose -p X")
    assert any("docker compose -p X" in c for c in commands)
    assert not any("$COMPOSE" in c for c in commands)


def test_every_slo_routes_to_the_r_node_the_contract_names():
    for objective in load_contract().slo_objectives:
        assert route("F-FAIL-SLO", objective.name).id == objective.r_node, objective.name


def test_incident_commands_are_snapshot_only():
    for node in load_triage().values():
        for command in node.next_commands:
            assert not any(word in command for word in ("watch ", "while ", "--follow", " -f ")), (
                node.id,
                command,
            )
