"""environments.toml and --env: the shipped entries load, flags and variables still win,
secrets are named (never held) and read from the process or a git-ignored file."""

import pytest

from shadow_mvs.config.environments import load_environments
from shadow_mvs.config.settings import Settings, SettingsError
from shadow_mvs.core.contract import REPO_ROOT

ENV_VARS = (
    "SHADOW_MVS_ENV",
    "SHADOW_MVS_STACK",
    "SHADOW_MVS_TOPOLOGY",
    "SHADOW_MVS_PROMETHEUS_URL",
    "SHADOW_MVS_ENVIRONMENTS_FILE",
    "PROD_SHAPED_GRAFANA_TOKEN",
    "PROD_SHAPED_PROMETHEUS_AUTH",
    "GRAFANA_TOKEN",
    "GRAFANA_AUTH",
    "PROMETHEUS_AUTH",
)


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def test_shipped_file_names_local_and_prod_shaped():
    environments = load_environments()
    assert {"local", "prod-shaped"} <= set(environments)
    for name in environments:
        Settings.from_values({"env": name})  # every shipped entry is valid


def test_prod_shaped_gives_urls_topology_tls_and_secret_names(monkeypatch):
    monkeypatch.setenv("PROD_SHAPED_GRAFANA_TOKEN", "glsa_prod-shaped-1")
    monkeypatch.setenv("PROD_SHAPED_PROMETHEUS_AUTH", "reader:prod-pw-1")
    settings = Settings.from_values({"env": "prod-shaped"})
    assert settings.env_name == "prod-shaped"
    assert settings.stack == "external"
    assert settings.topology == "remote-write"
    assert settings.prometheus_url.startswith("https://")
    assert settings.access["prometheus"].tls.ca_file == str(REPO_ROOT / ".pki/prod-shaped/ca.pem")
    assert settings.access["grafana"].token == "glsa_prod-shaped-1"
    assert settings.access["grafana"].source == "PROD_SHAPED_GRAFANA_TOKEN"
    assert settings.access["prometheus"].basic == ("reader", "prod-pw-1")
    text = (REPO_ROOT / "environments.toml").read_text()
    assert "prod-pw-1" not in text


def test_flags_and_variables_override_the_environment(monkeypatch):
    monkeypatch.setenv("SHADOW_MVS_TOPOLOGY", "auto")
    settings = Settings.from_values(
        {"env": "prod-shaped", "prometheus_url": "https://central.example:9443"}
    )
    assert settings.prometheus_url == "https://central.example:9443"  # flag wins
    assert settings.topology == "auto"  # variable wins
    assert settings.grafana_url == "https://127.0.0.1:3000"  # environment fills the rest
    monkeypatch.setenv("SHADOW_MVS_ENV", "local")
    assert Settings.from_values({}).topology == "auto"
    assert Settings.from_values({}).env_name == "local"


def test_unknown_environment_lists_the_known_ones():
    with pytest.raises(SettingsError, match=r"--env nowhere: no such environment.*local"):
        Settings.from_values({"env": "nowhere"})


def test_unknown_key_and_secret_values_are_refused(monkeypatch, tmp_path):
    bad = tmp_path / "environments.toml"
    monkeypatch.setenv("SHADOW_MVS_ENVIRONMENTS_FILE", str(bad))
    bad.write_text('[x]\nprometheus_uri = "http://p"\n')
    with pytest.raises(SettingsError, match=r"unknown keys.*prometheus_uri"):
        Settings.from_values({"env": "x"})
    bad.write_text('[x.secrets.grafana]\npassword = "hunter2"\n')
    with pytest.raises(SettingsError, match="variable NAMES, never values"):
        Settings.from_values({"env": "x"})
    bad.write_text('[x]\ntopology = "mesh"\n')
    with pytest.raises(SettingsError, match=r"\[x\] topology: 'mesh': expected one of"):
        Settings.from_values({"env": "x"})


def test_secrets_file_fills_what_the_process_does_not_set(monkeypatch, tmp_path):
    envs = tmp_path / "environments.toml"
    envs.write_text(
        '[x]\nsecrets_file = "secrets.env"\n[x.secrets.prometheus]\nbasic = "X_PROM_AUTH"\n'
    )
    (tmp_path / "secrets.env").write_text("X_PROM_AUTH=reader:from-file-pw\n")
    monkeypatch.setenv("SHADOW_MVS_ENVIRONMENTS_FILE", str(envs))
    monkeypatch.delenv("X_PROM_AUTH", raising=False)
    assert Settings.from_values({"env": "x"}).access["prometheus"].basic == (
        "reader",
        "from-file-pw",
    )
    monkeypatch.setenv("X_PROM_AUTH", "reader:from-process")
    assert Settings.from_values({"env": "x"}).access["prometheus"].basic == (
        "reader",
        "from-process",
    )


def test_an_alertmanager_takes_url_tls_target_and_secrets_like_the_other_endpoints(
    monkeypatch, tmp_path
):
    envs = tmp_path / "environments.toml"
    envs.write_text(
        '[prod]\nstack = "external"\nalertmanager_url = "https://am.example.invalid:9093"\n'
        'alertmanager_ca_file = "ca.pem"\nalertmanager_target = "alertmanager:9093"\n'
        '[prod.secrets.alertmanager]\nbasic = "PROD_AM_AUTH"\nheaders = "PROD_AM_HEADERS"\n'
    )
    monkeypatch.setenv("SHADOW_MVS_ENVIRONMENTS_FILE", str(envs))
    monkeypatch.setenv("PROD_AM_AUTH", "pager:am-secret-pw")
    monkeypatch.setenv("PROD_AM_HEADERS", "X-Scope-OrgID=tenant-1")
    settings = Settings.from_values({"env": "prod"})
    assert settings.alertmanager_url == "https://am.example.invalid:9093"
    assert settings.alertmanager_target == "alertmanager:9093"
    access = settings.access["alertmanager"]
    assert access.basic == ("pager", "am-secret-pw")
    assert access.tls.ca_file == str(tmp_path / "ca.pem")
    assert access.request_headers()["X-Scope-OrgID"] == "tenant-1"
    monkeypatch.delenv("SHADOW_MVS_ENVIRONMENTS_FILE")
    local = Settings.from_values({"env": "local"})
    assert local.alertmanager_url == "http://127.0.0.1:9093"
    assert local.alertmanager_target == "host.docker.internal:9093"
