"""Dashboard provisioning: providers in ``<provisioning>/dashboards/*.y{a,}ml``, JSON files
found by walking each provider's ``options.path``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shadow_mvs.evidence.grafana_rules.errors import DASHBOARDS_FAILED, ProvisioningError
from shadow_mvs.evidence.grafana_rules.gojson import go_json_error
from shadow_mvs.evidence.grafana_rules.interpolation import InterpolationError, interpolate_values
from shadow_mvs.evidence.grafana_rules.logfmt import log
from shadow_mvs.evidence.grafana_rules.slug import generate_short_uid, slugify, uid_problem
from shadow_mvs.evidence.grafana_rules.yamlfiles import (
    YamlError,
    as_str,
    load_yaml,
    parse_bool,
    parse_int,
    provisioning_files,
    unmarshal_error,
)

LOGGER = "provisioning.dashboard"
TITLE_EMPTY = "Dashboard title cannot be empty"  # dashboards/errors.go ErrDashboardTitleEmpty
MAIN_ORG_ID = 1
DEFAULT_UPDATE_INTERVAL_S = 10
MIN_REFRESH_S = 5.0  # [dashboards] min_refresh_interval
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)$")
_UNIT_SECONDS = {
    "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000,
}  # fmt: skip


@dataclass(frozen=True)
class Provider:
    name: str
    org_id: int
    folder: str
    folder_uid: str
    type: str
    disable_deletion: bool
    update_interval_s: int
    allow_ui_updates: bool
    path: str
    folders_from_files_structure: bool
    file: str = ""  # the provider file it comes from


@dataclass(frozen=True)
class MissingPath:
    """A provider whose ``options.path`` does not exist: Grafana logs "Failed to provision
    config" and provisions nothing from it (dashboard.go ``Provision``)."""

    provider: Provider
    error: str


@dataclass(frozen=True)
class Folder:
    id: int
    uid: str
    title: str

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def url(self) -> str:
        return f"/dashboards/f/{self.uid}/{self.slug}"


@dataclass(frozen=True)
class Dashboard:
    id: int
    uid: str
    title: str
    tags: tuple[str, ...]
    model: dict[str, Any]
    folder: Folder | None
    provider: Provider
    external_id: str  # path relative to the provider's resolved options.path
    updated: datetime

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def url(self) -> str:
        return f"/d/{self.uid}/{self.slug}"


@dataclass
class DashboardStore:
    folders: list[Folder] = field(default_factory=list)
    dashboards: list[Dashboard] = field(default_factory=list)
    providers: list[Provider] = field(default_factory=list)
    missing_paths: list[MissingPath] = field(default_factory=list)

    def dashboard(self, uid: str) -> Dashboard | None:
        return next((d for d in self.dashboards if d.uid == uid), None)


def _time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_hit(item: Dashboard | Folder) -> dict[str, Any]:
    """One ``/api/search`` hit; root dashboards carry no ``folder*`` keys."""
    is_folder = isinstance(item, Folder)
    hit: dict[str, Any] = {
        "id": item.id,
        "uid": item.uid,
        "orgId": MAIN_ORG_ID,
        "title": item.title,
        "uri": f"db/{item.slug}",
        "url": item.url,
        "slug": "",
        "type": "dash-folder" if is_folder else "dash-db",
        "tags": [] if isinstance(item, Folder) else list(item.tags),
        "isStarred": False,
    }
    if isinstance(item, Dashboard) and item.folder is not None:
        hit |= {
            "folderId": item.folder.id,
            "folderUid": item.folder.uid,
            "folderTitle": item.folder.title,
            "folderUrl": item.folder.url,
        }
    return hit | {"sortMeta": 0, "isDeleted": False}


def dashboard_response(dashboard: Dashboard, is_admin: bool, is_anonymous: bool) -> dict[str, Any]:
    """``GET /api/dashboards/uid/:uid`` body: the stored model plus ``meta``."""
    folder = dashboard.folder
    stamp = _time_text(dashboard.updated)
    perms = {"canAdd": is_admin, "canEdit": is_admin, "canDelete": is_admin}
    meta = {
        "type": "db",
        "canSave": is_admin,
        "canEdit": is_admin,
        "canAdmin": is_admin,
        "canStar": not is_anonymous,
        "canDelete": is_admin,
        "slug": dashboard.slug,
        "url": dashboard.url,
        "expires": "0001-01-01T00:00:00Z",
        "created": stamp,
        "updated": stamp,
        "updatedBy": "Anonymous",
        "createdBy": "Anonymous",
        "version": 1,
        "hasAcl": False,
        "isFolder": False,
        "folderId": folder.id if folder else 0,
        "folderUid": folder.uid if folder else "",
        "folderTitle": folder.title if folder else "General",
        "folderUrl": folder.url if folder else "",
        "provisioned": not dashboard.provider.allow_ui_updates,
        "provisionedExternalId": dashboard.external_id,
        "annotationsPermissions": {"dashboard": perms, "organization": dict(perms)},
    }
    return {"dashboard": dashboard.model, "meta": meta}


