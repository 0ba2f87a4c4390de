"""Every bad input is one line naming its source, and exit 2 — from the settings, from the
``shadow-mvs`` CLI and from ``pytest verify/`` — never a traceback, never the secret.

One table, one row per input class (flags, SHADOW_MVS_* variables, secrets and their
``_FILE``, URLs, TLS files, environments.toml), is the closing note's table too: each row
holds the words its message must carry. Docker-free: a refused input stops before any
request, and the CLI and pytest runs are pointed at an unused port should one get through.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives import serialization

from fixtures.faults import verify_command
from shadow_mvs import cli
from shadow_mvs.config.settings import Settings, SettingsError
from shadow_mvs.core.contract import REPO_ROOT
from shadow_mvs.stack.certs import Pki, make_pki

SECRET = "glsa_n0t-for-eyes-42"  # a value that must never appear in a message


@dataclass(frozen=True)
class Bad:
    """One bad input: flags (``--x=v`` pairs), variables, files to write, the fragment."""

    flags: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str | bytes | Callable[[], bytes]] = field(default_factory=dict)
    says: str = ""


def cases(tmp: Path, pki: Any) -> dict[str, Bad]:
    env_file = str(tmp / "environments.toml")

    def environments(text: str | bytes, says: str, **env: str) -> Bad:
        return Bad(
            env={"SHADOW_MVS_ENVIRONMENTS_FILE": env_file, "SHADOW_MVS_ENV": "x", **env},
            files={"environments.toml": text},
            says=says,
        )

    url_var = "SHADOW_MVS_PROMETHEUS_URL"
    return {
        # --- flags ------------------------------------------------------------------------
        "flag choice": Bad({"--stack": "kube"}, says="--stack='kube': expected one of compose"),
        "flag number": Bad({"--budget-scale": "0"}, says="--budget-scale='0': expected a number"),
        "flag url": Bad({"--grafana-url": "localhost:3000"}, says="--grafana-url='localhost"),
        # --- SHADOW_MVS_* variables ----------------------------------------------------------
        "variable switch": Bad(env={"SHADOW_MVS_OFFLINE": "maybe"}, says="SHADOW_MVS_OFFLINE="),
        "variable choice": Bad(env={"SHADOW_MVS_TOPOLOGY": "mesh"}, says="SHADOW_MVS_TOPOLOGY="),
        "variable empty": Bad(env={url_var: ""}, says=f"{url_var} is set but empty"),
        "variable empty env": Bad(env={"SHADOW_MVS_ENV": ""}, says="SHADOW_MVS_ENV is set but"),
        # --- URLs ------------------------------------------------------------------------
        "url ipv6 unclosed": Bad(env={url_var: "http://[::1"}, says="Invalid IPv6 URL"),
        "url scheme": Bad(env={url_var: "ftp://h:21"}, says="not a URL"),
        "url no host": Bad(env={url_var: "http://:9092"}, says="not a URL"),
        "url port 0": Bad(env={url_var: "http://h:0"}, says="port 0 is not a port"),
        "url port range": Bad(env={url_var: "http://h:70000"}, says="out of range"),
        "url port word": Bad(env={url_var: "http://h:port"}, says="not a URL"),
        "url query": Bad(env={url_var: "http://h:9092/?x=1"}, says="no query or fragment"),
        "url fragment": Bad(env={url_var: "http://h:9092#top"}, says="no query or fragment"),
        "url space": Bad(env={url_var: "http://h :9092"}, says="whitespace or a control"),
        "url newline": Bad(env={url_var: "http://h:9092\n"}, says="whitespace or a control"),
        "url half credentials": Bad(
            env={url_var: f"http://{SECRET}@h:9092"}, says="must be user:password@"
        ),
        "url credentials twice": Bad(
            env={url_var: f"http://u:{SECRET}@h:9092", "PROMETHEUS_AUTH": f"r:{SECRET}"},
            says=f"{url_var} carries credentials (user:password@) and PROMETHEUS_AUTH sets",
        ),
        # --- secrets and their _FILE ------------------------------------------------------
        "secret newline": Bad(
            env={"GRAFANA_TOKEN": f"{SECRET}\n# rotated"}, says="GRAFANA_TOKEN holds a line break"
        ),
        "secret control": Bad(
            env={"PROMETHEUS_AUTH": f"u:{SECRET}\x07"}, says="PROMETHEUS_AUTH holds a control"
        ),
        "secret quoted": Bad(env={"GRAFANA_TOKEN": f'"{SECRET}"'}, says="wrapped in quotes"),
        "secret spaces": Bad(env={"GRAFANA_TOKEN": f" {SECRET}"}, says="spaces around"),
        "secret scheme": Bad(env={"GRAFANA_TOKEN": f"Bearer {SECRET}"}, says="auth scheme word"),
        "secret no colon": Bad(env={"PROMETHEUS_AUTH": SECRET}, says="PROMETHEUS_AUTH has no ':'"),
        "secret empty side": Bad(env={"PROMETHEUS_AUTH": f":{SECRET}"}, says="one side is empty"),
        "secret twice": Bad(
            env={"GRAFANA_TOKEN": SECRET, "GRAFANA_TOKEN_FILE": str(tmp / "t")},
            says="both GRAFANA_TOKEN and GRAFANA_TOKEN_FILE are set",
        ),
        "file second line": Bad(
            env={"GRAFANA_TOKEN_FILE": str(tmp / "t")},
            files={"t": f"{SECRET}\n# rotated\n"},
            says="GRAFANA_TOKEN_FILE=",
        ),
        "file empty": Bad(
            env={"GRAFANA_TOKEN_FILE": str(tmp / "t")}, files={"t": ""}, says="the file is empty"
        ),
        "file missing": Bad(env={"GRAFANA_TOKEN_FILE": str(tmp / "nope")}, says="cannot read it"),
        "file directory": Bad(env={"GRAFANA_TOKEN_FILE": str(tmp)}, says="cannot read it"),
        "file not utf-8": Bad(
            env={"GRAFANA_TOKEN_FILE": str(tmp / "t")}, files={"t": b"\xff\xfe"}, says="not UTF-8"
        ),
        "headers no =": Bad(env={"PROMETHEUS_HEADERS": "X-Scope-OrgID"}, says="has no 'Name='"),
        "headers bad name": Bad(env={"PROMETHEUS_HEADERS": f"X Key={SECRET}"}, says="HTTP token"),
        "headers newline": Bad(
            env={"PROMETHEUS_HEADERS": f"X-Api-Key={SECRET}\nx"},
            says="PROMETHEUS_HEADERS holds a line break",
        ),
        "header value quoted": Bad(
            env={"PROMETHEUS_HEADERS": f"X-Api-Key='{SECRET}'"},
            says="the value of header X-Api-Key is wrapped in quotes",
        ),
        # --- TLS files ------------------------------------------------------------------
        "tls missing": Bad({"--prometheus-ca-file": str(tmp / "no.pem")}, says="cannot read it"),
        "tls directory": Bad({"--prometheus-ca-file": str(tmp)}, says="is a directory"),
        "tls /dev/null": Bad({"--prometheus-ca-file": "/dev/null"}, says="is empty"),
        "tls not pem": Bad(
            {"--prometheus-ca-file": str(tmp / "x.pem")},
            files={"x.pem": "hello"},
            says="holds no PEM certificate",
        ),
        "tls broken pem": Bad(
            {"--prometheus-ca-file": str(tmp / "x.pem")},
            files={"x.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
            says="does not parse",
        ),
        "tls key as ca": Bad(
            {"--grafana-ca-file": str(pki.client.key)}, says="holds a private key, expected"
        ),
        "tls key as cert": Bad(
            {"--grafana-cert-file": str(pki.client.key), "--grafana-key-file": str(pki.client.key)},
            says="--grafana-cert-file=",
        ),
        "tls cert as key": Bad(
            {
                "--grafana-cert-file": str(pki.client.cert),
                "--grafana-key-file": str(pki.client.cert),
            },
            says="holds a certificate, expected a PEM private key",
        ),
        "tls key mismatch": Bad(
            {
                "--grafana-cert-file": str(pki.client.cert),
                "--grafana-key-file": str(pki.server.key),
            },
            says="the private key does not match the certificate",
        ),
        "tls key alone": Bad(
            {"--grafana-key-file": str(pki.client.key)}, says="set without a client certificate"
        ),
        "tls cert without key": Bad(
            {"--grafana-cert-file": str(pki.client.cert)}, says="holds no private key"
        ),
        "tls key encrypted": Bad(
            {"--grafana-cert-file": str(pki.client.cert), "--grafana-key-file": str(tmp / "k")},
            files={"k": lambda: encrypted(pki.client.key)},
            says="the key is encrypted",
        ),
        "tls variable": Bad(env={"SHADOW_MVS_EXPORTER_CA_FILE": "/dev/null"}, says="_CA_FILE="),
        # --- environments.toml ------------------------------------------------------------
        "env file missing": Bad(
            env={"SHADOW_MVS_ENVIRONMENTS_FILE": str(tmp / "no.toml"), "SHADOW_MVS_ENV": "x"},
            says="no environments file",
        ),
        "env file directory": Bad(
            env={"SHADOW_MVS_ENVIRONMENTS_FILE": str(tmp), "SHADOW_MVS_ENV": "x"},
            says="is a directory",
        ),
        "env file not utf-8": environments(b"[x]\ndescription = '\xff'\n", "not UTF-8"),
        "env file not toml": environments("[x\n", "not valid TOML"),
        "env unknown name": environments("[y]\n", "no such environment"),
        "env not a table": environments("x = 5\n", "[x] is not a table"),
        "env unknown key": environments("[x]\nprometheus_uri = 'h'\n", "unknown keys"),
        "env wrong type": environments("[x]\noffline = 'yes'\n", "[x] offline: expected a boolean"),
        "env bad choice": environments("[x]\nstack = 'k8s'\n", "[x] stack: 'k8s': expected one"),
        "env bad url": environments("[x]\ngrafana_url = 'http://g:0'\n", "[x] grafana_url="),
        "env empty value": environments("[x]\nscrape_target = ''\n", "[x] scrape_target: is empty"),
        "env secrets string": environments(
            "[x]\nsecrets = 'abc'\n", "[x] secrets: expected a table"
        ),
        "env secrets unknown endpoint": environments(
            "[x.secrets.loki]\ntoken = 'T'\n", "expected an endpoint"
        ),
        "env secrets inline value": environments(
            f"[x.secrets.grafana]\ntoken = '{SECRET}'\n", "not a variable NAME"
        ),
        "env secrets value key": environments(
            f"[x.secrets.grafana]\npassword = '{SECRET}'\n", "variable NAMES, never values"
        ),
        "env secrets none": environments("[x.secrets.grafana]\n", "names no variable"),
        "env secrets_file type": environments(
            "[x]\nsecrets_file = 5\n", "[x] secrets_file: expected"
        ),
        "env secrets_file missing": environments(
            "[x]\nsecrets_file = 'absent.env'\n[x.secrets.grafana]\ntoken = 'X_TOKEN'\n",
            "absent.env does not exist (or is no file) and X_TOKEN is not set",
        ),
        "env names env": environments("[x]\nenv = 'y'\n", "cannot name another environment"),
        "env bring_up path": environments("[x]\nbring_up = '../etc'\n", "[x] bring_up:"),
    }


def encrypted(key_path: Path) -> bytes:
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _ids() -> list[str]:
    pair = SimpleNamespace(cert=Path("c"), key=Path("k"))
    return list(cases(Path("/t"), SimpleNamespace(client=pair, server=pair)))


IDS = _ids()


def clean_environment(tmp: Path, env: dict[str, str]) -> dict[str, str]:
    """The process environment without any of the suite's variables, plus ``env``."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHADOW_MVS_", "GRAFANA_", "PROMETHEUS_", "GF_"))
    }
    return {**kept, "SHADOW_MVS_ENV_FILE": str(tmp / "absent.env"), **env}


