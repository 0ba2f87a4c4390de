"""Datasource provisioning: ``<provisioning>/datasources/*.y{a,}ml`` into an in-memory table."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shadow_mvs.evidence.grafana_rules.errors import DATASOURCES_FAILED, ProvisioningError
from shadow_mvs.evidence.grafana_rules.interpolation import (
    InterpolationError,
    interpolate_values,
    unset_names,
)
from shadow_mvs.evidence.grafana_rules.logfmt import log
from shadow_mvs.evidence.grafana_rules.yamlfiles import (
    YamlError,
    as_str,
    load_yaml,
    parse_bool,
    parse_int,
    provisioning_files,
    unmarshal_error,
)

LOGGER = "provisioning.datasources"
DATASOURCE_ERROR = "Datasource provisioning error"  # provisioning.go ProvisionDatasources
MAIN_ORG_ID = 1  # the only org a fresh Grafana has
TOO_MANY_DEFAULTS = (
    "datasource.yaml config is invalid. "
    "Only one datasource per organization can be marked as default"
)
PLUGIN_INFO = {
    "prometheus": (
        "Prometheus",
        "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
    ),
    "loki": ("Loki", "public/app/plugins/datasource/loki/img/loki_icon.svg"),
    "tempo": ("Tempo", "public/app/plugins/datasource/tempo/img/tempo_logo.svg"),
    "alertmanager": (
        "Alertmanager",
        "public/app/plugins/datasource/alertmanager/img/logo.svg",
    ),
}
UNKNOWN_PLUGIN_LOGO = "public/img/icn-datasource.svg"


def uid_from_name(name: str) -> str:
    """Grafana's ``safeUIDFromName``: "P" + upper(hex(sha256(name)[:8]))."""
    return "P" + hashlib.sha256(name.encode()).hexdigest()[:16].upper()


@dataclass(frozen=True)
class Source:
    """Where a provisioned datasource came from, and what Grafana did without a word."""

    file: str = ""
    api_version: int = 1
    ignored_keys: tuple[str, ...] = ()  # keys the file's schema has no field for
    unset_variables: tuple[tuple[str, str], ...] = ()  # (key, $VARIABLE unset -> "")
    uid_derived: bool = False  # no uid in the file: "P" + sha256(name)


# The fields of Grafana's upsertDataSourceFromConfigV1 / V0 (types.go): go-yaml ignores
# every other key of an entry, so a typo or a v1 key in a v0 file is silently lost.
V1_KEYS = frozenset({
    "orgId", "version", "name", "type", "access", "url", "password", "user", "database",
    "basicAuth", "basicAuthUser", "basicAuthPassword", "withCredentials", "isDefault",
    "jsonData", "secureJsonData", "editable", "uid", "correlations", "apiVersion",
})  # fmt: skip
V0_KEYS = frozenset({
    "org_id", "version", "name", "type", "access", "url", "password", "user", "database",
    "basic_auth", "basic_auth_user", "basic_auth_password", "with_credentials", "is_default",
    "json_data", "secure_json_data", "editable",
})  # fmt: skip


@dataclass(frozen=True)
class Datasource:
    id: int
    uid: str
    org_id: int
    name: str
    type: str
    access: str
    url: str
    user: str
    database: str
    basic_auth: bool
    basic_auth_user: str
    with_credentials: bool
    is_default: bool
    json_data: dict[str, Any]
    secure_json_data: dict[str, str]
    editable: bool
    version: int = 1
    source: Source = field(default_factory=Source)

    @property
    def type_name(self) -> str:
        return PLUGIN_INFO.get(self.type, (self.type, ""))[0]

    @property
    def type_logo_url(self) -> str:
        return PLUGIN_INFO.get(self.type, ("", UNKNOWN_PLUGIN_LOGO))[1]

    def list_item(self) -> dict[str, Any]:
        """``DataSourceListItemDTO`` (``GET /api/datasources``), in Grafana's key order."""
        return {
            "id": self.id,
            "uid": self.uid,
            "orgId": self.org_id,
            "name": self.name,
            "type": self.type,
            "typeName": self.type_name,
            "typeLogoUrl": self.type_logo_url,
            "access": self.access,
            "url": self.url,
            "user": self.user,
            "database": self.database,
            "basicAuth": self.basic_auth,
            "isDefault": self.is_default,
            "jsonData": self.json_data,
            "readOnly": not self.editable,
        }

    def dto(self) -> dict[str, Any]:
        """``dtos.DataSource`` (``GET /api/datasources/uid/:uid``); secrets only as flags."""
        return {
            "id": self.id,
            "uid": self.uid,
            "orgId": self.org_id,
            "name": self.name,
            "type": self.type,
            "typeLogoUrl": self.type_logo_url,
            "access": self.access,
            "url": self.url,
            "user": self.user,
            "database": self.database,
            "basicAuth": self.basic_auth,
            "basicAuthUser": self.basic_auth_user,
            "withCredentials": self.with_credentials,
            "isDefault": self.is_default,
            "jsonData": self.json_data,
            "secureJsonFields": dict.fromkeys(self.secure_json_data, True),
            "version": self.version,
            "readOnly": not self.editable,
        }


