"""Option, else environment variable, else default — the same for every switch."""

import pytest

from shadow_mvs.config.settings import Settings, SettingsError
from shadow_mvs.stack.compose import compose_project


def test_defaults_come_from_the_contract(monkeypatch):
    for var in (
        "SHADOW_MVS_STACK",
        "SHADOW_MVS_OFFLINE",
        "SHADOW_MVS_VERIFY_MODE",
        "SHADOW_MVS_EXPORTER_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    settings = Settings.from_values({})
    assert settings.stack == "compose"
    assert settings.offline is False
    assert settings.mode == "shadow"
    assert settings.exporter_url == "http://127.0.0.1:9109"
    assert settings.stack_label == "compose-online"


def test_environment_fills_what_flags_leave_open(monkeypatch):
    monkeypatch.setenv("SHADOW_MVS_OFFLINE", "true")
    monkeypatch.setenv("SHADOW_MVS_STACK", "external")
    monkeypatch.setenv("SHADOW_MVS_GRAFANA_URL", "http://grafana.staging:3000/")
    settings = Settings.from_values({"stack": "compose"})
    assert settings.stack == "compose"  # the flag wins
    assert settings.offline is True
    assert settings.grafana_url == "http://grafana.staging:3000"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("SHADOW_MVS_OFFLINE", "maybe"),
        ("SHADOW_MVS_STACK", "kubernetes"),
        ("SHADOW_MVS_VERIFY_MODE", "paper"),
    ],
)
def test_bad_environment_values_are_refused(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=var):
        Settings.from_values({})


def test_host_network_can_be_forced(monkeypatch):
    monkeypatch.delenv("SHADOW_MVS_HOST_NETWORK", raising=False)
    assert Settings.from_values({"host_network": "off"}).host_network is False
    assert Settings.from_values({"host_network": "on"}).host_network is True


def test_compose_files_follow_the_mode():
    online = compose_project(Settings.from_values({"host_network": "off"}))
    offline = compose_project(Settings.from_values({"offline": True, "host_network": "on"}))
    assert [p.name for p in online.files] == [
        "prometheus-local.yml",
        "grafana-only.yml",
        "exporter.yml",
        "alertmanager.yml",
    ]
    assert [p.name for p in offline.files][-2:] == ["host-network.yml", "offline.yml"]
    assert "--build" in online.up_command()
    assert "--build" not in offline.up_command()
    assert offline.base_command(relative=True).startswith(
        "docker compose -p peaktrade-shadow-mvs --env-file .env -f compose/"
    )


def test_an_environment_with_its_own_bring_up_replaces_the_file_set(monkeypatch):
    monkeypatch.delenv("SHADOW_MVS_COMPOSE_EXTRA_FILES", raising=False)
    settings = Settings.from_values({"env": "prod-shaped"})
    assert settings.bring_up == "prod-shaped"
    assert [p.name for p in compose_project(settings).files] == ["prod-shaped.yml"]


@pytest.mark.parametrize(
    "value", ["127.0.0.1:9092", "localhost", "http://", "ftp://host:1", "http://h:port"]
)
def test_malformed_urls_are_refused(monkeypatch, value):
    with pytest.raises(SettingsError, match="prometheus-url"):
        Settings.from_values({"prometheus_url": value})


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "fast"])
def test_budget_scale_must_be_a_positive_number(monkeypatch, value):
    monkeypatch.setenv("SHADOW_MVS_BUDGET_SCALE", value)
    with pytest.raises(SettingsError, match="SHADOW_MVS_BUDGET_SCALE"):
        Settings.from_values({})
    with pytest.raises(SettingsError, match="--budget-scale"):
        Settings.from_values({"budget_scale": value})


def test_budget_scale_from_flag_or_environment(monkeypatch):
    assert Settings.from_values({}).budget_scale == 1.0
    monkeypatch.setenv("SHADOW_MVS_BUDGET_SCALE", "2")
    assert Settings.from_values({}).budget_scale == 2.0
    assert Settings.from_values({"budget_scale": "3"}).budget_scale == 3.0
