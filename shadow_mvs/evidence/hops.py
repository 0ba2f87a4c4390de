"""Follow a contract series hop by hop, and name the first hop that loses it.

exposition (as Prometheus parses it) → scrape (target health, lastError) → Prometheus's own
accounting for the target (samples scraped vs kept after metric relabeling, discard
counters) → the job's relabel rules in the loaded config → the series in the TSDB. The
datasource, the dashboard's variables and the panel are the hops after these: they belong
to the panels check, which appends its own ``Hop`` results to the same walk (``HOPS``).

Every hop reads a status API or the exposition over HTTP, never Docker, so the walk runs
the same against an external stack. A hop that loses the data returns the cause that says
so (shadow_mvs/data/causes.toml): a final one (a relabel rule, a growing discard counter, a
parse error) ends the check's wait at once; a warm-up one (not scraped yet, rate window
filling) keeps it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import httpx
from prometheus_api_client import PrometheusConnect
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families
from prometheus_client.samples import Sample

from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckFailed
from shadow_mvs.evidence.status_api import NEVER_SCRAPED, loaded_scrape_configs, scrape_explained

# The walk's hops in order; the panels check continues with "datasource", "dashboard",
# "panel" (issue 17's other branches) by appending Hop results under those names.
HOPS = ("exposition", "scrape", "accounting", "relabel", "tsdb")

# Prometheus's self-metrics for samples it discards, with the reason in words. Names from
# prometheus/prometheus scrape/scrape.go (v2.42, Debian's) = scrape/metrics.go (v3).
DISCARD_COUNTERS = {
    "prometheus_target_scrapes_sample_out_of_bounds_total": (
        "out of bounds (timestamps too old or too far in the future)"
    ),
    "prometheus_target_scrapes_sample_out_of_order_total": "out of order",
    "prometheus_target_scrapes_sample_duplicate_timestamp_total": (
        "duplicates (same timestamp, different value)"
    ),
    "prometheus_target_scrapes_exceeded_sample_limit_total": "over the job's sample_limit",
    "prometheus_target_scrape_pool_exceeded_label_limits_total": "over the job's label limits",
    "prometheus_target_scrapes_exceeded_body_size_limit_total": "over the job's body_size_limit",
}
# Discards that explicit sample timestamps cause: with such an exposition, a non-zero
# counter is the exporter's doing and final without waiting for it to grow again.
TIMESTAMP_DISCARDS = tuple(list(DISCARD_COUNTERS)[:3])
LOOKBACK_S = 300  # Prometheus's default query lookback delta (5m)

# lastError texts of a scrape that reached the target and will fail the same way next time
# (scrape/scrape.go: "server returned HTTP status …", errSampleLimit, label_limit,
# errBodySizeLimit; model/textparse: parseError's `…, got "…"`, "# EOF", invalid tokens).
FINAL_SCRAPE_ERRORS = (
    "server returned HTTP status 4",
    "limit exceeded",
    ', got "',
    "# EOF",
    "is not a valid start token",
    "invalid ",
    "not a valid utf8",
    "unsupported character",
    "unsupported Content-Type",
)

# model/textparse/interface.go New(): the media type picks the parser; anything else is
# read as the classic text format (v2.x; v3 refuses unknown types without a fallback).
OPENMETRICS = "application/openmetrics-text"
PROTOBUF = "application/vnd.google.protobuf"


@dataclass(frozen=True)
class Hop:
    """What one hop shows; ``loss`` is the cause when this hop loses the data."""

    name: str
    detail: str
    loss: CheckFailed | None = None

    @property
    def evidence(self) -> str:
        return f"FAIL: {self.loss.message}" if self.loss else f"ok: {self.detail}"


@dataclass
class Walk:
    """One check's walk, kept across the attempts of its poll: the discard counters as
    first seen, so a counter that grows between two looks is caught."""

    job: str
    mode: str
    family: str
    interval_s: float | None = None  # the scrape interval to expect; None: the contract's
    baseline: dict[str, float] = field(default_factory=dict)


def stage_walk(contract: Contract, mode: str) -> tuple[Walk, str]:
    """The walk of the family the stage golden query reads, and that query's rate window."""
    query = contract.golden_query("stage", mode)
    family = re.findall(r"([a-z_]+)\{", query)[-1]
    window = re.findall(r"\[(\w+)\]", query)[-1]
    return Walk(contract.prometheus["job"], mode, family), window


