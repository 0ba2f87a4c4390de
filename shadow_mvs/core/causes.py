"""The cause vocabulary (``data/causes.toml``): what is wrong, the sentence the operator
reads, the triage node it routes to, and its class. A check raises ``CheckFailed(detail,
cause=id, facts={...})``; the sentence, with its {placeholders} filled from the facts, leads
the FAIL line and the TRIAGE block. The class says whether waiting can cure it: a "warm-up"
cause keeps its check's budget, a "final" one ends the check's wait at once."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from shadow_mvs.core.contract import DATA_DIR

CAUSES_FILE = DATA_DIR / "causes.toml"
BY_CHECK = "F-code"  # a cause's node: route with the failing check's F-code
WARM_UP, FINAL = "warm-up", "final"
CLASSES = (WARM_UP, FINAL)
# A cause without a route (node) or a class cannot be raised: the loader refuses the file.
REQUIRED = ("id", "node", "topic", "sentence", "class")


class _Keep(dict[str, str]):
    """format_map helper: a placeholder without a fact stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Cause:
    id: str
    node: str
    topic: str
    sentence: str
    # "warm-up": may heal within the run (keeps the budget); "final": cannot (ends the wait).
    cls: str = WARM_UP
    service: str | None = None
    # The cause to name instead when the preflight read the mounted files and found them
    # right: then the running component is what disagrees with its own files.
    files_agree: str | None = None

    @property
    def final(self) -> bool:
        return self.cls == FINAL

    @property
    def routes_by_check(self) -> bool:
        """True for causes that take the failing check's own node (TLS, tenant, 401)."""
        return self.node == BY_CHECK

    def render(self, facts: Mapping[str, object] | None = None) -> str:
        values = _Keep({k: str(v) for k, v in (facts or {}).items()})
        return self.sentence.format_map(values)


@cache
def load_causes(path: Path = CAUSES_FILE) -> dict[str, Cause]:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    causes: dict[str, Cause] = {}
    for entry in raw["cause"]:
        missing = [key for key in REQUIRED if not entry.get(key)]
        if missing:
            raise ValueError(f"{path}: cause {entry.get('id')!r} has no {', '.join(missing)}")
        if entry["id"] in causes:
            raise ValueError(f"{path}: cause {entry['id']!r} declared twice")
        if entry["class"] not in CLASSES:
            raise ValueError(
                f"{path}: cause {entry['id']!r} has class {entry.get('class')!r}, "
                f"expected one of {', '.join(CLASSES)}"
            )
        causes[entry["id"]] = Cause(
            id=entry["id"],
            node=entry["node"],
            topic=entry["topic"],
            sentence=entry["sentence"],
            cls=entry["class"],
            service=entry.get("service"),
            files_agree=entry.get("files_agree"),
        )
    return causes


def cause_for_service(service: str) -> Cause:
    """The cause naming a final state (exited, restart-looping) of a compose service."""
    for cause in load_causes().values():
        if cause.service == service:
            return cause
    raise KeyError(f"no cause declared for compose service {service!r} in {CAUSES_FILE.name}")


def sentence(cause_id: str | None, facts: Mapping[str, object] | None = None) -> str | None:
    """The operator's sentence for a cause; None for no cause or an undeclared one (the
    drift test in tests/verify/test_causes.py keeps the latter from landing)."""
    if cause_id is None:
        return None
    cause = load_causes().get(cause_id)
    return cause.render(facts) if cause else None


@dataclass(frozen=True)
class Finding:
    """A problem found in a file the stack mounts (``evidence/preflight.py``). ``check`` is the
    check it will break: if that check fails, the finding is its cause; a finding that
    breaks nothing (``check`` None, or its check passed) prints once as a WARN line."""

    check: str | None
    detail: str
    cause: str | None = None
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return sentence(self.cause, self.facts) or self.detail


def is_final(cause_id: str | None) -> bool:
    """True for a declared cause of class "final": waiting cannot cure it."""
    cause = load_causes().get(cause_id or "")
    return cause is not None and cause.final


def causes_routed_to(node_id: str) -> list[Cause]:
    return [cause for cause in load_causes().values() if cause.node == node_id]
