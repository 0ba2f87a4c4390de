"""The triage tree is complete and every route leads somewhere real."""

import pytest

from verify.causes import causes_routed_to
from verify.contract import load_contract
from verify.triage import load_triage, route


def test_every_f_code_routes_to_a_node():
    for check in load_contract().checks:
        assert route(check.f_code).id.startswith("G-")


def test_nodes_g1_to_g8_exist_with_commands():
    nodes = load_triage()
    assert [f"G-{i}" for i in range(1, 9)] == sorted(nodes, key=lambda n: int(n[2:]))[:8]
    for node in nodes.values():
        assert node.next_commands, node.id
        assert node.routes or causes_routed_to(node.id), node.id


def test_routes_are_unique_and_name_known_f_codes():
    # Causes route by their own node (verify/causes.toml, tests/verify/test_causes.py).
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
    ],
)
def test_routing_table_matches_architecture(f_code, cause, node):
    assert route(f_code, cause).id == node


def test_compose_placeholder_is_expanded():
    node = load_triage()["G-1"]
    commands = node.commands("docker compose -p X")
    assert any("docker compose -p X" in c for c in commands)
    assert not any("$COMPOSE" in c for c in commands)
