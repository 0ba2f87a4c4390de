"""One model of a triage node (shadow_mvs/report/triage_view.py), read by every renderer: the
terminal TRIAGE block, verify.json, the GitHub annotation and step summary, `shadow-mvs
explain` and the RUNBOOK. Each renderer is shown to print what the view holds — a view with
foreign text comes out unchanged — so none of them formats a node on its own. Docker-free."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shadow_mvs import cli, docs
from shadow_mvs.core.run import CheckFailed, VerifyRun
from shadow_mvs.core.triage import load_triage
from shadow_mvs.report import ci_reports, reporter
from shadow_mvs.report.explain import node_lines
from shadow_mvs.report.reporter import render, triage_lines, verdict
from shadow_mvs.report.triage_view import (
    AS_WRITTEN,
    NextCommands,
    TriageView,
    failure_view,
    node_view,
)

COMPOSE = "docker compose -p peaktrade-shadow-mvs --env-file .env -f compose/x.yml"
URLS = {
    "exporter_url": "http://exp.example:19109",
    "prometheus_url": "https://prom.example",
    "grafana_url": "https://graf.example",
}


def targets_down_run() -> VerifyRun:
    run = VerifyRun()
    for name in ("exporter", "prometheus", "rules"):
        run.settle(name, None)
    run.settle(
        "targets",
        CheckFailed("job gone", cause="scrape_job_missing", facts={"job": "shadow_mvs"}),
    )
    return run


def foreign(view: TriageView) -> TriageView:
    """The same node with text no data file holds: a renderer printing it read the view."""
    return replace(
        view,
        title="TITLE-FROM-VIEW",
        symptom="SYMPTOM-FROM-VIEW",
        likely_cause="LIKELY-FROM-VIEW",
        reached_from=("F-FROM-VIEW",),
        next_commands=("first-command-from-view", "second-command-from-view"),
        cause_sentence="SENTENCE-FROM-VIEW",
    )


# --- the model ------------------------------------------------------------------------------


def test_a_failure_view_carries_the_node_the_cause_and_resolved_commands():
    record = targets_down_run().records["targets"]
    view = failure_view(record, NextCommands(COMPOSE, URLS))
    node = load_triage()["G-3"]
    assert (view.id, view.title, view.symptom) == ("G-3", node.title, node.symptom)
    assert view.likely_cause == node.likely_cause
    assert view.reached_from == node.routes
    assert view.cause == "scrape_job_missing"
    assert view.cause_sentence == record.cause_sentence
    assert 'job "shadow_mvs"' in (view.cause_sentence or "")
    assert "scrape_job_missing" in [cause.id for cause in view.causes]
    assert view.next_commands[0] == (
        "curl -fsS https://prom.example/api/v1/targets | python3 -m json.tool | head -n 60"
    )
    assert view.next_commands[1].startswith("sed -n '1,40p' compose/prometheus/prometheus.yml")


def test_commands_for_a_stack_not_started_here_use_the_urls_only():
    view = node_view(load_triage()["G-1"], NextCommands(None, URLS))
    assert view.next_commands == ("curl -fsS http://exp.example:19109/metrics | head -n 20",)


def test_compose_commands_are_expanded_for_the_compose_stack():
    view = node_view(load_triage()["G-1"], NextCommands(COMPOSE))
    assert f"{COMPOSE} ps exporter && {COMPOSE} logs --tail 30 exporter" in view.next_commands
    assert not any("$" in command or "[compose]" in command for command in view.next_commands)


def test_the_runbook_view_keeps_the_templates():
    node = load_triage()["G-1"]
    assert node_view(node, AS_WRITTEN).next_commands == node.next_commands
    assert any("$COMPOSE" in command for command in node.next_commands)


# --- every renderer reads the view ----------------------------------------------------------


@pytest.fixture
def view_everywhere(monkeypatch):
    """Every renderer module gets a view with foreign text instead of the data files'."""

    def foreign_failure(record, commands):
        return foreign(failure_view(record, commands))

    def foreign_node(node, commands):
        return foreign(node_view(node, commands))

    for module in (reporter, ci_reports):
        monkeypatch.setattr(module, "failure_view", foreign_failure)
    for module in (cli, docs):
        monkeypatch.setattr(module, "node_view", foreign_node)


def test_terminal_block_prints_the_view(view_everywhere):
    lines = render(targets_down_run(), COMPOSE)
    triage = [line for line in lines if line.startswith("TRIAGE|")]
    assert triage == [
        "TRIAGE|G-3|cause: SENTENCE-FROM-VIEW",
        "TRIAGE|G-3|TITLE-FROM-VIEW",
        "TRIAGE|G-3|symptom: SYMPTOM-FROM-VIEW",
        "TRIAGE|G-3|likely cause: LIKELY-FROM-VIEW",
        "TRIAGE|G-3|next: first-command-from-view",
        "TRIAGE|G-3|next: second-command-from-view",
    ]


def test_verify_json_holds_the_view(view_everywhere):
    triage = verdict(targets_down_run(), COMPOSE, "compose-offline")["triage"]
    assert triage == {
        "cause": "scrape_job_missing",
        "cause_sentence": "SENTENCE-FROM-VIEW",
        "node": "G-3",
        "title": "TITLE-FROM-VIEW",
        "symptom": "SYMPTOM-FROM-VIEW",
        "likely_cause": "LIKELY-FROM-VIEW",
        "next_commands": ["first-command-from-view", "second-command-from-view"],
    }


def test_github_annotation_and_summary_show_the_view(view_everywhere):
    line = ci_reports.annotation(targets_down_run(), COMPOSE)
    assert line is not None
    assert line.endswith("likely cause: LIKELY-FROM-VIEW — next: first-command-from-view")
    summary = ci_reports.step_summary(targets_down_run(), COMPOSE, "compose-offline")
    assert "### Triage G-3: TITLE-FROM-VIEW" in summary
    assert "- **symptom**: SYMPTOM-FROM-VIEW" in summary
    assert "- **likely cause**: LIKELY-FROM-VIEW" in summary
    assert "first-command-from-view\nsecond-command-from-view\n```" in summary


def test_explain_prints_the_view(view_everywhere, capsys):
    assert cli.main(["explain", "G-3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "G-3: TITLE-FROM-VIEW",
        "  symptom:      SYMPTOM-FROM-VIEW",
        "  likely cause: LIKELY-FROM-VIEW",
        "  reached from: F-FROM-VIEW",
    ]
    assert out[-3:] == [
        "  next commands:",
        "    first-command-from-view",
        "    second-command-from-view",
    ]


def test_runbook_renders_the_view(view_everywhere):
    text = docs.render_node(load_triage()["G-3"])
    assert text.startswith("### G-3 — TITLE-FROM-VIEW\n")
    assert "- **Reached from:** `F-FROM-VIEW`" in text
    assert "```bash\nfirst-command-from-view\nsecond-command-from-view\n```" in text


def test_terminal_and_explain_agree_on_the_node():
    """Two renderers, one model: the same title, symptom, likely cause and commands."""
    commands = NextCommands(COMPOSE, URLS)
    view = failure_view(targets_down_run().records["targets"], commands)
    terminal = triage_lines(view)
    explained = node_lines(node_view(load_triage()["G-3"], commands))
    assert terminal[1] == f"TRIAGE|G-3|{explained[0].removeprefix('G-3: ')}"
    assert [line.split("|next: ")[1] for line in terminal if "|next: " in line] == [
        line.strip() for line in explained[explained.index("  next commands:") + 1 :]
    ]
