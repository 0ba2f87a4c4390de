"""``shadow-mvs explain``: a triage node as terminal text."""

from __future__ import annotations

from shadow_mvs.report.triage_view import TriageView


def node_lines(view: TriageView) -> list[str]:
    lines = [
        f"{view.id}: {view.title}",
        f"  symptom:      {view.symptom}",
        f"  likely cause: {view.likely_cause}",
        f"  reached from: {', '.join(view.reached_from) or '-'}",
    ]
    lines += [f"  cause {cause.id}: {cause.sentence}" for cause in view.causes]
    lines.append("  next commands:")
    lines += [f"    {command}" for command in view.next_commands]
    return lines
