"""Each endpoint's shape and status over real HTTP against the stand-in subprocess."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from shadow_mvs.core.contract import load_contract

from .conftest import Standin, provisioning_with_datasources, running_standin

DEAD_URL = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    root = tmp_path_factory.mktemp("api")
    prov = provisioning_with_datasources(
        root,
        [
            {"name": "beta-prom", "uid": "beta", "type": "prometheus", "url": DEAD_URL,
             "isDefault": True, "jsonData": {"timeInterval": "5s"}},
            {"name": "Alpha", "uid": "alpha", "type": "loki", "url": "http://loki:3100",
             "editable": True},
        ],
    )  # fmt: skip
    ops_dir, root_dir = root / "ops", root / "general"
    prov.provider_file(
        "dashboards.yaml",
        {
            "apiVersion": 1,
            "providers": [
                {"name": "ops", "folder": "Ops", "folderUid": "ops-folder",
                 "options": {"path": str(ops_dir)}},
                {"name": "general", "allowUiUpdates": True, "options": {"path": str(root_dir)}},
            ],
        },
    )  # fmt: skip
    prov.dashboard(
        "ops-one.json", {"uid": "ops-one", "title": "Ops One", "tags": ["ops", "prod"]}, ops_dir
    )
    prov.dashboard(
        "sub/ops-two.json", {"uid": "ops-two", "title": "another ops", "tags": ["ops"]}, ops_dir
    )
    prov.dashboard(
        "root.json", {"uid": "root-dash", "title": "Root <Board>", "panels": []}, root_dir
    )
    with running_standin(prov) as standin:
        yield standin


def test_health_needs_no_auth_and_is_pretty_json(standin: Standin) -> None:
    response = standin.get("/api/health", auth=("nobody", "wrong"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.text == (
        '{\n  "database": "ok",\n  "version": "11.5.2-standin",\n  "commit": "standin"\n}'
    )
    assert load_contract().grafana["standin_marker"] in response.json()["version"]


def test_health_head_has_no_body(standin: Standin) -> None:
    with standin.client() as client:
        response = client.head("/api/health")
    assert (response.status_code, response.content) == (200, b"")


def test_healthz(standin: Standin) -> None:
    response = standin.get("/healthz", auth=None)
    assert (response.status_code, response.text) == (200, "Ok")


def test_datasource_list(standin: Standin) -> None:
    response = standin.get("/api/datasources")
    assert response.status_code == 200
    items = response.json()
    assert [(d["name"], d["readOnly"], d["isDefault"]) for d in items] == [
        ("Alpha", False, False),
        ("beta-prom", True, True),
    ]
    assert list(items[1]) == [
        "id", "uid", "orgId", "name", "type", "typeName", "typeLogoUrl", "access", "url",
        "user", "database", "basicAuth", "isDefault", "jsonData", "readOnly",
    ]  # fmt: skip
    assert items[1]["jsonData"] == {"timeInterval": "5s"}


def test_datasource_by_uid(standin: Standin) -> None:
    response = standin.get("/api/datasources/uid/beta")
    assert response.status_code == 200
    body = response.json()
    assert (body["uid"], body["url"], body["secureJsonFields"], body["readOnly"]) == (
        "beta",
        DEAD_URL,
        {},
        True,
    )


def test_datasource_by_unknown_uid(standin: Standin) -> None:
    response = standin.get("/api/datasources/uid/nope")
    assert (response.status_code, response.json()) == (404, {"message": "Data source not found"})


def test_health_of_unknown_and_invalid_uids(standin: Standin) -> None:
    unknown = standin.get("/api/datasources/uid/nope/health")
    assert (unknown.status_code, unknown.json()) == (
        500, {"message": "Unable to load datasource metadata"}
    )  # fmt: skip
    invalid = standin.get("/api/datasources/uid/in%20valid/health")
    assert (invalid.status_code, invalid.json()) == (400, {"message": "UID is invalid"})


def search(standin: Standin, **params: object) -> list[dict[str, object]]:
    response = standin.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_search_lists_folders_first_then_titles_case_insensitively(standin: Standin) -> None:
    hits = search(standin)
    assert [(h["type"], h["title"]) for h in hits] == [
        ("dash-folder", "Ops"),
        ("dash-db", "another ops"),
        ("dash-db", "Ops One"),
        ("dash-db", "Root <Board>"),
    ]


def test_search_hit_shapes(standin: Standin) -> None:
    by_uid = {h["uid"]: h for h in search(standin)}
    assert by_uid["ops-one"] == {
        "id": by_uid["ops-one"]["id"], "uid": "ops-one", "orgId": 1, "title": "Ops One",
        "uri": "db/ops-one", "url": "/d/ops-one/ops-one", "slug": "", "type": "dash-db",
        "tags": ["ops", "prod"], "isStarred": False, "folderId": by_uid["ops-folder"]["id"],
        "folderUid": "ops-folder", "folderTitle": "Ops", "folderUrl": "/dashboards/f/ops-folder/ops",
        "sortMeta": 0, "isDeleted": False,
    }  # fmt: skip
    root = by_uid["root-dash"]
    assert not [key for key in root if key.startswith("folder")]
    assert root["url"] == "/d/root-dash/root-board"
    assert by_uid["ops-folder"]["url"] == "/dashboards/f/ops-folder/ops"


def test_search_filters(standin: Standin) -> None:
    def uids(**params: object) -> list[object]:
        return [h["uid"] for h in search(standin, **params)]

    assert uids(type="dash-db") == ["ops-two", "ops-one", "root-dash"]
    assert uids(type="dash-folder") == ["ops-folder"]
    assert uids(query="OPS") == ["ops-folder", "ops-two", "ops-one"]
    assert uids(dashboardUIDs=["ops-one", "root-dash"]) == ["ops-one", "root-dash"]
    assert uids(tag="ops") == ["ops-two", "ops-one"]
    assert uids(tag=["ops", "prod"]) == ["ops-one"]
    assert uids(type="dash-db", dashboardUIDs="absent") == []


def test_search_limit_above_maximum(standin: Standin) -> None:
    response = standin.get("/api/search", params={"limit": 5001})
    assert response.status_code == 422


def test_dashboard_in_folder(standin: Standin) -> None:
    response = standin.get("/api/dashboards/uid/ops-two")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"dashboard", "meta"}
    assert (body["dashboard"]["uid"], body["dashboard"]["version"]) == ("ops-two", 1)
    meta = body["meta"]
    assert meta["provisioned"] is True
    assert meta["provisionedExternalId"] == "sub/ops-two.json"
    assert (meta["folderUid"], meta["folderTitle"], meta["folderUrl"]) == (
        "ops-folder", "Ops", "/dashboards/f/ops-folder/ops"
    )  # fmt: skip
    assert (meta["slug"], meta["url"], meta["canSave"]) == (
        "another-ops",
        "/d/ops-two/another-ops",
        True,
    )


def test_dashboard_at_root_with_ui_updates_allowed(standin: Standin) -> None:
    response = standin.get("/api/dashboards/uid/root-dash")
    meta = response.json()["meta"]
    assert (meta["folderTitle"], meta["folderUid"], meta["folderId"]) == ("General", "", 0)
    assert meta["provisioned"] is False
    assert meta["provisionedExternalId"] == "root.json"
    # Go's encoder escapes <, > and &.
    assert "Root \\u003cBoard\\u003e" in response.text


def test_dashboard_not_found(standin: Standin) -> None:
    response = standin.get("/api/dashboards/uid/nope")
    assert (response.status_code, response.json()) == (404, {"message": "Dashboard not found"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "bad request data"),
        (json.dumps({"from": 1, "to": "now", "queries": []}), "bad request data"),
        (json.dumps({"from": "now-1h", "to": "now", "queries": []}), "No queries found"),
        (
            json.dumps({"from": "now-1h", "to": "now", "queries": [{"refId": "A", "expr": "up"}]}),
            "Query A is missing datasource information",
        ),
    ],
)
def test_ds_query_bad_requests(standin: Standin, body: str, message: str) -> None:
    response = standin.post(
        "/api/ds/query", content=body, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["message"]) == (400, message)


def test_ds_query_duplicate_ref_ids(standin: Standin) -> None:
    query = {"refId": "A", "expr": "up", "datasource": {"uid": "beta"}}
    response = standin.post(
        "/api/ds/query", json={"from": "now-5m", "to": "now", "queries": [query, query]}
    )
    assert response.status_code == 400
    assert response.json()["messageId"] == "query.duplicateRefId"


def test_ds_query_unknown_datasource(standin: Standin) -> None:
    query = {"refId": "A", "expr": "up", "datasource": {"uid": "nope"}}
    response = standin.post(
        "/api/ds/query", json={"from": "now-5m", "to": "now", "queries": [query]}
    )
    assert response.status_code == 404


def test_ds_query_against_a_dead_prometheus_is_a_per_query_error(standin: Standin) -> None:
    query = {"refId": "A", "expr": "up", "datasource": {"type": "prometheus", "uid": "beta"}}
    response = standin.post(
        "/api/ds/query", json={"from": "now-5m", "to": "now", "queries": [query]}
    )
    assert response.status_code == 400
    result = response.json()["results"]["A"]
    assert (result["errorSource"], result["status"]) == ("downstream", 400)
    assert "connection refused" in result["error"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/api/datasources", "/api/dashboards/uid/ops-one", "/api/search"])
def test_writes_are_refused(standin: Standin, method: str, path: str) -> None:
    with standin.client(standin.auth) as client:
        response = client.request(method, path, json={})
    assert response.status_code == 405


def test_unknown_api_path(standin: Standin) -> None:
    response = standin.get("/api/nothing-here")
    assert (response.status_code, response.json()) == (404, {"message": "Not found"})


def test_request_log_lines(standin: Standin) -> None:
    marker = "/api/dashboards/uid/log-marker"
    standin.get(marker, params={"token": "query-secret"})
    standin.get("/api/health")
    lines = standin.request_lines()
    assert f"REQUEST method=GET path={marker} status=404" in lines
    assert "REQUEST method=GET path=/api/health status=200" in lines
    assert all(line.count(" ") == 3 and line.split(" ")[1].startswith("method=") for line in lines)
    log = standin.log_text()
    assert "query-secret" not in log
    assert standin.password not in log
    assert "Authorization" not in log


def test_provisioning_events_are_logged(standin: Standin) -> None:
    log = standin.log_text()
    assert 'msg="inserting datasource from configuration" name=beta-prom uid=beta' in log
    assert 'msg="finished to provision dashboards"' in log
    assert f'msg="HTTP Server Listen" address=127.0.0.1:{standin.port}' in log


def test_unauthenticated_api_call_is_rejected_before_routing(standin: Standin) -> None:
    response = httpx.get(f"{standin.url}/api/nothing-here")
    assert response.status_code == 401
