"""grafana-client (a real operators' client nobody here wrote) against the stand-in process,
with a real Prometheus behind its datasource: the twelve calls an operator's script makes,
each one asserted on what the client returns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError
from grafana_client.model import DatasourceIdentifier

from fixtures.local_prometheus import LocalPrometheus
from fixtures.prometheus_tools import needs_prometheus_tools

from .conftest import Standin, provisioning_with_datasources, running_standin

pytestmark = needs_prometheus_tools

DS_NAME = "prometheus-local"
DS_UID = "peaktrade-prometheus-local"
FOLDER_UID = "peak-trade"
DASHBOARD_UID = "shadow-mvs"


@pytest.fixture(scope="module")
def standin(
    prometheus: LocalPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Standin]:
    root = tmp_path_factory.mktemp("client")
    prov = provisioning_with_datasources(
        root,
        [{"name": DS_NAME, "uid": DS_UID, "type": "prometheus", "url": prometheus.url,
          "isDefault": True, "jsonData": {"httpMethod": "POST", "timeInterval": "1s"}}],
    )  # fmt: skip
    prov.default_provider(folder="Peak_Trade", folderUid=FOLDER_UID)
    prov.dashboard("mvs.json", {"uid": DASHBOARD_UID, "title": "Shadow MVS", "panels": []})
    with running_standin(prov) as standin:
        yield standin


@pytest.fixture
def grafana(standin: Standin) -> GrafanaApi:
    return GrafanaApi(auth=standin.auth, host="127.0.0.1", port=standin.port, protocol="http")


def test_twelve_operator_calls(grafana: GrafanaApi) -> None:
    calls: dict[str, Any] = {}
    grafana.connect()  # 1: raises unless /api/frontend/settings answers with buildInfo
    calls["connect"] = True
    calls["version"] = grafana.version  # 2
    calls["health"] = grafana.health.check()  # 3
    calls["folders"] = grafana.folder.get_all_folders()  # 4
    calls["folder"] = grafana.folder.get_folder(FOLDER_UID)  # 5
    calls["by_name"] = grafana.datasource.get_datasource_by_name(DS_NAME)  # 6
    calls["by_uid"] = grafana.datasource.get(DatasourceIdentifier(uid=DS_UID))  # 7
    calls["search"] = grafana.search.search_dashboards(type_="dash-db")  # 8
    calls["dashboard"] = grafana.dashboard.get_dashboard(DASHBOARD_UID)  # 9
    calls["org"] = grafana.organization.get_current_organization()  # 10
    calls["user"] = grafana.user.get_actual_user()  # 10b
    calls["org_users"] = grafana.organization.get_current_organization_users()  # 10c
    calls["ds_health"] = grafana.datasource.health(DS_UID)  # 11
    calls["query"] = grafana.datasource.smartquery(  # 12: /api/ds/query to Prometheus
        DatasourceIdentifier(uid=DS_UID), "1+1", attrs={"instant": True}
    )

    assert calls["version"] == "11.5.2"  # the client strips "-standin"
    assert calls["health"]["version"] == "11.5.2-standin"
    assert calls["folders"] == [{"id": 1, "uid": FOLDER_UID, "title": "Peak_Trade"}]
    assert calls["folder"]["url"] == f"/dashboards/f/{FOLDER_UID}/peak-trade"
    assert calls["by_name"]["uid"] == DS_UID
    assert calls["by_uid"]["name"] == DS_NAME
    assert [h["uid"] for h in calls["search"]] == [DASHBOARD_UID]
    assert calls["dashboard"]["meta"]["folderUid"] == FOLDER_UID
    assert calls["org"]["name"] == "Main Org."
    assert calls["user"]["login"] == "admin"
    assert [u["role"] for u in calls["org_users"]] == ["Admin"]
    assert calls["ds_health"]["status"] == "OK"
    frame = calls["query"]["results"]["test"]["frames"][0]
    assert frame["data"]["values"][1] == [2]


def test_datasource_health_check_helper(grafana: GrafanaApi) -> None:
    """The client's own health check runs ``1+1`` through ``/api/ds/query``."""
    result = grafana.datasource.health_check(DatasourceIdentifier(uid=DS_UID))
    assert (result.success, result.status) == (True, "OK"), result.message