def first_loss(hops: Iterable[Hop]) -> CheckFailed | None:
    return next((hop.loss for hop in hops if hop.loss is not None), None)


# --- hop 1: the exposition, as Prometheus parses it ----------------------------------


@dataclass(frozen=True)
class Exposition:
    url: str
    content_type: str
    format: str
    samples: list[Sample]


def media_type(content_type: str) -> str:
    message = Message()
    message["content-type"] = content_type
    return message.get_content_type() if content_type else ""


def parse_format(content_type: str) -> str:
    kind = media_type(content_type)
    if kind == OPENMETRICS:
        return "OpenMetrics"
    if kind == PROTOBUF:
        return "protobuf"
    return "the Prometheus text format"


def parse_exposition(url: str, text: str, content_type: str) -> Exposition:
    """The samples as Prometheus reads them: the Content-Type picks the parser
    (prometheus-client's parsers for the text formats). Raises CheckFailed
    ``exposition_unparsable`` (final) when the implied format does not parse."""
    fmt = parse_format(content_type)
    parser = openmetrics_families if fmt == "OpenMetrics" else text_families
    facts = {"url": url, "content_type": content_type or "none", "format": fmt}
    if fmt == "protobuf":  # not a text format: nothing here reads it
        return Exposition(url, content_type, fmt, [])
    try:
        samples = [s for family in parser(text) for s in family.samples]
    except ValueError as error:
        raise CheckFailed(
            f"{fmt} parser: {error}",
            cause="exposition_unparsable",
            facts={**facts, "error": str(error).splitlines()[0][:160]},
        ) from None
    return Exposition(url, content_type, fmt, samples)


def read_exposition(http_client: httpx.Client, url: str) -> Exposition:
    response = http_client.get(url)
    response.raise_for_status()
    return parse_exposition(url, response.text, response.headers.get("content-type", ""))


def series_key(sample: Sample) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}"


def exposition_hop(exposition: Exposition, walk: Walk, now: float | None = None) -> Hop:
    """Duplicates, explicit timestamps, and whether the family carries the run's mode."""
    counts = Counter(series_key(s) for s in exposition.samples)
    repeated = sorted(key for key, n in counts.items() if n > 1)
    if repeated:
        return Hop(
            "exposition",
            "",
            CheckFailed(
                f"{len(repeated)} series exposed more than once in {exposition.url}",
                cause="exposition_duplicate_series",
                facts={"series": ", ".join(repeated[:3])},
            ),
        )
    stamped = [s.timestamp for s in exposition.samples if s.timestamp is not None]
    ours = [s for s in exposition.samples if s.name == walk.family]
    modes = sorted({s.labels.get("mode", "") for s in ours})
    if ours and walk.mode not in modes:
        return Hop(
            "exposition",
            "",
            CheckFailed(
                f"{len(ours)} {walk.family} samples in {exposition.url}, modes {modes}",
                cause="exposition_other_mode",
                facts={"family": walk.family, "modes": modes, "mode": walk.mode},
            ),
        )
    detail = (
        f"{exposition.format} (Content-Type {exposition.content_type or 'none'}), "
        f"{len(exposition.samples)} samples, {len(ours)} of {walk.family}"
    )
    if stamped:
        oldest = (time.time() if now is None else now) - min(float(t) for t in stamped)
        detail += f"; {len(stamped)} carry explicit timestamps, oldest {oldest:.0f} s old"
    return Hop("exposition", detail)


# --- hop 2: the scrape ---------------------------------------------------------------


