"""One triage node as every renderer shows it.

A node of ``data/triage.toml`` (G-n, R-n) with the causes of ``data/causes.toml`` that route
to it, and its next commands already resolved for the mode in use: the terminal's TRIAGE
block, verify.json, the GitHub annotation and step summary, ``shadow-mvs explain`` and the
RUNBOOK all read a ``TriageView``; none of them looks a node up or fills a command itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.causes import Cause, causes_routed_to
from shadow_mvs.core.contract import checkout_root, load_contract
from shadow_mvs.core.run import CheckRecord
from shadow_mvs.core.triage import Node, expand
from shadow_mvs.stack.compose import compose_project


@dataclass(frozen=True)
class NextCommands:
    """How a node's next commands are resolved.

    ``compose_command`` is the compose invocation of the stack in use; None leaves every
    compose-only command out (a stack this suite did not start, or no checkout whose
    compose files the commands could name). ``urls`` are the URLs being verified (the
    contract's endpoints when None). ``as_written`` keeps the templates (the RUNBOOK)."""

    compose_command: str | None
    urls: Mapping[str, str] | None = None
    as_written: bool = False

    def of(self, node: Node) -> tuple[str, ...]:
        if self.as_written:
            return node.next_commands
        return tuple(node.commands(self.compose_command, self.urls))


AS_WRITTEN = NextCommands(None, as_written=True)


def commands_in_use(settings: Settings | None) -> NextCommands:
    """The commands for the mode in use. Compose commands name a checkout's compose files,
    so they appear only for a compose stack run from a checkout; an external stack, or an
    installed copy without a checkout, gets the commands that use the verified URLs."""
    urls = settings.urls if settings is not None else None
    if checkout_root() is None or (settings is not None and settings.stack == "external"):
        return NextCommands(None, urls)
    if settings is None:  # no settings resolved (usage error): the project name still holds
        return NextCommands("docker compose -p " + load_contract().project)
    return NextCommands(compose_project(settings).base_command(relative=True), urls)


@dataclass(frozen=True)
class TriageView:
    id: str
    title: str
    symptom: str
    likely_cause: str
    reached_from: tuple[str, ...]  # the F-codes (and F-code:cause routes) that lead here
    causes: tuple[Cause, ...]  # every declared cause that routes here
    next_commands: tuple[str, ...]
    cause: str | None = None  # the cause a failed check named, when the view is of a failure
    cause_sentence: str | None = None  # its sentence with the check's facts filled in


def node_view(node: Node, commands: NextCommands) -> TriageView:
    return TriageView(
        id=node.id,
        title=node.title,
        # The URLs being verified (the contract's endpoints when none are given, the RUNBOOK)
        symptom=expand(node.symptom, None, commands.urls),
        likely_cause=node.likely_cause,
        reached_from=node.routes,
        causes=tuple(causes_routed_to(node.id)),
        next_commands=commands.of(node),
    )


def failure_view(record: CheckRecord, commands: NextCommands) -> TriageView:
    """The node a failed check routes to, with the cause it named."""
    view = node_view(record.node, commands)
    return replace(view, cause=record.cause, cause_sentence=record.cause_sentence)