def prepared(tmp: Path, pki: Pki, name: str) -> Bad:
    bad = cases(tmp, pki)[name]
    for file_name, content in bad.files.items():
        data = content() if callable(content) else content
        target = tmp / file_name
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            target.write_text(data)
    return bad


def flag_values(bad: Bad) -> dict[str, str]:
    return {flag.lstrip("-").replace("-", "_"): value for flag, value in bad.flags.items()}


def assert_one_safe_line(message: str, bad: Bad) -> None:
    assert "\n" not in message.strip(), message
    assert bad.says in message, message
    assert SECRET not in message, message
    assert "Traceback" not in message


@pytest.mark.parametrize("name", IDS)
def test_settings_refuse_with_one_line_naming_the_source(name: str, tmp_path: Path, pki: Pki):
    bad = prepared(tmp_path, pki, name)
    with (
        mock.patch.dict(os.environ, clean_environment(tmp_path, bad.env), clear=True),
        pytest.raises(SettingsError) as refused,
    ):
        Settings.from_values(flag_values(bad), verifying=True)
    assert_one_safe_line(str(refused.value), bad)


@pytest.mark.parametrize("name", IDS)
def test_cli_verify_exits_2_with_one_line(name, tmp_path: Path, pki: Pki, capsys):
    bad = prepared(tmp_path, pki, name)
    argv = ["verify", *(f"{flag}={value}" for flag, value in bad.flags.items())]
    with (
        mock.patch.dict(os.environ, clean_environment(tmp_path, bad.env), clear=True),
        mock.patch.object(cli.subprocess, "run") as pytest_run,  # never reached
    ):
        code = cli.main(argv)
    assert pytest_run.call_count == 0
    assert code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("shadow-mvs: ")
    assert_one_safe_line(err, bad)