def scrape_failure(
    target: dict[str, Any], job_config: Mapping[str, Any], samples: int | None
) -> CheckFailed:
    """A target Prometheus reports down, classified by its lastError: a limit, a 4xx or a
    parse error fails the same way every scrape (final); anything else may heal."""
    job = target["labels"].get("job", "?")
    last = target.get("lastError") or "none"
    url = target["scrapeUrl"]
    if "sample limit exceeded" in last:
        return CheckFailed(
            f'{url} health={target["health"]} lastError="{last}"',
            cause="sample_limit_exceeded",
            facts={
                "job": job,
                "limit": job_config.get("sample_limit", "?"),
                "samples": samples if samples is not None else "more",
            },
        )
    cause = "scrape_rejected" if any(e in last for e in FINAL_SCRAPE_ERRORS) else "target_down"
    return CheckFailed(
        f'job="{job}" target {url} health={target["health"]} lastError="{last}"',
        cause=cause,
        facts={"url": url, "last_error": last},
    )


def scrape_hop(
    target: dict[str, Any] | None,
    job_config: Mapping[str, Any] | None,
    walk: Walk,
    interval_s: float,
    samples: int | None,
) -> Hop:
    if target is None:
        return Hop(
            "scrape",
            "",
            CheckFailed(
                f'no active target for job="{walk.job}"',
                cause="target_not_discovered_yet"
                if job_config is not None
                else "scrape_job_missing",
                facts={"job": walk.job, "jobs": "(see the loaded config)"},
            ),
        )
    if (problem := scrape_explained(target, interval_s)) is not None:
        return Hop("scrape", "", problem)
    if target["health"] != "up":
        return Hop("scrape", "", scrape_failure(target, job_config or {}, samples))
    last = target.get("lastScrape", NEVER_SCRAPED)
    return Hop("scrape", f"{target['scrapeUrl']} health=up lastScrape={last} lastError=none")


# --- hop 3: Prometheus's accounting for the target -----------------------------------


def discard_counters(http_client: httpx.Client, prometheus_url: str) -> dict[str, float] | None:
    """Prometheus's discard self-metrics from its own /metrics; None where it has none
    to show (a remote-write backend, an auth proxy in front)."""
    try:
        response = http_client.get(f"{prometheus_url}/metrics")
        response.raise_for_status()
        families = list(text_families(response.text))
    except (httpx.HTTPError, ValueError):
        return None
    return {
        s.name: float(s.value)
        for family in families
        for s in family.samples
        if s.name in DISCARD_COUNTERS
    }


def accounting_hop(
    walk: Walk,
    scraped: float | None,
    kept: float | None,
    counters: Mapping[str, float] | None,
    stamped_age_s: float | None,
    stored: float,
) -> Hop:
    """Samples scraped vs kept after metric relabeling vs stored, and the discard counters.
    The counters count for every target, so one is the job's only while fewer of its
    samples are stored than relabeling kept; then a counter that grew since the walk's
    first look (or is non-zero while the exposition carries explicit timestamps) proves
    Prometheus throws the job's samples away. Explicit timestamps older than the query
    lookback prove it at the first scrape: a fresh head stores them in the past, where no
    instant query looks, and from the next scrape on they are out of bounds.
    ``stamped_age_s``: how old the exposition's oldest explicit timestamp is, if any."""
    if scraped is None or kept is None:
        return Hop("accounting", "no scrape_samples_* series for the job yet")
    detail = (
        f"scrape_samples_scraped={scraped:g} scrape_samples_post_metric_relabeling={kept:g} "
        f"stored now={stored:g}"
    )
    out_of_bounds = "prometheus_target_scrapes_sample_out_of_bounds_total"
    if stored < kept and stamped_age_s is not None and stamped_age_s > LOOKBACK_S:
        return Hop(
            "accounting",
            detail,
            CheckFailed(
                detail,
                cause="samples_discarded",
                facts={
                    "job": walk.job,
                    "reason": DISCARD_COUNTERS[out_of_bounds],
                    "proof": f"the exporter stamps them {stamped_age_s:.0f} s in the past; "
                    f"{kept:g} kept after relabeling, {stored:g} queryable now",
                },
            ),
        )
    if counters is None:
        return Hop("accounting", f"{detail}; Prometheus /metrics unavailable")
    if not walk.baseline:
        walk.baseline = dict(counters)
    for name, value in counters.items():
        if stored >= kept:
            break
        grew = value > walk.baseline.get(name, 0.0)
        if grew or (value > 0 and stamped_age_s is not None and name in TIMESTAMP_DISCARDS):
            return Hop(
                "accounting",
                detail,
                CheckFailed(
                    f"{detail}; {name} {walk.baseline.get(name, 0.0):g} → {value:g}",
                    cause="samples_discarded",
                    facts={
                        "job": walk.job,
                        "reason": DISCARD_COUNTERS[name],
                        "proof": f"{name} grew to {value:g}",
                    },
                ),
            )
    nonzero = {n: v for n, v in counters.items() if v}
    return Hop("accounting", f"{detail}; discard counters {nonzero or 'all 0'}")


