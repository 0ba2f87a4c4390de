"""``shadow-mvs explain``: a triage node, or the whole contract, as terminal text."""

from __future__ import annotations

from shadow_mvs.core.contract import Contract
from shadow_mvs.report.contract_summary import contract_summary
from shadow_mvs.report.triage_view import TriageView

CONTRACT_TOPIC = "contract"  # `shadow-mvs explain contract`


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


def contract_lines(contract: Contract) -> list[str]:
    return contract_summary(contract).splitlines()
