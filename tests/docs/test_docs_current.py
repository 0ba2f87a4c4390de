"""docs/*.md and README.md cannot drift from the data files, and every repo path they name
exists.

The generated blocks must equal what ``shadow_mvs.docs`` renders from the data files and
``shadow_mvs.config.settings.OPTIONS``; each test here is also shown to turn red
on a stale copy, an edited data file, a check added to the data, or a path that does not
exist.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shadow_mvs.core import triage
from shadow_mvs.core.contract import CONTRACT_FILE, REPO_ROOT, TRIAGE_FILE, load_contract
from shadow_mvs.core.triage import load_triage
from shadow_mvs.docs import (
    DOCS_DIR,
    README_FILE,
    DocsError,
    Sources,
    default_sources,
    generate,
    stale_files,
)
from shadow_mvs.report.contract_summary import SECTIONS

# Paths of the seed runbook's repository, named only in the mapping note of RUNBOOK.md.
SEED_PREFIXES = ("docs/webui/", "scripts/obs/")
# Created at run time or by scripts/bootstrap.sh, and git-ignored.
RUNTIME_PREFIXES = ("reports/", ".env", ".venv/", ".tools/")

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
INLINE = re.compile(r"`([^`\n]+)`")
TOKEN_SPLIT = re.compile(r"[\s|=;()<>\"'\[\]\\]+")
BRACES = re.compile(r"\{([^{}]*,[^{}]*)\}")
PLACEHOLDER = re.compile(r"<[\w -]+>")  # `verify/test_<check>.py` names every verify/test_*.py


def docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS_DIR.glob("*.md")))


def run_docs_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shadow_mvs.docs", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def copy_docs(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(DOCS_DIR, target)
    return target


# --- the committed docs are current -------------------------------------------------------


def test_committed_docs_equal_generator_output():
    stale = stale_files()
    assert not stale, f"stale docs {[p.name for p in stale]}: run python -m shadow_mvs.docs"


def test_the_readme_lists_and_counts_every_check_of_the_contract():
    readme = README_FILE.read_text(encoding="utf-8")
    checks = load_contract().checks
    for check in checks:
        assert f"| {check.name} | {check.proves} | `{check.f_code}`" in readme
    assert f"RESULT=PASS (partial: 1 of {len(checks)} checks selected)" in readme
    assert f'"of": {len(checks)}}}' in readme


def test_both_docs_files_exist_with_their_blocks():
    for name in ("CONTRACT.md", "RUNBOOK.md"):
        text = (DOCS_DIR / name).read_text(encoding="utf-8")
        generate(text, default_sources(), name)  # raises DocsError on a missing block


def test_every_fact_of_the_data_files_appears_in_the_docs():
    text = docs_text()
    contract = load_contract()
    nodes = load_triage()
    expected = (
        [c.f_code for c in contract.checks]
        + [c.name for c in contract.checks]
        + list(nodes)
        + [route for node in nodes.values() for route in node.routes]
        + [command for node in nodes.values() for command in node.next_commands]
        + [f.name for f in contract.families]
        + [contract.raw["golden_queries"][q] for q in contract.golden_query_names()]
        + [contract.golden_query(q) for q in contract.golden_query_names()]
        + list(contract.forbidden_labels)
        + [v for values in contract.label_values.values() for v in values]
        + list(contract.endpoints.values())
        + [contract.project, contract.prometheus["job"], contract.prometheus["target"]]
        + [contract.datasource[k] for k in ("name", "uid", "url")]
        + [contract.dashboard[k] for k in ("uid", "title", "folder")]
    )
    missing = [fact for fact in expected if fact not in text]
    assert not missing, f"facts from the data files missing in docs/: {missing}"


# --- the check can fail ---------------------------------------------------------------------


def test_check_passes_on_a_fresh_copy_and_exits_1_naming_a_stale_one(tmp_path: Path):
    docs = copy_docs(tmp_path)
    fresh = run_docs_cli("--check", "--docs-dir", str(docs))
    assert fresh.returncode == 0, fresh.stderr

    contract_md = docs / "CONTRACT.md"
    text = contract_md.read_text(encoding="utf-8")
    assert "`http://127.0.0.1:9109`" in text
    contract_md.write_text(text.replace("`http://127.0.0.1:9109`", "`http://127.0.0.1:9199`"))

    stale = run_docs_cli("--check", "--docs-dir", str(docs))
    assert stale.returncode == 1
    assert "stale:" in stale.stderr
    assert "CONTRACT.md" in stale.stderr
    assert "RUNBOOK.md" not in stale.stderr
    assert "9199" in contract_md.read_text(), "--check must not rewrite anything"


def test_rewrite_repairs_a_stale_copy(tmp_path: Path):
    docs = copy_docs(tmp_path)
    runbook = docs / "RUNBOOK.md"
    committed = runbook.read_text(encoding="utf-8")
    runbook.write_text(committed.replace("### G-3", "### G-3 (edited by hand)"))

    result = run_docs_cli("--docs-dir", str(docs))
    assert result.returncode == 0, result.stderr
    assert "rewrote" in result.stderr
    assert runbook.read_text(encoding="utf-8") == committed


def edited_copy(source: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {source.name}: update this test's edit"
    target = tmp_path / source.name
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('prometheus_url = "http://127.0.0.1:9092"', 'prometheus_url = "http://127.0.0.1:9093"'),
        ("scrape_interval_s = 5", "scrape_interval_s = 15"),
        ('"broker_order_id"]', '"broker_order_id", "symbol"]'),
        ("max_series = 400", "max_series = 800"),
        ("[5m]", "[10m]"),
        ("budget_s = 30", "budget_s = 45"),
        ('reason = ["max_position",', 'reason = ["max_leverage", "max_position",'),
    ],
)
def test_an_edited_contract_without_regenerating_is_stale(tmp_path: Path, old: str, new: str):
    contract = load_contract(edited_copy(CONTRACT_FILE, tmp_path, old, new))
    stale = stale_files(DOCS_DIR, Sources(contract, load_triage()))
    assert [p.name for p in stale] == ["CONTRACT.md"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('title = "Dashboard missing (UID not visible)"', 'title = "Dashboard gone"'),
        ("head -n 60", "head -n 80"),
        ('from = ["F-FAIL-TARGETS"]', 'from = ["F-FAIL-TARGETS:renamed"]'),
    ],
)
def test_an_edited_triage_tree_without_regenerating_is_stale(tmp_path: Path, old: str, new: str):
    nodes = load_triage(edited_copy(TRIAGE_FILE, tmp_path, old, new))
    stale = stale_files(DOCS_DIR, Sources(load_contract(), nodes))
    assert [p.name for p in stale] == ["RUNBOOK.md"]


# A new check's data: its [checks.*] entry and the route of its F-code (its module,
# verify/test_alerting.py, is not read by the docs).
NEW_CHECK = """
[checks.canary]
f_code = "F-FAIL-CANARY"
proves = "a canary series reaches Prometheus"
budget_s = 20
depends_on = ["rules"]
"""
G2_ROUTES = 'from = ["F-FAIL-PROMETHEUS", "F-FAIL-RULES"]'


def test_a_check_added_to_the_data_changes_the_readme_table_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    contract = load_contract(
        edited_copy(CONTRACT_FILE, tmp_path, "\n[retry]\n", NEW_CHECK + "\n[retry]\n")
    )
    new_routes = G2_ROUTES.replace("]", ', "F-FAIL-CANARY"]')
    nodes = load_triage(edited_copy(TRIAGE_FILE, tmp_path, G2_ROUTES, new_routes))
    # route() reads the triage tree a run uses: point it at the copy that routes the new code.
    monkeypatch.setattr(triage, "load_triage", lambda: nodes)
    src = Sources(contract, nodes)

    assert README_FILE in stale_files(DOCS_DIR, src)
    readme = generate(README_FILE.read_text(encoding="utf-8"), src, README_FILE.name)
    total = len(load_contract().checks) + 1
    row = "| canary | a canary series reaches Prometheus | `F-FAIL-CANARY` | G-2 |"
    assert f"{row} `verify/test_canary.py` |" in readme
    assert f"RESULT=PASS (partial: 1 of {total} checks selected)" in readme
    assert f'"alerting", "canary"], "of": {total}}}' in readme
    assert "SKIP|canary|not selected" in readme  # the last SKIP line of the example


def copy_readme(tmp_path: Path) -> Path:
    target = tmp_path / "README.md"
    shutil.copyfile(README_FILE, target)
    return target


def test_check_names_a_hand_edited_readme_as_stale(tmp_path: Path):
    docs, readme = copy_docs(tmp_path), copy_readme(tmp_path)
    fresh = run_docs_cli("--check", "--docs-dir", str(docs), "--readme", str(readme))
    assert fresh.returncode == 0, fresh.stderr

    text = readme.read_text(encoding="utf-8")
    total = len(load_contract().checks)
    count = f"1 of {total} checks selected"
    assert count in text
    readme.write_text(text.replace(count, f"1 of {total - 1} checks selected"))
    stale = run_docs_cli("--check", "--docs-dir", str(docs), "--readme", str(readme))
    assert stale.returncode == 1
    assert "stale:" in stale.stderr
    assert "README.md" in stale.stderr
    assert "CONTRACT.md" not in stale.stderr

    repaired = run_docs_cli("--docs-dir", str(docs), "--readme", str(readme))
    assert repaired.returncode == 0, repaired.stderr
    assert readme.read_text(encoding="utf-8") == text


def test_a_readme_without_its_check_table_exits_2(tmp_path: Path):
    readme = copy_readme(tmp_path)
    text = readme.read_text(encoding="utf-8")
    readme.write_text(
        re.sub(r"<!-- BEGIN GENERATED: check-table -->.*?-->\n", "", text, flags=re.S)
    )
    result = run_docs_cli("--check", "--readme", str(readme))
    assert result.returncode == 2
    assert "required generated block(s) missing: check-table" in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("GENERATED: checks -->", "GENERATED: chekcs -->", "unknown generated block"),
        ("<!-- END GENERATED: options -->", "", "no partner"),
        ("<!-- BEGIN GENERATED: triage -->\n", "", "no partner"),
    ],
)
def test_malformed_markers_exit_2(tmp_path: Path, old: str, new: str, complaint: str):
    docs = copy_docs(tmp_path)
    for path in docs.glob("*.md"):
        path.write_text(path.read_text(encoding="utf-8").replace(old, new))
    result = run_docs_cli("--check", "--docs-dir", str(docs))
    assert result.returncode == 2
    assert complaint in result.stderr


def test_a_missing_docs_file_exits_2(tmp_path: Path):
    docs = copy_docs(tmp_path)
    (docs / "RUNBOOK.md").unlink()
    result = run_docs_cli("--check", "--docs-dir", str(docs))
    assert result.returncode == 2
    assert "missing docs file" in result.stderr


def test_a_deleted_required_block_is_an_error():
    text = (DOCS_DIR / "CONTRACT.md").read_text(encoding="utf-8")
    without = re.sub(
        r"<!-- BEGIN GENERATED: labels -->.*?<!-- END GENERATED: labels -->", "", text, flags=re.S
    )
    with pytest.raises(DocsError, match="required generated block"):
        generate(without, default_sources(), "CONTRACT.md")


# --- `shadow-mvs explain contract` prints CONTRACT.md's sections ------------------------------


def sections_in(markdown: str) -> list[tuple[str, str | None]]:
    """(generated block, the ``## `` heading it sits under), in the file's order."""
    found, heading = [], None
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading = line.removeprefix("## ")
        begin = re.match(r"<!-- BEGIN GENERATED: ([\w-]+) -->", line)
        if begin:
            found.append((begin[1], heading))
    return found


def test_explain_contract_has_the_sections_and_headings_of_contract_md():
    text = (DOCS_DIR / "CONTRACT.md").read_text(encoding="utf-8")
    assert sections_in(text) == [(s.block, s.heading) for s in SECTIONS]


def test_a_renamed_contract_heading_is_caught():
    text = (DOCS_DIR / "CONTRACT.md").read_text(encoding="utf-8")
    renamed = text.replace("## Golden queries\n", "## Queries\n", 1)
    assert sections_in(renamed) != [(s.block, s.heading) for s in SECTIONS]


# --- every repo path named in backticks exists -----------------------------------------------


def expand_braces(token: str) -> list[str]:
    match = BRACES.search(token)
    if match is None:
        return [token]
    head, tail = token[: match.start()], token[match.end() :]
    return list(
        itertools.chain.from_iterable(
            expand_braces(head + choice + tail) for choice in match[1].split(",")
        )
    )


def backticked_paths(markdown: str) -> set[str]:
    """Relative paths (tokens with a '/') in code spans and fenced blocks."""
    spans = FENCE.findall(markdown)
    spans += INLINE.findall(FENCE.sub("", markdown))
    paths = set()
    for span in spans:
        for raw in TOKEN_SPLIT.split(PLACEHOLDER.sub("*", span)):
            token = raw.strip("`*").rstrip(",.:")
            if "/" not in token or "://" in token or ":" in token or "{{" in token:
                continue
            if token.startswith(("/", "$", "~", "-")):
                continue
            paths.update(expand_braces(token))
    return paths


def missing_paths(markdown: str, root: Path) -> list[str]:
    missing = []
    for path in sorted(backticked_paths(markdown)):
        if path.startswith(SEED_PREFIXES + RUNTIME_PREFIXES):
            continue
        if not any(root.glob(path.rstrip("/"))):
            missing.append(path)
    return missing


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS_DIR.glob("*.md")))
def test_every_backticked_path_exists(doc: str):
    markdown = (DOCS_DIR / doc).read_text(encoding="utf-8")
    assert backticked_paths(markdown), f"{doc} names no repo path at all: extractor broken?"
    assert missing_paths(markdown, REPO_ROOT) == []