@dataclass
class _FileConfig:
    path: Path
    api_version: int = 1
    datasources: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[tuple[str, int]] = field(default_factory=list)


# Keys of the legacy v0 schema (no apiVersion): snake_case, and no uid at all.
_V0_KEYS = {
    "orgId": "org_id",
    "isDefault": "is_default",
    "jsonData": "json_data",
    "secureJsonData": "secure_json_data",
    "basicAuth": "basic_auth",
    "basicAuthUser": "basic_auth_user",
    "withCredentials": "with_credentials",
}


def _entry(raw: Any, v1: bool, path: Path) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fatal(f"invalid datasource entry in {path.name}", path)

    def get(key: str) -> Any:
        return raw.get(key if v1 else _V0_KEYS.get(key, key))

    json_data = get("jsonData")
    secure = get("secureJsonData")
    return {
        "name": as_str(get("name")),
        "type": as_str(get("type")),
        "uid": as_str(raw.get("uid")) if v1 else "",
        "access": as_str(get("access")),
        "orgId": parse_int(get("orgId"), "orgId") or MAIN_ORG_ID,
        "url": as_str(get("url")),
        "user": as_str(get("user")),
        "database": as_str(get("database")),
        "basicAuth": parse_bool(get("basicAuth"), "basicAuth"),
        "basicAuthUser": as_str(get("basicAuthUser")),
        "withCredentials": parse_bool(get("withCredentials"), "withCredentials"),
        "isDefault": parse_bool(get("isDefault"), "isDefault"),
        "editable": parse_bool(get("editable"), "editable"),
        "version": parse_int(get("version"), "version"),
        "jsonData": dict(json_data) if isinstance(json_data, dict) else {},
        "secureJsonData": {k: as_str(v) for k, v in (secure or {}).items()}
        if isinstance(secure, dict)
        else {},
    }


def _fatal(message: str, path: Path | None = None) -> ProvisioningError:
    """Grafana wraps every datasource error once and logs it under one msg (provisioning.go)."""
    return ProvisioningError(f"{DATASOURCE_ERROR}: {message}", path, DATASOURCES_FAILED)


def _read_file(path: Path, env: Mapping[str, str]) -> _FileConfig:
    """One file as ``configReader.parseDatasourceConfig`` reads it (apiVersion first, then
    the v1 or the legacy v0 schema; go-yaml ignores keys its schema has no field for)."""
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise _fatal(str(exc), path) from exc
    if doc is None:
        return _FileConfig(path)
    if not isinstance(doc, dict):
        raise _fatal(unmarshal_error(path, doc, "datasources.configVersion"), path)
    try:
        api_version = parse_int(doc.get("apiVersion"), "apiVersion")
        v1 = api_version >= 1
        raw_entries = [r for r in doc.get("datasources") or [] if r is not None]
        if v1:
            doc = interpolate_values(doc, env)
        else:
            log(
                LOGGER,
                "warn",
                "[Deprecated] the datasource provisioning config is outdated. please upgrade",
                filename=path.absolute(),
            )
        config = _FileConfig(path, api_version=api_version)
        for raw, interpolated in zip(
            raw_entries, [r for r in doc.get("datasources") or [] if r is not None], strict=True
        ):
            entry = _entry(interpolated, v1, path)
            entry["source"] = _source(raw, v1, path, env)
            config.datasources.append(entry)
        for raw in doc.get("deleteDatasources" if v1 else "delete_datasources") or []:
            if isinstance(raw, dict):
                org = parse_int(raw.get("orgId" if v1 else "org_id"), "orgId") or MAIN_ORG_ID
                config.deletes.append((as_str(raw.get("name")), org))
    except InterpolationError as exc:
        raise _fatal(str(exc), path) from exc
    except ProvisioningError as exc:
        if exc.logged:
            raise
        raise _fatal(str(exc), path) from exc
    return config