# --- hop 4: the loaded relabel rules (model/relabel/relabel.go, simulated) -----------

DEFAULT_REGEX = "(.*)"
_TEMPLATE = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.ExpandString: $1, ${1}, $name, ${name}; $$ is a dollar; unknown → ""."""

    def group(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        name = found.group(1) or found.group(2)
        try:
            return match.group(int(name) if name.isdigit() else name) or ""
        except (IndexError, re.error):
            return ""

    return _TEMPLATE.sub(group, template)


def relabel(rule: Mapping[str, Any], labels: dict[str, str]) -> dict[str, str] | None:
    """One rule applied as Prometheus applies it (relabel.go ``relabel``); None: dropped.
    Regexes are fully anchored (NewRegexp: ``^(?s:…)$``); an absent label reads as ""."""
    action = str(rule.get("action", "replace")).lower()
    regex = re.compile(f"(?s:{rule.get('regex', DEFAULT_REGEX)})")
    sources = rule.get("source_labels") or []
    value = str(rule.get("separator", ";")).join(labels.get(name, "") for name in sources)
    target = str(rule.get("target_label", ""))
    replacement = str(rule.get("replacement", "$1"))
    out = dict(labels)
    if action == "drop":
        return None if regex.fullmatch(value) else out
    if action == "keep":
        return out if regex.fullmatch(value) else None
    if action == "dropequal":
        return None if labels.get(target, "") == value else out
    if action == "keepequal":
        return out if labels.get(target, "") == value else None
    if action == "replace":
        plain = rule.get("regex", DEFAULT_REGEX) == DEFAULT_REGEX
        if value == "" and plain and "$" not in target and "$" not in replacement:
            _set(out, target, replacement)
            return out
        match = regex.fullmatch(value)
        if match is None:
            return out
        name = _expand(target, match)
        if _LABEL_NAME.fullmatch(name):
            _set(out, name, _expand(replacement, match))
        return out
    if action in ("lowercase", "uppercase"):
        _set(out, target, value.lower() if action == "lowercase" else value.upper())
    elif action == "hashmod":
        # Prometheus hashes with md5 and keeps the last 8 bytes (relabel.go HashMod).
        digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
        _set(out, target, str(int.from_bytes(digest[8:], "big") % int(rule.get("modulus", 1))))
    elif action == "labelmap":
        for name, label_value in labels.items():
            if match := regex.fullmatch(name):
                out[_expand(replacement, match)] = label_value
    elif action == "labeldrop":
        out = {k: v for k, v in labels.items() if not regex.fullmatch(k)}
    elif action == "labelkeep":
        out = {k: v for k, v in labels.items() if regex.fullmatch(k)}
    return out


def _set(labels: dict[str, str], name: str, value: str) -> None:
    """labels.Builder.Set: an empty value deletes the label."""
    if value:
        labels[name] = value
    else:
        labels.pop(name, None)


def describe_rule(section: str, index: int, rule: Mapping[str, Any]) -> str:
    """The rule in the config's own words, e.g. metric_relabel_configs[1] action=replace
    target_label=stage source_labels=[stage] regex=fill replacement=filled."""
    action = str(rule.get("action", "replace")).lower()
    words = [f"{section}[{index}] action={action}"]
    if rule.get("target_label"):
        words.append(f"target_label={rule['target_label']}")
    if rule.get("source_labels"):
        words.append(f"source_labels=[{','.join(rule['source_labels'])}]")
    if str(rule.get("regex", DEFAULT_REGEX)) != DEFAULT_REGEX:
        words.append(f"regex={rule['regex']}")
    if action in ("replace", "labelmap") and str(rule.get("replacement", "$1")) != "$1":
        words.append(f"replacement={rule['replacement']}")
    return " ".join(words)


def contract_series(contract: Contract, family: str, mode: str) -> list[dict[str, str]]:
    """Every label set the contract allows for ``family`` in the run's mode."""
    keys = list(contract.family(family).labels)
    values = [[mode] if key == "mode" else list(contract.label_values[key]) for key in keys]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def relabel_harm(
    section: str,
    rules: Sequence[Mapping[str, Any]],
    series: list[dict[str, str]],
    contract_labels: Iterable[str],
    walk: Walk,
) -> CheckFailed | None:
    """The first rule that drops a contract series, or drops or rewrites one of its
    contract labels, found by applying the rules in order to each series."""
    watched = list(contract_labels)
    for index, rule in enumerate(rules):
        rule_text = describe_rule(section, index, rule)
        facts = {"job": walk.job, "family": walk.family, "rule": rule_text}
        after_all: list[dict[str, str]] = []
        for labels in series:
            try:
                after = relabel(rule, labels)
            except re.error:  # RE2 syntax Python lacks (e.g. \pL): cannot judge it
                after = labels
            if after is None:
                return CheckFailed(
                    f"{series_text(labels)} dropped",
                    cause="relabel_drops_series",
                    facts=facts,
                )
            for label in watched:
                if label in labels and label not in after:
                    return CheckFailed(
                        f"{series_text(labels)} loses {label}",
                        cause="relabel_drops_label",
                        facts={**facts, "label": label},
                    )
                if label in labels and after[label] != labels[label]:
                    return CheckFailed(
                        f'{label}="{labels[label]}" becomes {label}="{after[label]}"',
                        cause="relabel_rewrites_label",
                        facts={**facts, "label": label},
                    )
            after_all.append(after)
        series = after_all
    return None


