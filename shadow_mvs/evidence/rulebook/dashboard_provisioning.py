"""Grafana dashboard provisioning: the dashboard Grafana provisions is the contract's, where
the contract puts it, and no dashboard file is refused; and the repo's way of writing the
provider file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract
from shadow_mvs.evidence.grafana_rules.dashboards import Dashboard, DashboardStore

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
    dashboard check finds in Grafana.

    Each finding names the reason — provider file, key, path, and what Grafana then does —
    ordered so the most specific reason comes first (it becomes the check's cause; the
    rest print once as WARN): a skipped file that holds the uid, a provider path that is
    not there, a skipped file whose uid is unknown, then the uid in no file at all."""
    want = contract.dashboard
    dashboard = store.dashboard(want["uid"])
    if dashboard is None:
        return _missing_reasons(store, rejected, want["uid"])
    findings = [_rejected(line, None) for line in rejected]
    return _placement_reasons(dashboard, want) + findings


def _rejected(line: str, check: str | None) -> Finding:
    """A ``level=error`` line Grafana's rules logged for a dashboard file they skipped."""
    error = log_field(line, "error")
    if kept := log_field(line, "kept"):  # validator.go: two files, one uid
        error = f"uid {log_field(line, 'uid')} is also in {kept}; Grafana keeps only one"
    return Finding(
        check,
        line,
        cause="dashboard_file_rejected",
        facts={
            "file": log_field(line, "file") or log_field(line, "skipped"),
            "error": error or log_field(line, "msg"),
            "logged": log_field(line, "msg").strip(),
        },
    )


def _holds(file: str, uid: str) -> bool:
    try:
        return uid in Path(file).read_text()
    except OSError:
        return False


def _missing_reasons(store: DashboardStore, rejected: Sequence[str], uid: str) -> list[Finding]:
    holding, unknown, others = [], [], []
    for line in rejected:
        finding = _rejected(line, "dashboard")
        if _holds(finding.facts["file"], uid):
            holding.append(finding)
        elif log_field(line, "msg").startswith("failed to load dashboard"):
            unknown.append(finding)  # did not parse: it may have held the uid
        else:
            others.append(_rejected(line, None))
    paths = [
        Finding(
            "dashboard",
            f"{missing.provider.name}: {missing.error}",
            cause="dashboard_provider_path_missing",
            facts={
                "provider": missing.provider.name,
                "file": missing.provider.file,
                "path": missing.provider.path,
            },
        )
        for missing in store.missing_paths
    ]
    uids = sorted(d.uid for d in store.dashboards)
    walked = [p for p in store.providers if p not in {m.provider for m in store.missing_paths}]
    in_no_file = Finding(
        "dashboard",
        f"dashboard uid {uid} is in no provisioned file (uids: {uids or 'none'})",
        cause="dashboard_uid_not_in_files",
        facts={
            "uid": uid,
            "paths": ", ".join(f"{p.path} (provider {p.name})" for p in walked)
            or "any provider path (none is there)",
            "uids": ", ".join(uids) or "none",
        },
    )
    return [*holding, *paths, *unknown, in_no_file, *others]


def _placement_reasons(dashboard: Dashboard, want: dict[str, Any]) -> list[Finding]:
    provider = dashboard.provider
    facts = {"uid": dashboard.uid, "provider": provider.name, "file": provider.file}
    findings = []
    folder = dashboard.folder.title if dashboard.folder else "General"
    if folder != want["folder"]:
        if provider.folders_from_files_structure:
            why = "foldersFromFilesStructure: true names folders after directories"
        elif not provider.folder:
            why = "folder is empty, which is General"
        else:
            why = f"folder: {provider.folder}"
        findings.append(
            Finding(
                "dashboard",
                f"provisioned into folder {folder!r}, contract {want['folder']!r}",
                cause="dashboard_folder_wrong",
                facts=facts | {"folder": folder, "why": why, "expected": want["folder"]},
            )
        )
    if dashboard.title != want["title"]:
        findings.append(
            Finding(
                "dashboard",
                f"dashboard title {dashboard.title!r}, contract {want['title']!r}",
                cause="dashboard_title_wrong",
                facts=facts
                | {
                    "dashboard_file": f"{provider.path.rstrip('/')}/{dashboard.external_id}",
                    "title": dashboard.title,
                    "expected": want["title"],
                },
            )
        )
    if provider.allow_ui_updates:
        findings.append(
            Finding(
                "dashboard",
                f"provider {provider.name!r} sets allowUiUpdates: true, "
                "so Grafana does not mark the dashboard provisioned",
                cause="dashboard_ui_updates",
                facts=facts,
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
