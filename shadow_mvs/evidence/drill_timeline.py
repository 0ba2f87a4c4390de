"""A drill's timeline: when each link of the alert chain was seen, the time to detect, what
the rule promises, and — when the chain broke — the stage where it broke. Pure functions
over what Prometheus, Alertmanager and the receiver answered, so the logic is tested
without Docker (tests/verify/test_drill_timeline.py); ``shadow_mvs.drill`` does the I/O.

Stages, in the order a healthy chain passes them:

    fault       the simulator switched to the profile that breaks the R-node's SLO
    pending     Prometheus's /api/v1/alerts shows the alert pending (expression true)
    firing      … firing (``for`` elapsed)
    sent        Alertmanager's /api/v2/alerts holds it (Prometheus sent it)
    notified    the receiver recorded a firing notification carrying the r_node
    restored    the simulator switched back to healthy
    resolved    the receiver recorded the resolved notification (send_resolved)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from shadow_mvs.evidence.alerting import route_matchers

STAGES = ("fault", "pending", "firing", "sent", "notified", "restored", "resolved")
# The words a broken chain fails with: the first stage that never came.
BROKEN = {
    "pending": "rule never pending: its expression never turned true for the fault",
    "firing": "rule never firing: pending, but `for` never elapsed (the fault healed?)",
    "sent": "not sent: the alert fires in Prometheus but Alertmanager does not hold it",
    "notified": "not routed or receiver error: Alertmanager holds the alert, no notification came",
    "resolved": "no resolved notification after the simulator was healthy again",
}
RECEIVER_ERROR = "receiver error: Alertmanager failed to notify ({detail})"
UNROUTED = "not routed: the notification went to receiver {receiver!r}, not the R-node's route"
# Alertmanager's route defaults (config/config.go DefaultRouteOpts): group_wait 30s.
DEFAULT_GROUP_WAIT_S = 30.0
DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_s(text: str | float | int) -> float:
    """A Prometheus/Alertmanager duration (``1m30s``, ``500ms``) in seconds."""
    if isinstance(text, int | float):
        return float(text)
    parts = DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * UNIT_S[u] for n, u in parts)


def group_wait_s(config_text: str, labels: Mapping[str, str]) -> float:
    """The group_wait of the route an alert with ``labels`` lands on (children inherit their
    parent's; Alertmanager's dispatch/route.go)."""
    route = (yaml.safe_load(config_text) or {}).get("route") or {}
    wait = duration_s(route.get("group_wait", f"{DEFAULT_GROUP_WAIT_S:.0f}s"))
    while True:
        child = next(
            (
                c
                for c in route.get("routes") or []
                if all(m.matches(labels) for m in route_matchers(c))
            ),
            None,
        )
        if child is None:
            return wait
        wait = duration_s(child.get("group_wait", f"{wait}s")) if "group_wait" in child else wait
        route = child


@dataclass(frozen=True)
class Promise:
    """What the rule promises from fault to notification: one scrape to see the fault, one
    evaluation to turn the alert pending, ``for`` to fire, Alertmanager's group_wait."""

    for_s: float
    evaluation_s: float
    scrape_s: float
    group_wait_s: float

    @property
    def total_s(self) -> float:
        return self.for_s + self.evaluation_s + self.scrape_s + self.group_wait_s

    def text(self) -> str:
        return (
            f"for {self.for_s:g}s + evaluation {self.evaluation_s:g}s + scrape "
            f"{self.scrape_s:g}s + group_wait {self.group_wait_s:g}s = {self.total_s:g}s"
        )


def alert_state(alerts: Iterable[Mapping[str, Any]], alertname: str, r_node: str) -> str | None:
    """The state (pending/firing) of the drill's alert in /api/v1/alerts, if any."""
    states = {
        str(a.get("state"))
        for a in alerts
        if a.get("labels", {}).get("alertname") == alertname
        and a.get("labels", {}).get("r_node") == r_node
    }
    return "firing" if "firing" in states else ("pending" if "pending" in states else None)