@pytest.mark.parametrize(
    ("call", "status", "body"),
    [
        (lambda g: g.folder.get_folder("nope"), 404,
         {"message": "folder not found", "status": "not-found"}),
        (lambda g: g.datasource.get_datasource_by_name("nope"), 404,
         {"message": "Data source not found"}),
    ],
    ids=["folder", "datasource-by-name"],
)  # fmt: skip
def test_unknown_objects_are_grafanas_404s(grafana: GrafanaApi, call, status, body) -> None:
    with pytest.raises(GrafanaClientError) as raised:
        call(grafana)
    assert (raised.value.status_code, raised.value.response) == (status, body)


def test_wrong_password_is_refused_for_the_new_endpoints(standin: Standin) -> None:
    wrong = GrafanaApi(auth=("admin", "wrong"), host="127.0.0.1", port=standin.port)
    with pytest.raises(GrafanaClientError) as raised:
        wrong.health.check()
    assert raised.value.status_code == 401
    assert raised.value.response["messageId"] == "password-auth.failed"


def test_service_account_token_sees_itself(start_standin, tmp_path) -> None:
    prov = provisioning_with_datasources(tmp_path / "sa", [])
    token = "glsa_standin_test_token_0001"
    standin = start_standin(prov.path, GF_STANDIN_SERVICE_ACCOUNT_TOKENS=f"ci:Viewer:{token}")
    grafana = GrafanaApi(auth=token, host="127.0.0.1", port=standin.port)
    user = grafana.user.get_actual_user()
    assert (user["login"], user["isGrafanaAdmin"]) == ("sa-1-ci", False)
    assert grafana.organization.get_current_organization()["id"] == 1
    with pytest.raises(GrafanaClientError) as raised:  # Viewer: no org.users:read
        grafana.organization.get_current_organization_users()
    assert raised.value.status_code == 403
    assert "org.users:read" in raised.value.response["message"]


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("/api/user", ["id", "uid", "email", "name", "login", "theme", "orgId",
                       "isGrafanaAdmin", "isDisabled", "isExternal", "isExternallySynced",
                       "isGrafanaAdminExternallySynced", "authLabels", "updatedAt",
                       "createdAt", "avatarUrl", "isProvisioned"]),
        ("/api/org", ["id", "name", "address"]),
        (f"/api/folders/{FOLDER_UID}", ["id", "uid", "orgId", "title", "url", "hasAcl",
                                        "canSave", "canEdit", "canAdmin", "canDelete",
                                        "createdBy", "created", "updatedBy", "updated",
                                        "version"]),
    ],
    ids=["user", "org", "folder"],
)  # fmt: skip
def test_bodies_keep_grafanas_key_order(standin: Standin, path: str, keys: list[str]) -> None:
    """Key order of UserProfileDTO, OrgDetailsDTO and dtos.Folder (Go marshals in field
    order): scripts that diff a real Grafana's answer against the stand-in's see no churn."""
    response = standin.get(path)
    assert response.status_code == 200
    assert list(response.json()) == keys


def test_frontend_settings_build_info(standin: Standin) -> None:
    build = standin.get("/api/frontend/settings").json()["buildInfo"]
    assert list(build) == [
        "hideVersion", "version", "versionString", "commit", "commitShort", "buildstamp",
        "edition", "latestVersion", "hasUpdate", "env",
    ]  # fmt: skip
    assert build["version"].endswith("-standin")  # says what answered, like /api/health
    assert standin.get("/api/frontend/settings", auth=None).status_code == 401
