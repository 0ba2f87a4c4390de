"""Datasource provisioning rules, on the state builder with tmp provisioning trees."""

from __future__ import annotations

import os
from typing import Any

import pytest

from shadow_mvs.evidence.grafana_rules.datasources import provision_datasources, uid_from_name
from shadow_mvs.evidence.grafana_rules.errors import ProvisioningError

from .conftest import Provisioning

TOO_MANY_DEFAULTS = (
    "Datasource provisioning error: datasource.yaml config is invalid. "
    "Only one datasource per organization can be marked as default"
)


def v1(*datasources: dict[str, Any], **top: object) -> dict[str, object]:
    return {"apiVersion": 1, "datasources": list(datasources)} | top


def test_full_v1_entry_becomes_list_item_and_dto(provisioning: Provisioning) -> None:
    provisioning.datasource_file(
        "ds.yaml",
        v1(
            {
                "name": "prom",
                "uid": "prom-uid",
                "type": "prometheus",
                "url": "http://prom:9090",
                "isDefault": True,
                "jsonData": {"httpMethod": "POST", "timeInterval": "5s"},
                "secureJsonData": {"basicAuthPassword": "hidden"},
            }
        ),
    )
    [ds] = provision_datasources(provisioning.path, {})
    assert list(ds.list_item()) == [
        "id", "uid", "orgId", "name", "type", "typeName", "typeLogoUrl", "access", "url",
        "user", "database", "basicAuth", "isDefault", "jsonData", "readOnly",
    ]  # fmt: skip
    assert ds.list_item() | {"typeLogoUrl": None} == {
        "id": 1, "uid": "prom-uid", "orgId": 1, "name": "prom", "type": "prometheus",
        "typeName": "Prometheus", "typeLogoUrl": None, "access": "proxy",
        "url": "http://prom:9090", "user": "", "database": "", "basicAuth": False,
        "isDefault": True, "jsonData": {"httpMethod": "POST", "timeInterval": "5s"},
        "readOnly": True,
    }  # fmt: skip
    dto = ds.dto()
    assert list(dto) == [
        "id", "uid", "orgId", "name", "type", "typeLogoUrl", "access", "url", "user",
        "database", "basicAuth", "basicAuthUser", "withCredentials", "isDefault", "jsonData",
        "secureJsonFields", "version", "readOnly",
    ]  # fmt: skip
    assert dto["secureJsonFields"] == {"basicAuthPassword": True}
    assert "hidden" not in repr(dto) + repr(ds.list_item())
    assert dto["version"] == 1


def test_editable_true_means_not_read_only(provisioning: Provisioning) -> None:
    provisioning.datasource_file(
        "ds.yaml", v1({"name": "a", "type": "prometheus", "editable": True})
    )
    [ds] = provision_datasources(provisioning.path, {})
    assert ds.list_item()["readOnly"] is False


def test_uid_is_derived_from_the_name_when_absent(provisioning: Provisioning) -> None:
    provisioning.datasource_file("ds.yaml", v1({"name": "Prometheus", "type": "prometheus"}))
    [ds] = provision_datasources(provisioning.path, {})
    assert ds.uid == "PBFA97CFB590B2093"
    assert uid_from_name("prometheus") == "P1809F7CD0C75ACF3"


