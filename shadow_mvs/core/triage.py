"""The triage tree (shadow_mvs/data/triage.toml): G-nodes and the routes that lead to them."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shadow_mvs.core.causes import load_causes
from shadow_mvs.core.contract import TRIAGE_FILE, load_contract

COMPOSE_PLACEHOLDER = "$COMPOSE"
# A command that only makes sense for the compose stack this repo starts (it reads the
# repo's compose files or the local ports) carries this tag; external mode drops it, like
# every command with $COMPOSE.
COMPOSE_ONLY_TAG = "[compose] "
# $EXPORTER_URL, $PROMETHEUS_URL, $GRAFANA_URL, $ALERTMANAGER_URL: the base URLs of the
# stack being verified.
URL_PLACEHOLDERS = {
    "exporter_url": "$EXPORTER_URL",
    "prometheus_url": "$PROMETHEUS_URL",
    "grafana_url": "$GRAFANA_URL",
    "alertmanager_url": "$ALERTMANAGER_URL",
}


def is_compose_only(command: str) -> bool:
    return command.startswith(COMPOSE_ONLY_TAG) or COMPOSE_PLACEHOLDER in command


def expand(command: str, compose_command: str | None, urls: Mapping[str, str] | None = None) -> str:
    """One command with its placeholders filled in (the contract's endpoints by default)."""
    filled = {**load_contract().endpoints, **(urls or {})}
    text = command.removeprefix(COMPOSE_ONLY_TAG)
    for dest, placeholder in URL_PLACEHOLDERS.items():
        text = text.replace(placeholder, filled[dest])
    if compose_command is not None:
        text = text.replace(COMPOSE_PLACEHOLDER, compose_command)
    return text


@dataclass(frozen=True)
class Node:
    id: str
    title: str
    symptom: str
    likely_cause: str
    routes: tuple[str, ...]
    next_commands: tuple[str, ...]
    keywords: tuple[str, ...] = ()  # words of the title a cause's topic must be one of

    def commands(
        self, compose_command: str | None, urls: Mapping[str, str] | None = None
    ) -> list[str]:
        """Next commands with $COMPOSE expanded to this run's compose invocation and the
        URL placeholders to the URLs being verified. ``compose_command=None`` (external
        mode: this run did not start the stack) drops every compose-only command."""
        return [
            expand(c, compose_command, urls)
            for c in self.next_commands
            if compose_command is not None or not is_compose_only(c)
        ]


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
    """The node for an F-code and cause: a declared cause (``data/causes.toml``) routes to its
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
