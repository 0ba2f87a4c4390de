"""Authentication: missing, wrong and locked-out credentials, and the anonymous Viewer."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from grafana_standin.auth import Authenticator, AuthFailure
from grafana_standin.settings import Settings

from .conftest import Provisioning, Standin

UNAUTHORIZED = (
    b'{"extra":null,"message":"Unauthorized","messageId":"auth.unauthorized",'
    b'"statusCode":401,"traceID":""}\n'
)


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


PASSWORD_FAILED = {
    "extra": None,
    "message": "Invalid username or password",
    "messageId": "password-auth.failed",
    "statusCode": 401,
    "traceID": "",
}


@pytest.fixture
def minimal(provisioning: Provisioning) -> Provisioning:
    provisioning.datasource_file(
        "ds.yaml",
        {"apiVersion": 1, "datasources": [{"name": "p", "uid": "p", "type": "prometheus"}]},
    )
    provisioning.default_provider()
    provisioning.dashboard("d.json", {"uid": "d", "title": "D"})
    return provisioning


def test_no_credentials(start_standin, minimal: Provisioning) -> None:
    standin: Standin = start_standin(minimal.path)
    response = httpx.get(f"{standin.url}/api/search")
    assert response.status_code == 401
    assert response.content == UNAUTHORIZED
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert "www-authenticate" not in response.headers


def test_wrong_password_and_unknown_user(start_standin, minimal: Provisioning) -> None:
    standin: Standin = start_standin(minimal.path)
    for auth in (("admin", "wrong"), ("someone", standin.password)):
        response = standin.get("/api/datasources", auth=auth)
        assert (response.status_code, response.json()) == (401, PASSWORD_FAILED)


def test_malformed_basic_header(start_standin, minimal: Provisioning) -> None:
    standin: Standin = start_standin(minimal.path)
    response = httpx.get(f"{standin.url}/api/search", headers={"Authorization": "Basic !!!"})
    assert (response.status_code, response.json()["messageId"]) == (
        401,
        "basic-auth.invalid-header",
    )


def test_right_credentials(start_standin, minimal: Provisioning) -> None:
    standin: Standin = start_standin(minimal.path)
    assert standin.get("/api/datasources").status_code == 200
    assert standin.get("/api/datasources", auth=("ADMIN", standin.password)).status_code == 200


def test_lockout_after_five_failures_refuses_the_right_password(
    start_standin, minimal: Provisioning
) -> None:
    standin: Standin = start_standin(minimal.path)
    for _ in range(4):
        assert standin.get("/api/search", auth=("admin", "wrong")).status_code == 401
    assert standin.get("/api/search").status_code == 200  # four failures: not yet locked
    assert standin.get("/api/search", auth=("admin", "wrong")).status_code == 401
    locked = standin.get("/api/search")
    assert (locked.status_code, locked.json()) == (401, PASSWORD_FAILED)
    assert "temporarily blocked" in standin.log_text()


def test_lockout_can_be_disabled(start_standin, minimal: Provisioning) -> None:
    standin: Standin = start_standin(
        minimal.path, GF_SECURITY_DISABLE_BRUTE_FORCE_LOGIN_PROTECTION="true"
    )
    for _ in range(6):
        assert standin.get("/api/search", auth=("admin", "wrong")).status_code == 401
    assert standin.get("/api/search").status_code == 200


def test_lockout_window_expires() -> None:
    now = [1000.0]
    settings = Settings.from_env({"GF_SECURITY_ADMIN_PASSWORD": "right"})
    authenticator = Authenticator(settings, clock=lambda: now[0])
    good, bad = basic(b"admin:right"), basic(b"admin:bad")
    for _ in range(5):
        with pytest.raises(AuthFailure):
            authenticator.authenticate(bad)
    with pytest.raises(AuthFailure):
        authenticator.authenticate(good)
    now[0] += 301.0
    assert authenticator.authenticate(good).is_admin


def test_max_attempts_setting() -> None:
    settings = replace(Settings.from_env({}), brute_force_max_attempts=1)
    authenticator = Authenticator(settings)
    with pytest.raises(AuthFailure):
        authenticator.authenticate(basic(b"admin:x"))
    with pytest.raises(AuthFailure):
        authenticator.authenticate(basic(b"admin:admin"))


def test_anonymous_viewer(start_standin, minimal: Provisioning) -> None:
    standin: Standin = start_standin(minimal.path, GF_AUTH_ANONYMOUS_ENABLED="true")
    for auth in (None, ("admin", "wrong")):
        assert standin.get("/api/search", auth=auth).status_code == 200
        denied = standin.get("/api/datasources", auth=auth)
        assert denied.status_code == 403
        body = denied.json()
        assert body["title"] == "Access denied"
        assert body["accessErrorId"].startswith("ACE")
        assert body["message"].endswith("Permissions needed: datasources:read")
        meta = standin.get("/api/dashboards/uid/d", auth=auth).json()["meta"]
        assert (meta["canSave"], meta["canStar"]) == (False, False)
    assert standin.get("/api/datasources").status_code == 200


def test_password_from_file_variable(start_standin, minimal: Provisioning, tmp_path: Path) -> None:
    secret_file = tmp_path / "admin-password"
    secret_file.write_text("from-a-file\n")
    standin: Standin = start_standin(
        minimal.path, GF_SECURITY_ADMIN_PASSWORD__FILE=str(secret_file)
    )
    assert standin.get("/api/datasources", auth=("admin", "from-a-file")).status_code == 200


INVALID_API_KEY = {
    "extra": None,
    "message": "Invalid API key",
    "messageId": "api-key.invalid",
    "statusCode": 401,
    "traceID": "",
}


def test_service_account_token_is_accepted_and_a_wrong_one_named(
    start_standin, minimal: Provisioning
) -> None:
    standin: Standin = start_standin(
        minimal.path, GF_STANDIN_SERVICE_ACCOUNT_TOKENS="verify:Admin:glsa_good-token-1"
    )
    good = httpx.get(
        f"{standin.url}/api/datasources",
        headers={"Authorization": "Bearer glsa_good-token-1"},
    )
    assert good.status_code == 200
    assert [ds["uid"] for ds in good.json()] == ["p"]
    bad = httpx.get(
        f"{standin.url}/api/datasources", headers={"Authorization": "Bearer glsa_wrong"}
    )
    assert (bad.status_code, bad.json()) == (401, INVALID_API_KEY)


def test_viewer_token_is_denied_the_admin_api(start_standin, minimal: Provisioning) -> None:
    standin: Standin = start_standin(
        minimal.path, GF_STANDIN_SERVICE_ACCOUNT_TOKENS="viewer:Viewer:glsa_viewer-1"
    )
    response = httpx.get(
        f"{standin.url}/api/datasources", headers={"Authorization": "Bearer glsa_viewer-1"}
    )
    assert response.status_code == 403
