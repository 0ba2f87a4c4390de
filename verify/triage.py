"""The triage tree (verify/triage.toml): G-nodes and the routes that lead to them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .causes import load_causes
from .contract import TRIAGE_FILE

COMPOSE_PLACEHOLDER = "$COMPOSE"


@dataclass(frozen=True)
class Node:
    id: str
    title: str
    symptom: str
    likely_cause: str
    routes: tuple[str, ...]
    next_commands: tuple[str, ...]
    keywords: tuple[str, ...] = ()  # words of the title a cause's topic must be one of

    def commands(self, compose_command: str) -> list[str]:
        """Next commands with $COMPOSE expanded to this run's compose invocation."""
        return [c.replace(COMPOSE_PLACEHOLDER, compose_command) for c in self.next_commands]


@cache
def load_triage(path: Path = TRIAGE_FILE) -> dict[str, Node]:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    nodes = {}
    for entry in raw["node"]:
        nodes[entry["id"]] = Node(
            id=entry["id"],
            title=entry["title"],
            symptom=entry["symptom"],
            likely_cause=entry["likely_cause"],
            routes=tuple(entry["from"]),
            next_commands=tuple(entry["next_commands"]),
            keywords=tuple(entry.get("keywords", ())),
        )
    return nodes


def route(f_code: str, cause: str | None = None) -> Node:
    """The node for an F-code and cause: a declared cause (verify/causes.toml) routes to its
    node; otherwise an "F:cause" route wins over the bare F-code."""
    declared = load_causes().get(cause) if cause else None
    if declared is not None and not declared.routes_by_check:
        return load_triage()[declared.node]
    keys = ([f"{f_code}:{cause}"] if cause else []) + [f_code]
    for key in keys:
        for node in load_triage().values():
            if key in node.routes:
                return node
    raise KeyError(f"no triage node for {f_code} (cause {cause})")
