"""Nothing leaks: one real ``pytest verify/`` process (external stack, Docker-free) against
loopback servers that echo every request header and every spelling of every secret back
in their bodies and errors — a 401 from Prometheus, a redirect from Grafana's /api/health to
another port, 500s and garbage exposition — then every byte it printed and every file it
wrote (verify.json, junit.xml, the forensics bundle, the GitHub step summary and
annotation) is scanned for every form of every secret: zero occurrences.

The scan builds its own list of spellings (it does not ask the redactor), and the run
proves the bait arrived: forensics files hold the ``***`` the redactor left in its place.
The server Grafana redirects to is a second port: it must see no request at all."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

from fixtures.loopback import QuietHandler, serving
from shadow_mvs.core.contract import REPO_ROOT

TOKEN = "glsa_T0k&n<q\"u/o+t=e'x"  # Grafana service-account token (from a _FILE)
PROM_USER, PROM_PASSWORD = "reader", "p&ss w<rd\"ä'x"  # in the Prometheus URL
API_KEY = "k3y-Secret/+=&<>"  # a secret-named header
TENANT = "tenant-Gamma7"  # a tenant header the environment lists under secrets
EXPORTER_USER, EXPORTER_PASSWORD = "scraper", "Zq"  # a short secret
ADMIN_USER, ADMIN_PASSWORD = "admin", "adm!n-Pa55&w0rd"  # .env Grafana admin (not sent)


def secret_forms(secret: str, user: str | None = None) -> set[str]:
    """The spellings the issue names, built here independently of the redactor."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        escape(secret),
        escape(secret, {'"': "&quot;", "'": "&apos;"}),
        html.escape(secret),
        repr(secret)[1:-1],
        repr(secret.encode())[2:-1],
    }
    if user is not None:
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
        forms.add(f"{user}:{secret}")
        forms.add(f"{quote(user)}:{quote(secret, safe='')}")
    return {f for f in forms if f}


SECRETS = {
    "token": secret_forms(TOKEN),
    "prometheus password": secret_forms(PROM_PASSWORD, PROM_USER),
    "api key": secret_forms(API_KEY),
    "tenant": secret_forms(TENANT),
    "exporter password": secret_forms(EXPORTER_PASSWORD, EXPORTER_USER),
    "admin password": secret_forms(ADMIN_PASSWORD, ADMIN_USER),
}
RAW = [TOKEN, PROM_PASSWORD, API_KEY, TENANT, EXPORTER_PASSWORD, ADMIN_PASSWORD]


def bait() -> str:
    """Every spelling of every secret, plus each raw secret split at a newline."""
    parts = [form for forms in SECRETS.values() for form in sorted(forms)]
    parts += [f"{s[: len(s) // 2]}\n{s[len(s) // 2 :]}" for s in RAW if len(s) >= 4]
    return "\n".join(parts)


def occurrences(text: str) -> list[str]:
    """Every spelling found; a short secret counts where it stands as a word (after a
    non-alphanumeric character or an escaped line break, as in a JSON string)."""
    found = []
    for name, forms in SECRETS.items():
        for form in forms:
            if len(form) < 4:
                start = r"(?:(?<![0-9A-Za-z])|(?<=\\[nrt]))"
                pattern = rf"{start}{re.escape(form)}(?![0-9A-Za-z])"
            else:
                pattern = re.escape(form)
            found += [f"{name}: {form!r}"] * len(re.findall(pattern, text))
    for secret in RAW:
        if len(secret) >= 4:
            half = len(secret) // 2
            split = f"{secret[:half]}\n{secret[half:]}"
            for spelled in (split, json.dumps(split)[1:-1], repr(split)[1:-1]):
                found += [f"split {secret[:2]}…"] * text.count(spelled)
    return found


