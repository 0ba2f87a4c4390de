"""``shadow-mvs explain``: a triage node, or the whole contract, as terminal text."""

from __future__ import annotations

from collections.abc import Mapping

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import Contract
from shadow_mvs.report.contract_summary import contract_summary
from shadow_mvs.report.triage_view import TriageView

CONTRACT_TOPIC = "contract"  # `shadow-mvs explain contract`


def contract_facts(contract: Contract, settings: Settings, view: TriageView) -> dict[str, str]:
    """What a cause sentence's placeholders mean before any run: the contract's values and
    the mode in use (URLs, scrape target, datasource URL). ``{url}`` and ``{uid}`` name the
    thing the node's own checks look at; facts only a run can see ({found}, {error}, …) stay
    as placeholders."""
    facts = {
        "job": contract.prometheus["job"],
        "expected": settings.scrape_target,
        "contract_interval": f"{contract.prometheus['scrape_interval_s']:g}s",
        "group": contract.prometheus["rule_group"],
        "mode": settings.mode,
    }
    per_check: dict[str, dict[str, str]] = {
        "exporter": {"url": settings.exporter_url},
        "targets": {"url": f"http://{settings.scrape_target}/metrics"},
        "datasource": {"uid": contract.datasource["uid"], "url": settings.datasource_url},
        "dashboard": {"uid": contract.dashboard["uid"]},
    }
    codes = {route.split(":")[0] for route in view.reached_from}
    for check in contract.checks:
        if check.f_code in codes:
            facts.update(per_check.get(check.name, {}))
    return facts


def node_lines(view: TriageView, facts: Mapping[str, str] | None = None) -> list[str]:
    """``facts`` fill the cause sentences' placeholders (``contract_facts``)."""
    lines = [
        f"{view.id}: {view.title}",
        f"  symptom:      {view.symptom}",
        f"  likely cause: {view.likely_cause}",
        f"  reached from: {', '.join(view.reached_from) or '-'}",
    ]
    lines += [f"  cause {cause.id}: {cause.render(facts)}" for cause in view.causes]
    lines.append("  next commands:")
    lines += [f"    {command}" for command in view.next_commands]
    return lines


def contract_lines(contract: Contract) -> list[str]:
    return contract_summary(contract).splitlines()
