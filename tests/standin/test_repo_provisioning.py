"""The repo's own Grafana provisioning (compose/grafana) loads with the contract's values."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.evidence.grafana_rules.dashboards import provision_dashboards, read_providers
from shadow_mvs.evidence.grafana_rules.datasources import provision_datasources

from .conftest import Standin

GRAFANA_DIR = REPO_ROOT / "compose" / "grafana"


@pytest.fixture
def repo_provisioning(tmp_path: Path) -> Path:
    """The repo files laid out as the container sees them: the provider's absolute
    ``options.path`` (a container path) is pointed at the repo's dashboards directory."""
    contract = load_contract()
    target = tmp_path / "provisioning"
    shutil.copytree(GRAFANA_DIR / "provisioning", target)
    provider_file = target / "dashboards" / Path(contract.dashboard["provider_file"]).name
    doc = yaml.safe_load(provider_file.read_text())
    for provider in doc["providers"]:
        assert provider["options"]["path"] == contract.dashboard["provider_path"]
        provider["options"]["path"] = str(GRAFANA_DIR / "dashboards")
    provider_file.write_text(yaml.safe_dump(doc))
    return target


def test_contract_files_exist() -> None:
    contract = load_contract()
    for relative in (
        contract.datasource["file"],
        contract.dashboard["provider_file"],
        contract.dashboard["file"],
    ):
        assert (REPO_ROOT / relative).is_file(), relative


def test_provider_file_points_at_the_contract_path() -> None:
    contract = load_contract()
    providers = read_providers(REPO_ROOT / contract.dashboard["provider_file"], {})
    assert [p.path for p in providers] == [contract.dashboard["provider_path"]]
    assert [p.folder for p in providers] == [contract.dashboard["folder"]]


def test_datasource_matches_the_contract(repo_provisioning: Path) -> None:
    expected = load_contract().datasource
    datasources = provision_datasources(repo_provisioning, {})
    [ds] = [d for d in datasources if d.uid == expected["uid"]]
    assert (ds.name, ds.type, ds.url, ds.is_default) == (
        expected["name"], expected["type"], expected["url"], expected["is_default"]
    )  # fmt: skip


def test_dashboard_matches_the_contract(repo_provisioning: Path) -> None:
    contract = load_contract()
    expected = contract.dashboard
    store = provision_dashboards(repo_provisioning, {})
    dashboard = store.dashboard(expected["uid"])
    assert dashboard is not None
    assert dashboard.title == expected["title"]
    assert dashboard.folder is not None
    assert dashboard.folder.title == expected["folder"]
    file_under_dashboards = Path(expected["file"]).relative_to("compose/grafana/dashboards")
    assert dashboard.external_id == file_under_dashboards.as_posix()


def test_stand_in_serves_the_repo_provisioning(start_standin, repo_provisioning: Path) -> None:
    contract = load_contract()
    standin: Standin = start_standin(repo_provisioning)
    [hit] = standin.get(
        "/api/search", params={"type": "dash-db", "dashboardUIDs": contract.dashboard["uid"]}
    ).json()
    assert hit["folderTitle"] == contract.dashboard["folder"]
    datasource = standin.get(f"/api/datasources/uid/{contract.datasource['uid']}").json()
    assert (datasource["url"], datasource["isDefault"]) == (
        contract.datasource["url"], contract.datasource["is_default"]
    )  # fmt: skip
