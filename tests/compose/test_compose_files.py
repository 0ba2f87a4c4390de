"""The compose file sets are valid and merge into the stack the contract describes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from shadow_mvs.core.contract import Contract, load_contract
from shadow_mvs.evidence.grafana_rules.datasources import provision_datasources
from shadow_mvs.evidence.rulebook import compose_files, datasources
from tests.compose.conftest import (
    ComposeConfig,
    details,
    run_compose_config,
    write_env_file,
)

pytestmark = pytest.mark.docker

STACK = load_contract().stack
BASE = list(STACK["compose_files"])
HOST_NETWORK = STACK["host_network_override"]
OFFLINE = STACK["offline_override"]
MINI_STACK = STACK["mini_stack_file"]
OFFLINE_IMAGE = "peaktrade-local/obs-base:bookworm"

FILE_SETS = {
    "base": BASE,
    "base+host-network": [*BASE, HOST_NETWORK],
    "base+host-network+offline": [*BASE, HOST_NETWORK, OFFLINE],
    "base+offline": [*BASE, OFFLINE],
    "mini-stack": [MINI_STACK],
}


@pytest.mark.parametrize("files", FILE_SETS.values(), ids=FILE_SETS.keys())
def test_file_set_is_valid_and_safe(
    compose_config: ComposeConfig, shadow_mvs_contract: Contract, files
):
    config = compose_config(files)
    assert compose_files.project_findings(config, shadow_mvs_contract.project) == []


@pytest.mark.parametrize(
    "files", [FILE_SETS["base+host-network"], FILE_SETS["base+host-network+offline"]]
)
def test_host_network_override(compose_config: ComposeConfig, files):
    assert compose_files.host_network_findings(compose_config(files)) == []


@pytest.mark.parametrize(
    "files", [FILE_SETS["base+offline"], FILE_SETS["base+host-network+offline"]]
)
def test_offline_override(compose_config: ComposeConfig, files):
    assert compose_files.offline_findings(compose_config(files), OFFLINE_IMAGE) == []


def test_base_uses_host_gateway_bridge(compose_config: ComposeConfig):
    services = compose_config(BASE)["services"]
    for name in ("prometheus-local", "grafana"):
        hosts = [compose_files.parse_extra_host(e) for e in services[name]["extra_hosts"]]
        assert hosts == [("host.docker.internal", "host-gateway")], name


def test_compose_mounts_the_contract_files(
    compose_config: ComposeConfig, shadow_mvs_contract: Contract, repo_root: Path
):
    for files in (BASE, FILE_SETS["base+host-network+offline"]):
        config = compose_config(files)
        assert compose_files.mount_findings(config, shadow_mvs_contract, repo_root) == []


@pytest.mark.parametrize("override", [[], [HOST_NETWORK]], ids=["published", "host-network"])
def test_standin_sees_what_grafana_sees(compose_config: ComposeConfig, override):
    grafana = compose_config([*BASE, *override])["services"]["grafana"]
    standin = compose_config([*BASE, *override, OFFLINE])["services"]["grafana"]
    assert compose_files.grafana_mounts(standin) == compose_files.grafana_mounts(grafana)
    assert compose_files.grafana_mounts(grafana), "grafana mounts nothing under /etc/grafana"
    assert standin["environment"] == grafana["environment"]


def test_mini_stack_is_the_g8_variant(compose_config: ComposeConfig, shadow_mvs_contract: Contract):
    services = compose_config([MINI_STACK])["services"]
    assert set(services) == {"prometheus", "grafana"}
    assert services["prometheus"]["networks"].keys() == services["grafana"]["networks"].keys()
    mounts = compose_files.grafana_mounts(services["grafana"])
    datasource_dir = Path(mounts[compose_files.DATASOURCE_MOUNT][0])
    docs = [yaml.safe_load(p.read_text()) for p in sorted(datasource_dir.glob("*.y*ml"))]
    assert len(docs) == 1
    assert datasources.design_findings(docs[0], shadow_mvs_contract) == []
    # Everything the contract says of the default datasource, but the mini-stack's URL.
    provisioned = provision_datasources(datasource_dir.parent, {})
    mini_stack_url = shadow_mvs_contract.datasource["mini_stack_url"]
    assert datasources.contract_findings(provisioned, shadow_mvs_contract, mini_stack_url) == []


# One variable missing per case: compose reports missing variables in map order, which
# is random, so a case with both missing would name either.
@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ({"GF_SECURITY_ADMIN_PASSWORD": "dummy-pw"}, "GF_SECURITY_ADMIN_USER"),
        (
            {"GF_SECURITY_ADMIN_USER": "admin", "GF_SECURITY_ADMIN_PASSWORD": ""},
            "GF_SECURITY_ADMIN_PASSWORD",
        ),
    ],
    ids=["no-user", "empty-password"],
)
def test_missing_credentials_stop_compose_with_a_clear_message(
    compose_cli: None, tmp_path: Path, present: dict[str, str], missing: str
):
    env_file = write_env_file(tmp_path / "partial.env", present)
    result = run_compose_config(env_file, BASE)
    assert result.returncode != 0
    assert f"required variable {missing} is missing a value" in result.stderr
    assert ".env.example" in result.stderr


def test_env_example_alone_does_not_start_grafana(compose_cli: None, repo_root: Path):
    """The example carries no password, so nobody runs with a default one by accident."""
    result = run_compose_config(repo_root / ".env.example", BASE)
    assert result.returncode != 0
    assert "GF_SECURITY_ADMIN_PASSWORD" in result.stderr


def test_env_example_holds_no_secret(repo_root: Path):
    values = dict(
        line.split("=", 1)
        for line in (repo_root / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert values == {"GF_SECURITY_ADMIN_USER": "admin", "GF_SECURITY_ADMIN_PASSWORD": ""}


# --- each rule turns red for its fault ---------------------------------------------


def broken(config: dict[str, Any], service: str, **changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["services"][service].update(changes)
    return config


def test_compose_checks_catch_their_faults(
    compose_config: ComposeConfig, shadow_mvs_contract: Contract
):
    base = compose_config(BASE)
    wide_port = [{"host_ip": "0.0.0.0", "published": "3000", "target": 3000}]
    project = shadow_mvs_contract.project
    assert "published on 0.0.0.0" in details(
        compose_files.project_findings(broken(base, "grafana", ports=wide_port), project)
    )
    assert "init is not true" in details(
        compose_files.project_findings(broken(base, "exporter", init=False), project)
    )
    assert "project name" in details(compose_files.project_findings(base, "other-project"))


def test_host_network_check_catches_its_faults(compose_config: ComposeConfig):
    good = compose_config(FILE_SETS["base+host-network"])
    assert compose_files.host_network_findings(compose_config(BASE))  # the base is not host-network
    faults = {
        "network_mode is 'bridge'": broken(good, "exporter", network_mode="bridge"),
        "extra_hosts": broken(good, "grafana", extra_hosts=["host.docker.internal=host-gateway"]),
        "exporter: listens on '0.0.0.0:9109'": broken(
            good, "exporter", environment={"SHADOW_MVS_LISTEN": "0.0.0.0:9109"}
        ),
    }
    for expected, config in faults.items():
        assert expected in details(compose_files.host_network_findings(config)), expected


def test_offline_check_catches_its_faults(compose_config: ComposeConfig):
    good = compose_config(FILE_SETS["base+offline"])
    assert "still has a build section" in details(
        compose_files.offline_findings(
            broken(good, "exporter", build={"context": ".."}), OFFLINE_IMAGE
        )
    )
    assert "pull_policy" in details(
        compose_files.offline_findings(
            broken(good, "grafana", pull_policy="missing"), OFFLINE_IMAGE
        )
    )
    online = details(compose_files.offline_findings(compose_config(BASE), OFFLINE_IMAGE))
    assert "exporter: still has a build section" in online
    assert "grafana: image 'grafana/grafana:11.5.2'" in online


def test_mount_check_catches_a_wrong_provisioning_dir(
    compose_config: ComposeConfig, shadow_mvs_contract: Contract, repo_root: Path
):
    config = compose_config([MINI_STACK])
    # The mini-stack mounts its own datasource directory: wrong for the known-good pairing.
    known_good = copy.deepcopy(compose_config(BASE))
    known_good["services"]["grafana"]["volumes"] = config["services"]["grafana"]["volumes"]
    findings = compose_files.mount_findings(known_good, shadow_mvs_contract, repo_root)
    assert compose_files.DATASOURCE_MOUNT in details(findings), findings


def with_volumes(config: dict[str, Any], service: str, change) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["services"][service]["volumes"] = change(config["services"][service]["volumes"])
    return config


def test_mount_check_catches_its_faults(
    compose_config: ComposeConfig, shadow_mvs_contract: Contract, repo_root: Path
):
    base = compose_config(BASE)
    writable = with_volumes(
        base, "grafana", lambda volumes: [{**v, "read_only": False} for v in volumes]
    )
    no_dashboards = with_volumes(
        base,
        "grafana",
        lambda volumes: [v for v in volumes if v["target"] != "/etc/grafana/dashboards"],
    )
    other_config = with_volumes(
        base,
        "prometheus-local",
        lambda volumes: [
            {**v, "source": str(repo_root / "compose/mini-stack")}
            if v["target"] == compose_files.PROMETHEUS_CONFIG_MOUNT
            else v
            for v in volumes
        ],
    )
    faults = {
        "is mounted read-write": writable,
        "/etc/grafana/dashboards mounts nothing": no_dashboards,
        "prometheus-local: /etc/prometheus mounts": other_config,
    }
    for expected, config in faults.items():
        findings = compose_files.mount_findings(config, shadow_mvs_contract, repo_root)
        assert expected in details(findings), (expected, findings)
