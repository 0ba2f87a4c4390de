"""Operator docs that cannot drift: fill the generated blocks of docs/*.md and README.md from
the data files.

A block sits between ``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->``;
everything between the markers is rewritten from the data files (``shadow_mvs/data/``) and
``shadow_mvs.config.settings.OPTIONS``. Text outside the markers is hand-written and left alone.

    python -m shadow_mvs.docs            rewrite the blocks in place
    python -m shadow_mvs.docs --check    exit 1 naming every stale file, change nothing

The README's blocks (its check table, the partial-run example and its counts) are why
adding a check is its module and its data entries only: everything that lists or counts
the checks is rendered from the contract, the example's lines by the reporter itself.
``--readme PATH`` checks or rewrites another copy of the README (default: the checkout's).

Exit 2 when a docs file is malformed (unknown block, missing END, a required block absent).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shadow_mvs.cli import UP_DOWN_FLAGS
from shadow_mvs.config.settings import FALSE_WORDS, OPTIONS, TRUE_WORDS
from shadow_mvs.core.causes import load_causes
from shadow_mvs.core.contract import REPO_ROOT, Check, Contract, load_contract
from shadow_mvs.core.run import VerifyRun
from shadow_mvs.core.triage import (
    COMPOSE_ONLY_TAG,
    COMPOSE_PLACEHOLDER,
    URL_PLACEHOLDERS,
    Node,
    load_triage,
    route,
)
from shadow_mvs.report import reporter
from shadow_mvs.report.contract_summary import SECTIONS
from shadow_mvs.report.markdown import code, codes, table
from shadow_mvs.report.triage_view import AS_WRITTEN, TriageView, node_view

DOCS_DIR = REPO_ROOT / "docs"
BLOCK = re.compile(
    r"(?P<begin><!-- BEGIN GENERATED: (?P<name>[\w-]+) -->)\n"
    r"(?P<body>.*?)"
    r"(?P<end><!-- END GENERATED: (?P=name) -->)",
    re.DOTALL,
)
ANY_MARKER = re.compile(r"<!-- (?:BEGIN|END) GENERATED: [\w-]+ -->")


@dataclass(frozen=True)
class Sources:
    """The data a docs build reads; tests pass edited copies to prove the check bites."""

    contract: Contract
    nodes: dict[str, Node]


class DocsError(Exception):
    """A docs file the generator cannot process (exit code 2)."""


# --- RUNBOOK.md blocks --------------------------------------------------------------------


def compose_expansion(contract: Contract) -> str:
    stack = contract.stack
    files = " ".join(f"-f {f}" for f in stack["compose_files"])
    return f"docker compose -p {stack['project']} --env-file {stack['env_file']} {files}"


def causes_text(view: TriageView) -> str:
    """The causes (shadow_mvs/data/causes.toml) that route to a node, with the sentence printed."""
    return "; ".join(f"{code(c.id)} ({c.sentence})" for c in view.causes) or "—"


def render_triage(src: Sources) -> str:
    stack = src.contract.stack
    parts = [
        f"In the commands below, `{COMPOSE_PLACEHOLDER}` stands for "
        f"`{compose_expansion(src.contract)}`, followed by "
        f"`-f {stack['host_network_override']}` when host networking is on (the default on "
        f"Linux) and `-f {stack['offline_override']}` in offline mode. The `TRIAGE|` lines, "
        "`shadow-mvs explain` and reports/verify.json print the commands already expanded. "
        f"{', '.join(f'`{p}`' for p in URL_PLACEHOLDERS.values())} stand for the URLs being "
        "verified (the contract's endpoints unless given). With "
        f"`--stack=external` every command using `{COMPOSE_PLACEHOLDER}` or tagged "
        f"`{COMPOSE_ONLY_TAG.strip()}` is left out: the suite did not start that stack. So it "
        "is for an installed copy run without a checkout: it has no compose files to name. "
        "Every command reads state or resets the stack; none of them loops or watches."
    ]
    parts += [render_node(node) for node in src.nodes.values() if node.id.startswith("G-")]
    return "\n\n".join(parts)


def render_node(node: Node) -> str:
    view = node_view(node, AS_WRITTEN)  # the docs show the commands as templates
    commands = "\n".join(view.next_commands)
    return (
        f"### {view.id} — {view.title}\n\n"
        f"- **Symptom:** {view.symptom}\n"
        f"- **Likely cause:** {view.likely_cause}\n"
        f"- **Reached from:** {codes(view.reached_from)}\n"
        f"- **Causes:** {causes_text(view)}\n"
        f"- **Next commands:**\n\n"
        f"```bash\n{commands}\n```"
    )


def render_incidents(src: Sources) -> str:
    """Phase 9's incident runbooks, each with the SLOs and alert rules that name it."""
    parts = []
    for node in (n for n in src.nodes.values() if n.id.startswith("R-")):
        named = [o for o in src.contract.slo_objectives if o.r_node == node.id]
        text = render_node(node)
        if named:
            line = (
                f"- **Named by:** SLO {codes(o.name for o in named)}; "
                f"alert {codes(sorted({o.alert for o in named}))}\n"
            )
            text = text.replace("- **Next commands:**", line + "- **Next commands:**", 1)
        parts.append(text)
    return "\n\n".join(parts)


