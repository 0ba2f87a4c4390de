"""The prod-shaped stack's generated half: CA and certificates, passwords and the Grafana
token, Prometheus web/agent/central configs and the stand-in's provisioning, written at
bring-up into a git-ignored directory (``.pki/prod-shaped``) and removed by ``down``.

The same config builders serve the Docker-free stack of real processes in
fixtures/prod_shaped.py, so both prove one shape: an agent remote-writes over TLS with
basic auth to a central Prometheus that serves TLS and basic auth with its own
``--web.config.file``, and Grafana's datasource reaches it the same way.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from shadow_mvs.core.contract import REPO_ROOT, load_contract
from shadow_mvs.stack.certs import Pki, make_pki

PKI_DIR = REPO_ROOT / ".pki" / "prod-shaped"
COMPOSE_FILE = REPO_ROOT / "compose" / "prod-shaped.yml"
IN_CONTAINER = Path("/pki")  # where compose/prod-shaped.yml mounts PKI_DIR
CENTRAL_URL = "https://127.0.0.1:9092"  # host network: the agent's view of the central
DATASOURCE_URL = "https://host.docker.internal:9092"  # environments.toml datasource_url
READER, WRITER = "reader", "writer"
TOKEN_VARIABLE = "PROD_SHAPED_GRAFANA_TOKEN"  # environments.toml secrets.grafana.token
AUTH_VARIABLE = "PROD_SHAPED_PROMETHEUS_AUTH"  # environments.toml secrets.prometheus.basic


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=6)).decode()


def web_config(cert: Path, key: Path, users: dict[str, str]) -> dict[str, Any]:
    """Prometheus's --web.config.file: TLS and bcrypt-hashed basic-auth users."""
    return {
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
        "basic_auth_users": {user: bcrypt_hash(password) for user, password in users.items()},
    }


def central_config(
    rule_files: list[str], evaluation_interval: str, alertmanager: str | None = None
) -> dict[str, Any]:
    """The central Prometheus: rules, and (like production) the Alertmanager it sends to."""
    config: dict[str, Any] = {
        "global": {"evaluation_interval": evaluation_interval},
        "rule_files": rule_files,
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


def agent_config(
    exporter_address: str,
    central_url: str,
    ca_file: Path,
    scrape_interval: str,
    password: str | None = None,
    password_file: Path | None = None,
) -> dict[str, Any]:
    basic: dict[str, str] = {"username": WRITER}
    if password_file is not None:
        basic["password_file"] = str(password_file)
    else:
        basic["password"] = password or ""
    return {
        "global": {"scrape_interval": scrape_interval},
        "scrape_configs": [
            {
                "job_name": load_contract().prometheus["job"],
                "scrape_interval": scrape_interval,
                "static_configs": [{"targets": [exporter_address]}],
            }
        ],
        "remote_write": [
            {
                "url": f"{central_url}/api/v1/write",
                "basic_auth": basic,
                "tls_config": {"ca_file": str(ca_file)},
                "queue_config": {"batch_send_deadline": "1s"},
            }
        ],
    }


def datasource(url: str, ca_file: Path, password_file: Path) -> dict[str, Any]:
    """Grafana provisioning of the contract datasource over TLS with basic auth; the CA and
    the password stay in files (Grafana's ``$__file{…}`` expansion)."""
    ds = load_contract().datasource
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": ds["name"],
                "uid": ds["uid"],
                "type": ds["type"],
                "access": "proxy",
                "url": url,
                "isDefault": True,
                "editable": False,
                "basicAuth": True,
                "basicAuthUser": READER,
                "jsonData": {"httpMethod": "POST", "timeInterval": "5s", "tlsAuthWithCACert": True},
                "secureJsonData": {
                    "basicAuthPassword": f"$__file{{{password_file}}}",
                    "tlsCACert": f"$__file{{{ca_file}}}",
                },
            }
        ],
    }


def _write(path: Path, text: str, private: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if private:
        path.chmod(0o600)
    return path


def prepare(root: Path = PKI_DIR) -> Pki:
    """Write everything the prod-shaped compose stack mounts; fresh secrets every time."""
    if root.exists():
        shutil.rmtree(root)
    pki = make_pki(root)
    inside = IN_CONTAINER
    reader, writer = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    token = "glsa_" + secrets.token_urlsafe(24)
    _write(root / "reader-password", reader, private=True)
    _write(root / "writer-password", writer, private=True)
    _write(root / "grafana-admin-password", secrets.token_urlsafe(18), private=True)
    _write(root / "standin-tokens", f"shadow-mvs-verify:Admin:{token}", private=True)
    _write(
        root / "web.yml",
        yaml.safe_dump(
            web_config(
                inside / pki.server.cert.name,
                inside / pki.server.key.name,
                {READER: reader, WRITER: writer},
            )
        ),
    )
    interval = f"{load_contract().prometheus['scrape_interval_s']}s"
    _write(
        root / "central.yml",
        yaml.safe_dump(
            central_config(
                ["/etc/prometheus/rules/*.yml"],
                interval,
                alertmanager=load_contract().alerting["prometheus_target"],
            )
        ),
    )
    _write(
        root / "agent.yml",
        yaml.safe_dump(
            agent_config(
                load_contract().prometheus["target"],
                CENTRAL_URL,
                inside / pki.ca.name,
                interval,
                password_file=inside / "writer-password",
            )
        ),
    )
    _write(
        root / "provisioning" / "datasources" / "ds.yaml",
        yaml.safe_dump(
            datasource(DATASOURCE_URL, inside / pki.ca.name, inside / "reader-password")
        ),
    )
    provider = REPO_ROOT / load_contract().dashboard["provider_file"]
    _write(root / "provisioning" / "dashboards" / provider.name, provider.read_text())
    # What `verify --env prod-shaped` reads when the process does not set the variables.
    _write(
        root / "secrets.env",
        f"{TOKEN_VARIABLE}={token}\n{AUTH_VARIABLE}={READER}:{reader}\n",
        private=True,
    )
    return pki


def remove(root: Path = PKI_DIR) -> None:
    shutil.rmtree(root, ignore_errors=True)
