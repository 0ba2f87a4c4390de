"""Grafana datasource provisioning: the default datasource Grafana provisions is the
contract's; and the repo's way of writing the datasource file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract
from shadow_mvs.evidence.grafana_rules.datasources import Datasource


def contract_findings(
    datasources: Sequence[Datasource],
    contract: Contract,
    url: str | None = None,
    deleted: Mapping[str, str] | None = None,
) -> list[Finding]:
    """The provisioned default has the contract's name, uid, type and URL (``url`` instead
    for a stack that means another one, the mini-stack): what the datasource check finds
    in Grafana. ``datasources`` is what Grafana's rules made of the files (``grafana_rules``),
    so apiVersion, env interpolation and one-default-per-org count as in Grafana.

    A finding names the reason in the file, not the symptom: which file and key, and what
    Grafana then does with it (``Datasource.source`` records what Grafana did silently)."""
    want = {**contract.datasource, "url": url or contract.datasource["url"]}
    default = next((d for d in datasources if d.is_default), None)
    if default is None:
        return [_no_default_reason(datasources, want["name"], deleted or {})]
    mini_stack = want["mini_stack_url"]
    if default.url.rstrip("/") == mini_stack and want["url"] != mini_stack:
        return [Finding("datasource", f"provisioned url {default.url}", cause="mini_stack_url")]
    found = {"name": default.name, "uid": default.uid, "url": default.url, "type": default.type}
    diff = {k: (v, want[k]) for k, v in found.items() if v != want[k]}
    if not diff:
        return []
    detail = f"provisioned default datasource: {diff}"
    return [_value_reason(default, *next(iter(diff.items())), detail)]


def _facts(datasource: Datasource, **more: object) -> dict[str, str]:
    return {"file": datasource.source.file, "name": datasource.name} | {
        k: str(v) for k, v in more.items()
    }


def _no_default_reason(
    datasources: Sequence[Datasource], name: str, deleted: Mapping[str, str]
) -> Finding:
    """Why Grafana marks no datasource default: the contract's datasource is not in the
    files, its file is read as the legacy schema, its key is misspelt or comes from an
    unset variable, or it simply says no ``isDefault: true``."""
    names = [d.name for d in datasources]
    detail = f"no provisioned datasource has isDefault: true ({names})"
    named = next((d for d in datasources if d.name == name), None)
    if named is None and name in deleted:
        facts = {"file": deleted[name], "name": name}
        return Finding("datasource", detail, cause="datasource_deleted", facts=facts)
    if named is None:
        return Finding("datasource", detail, cause="datasource_not_in_files", facts={"name": name})
    source = named.source
    if source.api_version == 0 and source.ignored_keys:
        keys = ", ".join(source.ignored_keys)
        facts = _facts(named, keys=keys, then=f"is not default and has uid {named.uid}")
        return Finding("datasource", detail, cause="datasource_legacy_schema", facts=facts)
    misspelt = [k for k in source.ignored_keys if _squashed(k) in DEFAULT_SPELLINGS]
    if misspelt:
        facts = _facts(named, key=misspelt[0], then="no datasource is default")
        return Finding("datasource", detail, cause="datasource_key_ignored", facts=facts)
    for key, variable in source.unset_variables:
        if key == "isDefault":
            facts = _facts(named, key=key, variable=variable, value="")
            return Finding("datasource", detail, cause="datasource_env_unset", facts=facts)
    return Finding("datasource", detail, cause="datasource_default_unset", facts=_facts(named))


# Spellings of isDefault go-yaml does not map onto the v1 field (it matches keys exactly).
DEFAULT_SPELLINGS = {"isdefault", "default"}


def _squashed(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _value_reason(
    datasource: Datasource, key: str, values: tuple[str, str], detail: str
) -> Finding:
    found, expected = values
    source = datasource.source
    if key == "uid" and source.api_version == 0:
        keys = ", ".join(source.ignored_keys) or "uid"
        facts = _facts(datasource, keys=keys, then=f"gets uid {found}, not {expected}")
        return Finding("datasource", detail, cause="datasource_legacy_schema", facts=facts)
    if key == "uid" and source.uid_derived:
        facts = _facts(datasource, uid=found, expected=expected)
        return Finding("datasource", detail, cause="datasource_uid_derived", facts=facts)
    for raw_key, variable in source.unset_variables:
        if raw_key == key:
            facts = _facts(datasource, key=key, variable=variable, value=found)
            return Finding("datasource", detail, cause="datasource_env_unset", facts=facts)
    facts = _facts(datasource, key=key, found=found, expected=expected)
    return Finding("datasource", detail, cause="datasource_file_value", facts=facts)


def design_findings(doc: dict[str, Any], contract: Contract) -> list[Finding]:
    """One datasource per file, written for apiVersion 1 (else Grafana reads the legacy keys
    and ignores uid and isDefault), proxied, not editable in the UI, its minimum step the
    scrape interval, queries sent by POST."""
    if doc.get("apiVersion") != 1:
        detail = f"apiVersion is {doc.get('apiVersion')!r}: Grafana would ignore uid and isDefault"
        return [Finding(None, detail)]
    sources = doc.get("datasources") or []
    if len(sources) != 1:
        return [Finding(None, f"{len(sources)} datasources, expected exactly one")]
    datasource = sources[0]
    findings = [
        Finding(None, f"datasource {key} is {datasource.get(key)!r}, expected {value!r}")
        for key, value in {"access": "proxy", "editable": False}.items()
        if datasource.get(key) != value
    ]
    json_data = datasource.get("jsonData") or {}
    expected = {
        "timeInterval": f"{contract.prometheus['scrape_interval_s']}s",
        "httpMethod": "POST",
    }
    findings += [
        Finding(None, f"jsonData.{key} is {json_data.get(key)!r}, expected {value}")
        for key, value in expected.items()
        if json_data.get(key) != value
    ]
    return findings
