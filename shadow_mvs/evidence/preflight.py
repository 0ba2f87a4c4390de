"""Config preflight (compose mode): read the files the compose project mounts the way the
components read them, while the stack comes up.

``docker compose config`` names every bind mount (overrides included). Prometheus's files
go through ``promtool check config`` / ``check rules``, then the rulebook
(``evidence/rulebook/``) judges the contract's values in them (job, target, scrape interval,
the alert rule group); further checkers plug in from the outside (the stack fixture passes
in ``grafana_preflight.grafana_findings``). A ``Finding`` (shadow_mvs/core/causes.py) names
the check it will break; if that check fails, the finding is its cause
(``VerifyRun.attach``), else it prints once as WARN.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from shadow_mvs.core.causes import Finding
from shadow_mvs.core.contract import REPO_ROOT, Contract, load_contract
from shadow_mvs.evidence.rulebook import prometheus_config, rule_files
from shadow_mvs.stack.compose import ComposeProject

PROMTOOL_ENV = "PROMTOOL"
PREFLIGHT_ENV = "SHADOW_MVS_PREFLIGHT"  # "off": skip it (bench/cold_verify's comparison)
TOOLS_PROMTOOL = REPO_ROOT / ".tools" / "bin" / "promtool"
PROMETHEUS_SERVICE = "prometheus-local"
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"


@dataclass(frozen=True)
class Mounts:
    """Host paths behind each service's container paths (bind mounts only)."""

    services: dict[str, dict[str, Any]]

    def host_path(self, service: str, container_path: str) -> Path | None:
        """The host file or directory a container path of ``service`` reads, if mounted."""
        target = PurePosixPath(container_path)
        best: tuple[int, Path] | None = None
        for volume in self.services.get(service, {}).get("volumes") or []:
            if volume.get("type") != "bind" or "source" not in volume:
                continue
            mount = PurePosixPath(volume["target"])
            if target == mount or mount in target.parents:
                depth = len(mount.parts)
                if best is None or depth > best[0]:
                    best = (depth, Path(volume["source"]) / target.relative_to(mount))
        return best[1] if best else None

    def command(self, service: str) -> list[str]:
        return list(self.services.get(service, {}).get("command") or [])


def read_mounts(compose: ComposeProject) -> Mounts:
    result = compose.run("config --format json", check=False)
    if result.returncode != 0:
        raise PreflightError(f"docker compose config failed: {result.stderr.strip()[-200:]}")
    return Mounts(dict(json.loads(result.stdout).get("services", {})))


class PreflightError(Exception):
    """The preflight itself could not run (no compose config, no promtool)."""


def promtool_path() -> Path | None:
    named = os.environ.get(PROMTOOL_ENV)
    if named:
        return Path(named)
    if TOOLS_PROMTOOL.is_file():
        return TOOLS_PROMTOOL
    found = shutil.which("promtool")
    return Path(found) if found else None


def _promtool_error(output: str) -> str:
    """promtool's FAILED line (or its last line), without the ``FAILED:`` prefix."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    failed = [line for line in lines if "FAILED" in line or line.startswith("  ")]
    text = next((line for line in failed if "FAILED" in line), lines[-1] if lines else "")
    return re.sub(r"^.*?FAILED:\s*", "", text)


def _config_flag(mounts: Mounts) -> str:
    for arg in mounts.command(PROMETHEUS_SERVICE):
        if arg.startswith("--config.file="):
            return arg.split("=", 1)[1]
    return PROMETHEUS_CONFIG


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)


def prometheus_findings(mounts: Mounts, contract: Contract | None = None) -> list[Finding]:
    """promtool on the mounted config and rules, then the rulebook's contract rules on them."""
    contract = contract or load_contract()
    config_path = mounts.host_path(PROMETHEUS_SERVICE, _config_flag(mounts))
    if config_path is None or not config_path.is_file():
        return []
    shown = repo_relative(config_path)
    findings: list[Finding] = []
    promtool = promtool_path()
    try:
        config = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as exc:
        config = None
        yaml_error = str(exc).splitlines()[0]
    rule_paths = (
        rule_files.loaded_rule_files(config_path, config) if isinstance(config, dict) else []
    )
    if promtool is not None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            checked = pool.submit(_run, [str(promtool), "check", "config", str(config_path)])
            rules = pool.submit(_run, [str(promtool), "check", "rules", *map(str, rule_paths)])
            config_result = checked.result()
            rules_result = rules.result() if rule_paths else None
        if config_result.returncode != 0:
            problem = _promtool_error(config_result.stdout + config_result.stderr)
            findings.append(
                Finding(
                    "prometheus",
                    "promtool check config",
                    cause="prometheus_config_rejected",
                    facts={"file": shown, "error": problem},
                )
            )
        elif rules_result is not None and rules_result.returncode != 0:
            problem = _promtool_error(rules_result.stdout + rules_result.stderr)
            findings.append(
                Finding(
                    "prometheus",
                    "promtool check rules",
                    cause="rules_rejected",
                    facts={"file": ", ".join(map(repo_relative, rule_paths)), "error": problem},
                )
            )
    elif config is None:
        findings.append(
            Finding(
                "prometheus",
                "YAML does not parse",
                cause="prometheus_config_rejected",
                facts={"file": shown, "error": yaml_error},
            )
        )
    if not isinstance(config, dict) or findings:
        return findings
    return [
        *prometheus_config.contract_findings(config, contract),
        *prometheus_config.alerting_findings(config, contract),
        *rule_files.contract_findings(config, rule_paths, contract),
    ]


def repo_relative(path: Path | str) -> str:
    """A path as the operator reads it: relative to the checkout when inside it."""
    path = Path(path)
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


Checker = Callable[[Mounts], list[Finding]]


@dataclass(frozen=True)
class Preflight:
    findings: list[Finding]
    # Checks whose files were read without a checker failing: for those, a failure with no
    # finding means the running component is not what its files say (causes.toml files_agree).
    covered: frozenset[str] = frozenset()


def run_preflight(compose: ComposeProject, checkers: Iterable[Checker] = ()) -> Preflight:
    """Every checker on the mounted files; a checker that cannot run is a WARN, not a crash.
    A checker's ``covers`` attribute names the checks whose files it reads."""
    try:
        mounts = read_mounts(compose)
    except (PreflightError, ValueError, OSError) as error:
        return Preflight([Finding(None, f"preflight skipped: {error}")])
    findings: list[Finding] = []
    covered: set[str] = set()
    for checker in (prometheus_findings, *checkers):
        try:
            findings += checker(mounts)
            covered |= set(getattr(checker, "covers", ()))
        except Exception as error:  # a bug in one checker must not hide the verify result
            findings.append(Finding(None, f"{checker.__name__} failed: {error!r}"))
    if promtool_path() is None:
        findings.append(Finding(None, "promtool not found: run scripts/bootstrap.sh"))
    return Preflight(findings, frozenset(covered))