def test_values_are_interpolated_from_the_environment(
    provisioning: Provisioning, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROM_HOST", "prom.internal")
    monkeypatch.setenv("PROM_DEFAULT", "true")
    monkeypatch.delenv("PROM_UNSET", raising=False)
    provisioning.datasource_file(
        "ds.yaml",
        v1(
            {
                "name": "p$$1",
                "type": "prometheus",
                "url": "http://${PROM_HOST}:9090/$PROM_UNSET",
                "isDefault": "$PROM_DEFAULT",
                "jsonData": {"timeInterval": "$__env{PROM_UNSET}5s", "keep": 3},
            }
        ),
    )
    [ds] = provision_datasources(provisioning.path, os.environ)
    assert (ds.name, ds.url, ds.is_default) == ("p$1", "http://prom.internal:9090/", True)
    assert ds.json_data == {"timeInterval": "5s", "keep": 3}


def test_v0_file_reads_snake_case_and_ignores_uid(
    provisioning: Provisioning, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioning.datasource_file(
        "legacy.yaml",
        {
            "datasources": [
                {
                    "name": "old",
                    "type": "prometheus",
                    "uid": "ignored-uid",
                    "isDefault": True,  # camelCase: ignored without apiVersion 1
                    "json_data": {"httpMethod": "GET"},
                    "url": "http://$NOT_INTERPOLATED",
                }
            ]
        },
    )
    [ds] = provision_datasources(provisioning.path, {"NOT_INTERPOLATED": "x"})
    assert ds.uid == uid_from_name("old")
    assert ds.is_default is False
    assert ds.json_data == {"httpMethod": "GET"}
    assert ds.url == "http://$NOT_INTERPOLATED"
    assert "[Deprecated] the datasource provisioning config is outdated" in capsys.readouterr().out


@pytest.mark.parametrize("same_file", [True, False])
def test_two_defaults_in_one_org_are_fatal(provisioning: Provisioning, same_file: bool) -> None:
    first = {"name": "a", "type": "prometheus", "isDefault": True}
    second = {"name": "b", "type": "prometheus", "isDefault": True}
    if same_file:
        provisioning.datasource_file("ds.yaml", v1(first, second))
    else:
        provisioning.datasource_file("a.yaml", v1(first))
        provisioning.datasource_file("b.yml", v1(second))
    with pytest.raises(ProvisioningError) as raised:
        provision_datasources(provisioning.path, {})
    assert str(raised.value) == TOO_MANY_DEFAULTS


def test_one_default_is_fine(provisioning: Provisioning) -> None:
    provisioning.datasource_file(
        "ds.yaml",
        v1({"name": "a", "type": "prometheus", "isDefault": True}, {"name": "b", "type": "loki"}),
    )
    assert [d.is_default for d in provision_datasources(provisioning.path, {})] == [True, False]


def test_delete_datasources_removes_earlier_files_entries(provisioning: Provisioning) -> None:
    provisioning.datasource_file("a.yaml", v1({"name": "gone", "type": "prometheus"}))
    provisioning.datasource_file(
        "b.yaml",
        v1(
            {"name": "kept", "type": "prometheus"}, deleteDatasources=[{"name": "gone", "orgId": 1}]
        ),
    )
    assert [d.name for d in provision_datasources(provisioning.path, {})] == ["kept"]


def test_delete_runs_before_inserts_of_the_same_file(provisioning: Provisioning) -> None:
    provisioning.datasource_file(
        "a.yaml", v1({"name": "x", "type": "prometheus"}, deleteDatasources=[{"name": "x"}])
    )
    assert [d.name for d in provision_datasources(provisioning.path, {})] == ["x"]


def test_only_top_level_yaml_files_are_read(provisioning: Provisioning) -> None:
    provisioning.datasource_file("a.yml", v1({"name": "yml", "type": "prometheus"}))
    provisioning.datasource_file("b.json", v1({"name": "json", "type": "prometheus"}))
    (provisioning.path / "datasources" / "nested").mkdir()
    provisioning.datasource_file("nested/c.yaml", v1({"name": "nested", "type": "prometheus"}))
    assert [d.name for d in provision_datasources(provisioning.path, {})] == ["yml"]


def test_list_is_sorted_by_lower_cased_name_with_ids_in_file_order(
    provisioning: Provisioning,
) -> None:
    provisioning.datasource_file(
        "ds.yaml",
        v1(*({"name": n, "type": "prometheus"} for n in ("beta", "Alpha", "gamma", "ALPHA2"))),
    )
    datasources = provision_datasources(provisioning.path, {})
    assert [(d.name, d.id) for d in datasources] == [
        ("Alpha", 2), ("ALPHA2", 4), ("beta", 1), ("gamma", 3),
    ]  # fmt: skip


def test_yaml_parse_error_is_fatal(provisioning: Provisioning) -> None:
    provisioning.datasource_file("broken.yaml", "apiVersion: 1\ndatasources: [\n")
    with pytest.raises(ProvisioningError):
        provision_datasources(provisioning.path, {})


def test_unparsable_bool_is_fatal(provisioning: Provisioning) -> None:
    provisioning.datasource_file(
        "ds.yaml", v1({"name": "a", "type": "prometheus", "isDefault": "maybe"})
    )
    with pytest.raises(ProvisioningError, match="ParseBool"):
        provision_datasources(provisioning.path, {})


def test_same_uid_for_two_names_is_fatal(provisioning: Provisioning) -> None:
    provisioning.datasource_file(
        "ds.yaml",
        v1({"name": "a", "uid": "u", "type": "prometheus"}, {"name": "b", "uid": "u", "type": "x"}),
    )
    with pytest.raises(ProvisioningError, match="same uid"):
        provision_datasources(provisioning.path, {})


def test_access_defaults_to_proxy(provisioning: Provisioning) -> None:
    provisioning.datasource_file(
        "ds.yaml",
        v1(
            {"name": "a", "type": "prometheus"},
            {"name": "b", "type": "prometheus", "access": "direct"},
            {"name": "c", "type": "prometheus", "access": "weird"},
        ),
    )
    assert [d.access for d in provision_datasources(provisioning.path, {})] == [
        "proxy", "direct", "proxy",
    ]  # fmt: skip


def test_missing_directory_is_not_fatal(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert provision_datasources(tmp_path / "absent", {}) == []
    assert "level=warn" in capsys.readouterr().out
