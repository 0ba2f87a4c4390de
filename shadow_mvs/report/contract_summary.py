"""The contract as people read it: the tables docs/CONTRACT.md carries between its
generated markers, rendered from ``data/contract.toml``. ``python -m shadow_mvs.docs`` writes
them into the checkout's docs; ``shadow-mvs explain contract`` prints the same sections
where no checkout (and so no docs/) is at hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shadow_mvs.config.settings import OPTIONS
from shadow_mvs.core.contract import Contract, checkout_root, load_contract
from shadow_mvs.core.triage import route
from shadow_mvs.report.markdown import code, codes, table

EXPLAIN_CONTRACT = "shadow-mvs explain contract"


def contract_pointer() -> str:
    """Where the final ``INFO|See Contract:`` line sends the operator: the checkout's
    docs/CONTRACT.md, else the command that prints the same tables from an installed copy."""
    return str(load_contract().raw["docs"]) if checkout_root() is not None else EXPLAIN_CONTRACT


def render_endpoints(contract: Contract) -> str:
    rows = []
    for key, url in contract.endpoints.items():
        component = key.removesuffix("_url")
        rows.append([component, code(url), code(urlsplit(url).port)])
    return table(["component", "URL (host)", "port"], rows)


def render_stack(contract: Contract) -> str:
    stack = contract.stack
    rows = [
        ["contract version", code(contract.version)],
        ["compose project", code(stack["project"])],
        ["compose files (always)", codes(stack["compose_files"])],
        ["Linux host-network override", code(stack["host_network_override"])],
        ["offline override", code(stack["offline_override"])],
        ["mini-stack (G-8 only; never combined)", code(stack["mini_stack_file"])],
        ["env file (git-ignored)", code(stack["env_file"])],
        ["pipeline modes", codes(stack["modes"]) + f" (default {code(stack['default_mode'])})"],
    ]
    return table(["what", "value"], rows)


def render_prometheus(contract: Contract) -> str:
    prom = contract.prometheus
    rows = [
        ["job", code(prom["job"])],
        ["target", code(prom["target"])],
        ["scrape interval", f"{prom['scrape_interval_s']} s"],
        ["config file", code(prom["config_file"])],
    ]
    return table(["what", "value"], rows)


def render_alerting(contract: Contract) -> str:
    alerting = contract.alerting
    drills = ", ".join(
        f"{code(node)} {code(d['profile'])} → {code(d['alert'])}"
        for node, d in contract.drills.items()
    )
    rows = [
        ["Alertmanager", code(contract.endpoints["alertmanager_url"])],
        ["config file (amtool check-config in the preflight)", code(alerting["config_file"])],
        ["Prometheus sends alerts to", code(alerting["prometheus_target"])],
        ["routes on the rules' label (one route per value)", code(alerting["route_label"])],
        [
            "local receiver (records every notification, read-only)",
            code(alerting["receiver_url"] + alerting["receiver_path"]),
        ],
        ["receiver's compose service", code(alerting["receiver_service"])],
        ["drills (`shadow-mvs drill`, compose only): profile → alert", drills],
    ]
    return table(["what", "value"], rows)


def render_grafana_access(contract: Contract) -> str:
    grafana = contract.grafana
    return table(
        ["what", "value"],
        [
            ["verifier login (user:pass)", code(grafana["credentials_env"])],
            [
                "fallback: Grafana admin (from env or .env)",
                f"{code(grafana['admin_user_env'])}, {code(grafana['admin_password_env'])}",
            ],
            ["stand-in marker in /api/health version", code(grafana["standin_marker"])],
        ],
    )


def render_datasource(contract: Contract) -> str:
    ds = contract.datasource
    rows = [
        ["name", code(ds["name"])],
        ["uid", code(ds["uid"])],
        ["type", code(ds["type"])],
        ["url", code(ds["url"])],
        ["default", code(str(ds["is_default"]).lower())],
        ["provisioning file", code(ds["file"])],
        ["mini-stack URL (a default pointing here is G-8)", code(ds["mini_stack_url"])],
    ]
    return table(["field", "value"], rows)


def render_dashboard(contract: Contract) -> str:
    dash = contract.dashboard
    substituted = ", ".join(f"`${k}` = {code(v)}" for k, v in contract.variables.items())
    rows = [
        ["uid", code(dash["uid"])],
        ["title", code(dash["title"])],
        ["folder", code(dash["folder"])],
        ["variables", codes(f"${v}" for v in dash["variables"])],
        ["values the checks substitute", substituted],
        ["row groups (in order)", ", ".join(dash["row_groups"])],
        ["JSON file", code(dash["file"])],
        ["provider file", code(dash["provider_file"])],
        ["provider path (in the container)", code(dash["provider_path"])],
    ]
    return table(["field", "value"], rows)


def render_families(contract: Contract) -> str:
    rows = [
        [code(f.name), f.type, codes(f.labels), "yes" if f.required else "no"]
        for f in contract.families
    ]
    histograms = [f for f in contract.families if f.type == "histogram"]
    text = table(["family", "type", "labels", "required"], rows)
    for fam in histograms:
        text += (
            f"\n\n{code(fam.name)} is exposed as {codes(fam.sample_names)}; "
            "the buckets add the `le` label."
        )
    return text


def render_labels(contract: Contract) -> str:
    rows = [[code(k), codes(v)] for k, v in contract.label_values.items()]
    return table(["label", "allowed values"], rows)


def render_cardinality(contract: Contract) -> str:
    return (
        f"Forbidden as labels: {codes(contract.forbidden_labels)}.\n\n"
        f"Series budget: at most **{contract.max_series}** series on the exporter's "
        f"/metrics (every sample line counts, histogram buckets included)."
    )


def render_golden_queries(contract: Contract) -> str:
    default = contract.stack["default_mode"]
    rows = [
        [
            name,
            code(contract.raw["golden_queries"][name]),
            code(contract.golden_query(name)),
        ]
        for name in contract.golden_query_names()
    ]
    return table(["name", "query (`$mode` = the run's mode)", f"as run with mode {default}"], rows)


def render_checks(contract: Contract) -> str:
    # The G-node comes from route(), the same lookup the reporter uses on a red check.
    rows = [
        [
            c.name,
            code(c.f_code),
            route(c.f_code).id,
            f"{c.budget_s:g} s",
            ", ".join(c.depends_on) or "—",
        ]
        for c in contract.checks
    ]
    return (
        table(["check (verify order)", "F-code", "G-node", "retry budget", "depends on"], rows)
        + "\n\n"
        + f"All green is `F-OK`. Retries poll every {contract.retry_interval_s:g} s, except "
        + "where the failure says when a new look can first see more (the next scrape for a "
        + "filling rate window, a panel's next step-aligned point); "
        + f"each HTTP request times out after {contract.request_timeout_s:g} s."
    )


def render_slo(contract: Contract) -> str:
    modes = contract.stack["modes"]
    rows = [
        [
            o.name,
            code(o.query),
            *(f"{o.bound(m)} {o.unit}" for m in modes),
            o.r_node,
            code(o.alert),
            o.why,
        ]
        for o in contract.slo_objectives
    ]
    header = ["SLO", "PromQL", *(f"healthy in {m}" for m in modes), "breach names", "alert", "why"]
    return (
        f"Window: `$window` = {code(contract.slo_window)}; `$mode` = the run's mode.\n\n"
        + table(header, rows)
        + "\n\nA breach is a `WARN|slo|…` line and the check passes; with `--slo-gate` "
        + f"(env {code(_slo_gate_env())}) it fails {code(contract.check('slo').f_code)} "
        + "and the triage prints the incident runbook the SLO names."
    )


def _slo_gate_env() -> str:
    return next(opt.env for opt in OPTIONS if opt.flag == "--slo-gate")


@dataclass(frozen=True)
class Section:
    block: str  # the generated block's name in docs/CONTRACT.md
    heading: str  # the ``## `` heading it sits under there
    render: Callable[[Contract], str]


# In docs/CONTRACT.md's order (tests/docs/test_docs_current.py holds the two together).
SECTIONS = (
    Section("endpoints", "Endpoints", render_endpoints),
    Section("stack", "Compose stack", render_stack),
    Section("prometheus", "Prometheus", render_prometheus),
    Section("alerting", "Alerting", render_alerting),
    Section("grafana-access", "Grafana access", render_grafana_access),
    Section("datasource", "Grafana datasource", render_datasource),
    Section("dashboard", "Grafana dashboard", render_dashboard),
    Section("families", "Metric families", render_families),
    Section("labels", "Allowed label values", render_labels),
    Section("cardinality", "Forbidden labels and series budget", render_cardinality),
    Section("golden-queries", "Golden queries", render_golden_queries),
    Section("checks", "Checks", render_checks),
    Section("slo", "Session SLOs", render_slo),
)


def contract_summary(contract: Contract) -> str:
    """Every section of the contract, as ``shadow-mvs explain contract`` prints it."""
    parts = [
        f"# Shadow-MVS contract {contract.version}",
        "The facts the suite checks the stack against (shadow_mvs/data/contract.toml), "
        "as in docs/CONTRACT.md.",
    ]
    parts += [f"## {s.heading}\n\n{s.render(contract).rstrip()}" for s in SECTIONS]
    return "\n\n".join(parts)