def render_options(src: Sources) -> str:
    rows = []
    for opt in OPTIONS:
        if opt.is_switch:
            values = "switch"
        else:
            values = ", ".join(opt.choices) or ("URL" if opt.flag.endswith("-url") else "value")
        where = "up, down, verify" if opt.flag in UP_DOWN_FLAGS else "verify"
        rows.append([code(opt.flag), code(opt.env), values, where, opt.help])
    true_words = ", ".join(sorted(TRUE_WORDS))
    false_words = ", ".join(sorted(w for w in FALSE_WORDS if w)) + " or empty"
    return (
        table(["flag", "env var", "values", "shadow-mvs subcommands", "help"], rows)
        + "\n\n"
        + "`pytest verify/` takes every flag. A flag wins over its env var; a switch's env "
        + f"var reads {true_words} as on and {false_words} as off. Any other variable set "
        + "but empty is a usage error, not the default. A bad value from a flag, a variable "
        + "or environments.toml is one line naming where it came from, and exit 2 (URLs: "
        + "http(s), a host, a port 1-65535, no whitespace, query or fragment)."
    )


# --- README.md blocks ----------------------------------------------------------------------

README_FILE = REPO_ROOT / "README.md"
README_BLOCKS = ("check-table", "partial-run")
CHECKS_FOLDER = "verify"  # a checkout's checks: verify/test_<check>.py, one per F-code

# The partial-run example selects this check; what it saw (its PASS summary and evidence)
# comes from one real run, everything else from the contract and the reporter itself.
EXAMPLE_CHECK = "exporter"
EXAMPLE_SUMMARY = "{families} families, 66 series, ledger 20 lines = counters"
EXAMPLE_EVIDENCE = {
    "exporter": "{url}/metrics families={families} series=66",
    "ledger": "lines=20 per_stage_counts_match=true fees=19.679137 fees_match=true",
}


def triage_cell(check: Check) -> str:
    """The node of the check's F-code, then the nodes its other causes route to, each with
    the cause's topic (a word of that node's title), e.g. "G-5 (G-8 mini-stack)"."""
    causes = load_causes()
    elsewhere: dict[str, list[str]] = {}
    for cause in (causes[c] for c in check.also_routes):
        topics = elsewhere.setdefault(cause.node, [])
        if cause.topic not in topics:
            topics.append(cause.topic)
    own = route(check.f_code).id
    if not elsewhere:
        return own
    beside = "; ".join(f"{node} {', '.join(topics)}" for node, topics in elsewhere.items())
    return f"{own} ({beside})"


def render_check_table(src: Sources) -> str:
    rows = []
    for check in src.contract.checks:
        f_code = code(check.f_code)
        if check.gated_by:
            f_code += f" (only with {code(check.gated_by)})"
        module = code(f"{CHECKS_FOLDER}/test_{check.name}.py")
        rows.append([check.name, check.proves, f_code, triage_cell(check), module])
    return table(["check", "what it proves", "F-code", "triage", "module"], rows)


def example_run(contract: Contract) -> VerifyRun:
    """A partial run that selected EXAMPLE_CHECK, which passed after one retry."""
    run = VerifyRun(contract)
    run.select({EXAMPLE_CHECK})
    check = run.context(contract.check(EXAMPLE_CHECK))
    check.record.attempts = 2
    facts = {"families": len(contract.families), "url": contract.endpoints["exporter_url"]}
    check.passed(EXAMPLE_SUMMARY.format(**facts))
    for key, text in EXAMPLE_EVIDENCE.items():
        check.evidence(key, text.format(**facts))
    run.settle(EXAMPLE_CHECK, None)
    return run


def elide_skips(lines: list[str]) -> list[str]:
    """Keep the first and the last SKIP line of a run of them; "…" stands for the rest."""
    skips = [i for i, line in enumerate(lines) if line.startswith("SKIP|")]
    if len(skips) <= 3:
        return lines
    return [*lines[: skips[0] + 1], "…", *lines[skips[-1] :]]


