"""Grafana datasource provisioning: the default datasource Grafana provisions is the
contract's; and the repo's way of writing the datasource file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract
from shadow_mvs.evidence.grafana_rules.datasources import Datasource


def contract_findings(
    datasources: Sequence[Datasource], contract: Contract, url: str | None = None
) -> list[Finding]:
    """The provisioned default has the contract's name, uid, type and URL (``url`` instead
    for a stack that means another one, the mini-stack): what the datasource check finds
    in Grafana. ``datasources`` is what Grafana's rules made of the files (``grafana_rules``),
    so apiVersion, env interpolation and one-default-per-org count as in Grafana."""
    want = {**contract.datasource, "url": url or contract.datasource["url"]}
    default = next((d for d in datasources if d.is_default), None)
    if default is None:
        names = [d.name for d in datasources]
        return [
            Finding(
                "datasource",
                f"no provisioned datasource has isDefault: true ({names})",
                cause="datasource_not_default",
            )
        ]
    mini_stack = want["mini_stack_url"]
    if default.url.rstrip("/") == mini_stack and want["url"] != mini_stack:
        return [Finding("datasource", f"provisioned url {default.url}", cause="mini_stack_url")]
    found = {"name": default.name, "uid": default.uid, "url": default.url, "type": default.type}
    diff = {k: f"{v!r} != {want[k]!r}" for k, v in found.items() if v != want[k]}
    if not diff:
        return []
    return [
        Finding(
            "datasource",
            f"provisioned default datasource: {diff}",
            cause="datasource_off_contract",
        )
    ]


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
