"""The Grafana half of the config preflight: Grafana's provisioning rules
(``grafana_rules``, written from Grafana's own code and shared with the offline stand-in)
run in-process on the host side of the compose mounts; a file they refuse to start with is
a finding, and the rulebook (``rulebook/datasources.py``, ``rulebook/dashboard_provisioning.py``)
judges what they provision against the contract. The stack fixture hands
``grafana_findings`` to ``preflight.run_preflight``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import REPO_ROOT, Contract, load_contract
from shadow_mvs.evidence.grafana_rules.dashboards import provision_dashboards
from shadow_mvs.evidence.grafana_rules.datasources import provision_datasources
from shadow_mvs.evidence.grafana_rules.errors import ProvisioningError
from shadow_mvs.evidence.grafana_rules.logfmt import captured
from shadow_mvs.evidence.preflight import Mounts, repo_relative
from shadow_mvs.evidence.rulebook import dashboard_provisioning, datasources

SERVICE = "grafana"
PROVISIONING = "/etc/grafana/provisioning"


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
                text = text.replace(str(provisioning / kind), repo_relative(source or kind))
            return text.replace(f"{REPO_ROOT}/", "")

        def resolve(path: str) -> Path:
            return mounts.host_path(SERVICE, path) or Path(path)

        with captured() as lines:
            try:
                deleted: dict[str, str] = {}
                provisioned = provision_datasources(provisioning, env, deleted)
                store = provision_dashboards(provisioning, env, resolve)
            except ProvisioningError as exc:
                file = exc.file or str(sources["datasources"] or "")
                facts = {"file": file, "error": str(exc), "logged": exc.logged}
                fatal = Finding(
                    "grafana",
                    "Grafana provisioning is fatal",
                    cause="grafana_provisioning_rejected",
                    facts=facts,
                )
                return [_readable(fatal, readable)]
        rejected = [line for line in lines if "level=error" in line]
        findings = [
            *datasources.contract_findings(provisioned, contract, deleted=deleted),
            *dashboard_provisioning.contract_findings(store, rejected, contract),
        ]
        return [_readable(finding, readable) for finding in findings]


def _readable(finding: Finding, readable: Callable[[str], str]) -> Finding:
    """Paths in a finding as the operator reads them (the mounted sources, repo-relative)."""
    # One line per fact: go-yaml's unmarshal errors carry a newline.
    facts = {key: " ".join(readable(value).split()) for key, value in finding.facts.items()}
    return replace(finding, detail=readable(finding.detail), facts=facts)


grafana_findings.covers = ("datasource", "dashboard")  # type: ignore[attr-defined]
