"""Typed access to the two data files the whole project agrees on.

``contract.toml`` holds names, ports, UIDs, metric families, golden queries and retry
budgets; ``triage.toml`` holds the G-nodes. Everything else (exporter, compose assets,
dashboard, checks, reporter, docs) reads or is tested against these files.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the shadow_mvs package
DATA_DIR = PACKAGE_DIR / "data"
REPO_ROOT = PACKAGE_DIR.parent  # a checkout's root (site-packages for an installed copy)
# The checks: a checkout's verify/ (what `pytest verify/` collects) or, installed, the same
# modules shipped as shadow_mvs.checks.
CHECKS_DIR = PACKAGE_DIR / "checks" if (PACKAGE_DIR / "checks").is_dir() else REPO_ROOT / "verify"


def is_checkout(path: Path) -> bool:
    """A source tree of this project (not an installed copy of the package)."""
    return (path / "shadow_mvs" / "data" / "contract.toml").is_file() and (
        path / "verify" / "__init__.py"
    ).is_file()


def checkout_root() -> Path | None:
    """The checkout in use: this package's own (editable install), else one at or above the
    current directory (a non-editable install used from a checkout behaves as the editable
    one), else None — an installed copy with no compose files and no docs/ beside it."""
    for candidate in (REPO_ROOT, Path.cwd(), *Path.cwd().parents):
        if is_checkout(candidate):
            return candidate
    return None


CONTRACT_FILE = DATA_DIR / "contract.toml"
TRIAGE_FILE = DATA_DIR / "triage.toml"


@dataclass(frozen=True)
class Family:
    name: str
    type: str
    labels: tuple[str, ...]
    required: bool

    @property
    def sample_names(self) -> tuple[str, ...]:
        """Series names a family of this type exposes in the text format."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


@dataclass(frozen=True)
class Check:
    name: str
    f_code: str
    budget_s: float
    depends_on: tuple[str, ...]
    service: str | None = None  # the compose service whose final state fails this check
    proves: str = ""  # what a green check vouches for (the README's check table)
    # Causes of this check that route to another node than its F-code's (data/causes.toml).
    also_routes: tuple[str, ...] = ()
    gated_by: str | None = None  # the flag without which the check warns instead of failing


@dataclass(frozen=True)
class Objective:
    """One SLO of the contract's [slo] section."""

    name: str
    unit: str
    query: str
    ok: str  # "below" or "above": the healthy side of the threshold
    threshold: dict[str, float]
    r_node: str
    alert: str
    why: str
    # Ratio SLOs only: PromQL counting the window's bad outcomes and all outcomes, for the
    # --slo-gate confidence bound (docs/SLO_GATE.md), and the share of bad outcomes that is
    # the threshold when it is not the threshold itself (a p95 below X: at most 5 % above X).
    bad: str = ""
    total: str = ""
    bad_share: float | None = None

    def promql(self, mode: str, window: str) -> str:
        return Template(self.query).substitute(mode=mode, window=window)

    @property
    def is_ratio(self) -> bool:
        return bool(self.bad and self.total)

    def count_promql(self, mode: str, window: str) -> tuple[str, str]:
        """(bad, total): the two counts of a ratio SLO's window."""
        return (
            Template(self.bad).substitute(mode=mode, window=window),
            Template(self.total).substitute(mode=mode, window=window),
        )

    def share_limit(self, mode: str) -> float:
        """The largest healthy share of bad outcomes (below it: the SLO holds)."""
        return self.threshold[mode] if self.bad_share is None else self.bad_share

    def healthy(self, value: float, mode: str) -> bool:
        limit = self.threshold[mode]
        return value < limit if self.ok == "below" else value > limit

    def bound(self, mode: str) -> str:
        """The healthy side as text, e.g. "<0.01"."""
        return f"{'<' if self.ok == 'below' else '>'}{self.threshold[mode]:g}"