def test_path_check_catches_a_missing_path():
    markdown = (
        "Run `bash scripts/bootstrp.sh` then `compose/grafana/`.\n\n"
        "```bash\nsed -n 1p compose/prometheus/nope.yml\n```\n"
        "Seed only: `scripts/obs/shadow_mvs_local_{up,down}.sh`; output: `reports/x.json`.\n"
        "Globs: `verify/test_*.py`, `compose/{exporter,nothing}.yml`.\n"
    )
    assert missing_paths(markdown, REPO_ROOT) == [
        "compose/nothing.yml",
        "compose/prometheus/nope.yml",
        "scripts/bootstrp.sh",
    ]


# The READMEs mix repo paths with image names (`prom/prometheus`) and prose in code
# (`ps/logs`): there, a path is a token that starts at one of the repo's top-level entries.
READMES = ("README.md", "bench/README.md", "reports/README.md")


def missing_rooted_paths(markdown: str, root: Path) -> list[str]:
    top = {entry.name for entry in root.iterdir()}
    rooted = "\n".join(f"`{p}`" for p in backticked_paths(markdown) if p.split("/")[0] in top)
    return missing_paths(rooted, root)


@pytest.mark.parametrize("readme", READMES)
def test_every_repo_path_a_readme_names_exists(readme: str):
    markdown = (REPO_ROOT / readme).read_text(encoding="utf-8")
    assert missing_rooted_paths(markdown, REPO_ROOT) == []


def test_readme_path_check_catches_a_module_that_moved():
    markdown = (
        "| `verify/plugin.py` | wiring |\n| `fixtures/stack.py` | the stack fixture |\n"
        "Images: `prom/prometheus`, `grafana/grafana`; `shadow_mvs/plugin/wiring.py`.\n"
        "A check: `verify/test_<check>.py`, not `verify/check_<check>.py`.\n"
    )
    assert missing_rooted_paths(markdown, REPO_ROOT) == [
        "fixtures/stack.py",
        "verify/check_*.py",
        "verify/plugin.py",
    ]