class Echo(QuietHandler):
    """Echoes the request's headers and all the bait; per-path answers make the checks
    fail in every way the issue probed."""

    answers: dict[str, tuple[int, str]]  # path prefix -> (status, content type)
    elsewhere: str
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def answer(self) -> None:
        self.seen.append({"path": self.path, **dict(self.headers.items())})
        headers = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        body = f"{self.path}\n{headers}\n{json.dumps(dict(self.headers.items()))}\n{bait()}\n"
        for prefix, (status, kind) in self.answers.items():
            if self.path.startswith(prefix):
                if 300 <= status < 400:
                    self.send_response(status)
                    self.send_header("Location", f"{self.elsewhere}/login?t={quote(TOKEN)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.reply(status, body.encode(), kind)
                return
        self.reply(500, body.encode(), "text/plain")


@contextmanager
def echo_server(
    answers: dict[str, tuple[int, str]], elsewhere: str = ""
) -> Iterator[tuple[int, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (Echo,), {"answers": answers, "elsewhere": elsewhere, "seen": seen})
    with serving(handler) as port:
        yield port, seen


def run_leaky_verify(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    with ExitStack() as stack:
        elsewhere_port, elsewhere_seen = stack.enter_context(echo_server({}))
        elsewhere = f"http://127.0.0.1:{elsewhere_port}"
        exporter_port, _ = stack.enter_context(echo_server({"/": (200, "text/plain")}))
        prometheus_port, _ = stack.enter_context(echo_server({"/": (401, "text/plain")}))
        grafana_port, grafana_seen = stack.enter_context(
            echo_server({"/api/health": (302, ""), "/": (500, "application/json")}, elsewhere)
        )
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        env_file = tmp_path / "admin.env"
        env_file.write_text(
            f"GF_SECURITY_ADMIN_USER={ADMIN_USER}\nGF_SECURITY_ADMIN_PASSWORD='{ADMIN_PASSWORD}'\n"
        )
        userinfo = f"{quote(PROM_USER, safe='')}:{quote(PROM_PASSWORD, safe='')}"
        environments = tmp_path / "environments.toml"
        environments.write_text(
            "[leak]\n"
            'stack = "external"\n'
            f'exporter_url = "http://127.0.0.1:{exporter_port}"\n'
            f'prometheus_url = "http://{userinfo}@127.0.0.1:{prometheus_port}"\n'
            f'grafana_url = "http://127.0.0.1:{grafana_port}"\n'
            "[leak.secrets.grafana]\n"
            'token = "LEAK_GRAFANA_TOKEN"\n'
            "[leak.secrets.prometheus]\n"
            'headers = "LEAK_PROMETHEUS_HEADERS"\n'
            "[leak.secrets.exporter]\n"
            'basic = "LEAK_EXPORTER_AUTH"\n'
        )
        reports = tmp_path / "reports"
        summary = tmp_path / "step-summary.md"
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SHADOW_MVS_", "GRAFANA_", "PROMETHEUS_"))
            },
            "SHADOW_MVS_ENVIRONMENTS_FILE": str(environments),
            "SHADOW_MVS_ENV_FILE": str(env_file),
            "LEAK_GRAFANA_TOKEN_FILE": str(token_file),
            "LEAK_PROMETHEUS_HEADERS": f"X-Api-Key={API_KEY},X-Scope-OrgID={TENANT}",
            "LEAK_EXPORTER_AUTH": f"{EXPORTER_USER}:{EXPORTER_PASSWORD}",
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(summary),
        }
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "verify/",
                "--env=leak",
                "--budget-scale=0.1",
                "-p",
                "no:cacheprovider",
                "-rA",
                f"--json-report-file={reports / 'verify.json'}",
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        facts = {
            "elsewhere_seen": list(elsewhere_seen),
            "grafana_seen": list(grafana_seen),
            "files": [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != tmp_path]
            + [summary],
        }
    return result, facts


def test_no_secret_in_any_form_leaves_a_verify_run(tmp_path: Path) -> None:
    result, facts = run_leaky_verify(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "RESULT=FAIL" in output
    # The failures are the ones the servers provoke, in their own words.
    assert "answered 302 to http://127.0.0.1:" in output
    assert "a login proxy in front of Grafana?" in output
    assert "Prometheus auth failed" in output
    assert "::error title=" in output
    files = facts["files"]
    names = {p.name for p in files}
    assert {"verify.json", "junit.xml", "step-summary.md", "exporter-metrics.txt"} <= names
    assert any("***" in p.read_text(errors="replace") for p in files if p.suffix == ".txt")
    leaks = {"terminal": occurrences(output)}
    for path in files:
        leaks[str(path)] = occurrences(path.read_text(errors="replace"))
    assert {where: found for where, found in leaks.items() if found} == {}
    # Grafana's redirect was not followed: the other port saw nothing at all.
    assert facts["elsewhere_seen"] == []
    assert facts["grafana_seen"], "the run reached the echoing Grafana"


def test_the_scan_sees_every_secret_in_the_bait() -> None:
    """The scan can fail: unredacted, the servers' bait holds every secret in every form."""
    found = occurrences(bait())
    for name, forms in SECRETS.items():
        assert all(f"{name}: {form!r}" in found for form in forms), name
    assert sum(item.startswith("split ") for item in found) >= len(RAW) - 1
