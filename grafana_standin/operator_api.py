"""The read-only endpoints operators' own tools call (grafana-client's ``connect()``,
``version``, folders, org, user), with Grafana's bodies and status codes.

Sources (grafana/grafana, read for this module):
* routes and permissions: ``pkg/api/api.go`` (``/frontend/settings/`` in the signed-in
  group; ``/user`` behind ``reqSignedInNoAnonymous``; ``/org`` ``orgs:read``;
  ``/org/users`` ``org.users:read``; ``/datasources/name/:name`` ``datasources:read``),
  ``pkg/api/folder.go`` (``/folders`` and ``/folders/:uid``, ``folders:read``).
* bodies: ``pkg/api/dtos/frontend_settings.go`` (``FrontendSettingsBuildInfoDTO``),
  ``pkg/api/dtos/folder.go`` (``Folder``, ``FolderSearchHit``), ``pkg/api/folder.go``
  (``GetFolders`` lists root folders as ``{id, uid, title}``), ``pkg/api/apierrors/folder.go``
  (unknown folder: 404 ``{"message":"folder not found","status":"not-found"}``),
  ``pkg/services/user/model.go`` (``UserProfileDTO``), ``pkg/services/org/model.go``
  (``OrgDetailsDTO``, ``OrgUserDTO``); captured 11.x/12.x bodies of ``/api/user`` and
  ``/api/org`` agree with these key orders.
grafana-client 5.1.4 reads ``buildInfo`` from ``/api/frontend/settings`` for ``connect()``,
``version`` and ``health.check()`` (``grafana_client/elements/health.py``).

A Viewer (anonymous fall-through) may read folders and the org, like Grafana's fixed
roles; org users and datasources stay Admin-only (403 RBAC body).
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shadow_mvs.evidence.grafana_rules.dashboards import Folder

from . import COMMIT, VERSION
from .auth import Identity

if TYPE_CHECKING:
    from .server import State

ORG_NAME = "Main Org."  # the org a fresh Grafana creates (pkg/services/org/orgimpl)
STARTED = datetime.now(UTC).replace(microsecond=0)
FOLDER_NOT_FOUND = {"message": "folder not found", "status": "not-found"}
ANONYMOUS = "Anonymous"  # pkg/api/folder.go anonString: creator of provisioned folders


@dataclass(frozen=True)
class Answer:
    """One JSON answer; ``server.py`` sends it as its ``Reply``."""

    status: int
    body: Any


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _avatar(email: str) -> str:
    """Grafana's ``dtos.GetGravatarUrl``: /avatar/<md5 of the lower-cased e-mail>."""
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False)
    return "/avatar/" + digest.hexdigest()


def _email(who: Identity) -> str:
    # The admin user Grafana creates on first start has e-mail "admin@localhost"
    # (pkg/services/user/userimpl: cfg.AdminEmail default).
    return f"{who.login}@localhost" if not who.login.startswith("sa-") else who.login


def frontend_settings(state: State) -> dict[str, Any]:
    """The part of ``/api/frontend/settings`` tools read: ``buildInfo`` (Grafana's DTO,
    key order kept), the default datasource and the datasources by name."""
    default = next((d for d in state.datasources if d.is_default), None)
    datasources = {
        d.name: {
            "type": d.type,
            "name": d.name,
            "uid": d.uid,
            "id": d.id,
            "url": f"/api/datasources/proxy/uid/{d.uid}",
            "isDefault": d.is_default,
            "access": d.access,
            "jsonData": d.json_data,
            "readOnly": not d.editable,
        }
        for d in state.datasources
    }
    return {
        "appUrl": f"http://localhost:{state.settings.http_port}/",
        "appSubUrl": "",
        "defaultDatasource": default.name if default else "",
        "datasources": datasources,
        "buildInfo": {
            "hideVersion": False,
            "version": VERSION,
            "versionString": f"Grafana v{VERSION}",
            "commit": COMMIT,
            "commitShort": COMMIT,
            "buildstamp": int(STARTED.timestamp()),
            "edition": "Open Source",
            "latestVersion": "",
            "hasUpdate": False,
            "env": "production",
        },
    }


