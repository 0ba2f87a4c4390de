"""The Grafana half of the config preflight: Grafana's provisioning rules
(``grafana_rules``, written from Grafana's own code and shared with the offline stand-in)
run in-process on the host side of the compose mounts, and the contract's datasource and
dashboard set against what they provision. The stack fixture hands ``grafana_findings`` to
``preflight.run_preflight``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import REPO_ROOT, Contract, load_contract
from shadow_mvs.evidence.grafana_rules.dashboards import provision_dashboards
from shadow_mvs.evidence.grafana_rules.datasources import provision_datasources
from shadow_mvs.evidence.grafana_rules.errors import ProvisioningError
from shadow_mvs.evidence.grafana_rules.logfmt import captured
from shadow_mvs.evidence.preflight import Mounts

SERVICE = "grafana"
PROVISIONING = "/etc/grafana/provisioning"
_FIELD = r'(?:^|\s){key}=("(?:[^"\\]|\\.)*"|\S+)'


def _field(line: str, key: str) -> str:
    match = re.search(_FIELD.format(key=key), line)
    if match is None:
        return ""
    value = match.group(1)
    return value[1:-1].replace('\\"', '"') if value.startswith('"') else value


def _shown(path: Path | str) -> str:
    path = Path(path)
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def grafana_findings(mounts: Mounts, contract: Contract | None = None) -> list[Finding]:
    contract = contract or load_contract()
    sources = {
        kind: mounts.host_path(SERVICE, f"{PROVISIONING}/{kind}")
        for kind in ("datasources", "dashboards")
    }
    if not any(sources.values()):
        return []
    env = {k: str(v) for k, v in (mounts.services[SERVICE].get("environment") or {}).items()}
    with tempfile.TemporaryDirectory(prefix="shadow-mvs-preflight-") as tmp:
        provisioning = Path(tmp)
        for kind, source in sources.items():
            if source is not None:
                (provisioning / kind).symlink_to(source, target_is_directory=True)

        def readable(text: str) -> str:  # tmp symlink paths back to the mounted sources
            for kind, source in sources.items():
                text = text.replace(str(provisioning / kind), _shown(source or kind))
            return text

        def resolve(path: str) -> Path:
            return mounts.host_path(SERVICE, path) or Path(path)

        with captured() as lines:
            try:
                datasources = provision_datasources(provisioning, env)
                store = provision_dashboards(provisioning, env, resolve)
            except ProvisioningError as exc:
                error = readable(str(exc))
                where = re.search(r"(\S*/\S+\.ya?ml)", error)
                return [
                    Finding(
                        "grafana",
                        "Grafana provisioning is fatal",
                        cause="grafana_provisioning_rejected",
                        facts={
                            "file": where.group(1)
                            if where
                            else _shown(sources["datasources"] or ""),
                            "error": error,
                        },
                    )
                ]
    findings: list[Finding] = []
    want_ds, want_dash = contract.datasource, contract.dashboard
    default = next((d for d in datasources if d.is_default), None)
    if default is None:
        findings.append(
            Finding(
                "datasource",
                f"no provisioned datasource has isDefault: true ({[d.name for d in datasources]})",
                cause="datasource_not_default",
            )
        )
    elif default.url.rstrip("/") == want_ds["mini_stack_url"]:
        findings.append(
            Finding("datasource", f"provisioned url {default.url}", cause="mini_stack_url")
        )
    else:
        found = {"name": default.name, "uid": default.uid, "url": default.url, "type": default.type}
        diff = {k: f"{v!r} != {want_ds[k]!r}" for k, v in found.items() if v != want_ds[k]}
        if diff:
            findings.append(
                Finding(
                    "datasource",
                    f"provisioned default datasource: {diff}",
                    cause="datasource_off_contract",
                )
            )
    dashboard = store.dashboard(want_dash["uid"])
    rejected = [line for line in lines if "level=error" in line]
    for line in rejected:
        findings.append(
            Finding(
                "dashboard" if dashboard is None else None,
                readable(line),
                cause="dashboard_file_rejected",
                facts={
                    "file": readable(_field(line, "file") or _field(line, "skipped")),
                    "error": _field(line, "error") or _field(line, "msg"),
                },
            )
        )
    if dashboard is None:
        uids = sorted(d.uid for d in store.dashboards)
        findings.append(
            Finding(
                "dashboard",
                f"no provisioned file carries uid {want_dash['uid']} (uids: {uids or 'none'})",
                cause="dashboard_missing",
                facts={"uid": want_dash["uid"]},
            )
        )
    elif dashboard.folder is None or dashboard.folder.title != want_dash["folder"]:
        folder = dashboard.folder.title if dashboard.folder else "General"
        findings.append(
            Finding(
                "dashboard",
                f"provisioned into folder {folder!r}, contract {want_dash['folder']!r}",
                cause="dashboard_misplaced",
                facts={"uid": want_dash["uid"]},
            )
        )
    return findings


grafana_findings.covers = ("datasource", "dashboard")  # type: ignore[attr-defined]