def held_by_alertmanager(alerts: Iterable[Mapping[str, Any]], alertname: str) -> bool:
    return any(a.get("labels", {}).get("alertname") == alertname for a in alerts)


@dataclass(frozen=True)
class Notification:
    received_at: float
    status: str  # firing | resolved
    receiver: str
    r_node: str
    runbook: str


def notifications(jsonl: str, alertname: str) -> list[Notification]:
    """The receiver's records (alert_receiver: ``{received_at, payload}`` per line, the
    payload Alertmanager's webhook message) that carry the drill's alert."""
    found = []
    for line in jsonl.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        payload = record.get("payload") or {}
        for alert in payload.get("alerts") or []:
            if alert.get("labels", {}).get("alertname") != alertname:
                continue
            annotations = alert.get("annotations") or {}
            found.append(
                Notification(
                    received_at=float(record["received_at"]),
                    status=str(alert.get("status", payload.get("status", ""))),
                    receiver=str(payload.get("receiver", "")),
                    r_node=str(annotations.get("r_node", "")),
                    runbook=str(annotations.get("runbook", "")),
                )
            )
    return found


@dataclass
class Timeline:
    r_node: str
    alert: str
    profile: str
    promise: Promise | None = None
    stamps: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    broken: str | None = None

    def see(self, stage: str, at: float, note: str = "") -> None:
        """The first time a stage is seen counts; later sightings change nothing."""
        if stage not in STAGES:
            raise ValueError(f"unknown drill stage {stage!r}")
        if stage not in self.stamps:
            self.stamps[stage] = at
            if note:
                self.notes[stage] = note

    def offset(self, stage: str) -> float | None:
        if stage not in self.stamps or "fault" not in self.stamps:
            return None
        return round(self.stamps[stage] - self.stamps["fault"], 2)

    @property
    def time_to_detect_s(self) -> float | None:
        return self.offset("notified")

    @property
    def within_promise(self) -> bool | None:
        detect = self.time_to_detect_s
        if detect is None or self.promise is None:
            return None
        return detect <= self.promise.total_s

    def first_missing(self) -> str | None:
        return next((s for s in STAGES if s not in self.stamps), None)

    def break_at(self, words: str | None = None) -> None:
        """The chain broke: name the first stage that never came (or say why, if known)."""
        missing = self.first_missing()
        self.broken = words or (BROKEN.get(missing, missing) if missing else None)

    @property
    def passed(self) -> bool:
        return self.broken is None and self.first_missing() is None

    def as_json(self) -> dict[str, Any]:
        return {
            "r_node": self.r_node,
            "alert": self.alert,
            "profile": self.profile,
            "result": "PASS" if self.passed else "FAIL",
            "broken": self.broken,
            "stages": [
                {
                    "stage": s,
                    "at": self.stamps[s],
                    "offset_s": self.offset(s),
                    "note": self.notes.get(s, ""),
                }
                for s in STAGES
                if s in self.stamps
            ],
            "time_to_detect_s": self.time_to_detect_s,
            "promise_s": self.promise.total_s if self.promise else None,
            "promise": self.promise.text() if self.promise else None,
            "within_promise": self.within_promise,
        }

    def lines(self) -> list[str]:
        out = [f"DRILL|{self.r_node}|alert={self.alert} profile={self.profile}"]
        for stage in STAGES:
            offset = self.offset(stage)
            if offset is None and stage != "fault":
                continue
            note = f" {self.notes[stage]}" if stage in self.notes else ""
            out.append(f"TIMELINE|{stage}|+{offset or 0:.1f}s{note}")
        if self.time_to_detect_s is not None and self.promise is not None:
            verdict = "within" if self.within_promise else "OVER"
            out.append(
                f"TIME_TO_DETECT|{self.time_to_detect_s:.1f}s|{verdict} the rule's promise "
                f"{self.promise.text()}"
            )
        if self.broken:
            out.append(f"FAIL|drill|{self.r_node}|{self.broken}")
        out.append(f"RESULT={'PASS' if self.passed else 'FAIL'}")
        return out