def _create_provisioner_error(message: str, path: Path) -> ProvisioningError:
    """Provider-file errors fail the provisioning service's construction (provisioning.go
    ``setDashboardProvisioner``), wrapped as dashboard.go ``New`` wraps them."""
    return ProvisioningError(f"Failed to create provisioner: {message}", path, DASHBOARDS_FAILED)


def _config_error(message: str, path: Path) -> ProvisioningError:
    return _create_provisioner_error(f"Failed to read dashboards config: {message}", path)


def _parse_error(message: str, path: Path) -> ProvisioningError:
    """config_reader.go ``readConfig``: the file's base name and the parse error."""
    return _config_error(
        f"could not parse provisioning config file: {path.name} error: {message}", path
    )


def _reader_error(message: str, path: Path) -> ProvisioningError:
    return _create_provisioner_error(f"Failed to initialize file readers: {message}", path)


def _provider(raw: Any, v1: bool, path: Path) -> Provider:
    """types.go ``configs`` (v1) / ``configV0``: both schemas carry ``folderUid``,
    ``allowUiUpdates`` and ``disableDeletion``; v0 differs only in ``org_id``."""
    if not isinstance(raw, dict):
        raise _parse_error(unmarshal_error(path, raw, "dashboards.configs"), path)
    options: dict[str, Any] = raw["options"] if isinstance(raw.get("options"), dict) else {}
    name = as_str(raw.get("name"))
    return Provider(
        name=name,
        org_id=parse_int(raw.get("orgId" if v1 else "org_id"), "orgId") or MAIN_ORG_ID,
        folder=as_str(raw.get("folder")),
        folder_uid=as_str(raw.get("folderUid")),
        type=as_str(raw.get("type")) or "file",
        disable_deletion=parse_bool(raw.get("disableDeletion"), "disableDeletion"),
        update_interval_s=parse_int(raw.get("updateIntervalSeconds"), "updateIntervalSeconds")
        or DEFAULT_UPDATE_INTERVAL_S,
        allow_ui_updates=parse_bool(raw.get("allowUiUpdates"), "allowUiUpdates"),
        path=options.get("path", options.get("folder")),  # type: ignore[arg-type]  # checked below
        folders_from_files_structure=options.get("foldersFromFilesStructure") is True,
        file=str(path),
    )


def read_providers(path: Path, env: Mapping[str, str]) -> list[Provider]:
    """One provider file as config_reader.go ``parseConfigs`` reads it: v1 (``apiVersion``
    >= 1, ``providers:``) or v0 (a bare list); then the checks ``readConfig``,
    ``getFileReaders`` and ``NewDashboardFileReader`` make, with their error texts."""
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise _parse_error(str(exc), path) from exc
    if doc is None:
        return []
    try:
        v1 = isinstance(doc, dict) and parse_int(doc.get("apiVersion"), "apiVersion") >= 1
        if v1:
            doc = interpolate_values(doc, env)
            entries = doc.get("providers") or []
        elif isinstance(doc, list):
            log(
                LOGGER,
                "warn",
                "[Deprecated] the dashboard provisioning config is outdated. please upgrade",
                filename=path.absolute(),
            )
            entries = doc
        else:
            raise _parse_error(unmarshal_error(path, doc, "[]*dashboards.configV0"), path)
        providers = [_provider(raw, v1, path) for raw in entries]
    except InterpolationError as exc:
        raise _parse_error(str(exc), path) from exc
    except ProvisioningError as exc:
        if exc.logged:
            raise
        raise _parse_error(str(exc), path) from exc
    seen: set[str] = set()
    for provider in providers:
        if provider.name in seen:
            raise _parse_error(f'dashboard name "{provider.name}" is not unique', path)
        seen.add(provider.name)
    for provider in providers:
        if provider.org_id != MAIN_ORG_ID:
            raise _config_error(
                f'failed to provision dashboards with "{provider.name}" reader: '
                "organization not found",
                path,
            )
    for provider in providers:
        if provider.type != "file":
            raise _reader_error(f"type {provider.type} is not supported", path)
        if not isinstance(provider.path, str):
            raise _reader_error(
                f"failed to create file reader for config {provider.name}: "
                "failed to load dashboards, path param is not a string",
                path,
            )
        if provider.folders_from_files_structure and provider.folder and provider.folder_uid:
            raise _reader_error(
                f"failed to create file reader for config {provider.name}: 'folder' and "
                "'folderUID' should be empty using 'foldersFromFilesStructure' option",
                path,
            )
    return providers


def _walk_json(root: Path) -> list[Path]:
    """Every ``*.json`` under root, sorted; directories starting with '.' are skipped."""
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found += [Path(directory) / f for f in sorted(files) if f.endswith(".json")]
    return found