@dataclass(frozen=True)
class Contract:
    raw: dict[str, Any]
    families: tuple[Family, ...]
    checks: tuple[Check, ...]  # in verify order
    label_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.raw["version"])

    @property
    def project(self) -> str:
        return str(self.raw["stack"]["project"])

    @property
    def endpoints(self) -> dict[str, str]:
        return dict(self.raw["endpoints"])

    @property
    def prometheus(self) -> dict[str, Any]:
        return dict(self.raw["prometheus"])

    @property
    def datasource(self) -> dict[str, Any]:
        return dict(self.raw["grafana"]["datasource"])

    @property
    def dashboard(self) -> dict[str, Any]:
        return dict(self.raw["grafana"]["dashboard"])

    @property
    def alerting(self) -> dict[str, Any]:
        """Alertmanager's config file, the target Prometheus sends to, the route label and
        the local receiver ([alerting])."""
        return dict(self.raw["alerting"])

    @property
    def drills(self) -> dict[str, dict[str, str]]:
        """R-node → the simulator profile that breaks it and the alert that must report it."""
        return {node: dict(drill) for node, drill in self.raw.get("drills", {}).items()}

    @property
    def grafana(self) -> dict[str, Any]:
        return {k: v for k, v in self.raw["grafana"].items() if not isinstance(v, dict)}

    @property
    def stack(self) -> dict[str, Any]:
        return dict(self.raw["stack"])

    @property
    def forbidden_labels(self) -> tuple[str, ...]:
        return tuple(self.raw["cardinality"]["forbidden_labels"])

    @property
    def max_series(self) -> int:
        return int(self.raw["cardinality"]["max_series"])

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.raw["variables"])

    @property
    def retry_interval_s(self) -> float:
        return float(self.raw["retry"]["interval_s"])

    @property
    def unreachable_grace_s(self) -> float:
        return float(self.raw["retry"]["unreachable_grace_s"])

    @property
    def request_timeout_s(self) -> float:
        return float(self.raw["retry"]["request_timeout_s"])

    @property
    def slo_window(self) -> str:
        return str(self.raw["slo"]["window"])

    @property
    def slo_min_events(self) -> int:
        return int(self.raw["slo"]["min_events"])

    @property
    def slo_confidence(self) -> float:
        return float(self.raw["slo"]["confidence"])

    def slo_volume_query(self, mode: str) -> str:
        return Template(self.raw["slo"]["volume"]).substitute(mode=mode, window=self.slo_window)

    @property
    def slo_objectives(self) -> tuple[Objective, ...]:
        return tuple(
            Objective(**{**o, "threshold": {m: float(v) for m, v in o["threshold"].items()}})
            for o in self.raw["slo"]["objective"]
        )

    def family(self, name: str) -> Family:
        for fam in self.families:
            if fam.name == name:
                return fam
        raise KeyError(name)

    def check(self, name: str) -> Check:
        for chk in self.checks:
            if chk.name == name:
                return chk
        raise KeyError(name)

    def golden_query(self, name: str, mode: str | None = None) -> str:
        """A golden query with ``$mode`` filled in (the contract's default mode if None)."""
        template = Template(self.raw["golden_queries"][name])
        return template.substitute(mode=mode or self.raw["stack"]["default_mode"])

    def golden_query_names(self) -> tuple[str, ...]:
        return tuple(self.raw["golden_queries"])


def _parse_contract(raw: dict[str, Any]) -> Contract:
    families = tuple(
        Family(f["name"], f["type"], tuple(f["labels"]), bool(f.get("required", True)))
        for f in raw["families"]
    )
    checks = tuple(
        Check(
            name,
            c["f_code"],
            float(c["budget_s"]),
            tuple(c["depends_on"]),
            c.get("service"),
            proves=c["proves"],
            also_routes=tuple(c.get("also_routes", ())),
            gated_by=c.get("gated_by"),
        )
        for name, c in raw["checks"].items()
    )
    label_values = {k: tuple(v) for k, v in raw["labels"].items()}
    return Contract(raw=raw, families=families, checks=checks, label_values=label_values)


@cache
def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    with path.open("rb") as fh:
        return _parse_contract(tomllib.load(fh))
