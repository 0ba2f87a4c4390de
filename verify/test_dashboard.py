"""F-FAIL-DASHBOARD → G-6: the dashboard uid is provisioned (meta.provisioned) in folder
Peak_Trade with the contract title. Grafana provisions dashboards a moment after its
listener opens, so the first searches may come back empty."""

from typing import Any

from shadow_mvs.core.contract import Contract
from shadow_mvs.core.run import CheckContext, CheckFailed
from shadow_mvs.plugin.clients import GrafanaClient
from shadow_mvs.plugin.stack import Stack

CHECK = "dashboard"


def test_dashboard_provisioned(
    shadow_mvs_check: CheckContext,
    shadow_mvs_stack: Stack,
    shadow_mvs_grafana: GrafanaClient,
    shadow_mvs_contract: Contract,
) -> None:
    want = shadow_mvs_contract.dashboard

    def probe() -> dict[str, Any]:
        hits = shadow_mvs_grafana.get_json("/api/search", type="dash-db", dashboardUIDs=want["uid"])
        if not hits:
            raise CheckFailed(
                f"dashboard uid {want['uid']} not found by /api/search",
                cause="dashboard_missing",
                facts={"uid": want["uid"]},
            )
        hit = hits[0]
        if hit.get("folderTitle") != want["folder"]:
            raise CheckFailed(
                f"dashboard {want['uid']} is in folder "
                f"{hit.get('folderTitle', 'General')!r}, expected {want['folder']!r}",
                cause="dashboard_misplaced",
                facts={"uid": want["uid"]},
            )
        meta = shadow_mvs_grafana.get_json(f"/api/dashboards/uid/{want['uid']}")["meta"]
        if not meta.get("provisioned"):
            raise CheckFailed(
                f"dashboard {want['uid']} exists but is not file-provisioned",
                cause="dashboard_misplaced",
                facts={"uid": want["uid"]},
            )
        if hit.get("title") != want["title"]:
            raise CheckFailed(
                f"dashboard title {hit.get('title')!r} != {want['title']!r}",
                cause="dashboard_misplaced",
                facts={"uid": want["uid"]},
            )
        return hit

    hit = shadow_mvs_check.poll(probe)
    shadow_mvs_check.passed(f"{hit['uid']} in folder {hit['folderTitle']}, provisioned")
    shadow_mvs_check.evidence("dashboard_uid", f"{hit['uid']} folder={hit['folderTitle']}")
