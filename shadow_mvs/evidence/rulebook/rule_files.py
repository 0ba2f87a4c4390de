"""The rule files a Prometheus config loads: the contract's rule group must be among them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import Contract


def loaded_rule_files(config_path: Path, config: dict[str, Any]) -> list[Path]:
    """The files ``rule_files`` names, its patterns taken relative to the config as
    Prometheus does; a pattern that matches nothing loads nothing (and is legal)."""
    found: list[Path] = []
    for pattern in config.get("rule_files") or []:
        found += sorted(p for p in config_path.parent.glob(str(pattern)) if p.is_file())
    return found


def rule_groups(rule_files: Iterable[Path]) -> set[str]:
    """Group names in the files; a file that does not parse is promtool's to name."""
    groups: set[str] = set()
    for path in rule_files:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        groups |= {str(g.get("name")) for g in doc.get("groups") or [] if isinstance(g, dict)}
    return groups


def contract_findings(
    config: dict[str, Any], rule_files: Iterable[Path], contract: Contract
) -> list[Finding]:
    """The loaded files hold the contract's rule group: what the rules check finds loaded."""
    want = contract.prometheus["rule_group"]
    groups = rule_groups(rule_files)
    if want in groups:
        return []
    patterns = ", ".join(map(str, config.get("rule_files") or [])) or "none"
    return [
        Finding(
            "rules",
            f"rule_files ({patterns}) load no group {want!r} (groups: {sorted(groups)})",
            cause="rule_files_miss_group",
            facts={
                "patterns": patterns,
                "group": want,
                "groups": ", ".join(sorted(groups)) or "none",
            },
        )
    ]