def test_cli_bad_flag_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as ended:
        cli.main(["verify", "--no-such-flag"])
    assert ended.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unrecognized arguments: --no-such-flag" in err


@pytest.mark.parametrize("command", ["up", "down", "explain"])
def test_other_cli_commands_refuse_bad_urls_too(command, tmp_path: Path, capsys):
    argv = [command, "G-1"] if command == "explain" else [command]
    env = clean_environment(tmp_path, {"SHADOW_MVS_GRAFANA_URL": "http://[::1"})
    with mock.patch.dict(os.environ, env, clear=True):
        assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err == (
        "shadow-mvs: SHADOW_MVS_GRAFANA_URL='http://[::1': not a URL (Invalid IPv6 URL): "
        "expected http(s)://host[:port][/path], e.g. http://127.0.0.1:3000\n"
    )


# One real `pytest verify/` per kind of source (a pytest start costs ~1 s here).
PYTEST_SAMPLE = [
    "flag choice",
    "variable empty",
    "url ipv6 unclosed",
    "file second line",
    "tls key mismatch",
    "env secrets inline value",
]


@pytest.mark.parametrize("name", PYTEST_SAMPLE)
def test_pytest_verify_exits_2_with_one_line(name: str, tmp_path: Path, pki: Pki):
    bad = prepared(tmp_path, pki, name)
    flags = [f"{flag}={value}" for flag, value in bad.flags.items()]
    result = subprocess.run(
        verify_command("-p", "no:cacheprovider", *flags),
        cwd=REPO_ROOT,
        env=clean_environment(tmp_path, bad.env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Exit: shadow-mvs: ")
    assert_one_safe_line(lines[0], bad)
    assert "Traceback" not in result.stdout
