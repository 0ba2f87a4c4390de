"""The plain alternative: the runbook's Phase F "expected outcomes" checked the way an
operator would by hand — one ``curl -fsS`` per request, Python to read the JSON.

Exporter /metrics carries shadow_mvs_up and peak_trade_pipeline_events_total; Prometheus is
ready and job="shadow_mvs" is UP; the golden queries return data; Grafana is healthy, its
default datasource is prometheus-local (uid and URL from the runbook) and the dashboard UID
is visible. One attempt per check, no retries, no triage: PASS/FAIL lines and RESULT. It
deliberately imports nothing from this repository, so it costs what the operator's
curl-and-python commands cost.
Used by bench/warm_verify.py as the baseline; run it alone with
``python bench/bare_phase_f.py`` (URLs: SHADOW_MVS_EXPORTER_URL, …_PROMETHEUS_URL,
…_GRAFANA_URL; Grafana login: GRAFANA_AUTH=user:pass, else .env).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

EXPORTER = os.environ.get("SHADOW_MVS_EXPORTER_URL", "http://127.0.0.1:9109")
PROMETHEUS = os.environ.get("SHADOW_MVS_PROMETHEUS_URL", "http://127.0.0.1:9092")
GRAFANA = os.environ.get("SHADOW_MVS_GRAFANA_URL", "http://127.0.0.1:3000")
TIMEOUT_S = 2.0
FAMILIES = ("shadow_mvs_up", "peak_trade_pipeline_events_total")
QUERIES = (
    'up{job="shadow_mvs"}',
    'sum by (mode, stage) (rate(peak_trade_pipeline_events_total{mode="shadow"}[5m]))',
)
DATASOURCE = {
    "name": "prometheus-local",
    "uid": "peaktrade-prometheus-local",
    "url": "http://host.docker.internal:9092",
}
DASHBOARD_UID = "peaktrade-shadow-pipeline-mvs"


def grafana_auth() -> str | None:
    pair = grafana_pair()
    return "Basic " + base64.b64encode(pair.encode()).decode() if pair else None


def grafana_pair() -> str:
    """``user:pass`` for Grafana: GRAFANA_AUTH, else the admin login in .env ("" if none)."""
    pair = os.environ.get("GRAFANA_AUTH", "")
    if ":" not in pair:
        env_file = Path(__file__).resolve().parents[1] / ".env"
        values = {}
        if env_file.exists():
            for line in env_file.read_text().splitlines():
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip("'\"")
        user = values.get("GF_SECURITY_ADMIN_USER", "admin")
        password = values.get("GF_SECURITY_ADMIN_PASSWORD", "")
        pair = f"{user}:{password}" if password else ""
    return pair


def get(url: str, auth: str | None = None) -> bytes:
    # The credential goes through curl's config on stdin, never onto a command line.
    config = f'header = "Authorization: {auth}"\n' if auth else ""
    result = subprocess.run(
        ["curl", "-fsS", "--max-time", str(TIMEOUT_S), "--config", "-", url],
        input=config.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise OSError(f"curl {url}: {result.stderr.decode().strip()}")
    return result.stdout


def get_json(url: str, auth: str | None = None) -> Any:
    return json.loads(get(url, auth))


def check_exporter() -> str:
    text = get(f"{EXPORTER}/metrics").decode()
    missing = [f for f in FAMILIES if f"\n{f}" not in "\n" + text]
    if missing:
        raise AssertionError(f"missing {missing}")
    return f"{EXPORTER}/metrics has {', '.join(FAMILIES)}"


def check_prometheus() -> str:
    get(f"{PROMETHEUS}/-/ready")
    targets = get_json(f"{PROMETHEUS}/api/v1/targets")["data"]["activeTargets"]
    ours = [t for t in targets if t["labels"].get("job") == "shadow_mvs"]
    if not ours or ours[0]["health"] != "up":
        raise AssertionError(f'job="shadow_mvs" not UP: {ours}')
    for query in QUERIES:
        url = f"{PROMETHEUS}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        if not get_json(url)["data"]["result"]:
            raise AssertionError(f"empty: {query}")
    return 'ready, job="shadow_mvs" UP, golden queries have data'


def check_grafana(auth: str | None) -> str:
    health = get_json(f"{GRAFANA}/api/health")
    if health.get("database") != "ok":
        raise AssertionError(f"health {health}")
    default = [ds for ds in get_json(f"{GRAFANA}/api/datasources", auth) if ds.get("isDefault")]
    if not default or any(default[0].get(k) != v for k, v in DATASOURCE.items()):
        raise AssertionError(f"default datasource {default}")
    search = f"{GRAFANA}/api/search?" + urllib.parse.urlencode({"type": "dash-db"})
    if DASHBOARD_UID not in {d.get("uid") for d in get_json(search, auth)}:
        raise AssertionError(f"dashboard {DASHBOARD_UID} not visible")
    return f"health ok, default datasource {DATASOURCE['name']}, dashboard {DASHBOARD_UID}"


def main() -> int:
    auth = grafana_auth()
    checks = {
        "exporter": check_exporter,
        "prometheus": check_prometheus,
        "grafana": lambda: check_grafana(auth),
    }
    passed = True
    for name, check in checks.items():
        try:
            print(f"PASS|{name}|{check()}")
        except Exception as error:
            passed = False
            print(f"FAIL|{name}|{type(error).__name__}: {error}")
    print(f"RESULT={'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