def _source(raw: Any, v1: bool, path: Path, env: Mapping[str, str]) -> Source:
    """What Grafana silently did with an entry's raw keys (for the preflight's reasons)."""
    keys = list(raw) if isinstance(raw, dict) else []
    known = V1_KEYS if v1 else V0_KEYS
    unset: list[tuple[str, str]] = []
    if v1 and isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(value, str):
                unset += [(key, name) for name in unset_names(value, env)]
    return Source(
        file=str(path),
        api_version=1 if v1 else 0,
        ignored_keys=tuple(k for k in keys if k not in known),
        unset_variables=tuple(unset),
        uid_derived=not (v1 and isinstance(raw, dict) and raw.get("uid")),
    )


def _validate(configs: list[_FileConfig]) -> None:
    defaults: dict[int, int] = {}
    for config in configs:
        for entry in config.datasources:
            if entry["isDefault"]:
                defaults[entry["orgId"]] = defaults.get(entry["orgId"], 0) + 1
                if defaults[entry["orgId"]] > 1:
                    raise _fatal(TOO_MANY_DEFAULTS, config.path)
            if entry["orgId"] != MAIN_ORG_ID:
                raise _fatal(
                    f'failed to provision "{entry["name"]}" data source: organization not found',
                    config.path,
                )
            if not entry["name"]:
                raise _fatal(f"a datasource in {config.path.name} has no name", config.path)


def _access(entry: dict[str, Any]) -> str:
    access = entry["access"] or "proxy"
    if access not in ("proxy", "direct"):
        log(LOGGER, "warn", "invalid access value, will use 'proxy' instead", value=access)
        return "proxy"
    return access


def provision_datasources(
    provisioning_dir: Path,
    env: Mapping[str, str],
    deleted: dict[str, str] | None = None,
) -> list[Datasource]:
    """All files are validated first, then applied in file order: deletes, then upserts.
    ``deleted`` (if given) collects name -> the file whose deleteDatasources removed it."""
    configs = [
        _read_file(p, env) for p in provisioning_files(provisioning_dir / "datasources", LOGGER)
    ]
    _validate(configs)
    table: dict[tuple[int, str], Datasource] = {}
    next_id = 1
    for config in configs:
        for name, org in config.deletes:
            if table.pop((org, name), None) is not None:
                log(LOGGER, "info", "deleted datasource based on configuration", name=name)
                if deleted is not None:
                    deleted[name] = str(config.path)
        for entry in config.datasources:
            key = (entry["orgId"], entry["name"])
            uid = entry["uid"] or uid_from_name(entry["name"])
            clash = next((d for k, d in table.items() if d.uid == uid and k != key), None)
            if clash is not None:
                raise _fatal(
                    f'failed to provision "{entry["name"]}": data source with the same uid '
                    f'already exists ("{clash.name}")',
                    config.path,
                )
            existing = table.get(key)
            datasource = Datasource(
                id=existing.id if existing else next_id,
                uid=uid,
                org_id=entry["orgId"],
                name=entry["name"],
                type=entry["type"],
                access=_access(entry),
                url=entry["url"],
                user=entry["user"],
                database=entry["database"],
                basic_auth=entry["basicAuth"],
                basic_auth_user=entry["basicAuthUser"],
                with_credentials=entry["withCredentials"],
                is_default=entry["isDefault"],
                json_data=entry["jsonData"],
                secure_json_data=entry["secureJsonData"],
                editable=entry["editable"],
                source=entry["source"],
            )
            if existing is None:
                next_id += 1
                log(
                    LOGGER,
                    "info",
                    "inserting datasource from configuration",
                    name=entry["name"],
                    uid=uid,
                )
            else:
                datasource = replace(datasource, version=existing.version + 1)
                log(
                    LOGGER,
                    "info",
                    "updating datasource from configuration",
                    name=entry["name"],
                    uid=uid,
                )
            table[key] = datasource
    return sorted(table.values(), key=lambda d: d.name.lower())
