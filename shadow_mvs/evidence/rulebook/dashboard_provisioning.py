"""Grafana dashboard provisioning: the dashboard Grafana provisions is the contract's, where
the contract puts it, and no dashboard file is refused; and the repo's way of writing the
provider file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract
from shadow_mvs.evidence.grafana_rules.dashboards import DashboardStore

PROVIDER_UPDATE_INTERVAL_S = 10
_FIELD = r'(?:^|\s){key}=("(?:[^"\\]|\\.)*"|\S+)'


def log_field(line: str, key: str) -> str:
    """One field of a Grafana logfmt line, unquoted; "" when the line has none."""
    match = re.search(_FIELD.format(key=key), line)
    if match is None:
        return ""
    value = match.group(1)
    return value[1:-1].replace('\\"', '"') if value.startswith('"') else value


def contract_findings(
    store: DashboardStore, rejected: Sequence[str], contract: Contract
) -> list[Finding]:
    """``store`` is what Grafana's rules provisioned (``grafana_rules``), ``rejected`` the
    ``level=error`` lines they logged for files they skipped. The contract's uid is
    provisioned in the contract's folder with the contract's title, and file-provisioned
    (a provider with ``allowUiUpdates`` leaves ``meta.provisioned`` false): what the
    dashboard check finds in Grafana. A skipped file is the dashboard check's cause only
    when the dashboard is missing; else it breaks nothing and is a warning."""
    want = contract.dashboard
    dashboard = store.dashboard(want["uid"])
    findings = [
        Finding(
            "dashboard" if dashboard is None else None,
            line,
            cause="dashboard_file_rejected",
            facts={
                "file": log_field(line, "file") or log_field(line, "skipped"),
                "error": log_field(line, "error") or log_field(line, "msg"),
            },
        )
        for line in rejected
    ]
    if dashboard is None:
        uids = sorted(d.uid for d in store.dashboards)
        findings.append(
            Finding(
                "dashboard",
                f"dashboard uid {want['uid']} is in no provisioned file (uids: {uids or 'none'})",
                cause="dashboard_missing",
                facts={"uid": want["uid"]},
            )
        )
        return findings
    problems = []
    if dashboard.folder is None or dashboard.folder.title != want["folder"]:
        folder = dashboard.folder.title if dashboard.folder else "General"
        problems.append(f"provisioned into folder {folder!r}, contract {want['folder']!r}")
    if dashboard.title != want["title"]:
        problems.append(f"dashboard title {dashboard.title!r}, contract {want['title']!r}")
    if dashboard.provider.allow_ui_updates:
        problems.append(
            f"provider {dashboard.provider.name!r} sets allowUiUpdates: true, "
            "so Grafana does not mark the dashboard provisioned"
        )
    if problems:
        # One finding: its sentence is the same for every difference, and prints once.
        findings.append(
            Finding(
                "dashboard",
                "; ".join(problems),
                cause="dashboard_misplaced",
                facts={"uid": want["uid"]},
            )
        )
    return findings


def design_findings(doc: dict[str, Any], contract: Contract) -> list[Finding]:
    """One file provider, written for apiVersion 1, reading the contract's container path,
    re-reading the files every 10 s and never deleting a dashboard whose file went away."""
    if doc.get("apiVersion") != 1:
        return [Finding(None, f"apiVersion is {doc.get('apiVersion')!r}, expected 1")]
    providers = doc.get("providers") or []
    if len(providers) != 1:
        return [Finding(None, f"{len(providers)} providers, expected exactly one")]
    provider = providers[0]
    expected = {
        "type": "file",
        "disableDeletion": True,
        "updateIntervalSeconds": PROVIDER_UPDATE_INTERVAL_S,
    }
    findings = [
        Finding(None, f"provider {key} is {provider.get(key)!r}, expected {value!r}")
        for key, value in expected.items()
        if provider.get(key) != value
    ]
    path = (provider.get("options") or {}).get("path")
    want_path = contract.dashboard["provider_path"]
    if path != want_path:
        findings.append(Finding(None, f"provider options.path is {path!r}, expected {want_path!r}"))
    return findings
