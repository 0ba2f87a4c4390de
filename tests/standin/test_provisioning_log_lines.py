"""Each provisioning rule, said the way Grafana logs it: the stand-in process's log line
(and, for fatal rules, its exit before listening and the CLI's ``Error: ✗`` line), with
Grafana's message texts (grafana/grafana pkg/services/provisioning/{provisioning.go,
datasources/config_reader.go, dashboards/{dashboard.go,config_reader.go,types.go,
file_reader.go}}, pkg/services/dashboards/errors.go, Go's encoding/json texts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shadow_mvs.evidence.grafana_rules.gojson import go_json_error

from .conftest import Provisioning, Standin, port_is_closed, running_standin
from .test_startup import run_to_exit

DS_ERROR = "Datasource provisioning error: "
DASH_ERROR = "Failed to create provisioner: "


def _v1_datasources(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": 1, "datasources": list(entries)}


def _providers(*providers: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": 1, "providers": list(providers)}


# (id, which kind of file, its content, the logged msg, Grafana's error text)
FATAL_RULES = [
    ("two-defaults", "datasources",
     _v1_datasources({"name": "a", "type": "prometheus", "isDefault": True},
                     {"name": "b", "type": "prometheus", "isDefault": True}),
     "Failed to provision data sources",
     DS_ERROR + "datasource.yaml config is invalid. "
     "Only one datasource per organization can be marked as default"),
    ("bool-garbage", "datasources",
     _v1_datasources({"name": "a", "type": "prometheus", "isDefault": "maybe"}),
     "Failed to provision data sources",
     DS_ERROR + 'strconv.ParseBool: parsing "maybe": invalid syntax'),
    ("datasource-yaml", "datasources", "apiVersion: 1\ndatasources: [\n",
     "Failed to provision data sources", DS_ERROR + "yaml: line 3: "),
    ("unknown-org", "datasources",
     _v1_datasources({"name": "a", "type": "prometheus", "orgId": 2}),
     "Failed to provision data sources",
     DS_ERROR + 'failed to provision "a" data source: organization not found'),
    ("provider-name-twice", "dashboards",
     _providers({"name": "p", "options": {"path": "/x"}}, {"name": "p", "options": {"path": "/y"}}),
     "Failed to provision dashboard",
     DASH_ERROR + "Failed to read dashboards config: could not parse provisioning config "
     'file: p.yaml error: dashboard name "p" is not unique'),
    ("provider-type", "dashboards", _providers({"name": "p", "type": "sql", "options": {}}),
     "Failed to provision dashboard",
     DASH_ERROR + "Failed to initialize file readers: type sql is not supported"),
    ("provider-path-type", "dashboards", _providers({"name": "p", "options": {"path": 5}}),
     "Failed to provision dashboard",
     DASH_ERROR + "Failed to initialize file readers: failed to create file reader for "
     "config p: failed to load dashboards, path param is not a string"),
    ("folders-from-files-with-folder", "dashboards",
     _providers({"name": "p", "folder": "F", "folderUid": "f",
                 "options": {"path": "/x", "foldersFromFilesStructure": True}}),
     "Failed to provision dashboard",
     DASH_ERROR + "Failed to initialize file readers: failed to create file reader for "
     "config p: 'folder' and 'folderUID' should be empty using 'foldersFromFilesStructure' "
     "option"),
    ("provider-without-apiVersion", "dashboards", {"providers": []},
     "Failed to provision dashboard",
     DASH_ERROR + "Failed to read dashboards config: could not parse provisioning config "
     "file: p.yaml error: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!map into "
     "[]*dashboards.configV0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "content", "logged", "error"),
    [row[1:] for row in FATAL_RULES],
    ids=[row[0] for row in FATAL_RULES],
)
def test_fatal_rule_exits_before_listening_with_grafanas_words(
    provisioning: Provisioning, kind: str, content: Any, logged: str, error: str
) -> None:
    if kind == "datasources":
        provisioning.datasource_file("p.yaml", content)
    else:
        provisioning.provider_file("p.yaml", content)
    finished, port = run_to_exit(provisioning.path)
    assert finished.returncode == 1
    assert port_is_closed(port)
    assert f"Error: ✗ *provisioning.ProvisioningServiceImpl run error: {error}" in finished.stderr
    [line] = [line for line in finished.stdout.splitlines() if "level=error" in line]
    assert line.startswith("logger=provisioning t=")
    assert f'msg="{logged}" error="' in line


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    """One stand-in whose files break every non-fatal rule at once."""
    prov = Provisioning(tmp_path_factory.mktemp("rules"))
    prov.datasource_file(
        "a.yaml", _v1_datasources({"name": "odd", "type": "prometheus", "access": "weird"})
    )
    prov.datasource_file("b-legacy.yaml", {"datasources": [{"name": "old", "type": "loki"}]})
    prov.provider_file(
        "dashboards.yaml",
        _providers(
            {"name": "default", "options": {"path": str(prov.dashboards_dir)}},
            {"name": "gone", "options": {"path": str(prov.root / "absent")}},
        ),
    )
    prov.provider_file("legacy.yaml", [{"name": "old", "options": {"path": "/also/absent"}}])
    prov.dashboard("bad.json", '{"title": "x",\n  nope}')
    prov.dashboard("untitled.json", {"uid": "untitled", "title": ""})
    prov.dashboard("long.json", {"uid": "u" * 41, "title": "Long"})
    prov.dashboard("a-dup.json", {"uid": "dup", "title": "first"})
    prov.dashboard("b-dup.json", {"uid": "dup", "title": "second"})
    prov.dashboard("fast.json", {"uid": "fast", "title": "Fast", "refresh": "1s"})
    with running_standin(prov) as started:
        yield started


def _line(standin: Standin, msg: str) -> str:
    lines = [line for line in standin.log_text().splitlines() if f'msg="{msg}"' in line]
    assert lines, f"no {msg!r} line in:\n{standin.log_text()}"
    return lines[0]


def _fields(line: str) -> str:
    """The line without its timestamp, for exact comparison."""
    return re.sub(r" t=\S+", "", line)


def test_datasource_lines(standin: Standin) -> None:
    prov_root = Path(standin.log_path).parent
    assert _fields(_line(standin, "invalid access value, will use 'proxy' instead")) == (
        "logger=provisioning.datasources level=warn "
        "msg=\"invalid access value, will use 'proxy' instead\" value=weird"
    )
    legacy = _line(
        standin, "[Deprecated] the datasource provisioning config is outdated. please upgrade"
    )
    assert legacy.startswith("logger=provisioning.datasources t=")
    assert legacy.endswith(f"filename={prov_root}/provisioning/datasources/b-legacy.yaml")
    assert _fields(_line(standin, "inserting datasource from configuration")).startswith(
        'logger=provisioning.datasources level=info msg="inserting datasource from '
        'configuration" name=odd uid='
    )


def test_provider_lines(standin: Standin) -> None:
    missing = _fields(_line(standin, "Failed to provision config"))
    assert missing == (
        'logger=provisioning.dashboard level=warn msg="Failed to provision config" name=gone '
        f'error="stat {Path(standin.log_path).parent}/absent: no such file or directory"'
    )
    assert "filename=" in _line(
        standin, "[Deprecated] the dashboard provisioning config is outdated. please upgrade"
    )


@pytest.mark.parametrize(
    ("msg", "file", "error"),
    [
        ("failed to load dashboard from ", "bad.json",
         "invalid character 'n' looking for beginning of object key string"),
        ("failed to load dashboard from ", "untitled.json", "Dashboard title cannot be empty"),
        ("failed to save dashboard", "long.json", "uid too long, max 40 characters"),
    ],
    ids=["invalid-json", "empty-title", "uid-too-long"],
)  # fmt: skip
def test_skipped_dashboard_file_lines(standin: Standin, msg: str, file: str, error: str) -> None:
    lines = [
        _fields(line)
        for line in standin.log_text().splitlines()
        if f'msg="{msg}"' in line and f"/{file} " in line
    ]
    folder = Path(standin.log_path).parent / "dashboard-files"
    assert lines == [
        f'logger=provisioning.dashboard type=file name=default level=error msg="{msg}" '
        f'file={folder}/{file} error="{error}"'
    ]


def test_duplicate_uid_and_refresh_lines(standin: Standin) -> None:
    assert "uid=dup" in _line(standin, "the same UID is used more than once")
    clamp = "Changing refresh interval for provisioned dashboard to minimum refresh interval"
    assert "dashboardUid=fast" in _line(standin, clamp)
    assert [h["uid"] for h in standin.get("/api/search", params={"query": "first"}).json()] == [
        "dup"
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "EOF"),
        ('{"title": "x"', "unexpected EOF"),
        ('{"title": "x" "uid": 1}', "invalid character '\"' after object key:value pair"),
        ('{"panels": [1 2]}', "invalid character '2' after array element"),
        ('{"title" 1}', "invalid character '1' after object key"),
        ("{'title': 1}", "invalid character '\\'' looking for beginning of object key string"),
        ('{"title": "x"} trailing', None),  # a json.Decoder reads one value only
    ],
)
def test_go_json_error_texts(text: str, error: str | None) -> None:
    assert go_json_error(text)[1] == error
