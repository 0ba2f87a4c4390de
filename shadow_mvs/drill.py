"""``shadow-mvs drill R-n``: break the simulator on purpose and follow the alert to the receiver.

Compose mode only — a drill must never page production, so an external stack (``--stack
external``, an environment that is not this machine's compose stack) is refused with exit 2
before anything runs. The drill brings the local stack up healthy, waits for Prometheus's
first scrape, switches the exporter to the profile that breaks the R-node's SLO
(contract ``[drills]``), and follows the alert: pending → firing → held by Alertmanager →
notification at the receiver (with its r_node and runbook) → back to healthy → resolved
notification. Each stage has a bounded wait (``core/waiting.py``); the first that never
comes is the verdict. The timeline is pure logic in ``evidence/drill_timeline.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.waiting import GaveUp, bounded_poll
from shadow_mvs.evidence.alerting import notify_failures
from shadow_mvs.evidence.drill_timeline import (
    RECEIVER_ERROR,
    UNROUTED,
    Promise,
    Timeline,
    alert_state,
    group_wait_s,
    held_by_alertmanager,
    notifications,
)
from shadow_mvs.stack.bringup import compose_error_line, preflight, wait_answering
from shadow_mvs.stack.compose import DOWN_ARGS, UP_ARGS, ComposeProject, compose_project

POLL_S = 0.25
SLACK_S = 30.0  # on top of each stage's physics: a loaded machine, a slow recreate
PENDING_BUDGET_S = 60.0
RESOLVED_BUDGET_S = 90.0


class DrillRefused(Exception):
    """A drill against a stack this run does not own (exit 2)."""


class StageMissed(Exception):
    """A stage of the chain did not come within its wait."""


class GaveUpNow(Exception):
    """A final answer (a receiver error, the wrong route): no use waiting further."""


def refuse_unless_local(settings: Settings) -> None:
    if settings.stack != "compose" or settings.bring_up:
        where = f"environment {settings.env_name!r}" if settings.env_name else "--stack=external"
        raise DrillRefused(
            f"drill refused for {where}: a drill breaks the pipeline on purpose and must never "
            "page a real stack; it runs only on this machine's compose stack (--stack=compose)"
        )


class Drill:
    def __init__(self, settings: Settings, r_node: str, say: Callable[[str], None]):
        contract = load_contract()
        self.settings = settings
        self.spec = contract.drills[r_node]
        self.contract = contract
        self.compose = compose_project(settings)
        self.say = say
        self.timeline = Timeline(r_node, self.spec["alert"], self.spec["profile"])
        self.http = httpx.Client(timeout=contract.request_timeout_s)
        self.receiver = contract.alerting["receiver_url"] + contract.alerting["receiver_path"]

    # -- the stack ---------------------------------------------------------------------
    def up(self) -> None:
        preflight(self.settings)
        self.compose.run(self.compose.up_command())
        wait_answering(self.settings.urls)

    def down(self) -> None:
        self.compose.run(DOWN_ARGS, check=False)

    def exporter_profile(self, workdir: Path, profile: str) -> None:
        """Recreate the exporter with another profile through an override file (the tracked
        compose files stay as they are)."""
        override = workdir / f"drill-{profile}.override.yml"
        environment = {"SHADOW_MVS_PROFILE": profile}
        override.write_text(
            yaml.safe_dump(
                {
                    "name": self.contract.project,
                    "services": {"exporter": {"environment": environment}},
                }
            )
        )
        project = ComposeProject(
            offline=self.compose.offline,
            host_network=self.compose.host_network,
            extra_files=(*self.compose.extra_files, override),
        )
        project.run(f"{UP_ARGS} --no-deps --force-recreate exporter")

    # -- reading -----------------------------------------------------------------------
    def get(self, url: str, **params: str) -> Any:
        response = self.http.get(url, params=params or None)
        response.raise_for_status()
        return response

    def wait(self, what: str, budget_s: float, probe: Callable[[], Any]) -> Any:
        try:
            return bounded_poll(
                probe,
                budget_s=budget_s,
                interval_s=POLL_S,
                retry_if=(StageMissed, httpx.HTTPError),
                what=what,
            )
        except GaveUp as gave_up:
            raise StageMissed(str(gave_up)) from None

    def first_scrape(self) -> None:
        job = self.contract.prometheus["job"]

        def scraped() -> None:
            targets = self.get(f"{self.settings.prometheus_url}/api/v1/targets").json()
            ours = [t for t in targets["data"]["activeTargets"] if t["labels"].get("job") == job]
            if not ours or ours[0]["health"] != "up":
                raise StageMissed(f"job {job} not scraped yet")

        self.wait("the first scrape of the healthy exporter", 60.0, scraped)

    def promise(self) -> Promise:
        prom = self.settings.prometheus_url
        groups = self.get(f"{prom}/api/v1/rules").json()["data"]["groups"]
        rule, group = next(
            (r, g)
            for g in groups
            for r in g["rules"]
            if r["name"] == self.timeline.alert
            and r["labels"].get("r_node") == self.timeline.r_node
        )
        status = self.get(f"{self.settings.alertmanager_url}/api/v2/status").json()
        labels = {**rule["labels"], "alertname": rule["name"]}
        return Promise(
            for_s=float(rule.get("duration", 0)),
            evaluation_s=float(group["interval"]),
            scrape_s=float(self.contract.prometheus["scrape_interval_s"]),
            group_wait_s=group_wait_s(status["config"]["original"], labels),
        )

    def alert_seen(self, wanted: str) -> None:
        alerts = self.get(f"{self.settings.prometheus_url}/api/v1/alerts").json()["data"]["alerts"]
        state = alert_state(alerts, self.timeline.alert, self.timeline.r_node)
        if state == "firing":
            self.see("pending")  # pending between two polls: seen no later than firing
            self.see("firing")
        elif state == "pending":
            self.see("pending")
        if wanted not in self.timeline.stamps:
            raise StageMissed(f"{self.timeline.alert} is {state or 'inactive'}")

    def sent(self) -> None:
        held = self.get(f"{self.settings.alertmanager_url}/api/v2/alerts").json()
        if not held_by_alertmanager(held, self.timeline.alert):
            raise StageMissed(f"Alertmanager does not hold {self.timeline.alert}")
        self.see("sent")

    def notified(self, status: str, stage: str) -> None:
        after = self.timeline.stamps["fault" if status == "firing" else "restored"]
        found = [
            n
            for n in notifications(self.get(self.receiver).text, self.timeline.alert)
            if n.status == status and n.received_at >= after
        ]
        if not found:
            failed = notify_failures(self.get(f"{self.settings.alertmanager_url}/metrics").text)
            if failed:
                detail = ", ".join(f"{p.facts['integration']}: {p.facts['failed']}" for p in failed)
                self.timeline.break_at(RECEIVER_ERROR.format(detail=detail))
                raise GaveUpNow(self.timeline.broken or "")
            raise StageMissed(f"no {status} notification for {self.timeline.alert} yet")
        first = found[0]
        if first.r_node != self.timeline.r_node:
            self.timeline.break_at(UNROUTED.format(receiver=first.receiver))
            raise GaveUpNow(self.timeline.broken or "")
        self.timeline.see(
            stage,
            first.received_at,
            f"receiver={first.receiver} r_node={first.r_node} runbook={first.runbook!r}",
        )
        self.say(f"drill: {stage} at +{self.timeline.offset(stage):.1f}s")

    def see(self, stage: str, note: str = "") -> None:
        if stage not in self.timeline.stamps:
            self.timeline.see(stage, time.time(), note)
            self.say(f"drill: {stage} at +{self.timeline.offset(stage) or 0:.1f}s")

    # -- the drill ---------------------------------------------------------------------
    def run(self) -> Timeline:
        self.say(f"drill {self.timeline.r_node}: bringing the local stack up healthy")
        with tempfile.TemporaryDirectory(prefix="shadow-mvs-drill-") as tmp:
            workdir = Path(tmp)
            self.up()
            try:
                self.first_scrape()
                self.timeline.promise = self.promise()
            except StageMissed as missed:
                self.timeline.break_at(f"the stack never came up healthy: {missed}")
                return self.timeline
            self.see("fault", f"exporter profile {self.timeline.profile}")
            self.exporter_profile(workdir, self.timeline.profile)
            promise = self.timeline.promise
            try:
                self.wait("the alert pending", PENDING_BUDGET_S, lambda: self.alert_seen("pending"))
                firing_budget = promise.for_s + 2 * promise.evaluation_s + SLACK_S
                self.wait("the alert firing", firing_budget, lambda: self.alert_seen("firing"))
                self.wait("Alertmanager holding it", SLACK_S, self.sent)
                notify_budget = promise.group_wait_s + SLACK_S
                self.wait(
                    "the firing notification",
                    notify_budget,
                    lambda: self.notified("firing", "notified"),
                )
                self.see("restored", "exporter profile healthy")
                self.exporter_profile(workdir, "healthy")
                self.wait(
                    "the resolved notification",
                    RESOLVED_BUDGET_S,
                    lambda: self.notified("resolved", "resolved"),
                )
            except StageMissed as missed:
                self.timeline.break_at()
                self.say(f"drill: {missed}")
            except GaveUpNow:
                pass
        return self.timeline


def run_drill(settings: Settings, r_node: str, output_format: str, keep_stack: bool) -> int:
    """Exit 0: the whole chain held; 1: it broke (the timeline names where); 2: refused, or
    the stack could not be brought up (one line)."""
    refuse_unless_local(settings)
    redact = settings.redactor()  # the drill's lines pass the one redactor like every output

    def say(text: str) -> None:
        print(redact.text(text), file=sys.stderr, flush=True)

    drill = Drill(settings, r_node, say)
    try:
        timeline = drill.run()
    except subprocess.CalledProcessError as failed:
        say(f"shadow-mvs: {compose_error_line(failed.stderr or failed.stdout or '')}")
        return 2
    finally:
        drill.http.close()
        if not keep_stack:
            drill.down()
    if output_format == "json":
        print(json.dumps(redact.data(timeline.as_json()), indent=2))
    else:
        print(redact.text("\n".join(timeline.lines())))
    return 0 if timeline.passed else 1
