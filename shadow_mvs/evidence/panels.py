"""Dashboard panel queries, variables filled, as the panels check runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from string import Template
from typing import Any


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    ref_id: str
    expr: str
    datasource_uids: tuple[str | None, ...]  # the panel's and the target's


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels they hold alike."""
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])  # collapsed rows nest their panels


def _uid(ref: Any) -> str | None:
    return ref.get("uid") if isinstance(ref, dict) else ref


def panel_queries(dashboard: dict[str, Any], variables: dict[str, str]) -> list[PanelQuery]:
    """Every Prometheus target of every panel, with $variables substituted."""
    queries = []
    for panel in walk_panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if not target.get("expr"):
                continue
            expr = Template(target["expr"]).safe_substitute(variables)
            queries.append(
                PanelQuery(
                    panel=panel.get("title", f"panel {panel.get('id')}"),
                    ref_id=target.get("refId", "A"),
                    expr=expr,
                    datasource_uids=(_uid(panel.get("datasource")), _uid(target.get("datasource"))),
                )
            )
    return queries


def leftover_inputs(dashboard: dict[str, Any]) -> list[str]:
    """Import placeholders (``${DS_…}``, ``__inputs``) that a provisioned file must not keep."""
    text = json.dumps(dashboard)
    found = []
    if "${DS_" in text:
        found.append("${DS_…} datasource placeholder")
    if "__inputs" in dashboard:
        found.append("__inputs section")
    return found
