"""The CI workflow runs the real verify flow, always uploads the evidence, and is hardened:
zizmor (offline) finds nothing, and the file validates against GitHub's workflow schema
(check-jsonschema's vendored copy). Both tools come with the dev extras."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shadow_mvs.core.contract import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "verify.yml"
FULL_SHA = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
# Any network use would hang on or be refused by this proxy: both tools must work offline.
# No GitHub token either, so zizmor's online audits cannot switch themselves on.
OFFLINE_ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")},
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
}
# An unhardened copy of the workflow, as it was before: the tests prove the tools see it.
UNHARDENED = """\
name: unhardened
on: [push]
permissions:
  contents: read
jobs:
  verify:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: pytest verify/
      - uses: actions/upload-artifact@v4
        with:
          path: reports/
"""


def doc():
    return yaml.safe_load(WORKFLOW.read_text())


def steps():
    return doc()["jobs"]["verify"]["steps"]


def tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} missing: pip install -e '.[dev]' (scripts/bootstrap.sh does)")
    return found


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, capture_output=True, text=True, env=OFFLINE_ENV, timeout=120, check=False
    )


def test_runs_pytest_verify_with_official_images():
    runs = [s.get("run", "") for s in steps()]
    verify = [r for r in runs if r.startswith("pytest verify/")]
    assert verify, runs
    assert "--offline" not in verify[0]
    assert "--junitxml" not in verify[0], "reports/junit.xml is written by default"


def test_uploads_reports_even_on_failure():
    upload = next(s for s in steps() if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/"


def test_no_credentials_in_the_workflow():
    text = WORKFLOW.read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD=${password}" in text
    assert "::add-mask::" in text


def test_actions_pinned_to_full_commit_shas_with_version_comment():
    lines = [line for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert len(lines) == 3
    for line in lines:
        ref, _, comment = line.split("uses:", 1)[1].partition("#")
        assert FULL_SHA.match(ref.strip()), line
        assert re.fullmatch(r" v\d+\.\d+\.\d+", comment), line


def test_least_privilege_and_no_persisted_credentials():
    workflow = doc()
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["verify"]["permissions"] == {"contents": "read"}
    checkout = next(s for s in steps() if "actions/checkout@" in s.get("uses", ""))
    assert checkout["with"]["persist-credentials"] is False


def test_zizmor_offline_finds_nothing():
    result = run_tool(tool("zizmor"), "--offline", "--pedantic", str(WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_sees_an_unhardened_workflow(tmp_path):
    (tmp_path / "ci.yml").write_text(UNHARDENED)
    result = run_tool(tool("zizmor"), "--offline", str(tmp_path / "ci.yml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "unpinned-uses" in output
    assert "artipacked" in output


def test_workflow_matches_github_schema_offline():
    result = run_tool(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(UNHARDENED.replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"))
    result = run_tool(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)
    )
    assert result.returncode != 0, result.stdout
