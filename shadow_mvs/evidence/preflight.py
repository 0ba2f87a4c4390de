"""Config preflight (compose mode): read the files the compose project mounts the way the
components read them, while the stack comes up.

``docker compose config`` names every bind mount (overrides included). Prometheus's files
go through ``promtool check config`` / ``check rules`` and the contract's values (job,
target, scrape interval, the alert rule group); further checkers plug in from the outside
(Grafana's half, ``grafana_preflight.grafana_findings``: the stack fixture passes it in).
A ``Finding`` (shadow_mvs/core/causes.py) names the check it will break; if that check
fails, the finding is its cause (``VerifyRun.attach``), else it prints once as WARN.
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


def _duration_s(text: str | None) -> float | None:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text or "")
    return int(match.group(1)) * units[match.group(2)] if match else None


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)


def prometheus_findings(mounts: Mounts, contract: Contract | None = None) -> list[Finding]:
    """promtool on the mounted config and rules, then the contract's values in them."""
    contract = contract or load_contract()
    config_path = mounts.host_path(PROMETHEUS_SERVICE, _config_flag(mounts))
    if config_path is None or not config_path.is_file():
        return []
    shown = _shown(config_path)
    findings: list[Finding] = []
    promtool = promtool_path()
    try:
        config = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as exc:
        config = None
        yaml_error = str(exc).splitlines()[0]
    rule_files = _rule_files(config_path, config) if isinstance(config, dict) else []
    if promtool is not None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            checked = pool.submit(_run, [str(promtool), "check", "config", str(config_path)])
            rules = pool.submit(_run, [str(promtool), "check", "rules", *map(str, rule_files)])
            config_result = checked.result()
            rules_result = rules.result() if rule_files else None
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
                    facts={"file": ", ".join(_shown(p) for p in rule_files), "error": problem},
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
    return findings + _contract_findings(config, rule_files, contract)


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _rule_files(config_path: Path, config: dict[str, Any]) -> list[Path]:
    found: list[Path] = []
    for pattern in config.get("rule_files") or []:
        found += sorted(p for p in config_path.parent.glob(str(pattern)) if p.is_file())
    return found


def _contract_findings(
    config: dict[str, Any], rule_files: Iterable[Path], contract: Contract
) -> list[Finding]:
    want = contract.prometheus
    findings: list[Finding] = []
    jobs = {str(j.get("job_name")): j for j in config.get("scrape_configs") or []}
    job = jobs.get(want["job"])
    if job is None:
        findings.append(
            Finding(
                "targets",
                "prometheus.yml has no such scrape job",
                cause="scrape_job_missing",
                facts={"job": want["job"], "jobs": ", ".join(jobs) or "none"},
            )
        )
    else:
        targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
        if targets and want["target"] not in targets:
            findings.append(
                Finding(
                    "targets",
                    "prometheus.yml static_configs",
                    cause="scrape_target_wrong",
                    facts={
                        "job": want["job"],
                        "found": ", ".join(targets),
                        "expected": want["target"],
                    },
                )
            )
        interval = job.get("scrape_interval") or (config.get("global") or {}).get(
            "scrape_interval", "1m"
        )
        if _duration_s(str(interval)) != float(want["scrape_interval_s"]):
            findings.append(
                Finding(
                    "targets",
                    "prometheus.yml scrape_interval",
                    cause="scrape_interval_wrong",
                    facts={
                        "job": want["job"],
                        "interval": str(interval),
                        "contract_interval": f"{want['scrape_interval_s']}s",
                    },
                )
            )
    groups = set()
    for path in rule_files:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        groups |= {str(g.get("name")) for g in doc.get("groups") or [] if isinstance(g, dict)}
    if want["rule_group"] not in groups:
        patterns = config.get("rule_files") or []
        findings.append(
            Finding(
                "rules",
                "prometheus.yml rule_files",
                cause="rule_files_miss_group",
                facts={
                    "patterns": ", ".join(map(str, patterns)) or "none",
                    "group": want["rule_group"],
                    "groups": ", ".join(sorted(groups)) or "none",
                },
            )
        )
    return findings


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
