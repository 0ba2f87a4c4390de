"""The few Markdown pieces the generated docs and ``shadow-mvs explain contract`` share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def code(text: object) -> str:
    return f"`{text}`"


def cell(text: str) -> str:
    """A Markdown table cell: a literal pipe would end the cell."""
    return text.replace("|", "\\|")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def codes(items: Iterable[object]) -> str:
    return ", ".join(code(i) for i in items) or "—"