def _refresh_seconds(refresh: Any) -> float | None:
    match = _DURATION.match(refresh) if isinstance(refresh, str) else None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


class _Builder:
    def __init__(self) -> None:
        self.store = DashboardStore()
        self.next_id = 1
        self.seen_uids: dict[str, Path] = {}

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def folder(self, title: str, uid: str) -> Folder:
        for folder in self.store.folders:
            if folder.title == title:
                return folder
        folder = Folder(self.take_id(), uid or generate_short_uid(), title)
        self.store.folders.append(folder)
        log(LOGGER, "info", "created folder", title=title, uid=folder.uid)
        return folder

    def load(self, provider: Provider, root: Path, file: Path) -> None:
        """file_reader.go ``saveDashboard``: a file that does not parse or has no title is
        logged "failed to load dashboard from " and skipped; a uid the dashboard service
        refuses is logged "failed to save dashboard". Both lines carry the reader's
        logger context (``type``, ``name``)."""
        reader = {"type": provider.type, "name": provider.name}
        try:
            model, error = go_json_error(file.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            model, error = None, f"open {file}: {exc}"
        title = model.get("title") if isinstance(model, dict) else None
        if error is None and not (isinstance(title, str) and title):
            error = TITLE_EMPTY  # simplejson MustString(): a non-string title is "" too
        if error is not None or not isinstance(model, dict):
            log(LOGGER, "error", "failed to load dashboard from ", reader, file=file, error=error)
            return
        title = str(title)
        uid = model.get("uid") if isinstance(model.get("uid"), str) else ""
        if uid:
            problem = uid_problem(uid)
            if problem:
                log(LOGGER, "error", "failed to save dashboard", reader, file=file, error=problem)
                return
            if uid in self.seen_uids:
                # Grafana's last writer wins nondeterministically; here the first file in
                # provider order, then sorted path order, is kept (validator.go logs it).
                log(
                    LOGGER,
                    "error",
                    "the same UID is used more than once",
                    orgId=MAIN_ORG_ID,
                    uid=uid,
                    kept=self.seen_uids[uid],
                    skipped=file,
                )
                return
        else:
            uid = generate_short_uid()
        self.seen_uids[uid] = file
        folder = self._placement(provider, root, file)
        refresh = _refresh_seconds(model.get("refresh"))
        if refresh is not None and refresh < MIN_REFRESH_S:
            log(
                LOGGER,
                "warn",
                "Changing refresh interval for provisioned dashboard to minimum refresh interval",
                dashboardUid=uid,
                dashboardTitle=title,
                minRefreshInterval="5s",
            )
            model["refresh"] = "5s"
        dashboard_id = self.take_id()
        model |= {"id": dashboard_id, "uid": uid, "version": 1}
        if any(
            d.title.lower() == title.lower() and d.folder == folder for d in self.store.dashboards
        ):
            log(LOGGER, "warn", "dashboard title is not unique in folder", title=title, uid=uid)
        tags = model.get("tags")
        self.store.dashboards.append(
            Dashboard(
                id=dashboard_id,
                uid=uid,
                title=title,
                tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
                model=model,
                folder=folder,
                provider=provider,
                external_id=file.relative_to(root).as_posix(),
                updated=datetime.fromtimestamp(file.stat().st_mtime, UTC),
            )
        )

    def _placement(self, provider: Provider, root: Path, file: Path) -> Folder | None:
        if provider.folders_from_files_structure:
            parent = file.parent
            return None if parent == root else self.folder(parent.name, "")
        return self.folder(provider.folder, provider.folder_uid) if provider.folder else None


def provision_dashboards(
    provisioning_dir: Path,
    env: Mapping[str, str],
    resolve: Callable[[str], Path] | None = None,
) -> DashboardStore:
    """``resolve`` maps a provider's (container) path to where it is readable; the verify
    preflight uses it to read the host side of the compose mounts."""
    providers = [
        provider
        for path in provisioning_files(provisioning_dir / "dashboards", LOGGER)
        for provider in read_providers(path, env)
    ]
    log(LOGGER, "info", "starting to provision dashboards")
    builder = _Builder()
    builder.store.providers = providers
    for provider in providers:
        root = resolve(provider.path) if resolve else Path(provider.path)
        if not root.is_dir():
            # dashboard.go Provision: a missing path is a warning, not fatal ("the folder
            # can appear after the startup"). Grafana ends that provisioning pass there and
            # each provider's own poll (updateIntervalSeconds) walks the rest later; the
            # stand-in, which does not poll, walks the remaining providers at once.
            missing = f"stat {provider.path}: no such file or directory"
            log(LOGGER, "warn", "Failed to provision config", name=provider.name, error=missing)
            builder.store.missing_paths.append(MissingPath(provider, missing))
            continue
        root = root.resolve()
        for file in _walk_json(root):
            builder.load(provider, root, file)
    log(LOGGER, "info", "finished to provision dashboards")
    return builder.store