def folder_dto(folder: Folder, who: Identity) -> dict[str, Any]:
    """``dtos.Folder`` for a provisioned folder (created by the provisioning service)."""
    stamp = _stamp(STARTED)
    return {
        "id": folder.id,
        "uid": folder.uid,
        "orgId": 1,
        "title": folder.title,
        "url": folder.url,
        "hasAcl": False,
        "canSave": who.is_admin,
        "canEdit": who.is_admin,
        "canAdmin": who.is_admin,
        "canDelete": who.is_admin,
        "createdBy": ANONYMOUS,
        "created": stamp,
        "updatedBy": ANONYMOUS,
        "updated": stamp,
        "version": 1,
    }


def user_profile(who: Identity) -> dict[str, Any]:
    """``UserProfileDTO`` of the signed-in user (``GET /api/user``)."""
    service_account = who.login.startswith("sa-")
    email = _email(who)
    return {
        "id": 0 if service_account else 1,
        "uid": "service-account:1" if service_account else "standin-admin",
        "email": email,
        "name": "" if not service_account else who.login,
        "login": who.login,
        "theme": "",
        "orgId": 1,
        "isGrafanaAdmin": who.is_admin and not service_account,
        "isDisabled": False,
        "isExternal": False,
        "isExternallySynced": False,
        "isGrafanaAdminExternallySynced": False,
        "authLabels": None if service_account else [],
        "updatedAt": _stamp(STARTED),
        "createdAt": _stamp(STARTED),
        "avatarUrl": "" if service_account else _avatar(email),
        "isProvisioned": False,
    }


def org_details() -> dict[str, Any]:
    """``OrgDetailsDTO`` of the current org (``GET /api/org``)."""
    address = dict.fromkeys(("address1", "address2", "city", "zipCode", "state", "country"), "")
    return {"id": 1, "name": ORG_NAME, "address": address}


def org_users(state: State) -> list[dict[str, Any]]:
    """``OrgUserDTO`` list (``GET /api/org/users``): the admin Grafana created at first
    start; service accounts are not org users in this list."""
    login = state.settings.admin_user
    email = f"{login}@localhost"
    return [
        {
            "orgId": 1,
            "userId": 1,
            "uid": "standin-admin",
            "email": email,
            "name": "",
            "avatarUrl": _avatar(email),
            "login": login,
            "role": "Admin",
            "lastSeenAt": _stamp(STARTED),
            "lastSeenAtAge": "< 1 minute",
            "authLabels": None,
            "isExternallySynced": False,
            "isProvisioned": False,
            "isDisabled": False,
        }
    ]


def rbac_denied(action: str) -> Answer:
    from .server import rbac_denied as body  # one RBAC body for the whole stand-in

    return Answer(403, body(action))


def answer(state: State, who: Identity, path: str) -> Answer | None:
    """The answer for an operator-tool GET, or None when the path is not one of them."""
    if path.rstrip("/") == "/api/frontend/settings":
        return Answer(200, frontend_settings(state))
    if path.rstrip("/") == "/api/user":
        if who.anonymous:
            return Answer(401, {"message": "Unauthorized"})
        return Answer(200, user_profile(who))
    if path.rstrip("/") == "/api/org":
        return Answer(200, org_details())
    if path.rstrip("/") == "/api/org/users":
        if not who.is_admin:
            return rbac_denied("org.users:read")
        return Answer(200, org_users(state))
    if path.rstrip("/") == "/api/folders":
        folders = sorted(state.dashboards.folders, key=lambda f: f.title.lower())
        return Answer(200, [{"id": f.id, "uid": f.uid, "title": f.title} for f in folders])
    if path.startswith("/api/folders/"):
        uid = urllib.parse.unquote(path.removeprefix("/api/folders/").rstrip("/"))
        found = next((f for f in state.dashboards.folders if f.uid == uid), None)
        if "/" in uid or found is None:
            return Answer(404, FOLDER_NOT_FOUND)
        return Answer(200, folder_dto(found, who))
    if path.startswith("/api/datasources/name/"):
        if not who.is_admin:
            return rbac_denied("datasources:read")
        name = urllib.parse.unquote(path.removeprefix("/api/datasources/name/"))
        datasource = state.datasource_by_name(name)
        if datasource is None:
            return Answer(404, {"message": "Data source not found"})
        return Answer(200, datasource.dto())
    return None
