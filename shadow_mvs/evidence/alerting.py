"""The path from a firing rule to a receiver, read from the components' own APIs and
self-metrics — pure functions over what they answered, so each fault is testable without
Docker.

Sources (read before writing this):
* Alertmanager: ``GET /api/v2/status`` → ``config.original`` (the loaded YAML), ``GET
  /api/v2/alerts`` → ``[{labels, annotations, status: {state}}]`` (api/v2/openapi.yaml);
  ``alertmanager_notifications_failed_total{integration}`` (notify/notify.go). Routing:
  the first child route whose matchers all match takes the alert unless ``continue``; an
  alert no child takes stays on the root route's receiver (dispatch/route.go ``Match``).
  Matchers are ``name="value"``, ``!=``, ``=~``, ``!~`` with anchored regexes
  (pkg/labels/parse.go), or the older ``match``/``match_re`` maps (config/config.go).
* Prometheus: ``GET /api/v1/alertmanagers`` → ``{activeAlertmanagers: [{url}],
  droppedAlertmanagers}``; ``prometheus_notifications_dropped_total``,
  ``prometheus_notifications_errors_total{alertmanager}`` (notifier/notifier.go).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml
from prometheus_client.parser import text_string_to_metric_families

MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    found = MATCHER.match(text)
    if not found:
        raise ValueError(f"not an Alertmanager matcher: {text!r}")
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    return Matcher(name, op, value)


def route_matchers(route: Mapping[str, Any]) -> list[Matcher]:
    matchers = [parse_matcher(str(text)) for text in route.get("matchers") or []]
    matchers += [Matcher(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    matchers += [Matcher(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    return matchers


def receivers_for(route: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """The receivers a child route of ``route`` sends an alert with ``labels`` to; empty when
    no child route takes it (it stays on the root's receiver)."""
    found: list[str] = []
    receiver = route.get("receiver", "")
    for child in route.get("routes") or []:
        if not all(m.matches(labels) for m in route_matchers(child)):
            continue
        child = {"receiver": receiver, **child}  # a child inherits its parent's receiver
        found += receivers_for(child, labels) or [str(child["receiver"])]
        if not child.get("continue", False):
            break
    return found


@dataclass(frozen=True)
class Unrouted:
    value: str  # the route label's value, e.g. R-2
    alerts: tuple[str, ...]
    receiver: str  # where they land instead: the root route's receiver


def unrouted(config_text: str, rules: Iterable[Mapping[str, Any]], label: str) -> list[Unrouted]:
    """Every value of ``label`` the alerting rules carry that no child route of the loaded
    config takes (judged with each rule's own labels, as its alerts would carry them)."""
    config = yaml.safe_load(config_text) or {}
    root = config.get("route") or {}
    missing: dict[str, list[str]] = {}
    for rule in rules:
        labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
        labels.setdefault("alertname", str(rule.get("name", "")))
        if label in labels and not receivers_for(root, labels):
            missing.setdefault(labels[label], []).append(labels["alertname"])
    return [
        Unrouted(value, tuple(sorted(set(alerts))), str(root.get("receiver", "")))
        for value, alerts in sorted(missing.items())
    ]


def rule_values(rules: Iterable[Mapping[str, Any]], label: str) -> list[str]:
    return sorted({str(r["labels"][label]) for r in rules if label in (r.get("labels") or {})})


def active_targets(alertmanagers: Mapping[str, Any]) -> list[str]:
    """host:port of each Alertmanager Prometheus sends to (its URLs end in /api/v2/alerts)."""
    return [urlsplit(a["url"]).netloc for a in alertmanagers.get("activeAlertmanagers") or []]


def counter_totals(exposition: str, name: str, by: str | None = None) -> dict[str, float]:
    """A counter's samples from a /metrics page, summed per value of ``by`` ("" if None).

    Only the lines that name the counter reach the parser (every sample, HELP and TYPE line
    of a family names it): Prometheus's own page holds ~900 lines, and parsing all of them
    for each counter cost ~17 ms of CPU, three times per verify."""
    totals: dict[str, float] = {}
    lines = "\n".join(line for line in exposition.splitlines() if name in line)
    for family in text_string_to_metric_families(lines):
        for sample in family.samples:
            if sample.name != name:
                continue
            key = sample.labels.get(by, "") if by else ""
            totals[key] = totals.get(key, 0.0) + sample.value
    return totals


@dataclass(frozen=True)
class Problem:
    cause: str
    facts: dict[str, str]


def prometheus_send_problems(exposition: str) -> list[Problem]:
    """Alerts Prometheus dropped or failed to send, from its own self-metrics."""
    problems: list[Problem] = []
    dropped = counter_totals(exposition, "prometheus_notifications_dropped_total").get("", 0.0)
    if dropped > 0:
        problems.append(Problem("prometheus_alerts_dropped", {"dropped": f"{dropped:.0f}"}))
    errors = counter_totals(exposition, "prometheus_notifications_errors_total", "alertmanager")
    for alertmanager, count in sorted(errors.items()):
        if count > 0:
            facts = {"errors": f"{count:.0f}", "alertmanager": alertmanager}
            problems.append(Problem("prometheus_notify_errors", facts))
    return problems


def notify_failures(exposition: str) -> list[Problem]:
    """Notifications Alertmanager could not deliver, per integration (webhook, email, …)."""
    failed = counter_totals(exposition, "alertmanager_notifications_failed_total", "integration")
    return [
        Problem("alertmanager_notify_failed", {"failed": f"{count:.0f}", "integration": name})
        for name, count in sorted(failed.items())
        if count > 0
    ]


def alert_key(labels: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def missing_in_alertmanager(
    prometheus_alerts: Iterable[Mapping[str, Any]],
    alertmanager_alerts: Iterable[Mapping[str, Any]],
    external_labels: Mapping[str, str] | None = None,
) -> list[str]:
    """Alerts firing in Prometheus (``/api/v1/alerts``) that Alertmanager does not hold.
    Prometheus adds its external labels before sending (notifier.go ``relabelAlerts``)."""
    held = {alert_key(a.get("labels") or {}) for a in alertmanager_alerts}
    missing = []
    for alert in prometheus_alerts:
        if alert.get("state") != "firing":
            continue
        labels = {**(external_labels or {}), **(alert.get("labels") or {})}
        if alert_key(labels) not in held:
            missing.append(str(labels.get("alertname", "?")))
    return sorted(set(missing))