def series_text(labels: Mapping[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{name}{{{rest}}}"


def relabel_hop(
    job_config: Mapping[str, Any] | None,
    target: dict[str, Any] | None,
    contract: Contract,
    walk: Walk,
) -> Hop:
    if job_config is None:
        return Hop("relabel", "job not in the loaded config (/api/v1/status/config)")
    labels = contract.family(walk.family).labels
    base = {"job": walk.job}
    if target is not None:
        base["instance"] = target["labels"].get("instance", "")
    series = [
        {"__name__": walk.family, **base, **s}
        for s in contract_series(contract, walk.family, walk.mode)
    ]
    metric_rules = list(job_config.get("metric_relabel_configs") or [])
    harm = relabel_harm("metric_relabel_configs", metric_rules, series, labels, walk)
    if harm is None and target is not None and not job_config.get("honor_labels"):
        # A target label named like a contract label renames the scraped one to
        # exported_<label> (honor_labels: false, the default).
        discovered = dict(target.get("discoveredLabels") or {})
        target_rules = list(job_config.get("relabel_configs") or [])
        for index in range(len(target_rules)):
            after = _apply(target_rules[: index + 1], discovered)
            clash = sorted(set(labels) & set(after or {}))
            if after is not None and clash:
                rule_text = describe_rule("relabel_configs", index, target_rules[index])
                harm = CheckFailed(
                    f"target label {clash[0]} set by {rule_text}: the scraped {clash[0]} "
                    f"becomes exported_{clash[0]}",
                    cause="relabel_rewrites_label",
                    facts={"job": walk.job, "label": clash[0], "rule": rule_text},
                )
                break
    if harm is not None:
        return Hop("relabel", "", harm)
    return Hop(
        "relabel",
        f"{len(metric_rules)} metric_relabel_configs, "
        f"{len(job_config.get('relabel_configs') or [])} relabel_configs keep every contract "
        f"label of {walk.family}",
    )


def config_loss(
    walk: Walk,
    job_config: Mapping[str, Any],
    target: dict[str, Any] | None,
    contract: Contract,
    exposition: Exposition | None,
) -> CheckFailed | None:
    """What the loaded config alone says will lose the data, before any scrape: a relabel
    rule (the relabel hop), or a sample_limit below the samples the target exposes after
    metric relabeling (scrape/target.go limitAppender: more than the limit rejects the scrape)."""
    harm = relabel_hop(job_config, target, contract, walk).loss
    limit = int(job_config.get("sample_limit") or 0)
    if harm is not None or not limit or exposition is None:
        return harm
    rules = list(job_config.get("metric_relabel_configs") or [])
    base = {"job": walk.job, "instance": (target or {}).get("labels", {}).get("instance", "")}
    kept = [
        s
        for s in exposition.samples
        if _apply(rules, {"__name__": s.name, **base, **s.labels}) is not None
    ]
    if len(kept) <= limit:
        return None
    return CheckFailed(
        f"the loaded config sets sample_limit: {limit}; {exposition.url} exposes {len(kept)} "
        "samples after metric relabeling",
        cause="sample_limit_exceeded",
        facts={"job": walk.job, "limit": limit, "samples": len(kept)},
    )


def _apply(rules: list[Mapping[str, Any]], labels: dict[str, str]) -> dict[str, str] | None:
    current: dict[str, str] | None = labels
    for rule in rules:
        if current is None:
            return None
        with contextlib.suppress(re.error):  # RE2 syntax Python lacks: labels unchanged
            current = relabel(rule, current)
    return current


# --- hop 5: the TSDB -----------------------------------------------------------------

# A scrape's samples carry its start time and land in the TSDB when it ends.
AFTER_SCRAPE_S = 0.1


def next_scrape_in_s(
    query: Callable[[str], list[dict[str, Any]]],
    selector: str,
    interval_s: float,
    now: Callable[[], float] = time.time,
) -> float | None:
    """Seconds until the next scrape's samples can be queried: the newest sample's time plus
    one interval (Prometheus scrapes a target at a fixed offset in each interval). None when
    nothing is stored yet or that moment has passed (a slow scrape): then the poll's own
    interval decides."""
    newest = query(f"max(timestamp({selector}))")
    if not newest:
        return None
    due = float(newest[0]["value"][1]) + interval_s + AFTER_SCRAPE_S - now()
    return due if due > 0 else None


def tsdb_hop(
    query: Callable[[str], list[dict[str, Any]]], contract: Contract, walk: Walk, window: str
) -> Hop:
    selector = f'{walk.family}{{job="{walk.job}"}}'
    stored = query(selector)
    facts = {"family": walk.family, "job": walk.job}
    if not stored:
        return Hop(
            "tsdb",
            "",
            CheckFailed(f"{selector} returns nothing", cause="tsdb_series_missing", facts=facts),
        )
    ours = [s for s in stored if s["metric"].get("mode") == walk.mode]
    if not ours:
        modes = sorted({s["metric"].get("mode", "") for s in stored})
        keys = sorted(set().union(*(s["metric"] for s in stored)) - {"__name__"})
        return Hop(
            "tsdb",
            "",
            CheckFailed(
                f'{len(stored)} {selector} series, none with mode="{walk.mode}" '
                f"(modes {modes}, label keys {keys})",
                cause="empty",
            ),
        )
    mode_selector = f'{walk.family}{{job="{walk.job}", mode="{walk.mode}"}}'
    counted = query(f"max(count_over_time({mode_selector}[{window}]))")
    samples = float(counted[0]["value"][1]) if counted else 0.0
    if samples < 2:
        interval_s = walk.interval_s or float(contract.prometheus["scrape_interval_s"])
        return Hop(
            "tsdb",
            "",
            CheckFailed(
                f"{mode_selector}: at most {samples:g} sample(s) per series in [{window}]",
                cause="rate_window_filling",
                facts=facts,
                retry_in_s=next_scrape_in_s(query, mode_selector, interval_s),
            ),
        )
    return Hop("tsdb", f"{len(ours)} {mode_selector} series, {samples:g} samples in [{window}]")


# --- the walk --------------------------------------------------------------------------


def loaded_job(http_client: httpx.Client, prometheus_url: str, job: str) -> dict[str, Any] | None:
    """The job's scrape config as Prometheus runs it (/api/v1/status/config), or None."""
    configs = loaded_scrape_configs(http_client, prometheus_url) or []
    return next((entry for entry in configs if entry.get("job_name") == job), None)


def walk_hops(
    walk: Walk,
    http_client: httpx.Client,
    prometheus: PrometheusConnect,
    prometheus_url: str,
    exporter_url: str,
    contract: Contract,
    window: str,
    backend_scrapes: bool = True,
) -> list[Hop]:
    """The hops in order, up to and including the first that loses the data. A backend
    that does not scrape (``--topology=remote-write``: an agent writes into it) has no
    scrape, accounting or relabel hop of its own to read; the walk goes from the
    exposition straight to its TSDB."""
    hops: list[Hop] = []

    def query(expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = prometheus.custom_query(expr)
        return result

    stamped_age_s: float | None = None
    try:
        exposition = read_exposition(http_client, f"{exporter_url}/metrics")
    except CheckFailed as unparsable:
        return [Hop("exposition", "", unparsable)]
    except httpx.HTTPError as error:  # remote-write topologies: the verifier may not reach it
        hops.append(Hop("exposition", f"unavailable to the verifier ({type(error).__name__})"))
    else:
        hops.append(exposition_hop(exposition, walk))
        stamps = [float(s.timestamp) for s in exposition.samples if s.timestamp is not None]
        stamped_age_s = time.time() - min(stamps) if stamps else None
        if hops[-1].loss:
            return hops

    if not backend_scrapes:
        hops.append(Hop("scrape", "remote-write: the backend scrapes nothing of its own"))
        hops.append(tsdb_hop(query, contract, walk, window))
        return hops
    job_config = loaded_job(http_client, prometheus_url, walk.job)
    active = prometheus.get_targets(state="active")["activeTargets"]
    target = next((t for t in active if t["labels"].get("job") == walk.job), None)
    scraped_series = query(f'scrape_samples_scraped{{job="{walk.job}"}}')
    kept_series = query(f'scrape_samples_post_metric_relabeling{{job="{walk.job}"}}')
    scraped = float(scraped_series[0]["value"][1]) if scraped_series else None
    kept = float(kept_series[0]["value"][1]) if kept_series else None
    # The job's samples that are queryable now; the report series (up, scrape_*) are not
    # counted in scrape_samples_post_metric_relabeling either.
    counted = query(f'count({{job="{walk.job}", __name__!~"up|scrape_.*"}})')
    stored = float(counted[0]["value"][1]) if counted else 0.0
    interval_s = walk.interval_s or float(contract.prometheus["scrape_interval_s"])
    steps: list[Callable[[], Hop]] = [
        lambda: scrape_hop(
            target, job_config, walk, interval_s, int(scraped) if scraped is not None else None
        ),
        lambda: accounting_hop(
            walk,
            scraped,
            kept,
            discard_counters(http_client, prometheus_url),
            stamped_age_s,
            stored,
        ),
        lambda: relabel_hop(job_config, target, contract, walk),
        lambda: tsdb_hop(query, contract, walk, window),
    ]
    for step in steps:
        hops.append(step())
        if hops[-1].loss:
            break
    return hops