def render_partial_run(src: Sources) -> str:
    run = example_run(src.contract)
    report = reporter.verdict(run, None, "external")
    selecting = f"-m {EXAMPLE_CHECK}"
    transcript = [
        f"$ .venv/bin/shadow-mvs verify --stack=external -- {selecting}"
        f"   # = pytest verify/ --stack=external {selecting}",
        *elide_skips(reporter.render(run, None)),
        "$ echo $?",
        "0" if run.passed else "1",
    ]
    selection = json.dumps(report["selection"], ensure_ascii=False)
    same = (
        f'`reports/verify.json` says the same: `"partial": {json.dumps(report["partial"])}`, '
        f'`"selection": {selection}`.'
    )
    wrapped = textwrap.fill(same, width=90, break_long_words=False, break_on_hyphens=False)
    return "```console\n" + "\n".join(transcript) + "\n```\n\n" + wrapped


README_RENDERERS: dict[str, Callable[[Sources], str]] = {
    "check-table": render_check_table,
    "partial-run": render_partial_run,
}


Renderer = Callable[[Sources], str]


def contract_block(render: Callable[[Contract], str]) -> Renderer:
    return lambda src: render(src.contract)


RENDERERS: dict[str, Renderer] = {
    **{section.block: contract_block(section.render) for section in SECTIONS},
    "triage": render_triage,
    "incidents": render_incidents,
    "options": render_options,
}
REQUIRED_BLOCKS = {
    "CONTRACT.md": tuple(section.block for section in SECTIONS),
    "RUNBOOK.md": ("triage", "incidents", "options"),
}


def required_blocks(filename: str) -> tuple[str, ...]:
    name = Path(filename).name
    return README_BLOCKS if name == README_FILE.name else REQUIRED_BLOCKS.get(name, ())


def generate(text: str, src: Sources, filename: str = "<docs>") -> str:
    """``text`` with every generated block rendered afresh from ``src``."""
    found: list[str] = []
    renderers = {**RENDERERS, **README_RENDERERS}

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in renderers:
            raise DocsError(f"{filename}: unknown generated block {name!r}")
        found.append(name)
        body = renderers[name](src).rstrip("\n")
        return f"{match['begin']}\n{body}\n{match['end']}"

    result = BLOCK.sub(fill, text)
    if len(ANY_MARKER.findall(text)) != 2 * len(found):
        raise DocsError(f"{filename}: a BEGIN/END GENERATED marker has no partner")
    missing = [b for b in required_blocks(filename) if b not in found]
    if missing:
        raise DocsError(f"{filename}: required generated block(s) missing: {', '.join(missing)}")
    return result


def default_sources() -> Sources:
    return Sources(load_contract(), load_triage())


def stale_files(
    docs_dir: Path = DOCS_DIR, src: Sources | None = None, readme: Path = README_FILE
) -> list[Path]:
    """Docs files (docs/*.md and the README) whose generated blocks differ from what the
    data files produce."""
    src = src or default_sources()
    missing = [docs_dir / name for name in REQUIRED_BLOCKS if not (docs_dir / name).is_file()]
    missing += [] if readme.is_file() else [readme]
    if missing:
        raise DocsError(f"missing docs file(s): {', '.join(str(p) for p in missing)}")
    stale = []
    for path in [*sorted(docs_dir.glob("*.md")), readme]:
        text = path.read_text(encoding="utf-8")
        if generate(text, src, path.name) != text:
            stale.append(path)
    return stale


def rewrite(
    docs_dir: Path = DOCS_DIR, src: Sources | None = None, readme: Path = README_FILE
) -> list[Path]:
    src = src or default_sources()
    changed = stale_files(docs_dir, src, readme)
    for path in changed:
        path.write_text(generate(path.read_text(encoding="utf-8"), src, path.name), "utf-8")
    return changed


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shadow_mvs.docs", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    parser.add_argument("--docs-dir", type=Path, default=DOCS_DIR, help="default: docs/")
    parser.add_argument("--readme", type=Path, default=README_FILE, help="default: README.md")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files(args.docs_dir, readme=args.readme)
            for path in stale:
                print(
                    f"shadow_mvs.docs: stale: {_shown(path)} (run python -m shadow_mvs.docs)",
                    file=sys.stderr,
                )
            return 1 if stale else 0
        for path in rewrite(args.docs_dir, readme=args.readme):
            print(f"shadow_mvs.docs: rewrote {_shown(path)}", file=sys.stderr)
        return 0
    except DocsError as error:
        print(f"shadow_mvs.docs: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
