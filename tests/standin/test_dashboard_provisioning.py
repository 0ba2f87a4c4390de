"""Dashboard provider and file rules, on the state builder with tmp provisioning trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shadow_mvs.evidence.grafana_rules.dashboards import provision_dashboards, read_providers
from shadow_mvs.evidence.grafana_rules.errors import ProvisioningError
from shadow_mvs.evidence.grafana_rules.slug import slugify, uid_problem

from .conftest import Provisioning


def model(uid: str | None, title: str = "T", **extra: object) -> dict[str, object]:
    base: dict[str, object] = {"title": title, "panels": [], "schemaVersion": 39, "id": 99}
    return base | ({"uid": uid} if uid is not None else {}) | extra


def test_provider_defaults(provisioning: Provisioning) -> None:
    path = provisioning.provider_file(
        "p.yaml", {"apiVersion": 1, "providers": [{"name": "p", "options": {"path": "/x"}}]}
    )
    [provider] = read_providers(path, {})
    assert (provider.org_id, provider.folder, provider.folder_uid, provider.type) == (
        1,
        "",
        "",
        "file",
    )
    assert provider.update_interval_s == 10
    assert provider.disable_deletion is False
    assert provider.allow_ui_updates is False
    assert provider.folders_from_files_structure is False


def test_provider_values_are_interpolated(provisioning: Provisioning) -> None:
    path = provisioning.provider_file(
        "p.yaml",
        {
            "apiVersion": 1,
            "providers": [
                {"name": "p", "folder": "$FOLDER", "options": {"path": "${DASH_DIR}/dash"}}
            ],
        },
    )
    [provider] = read_providers(path, {"FOLDER": "Ops", "DASH_DIR": "/srv"})
    assert (provider.folder, provider.path) == ("Ops", "/srv/dash")


def test_v0_provider_file_is_a_bare_list(
    provisioning: Provisioning, capsys: pytest.CaptureFixture[str]
) -> None:
    """types.go configV0: ``editable`` is its own field, ``allowUiUpdates`` and
    ``folderUid`` are read as in v1; config_reader.go warns that the file is outdated."""
    path = provisioning.provider_file(
        "p.yaml",
        [
            {"name": "old", "org_id": 1, "editable": True, "options": {"path": "/x"}},
            {"name": "new", "allowUiUpdates": True, "folderUid": "f", "options": {"path": "/y"}},
        ],
    )
    old, new = read_providers(path, {})
    assert (old.name, old.allow_ui_updates) == ("old", False)
    assert (new.allow_ui_updates, new.folder_uid) == (True, "f")
    out = capsys.readouterr().out
    assert 'msg="[Deprecated] the dashboard provisioning config is outdated. please upgrade"' in out


def test_a_mapping_without_api_version_is_fatal(provisioning: Provisioning) -> None:
    """Without apiVersion Grafana unmarshals the file into a list of v0 providers."""
    provisioning.provider_file("p.yaml", {"providers": [{"name": "p", "options": {"path": "/x"}}]})
    with pytest.raises(ProvisioningError) as raised:
        provision_dashboards(provisioning.path, {})
    assert str(raised.value) == (
        "Failed to create provisioner: Failed to read dashboards config: could not parse "
        "provisioning config file: p.yaml error: yaml: unmarshal errors:\n"
        "  line 1: cannot unmarshal !!map into []*dashboards.configV0"
    )


def test_legacy_options_folder_alias(provisioning: Provisioning) -> None:
    path = provisioning.provider_file(
        "p.yaml", {"apiVersion": 1, "providers": [{"name": "p", "options": {"folder": "/y"}}]}
    )
    assert read_providers(path, {})[0].path == "/y"


@pytest.mark.parametrize(
    "providers",
    [
        [{"name": "p", "options": {"path": "/x"}}, {"name": "p", "options": {"path": "/y"}}],
        [{"name": "p", "type": "sql", "options": {"path": "/x"}}],
        [{"name": "p", "options": {"path": 5}}],
        [{"name": "p", "options": {}}],
        [{"name": "p", "orgId": 2, "options": {"path": "/x"}}],
        [
            {
                "name": "p",
                "folder": "F",
                "folderUid": "f",
                "options": {"path": "/x", "foldersFromFilesStructure": True},
            }
        ],
    ],
    ids=[
        "duplicate-name",
        "type-not-file",
        "path-not-string",
        "no-path",
        "unknown-org",
        "fffs+folder+uid",
    ],
)
def test_fatal_provider_configs(provisioning: Provisioning, providers: list[object]) -> None:
    provisioning.provider_file("p.yaml", {"apiVersion": 1, "providers": providers})
    with pytest.raises(ProvisioningError):
        provision_dashboards(provisioning.path, {})


def test_provider_yaml_parse_error_is_fatal(provisioning: Provisioning) -> None:
    provisioning.provider_file("p.yaml", "providers: [\n")
    with pytest.raises(ProvisioningError):
        provision_dashboards(provisioning.path, {})


def test_missing_provider_path_is_a_warning(
    provisioning: Provisioning, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioning.provider_file(
        "p.yaml",
        {"apiVersion": 1, "providers": [{"name": "p", "options": {"path": "/does/not/exist"}}]},
    )
    assert provision_dashboards(provisioning.path, {}).dashboards == []
    assert 'level=warn msg="Failed to provision config"' in capsys.readouterr().out


def test_walk_is_recursive_skips_dot_dirs_and_non_json(provisioning: Provisioning) -> None:
    provisioning.default_provider()
    provisioning.dashboard("top.json", model("top"))
    provisioning.dashboard("a/b/deep.json", model("deep"))
    provisioning.dashboard(".hidden/secret.json", model("hidden"))
    provisioning.dashboard("notes.txt", model("txt"))
    store = provision_dashboards(provisioning.path, {})
    assert sorted(d.uid for d in store.dashboards) == ["deep", "top"]
    assert store.dashboard("deep").external_id == "a/b/deep.json"  # type: ignore[union-attr]


def test_provider_folder_holds_every_file(provisioning: Provisioning) -> None:
    provisioning.default_provider(folder="Ops", folderUid="ops-uid")
    provisioning.dashboard("a.json", model("a"))
    provisioning.dashboard("sub/b.json", model("b"))
    store = provision_dashboards(provisioning.path, {})
    assert {d.folder.uid if d.folder else None for d in store.dashboards} == {"ops-uid"}
    assert [(f.title, f.uid) for f in store.folders] == [("Ops", "ops-uid")]


def test_empty_folder_means_general(provisioning: Provisioning) -> None:
    provisioning.default_provider()
    provisioning.dashboard("a.json", model("a"))
    store = provision_dashboards(provisioning.path, {})
    assert store.folders == []
    assert store.dashboard("a").folder is None  # type: ignore[union-attr]


def test_folders_from_files_structure_uses_the_immediate_parent(provisioning: Provisioning) -> None:
    provisioning.default_provider(
        options={"path": str(provisioning.dashboards_dir), "foldersFromFilesStructure": True}
    )
    provisioning.dashboard("root.json", model("root"))
    provisioning.dashboard("team/x.json", model("x"))
    provisioning.dashboard("team/nested/y.json", model("y"))
    store = provision_dashboards(provisioning.path, {})
    folders = {d.uid: d.folder.title if d.folder else None for d in store.dashboards}
    assert folders == {"root": None, "x": "team", "y": "nested"}


def test_invalid_json_and_empty_title_are_skipped_with_an_error(
    provisioning: Provisioning, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioning.default_provider()
    provisioning.dashboard("bad.json", "{not json")
    provisioning.dashboard("untitled.json", model("untitled", title=""))
    provisioning.dashboard("good.json", model("good"))
    store = provision_dashboards(provisioning.path, {})
    assert [d.uid for d in store.dashboards] == ["good"]
    out = capsys.readouterr().out
    assert out.count('level=error msg="failed to load dashboard from "') == 2
    assert "Dashboard title cannot be empty" in out
    assert "logger=provisioning.dashboard type=file name=default t=" in out


@pytest.mark.parametrize("bad_uid", ["x" * 41, "has space", "slash/uid", "ümlaut"])
def test_invalid_uid_is_skipped_with_an_error(
    provisioning: Provisioning, bad_uid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioning.default_provider()
    provisioning.dashboard("bad.json", model(bad_uid))
    provisioning.dashboard("good.json", model("y" * 40))
    store = provision_dashboards(provisioning.path, {})
    assert [d.uid for d in store.dashboards] == ["y" * 40]
    assert uid_problem(bad_uid) in capsys.readouterr().out  # type: ignore[operator]


def test_duplicate_uid_keeps_the_first_file_in_path_order(
    provisioning: Provisioning, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioning.default_provider()
    provisioning.dashboard("b.json", model("dup", title="second"))
    provisioning.dashboard("a.json", model("dup", title="first"))
    store = provision_dashboards(provisioning.path, {})
    assert [d.title for d in store.dashboards] == ["first"]
    assert "the same UID is used more than once" in capsys.readouterr().out


def test_missing_uid_gets_a_valid_generated_one(provisioning: Provisioning) -> None:
    provisioning.default_provider()
    provisioning.dashboard("a.json", model(None))
    [dashboard] = provision_dashboards(provisioning.path, {}).dashboards
    assert dashboard.uid
    assert uid_problem(dashboard.uid) is None
    assert dashboard.model["uid"] == dashboard.uid


def test_stored_model_gets_db_id_version_and_minimum_refresh(provisioning: Provisioning) -> None:
    provisioning.default_provider()
    provisioning.dashboard("a.json", model("a", refresh="1s", version=7))
    [dashboard] = provision_dashboards(provisioning.path, {}).dashboards
    assert dashboard.model["id"] == dashboard.id != 99
    assert dashboard.model["version"] == 1
    assert dashboard.model["refresh"] == "5s"


def test_provider_path_with_env_and_symlink(provisioning: Provisioning, tmp_path: Path) -> None:
    link = tmp_path / "link"
    os.symlink(provisioning.dashboards_dir, link)
    provisioning.default_provider(options={"path": "$DASHES"})
    provisioning.dashboard("a.json", model("a"))
    [dashboard] = provision_dashboards(provisioning.path, {"DASHES": str(link)}).dashboards
    assert dashboard.external_id == "a.json"


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Node Exporter Full", "node-exporter-full"),
        ("Peak_Trade / Ops / Shadow", "peak-trade-ops-shadow"),
        ("R&D @ Café", "randd-at-cafe"),
        ("--x--", "x"),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_a_non_string_title_counts_as_empty(
    provisioning: Provisioning, capsys: pytest.CaptureFixture[str]
) -> None:
    """Grafana reads the title with simplejson's MustString(): a number is ""."""
    provisioning.default_provider()
    provisioning.dashboard("numbered.json", model("numbered", title=5))  # type: ignore[arg-type]
    assert provision_dashboards(provisioning.path, {}).dashboards == []
    assert 'error="Dashboard title cannot be empty"' in capsys.readouterr().out
