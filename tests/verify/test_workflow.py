"""The CI workflow runs the real verify flow and always uploads the evidence."""

import yaml

from verify.contract import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "verify.yml"


def steps():
    doc = yaml.safe_load(WORKFLOW.read_text())
    return doc["jobs"]["verify"]["steps"]


def test_runs_pytest_verify_with_official_images():
    runs = [s.get("run", "") for s in steps()]
    verify = [r for r in runs if r.startswith("pytest verify/")]
    assert verify, runs
    assert "--offline" not in verify[0]
    assert "--junitxml=reports/" in verify[0]


def test_uploads_reports_even_on_failure():
    upload = next(s for s in steps() if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/"


def test_no_credentials_in_the_workflow():
    text = WORKFLOW.read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD=${password}" in text
    assert "::add-mask::" in text
