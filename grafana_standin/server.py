"""The HTTP side: routing, Grafana's response shapes and status codes, the request log."""

from __future__ import annotations

import json
import re
import secrets
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shadow_mvs.evidence.grafana_rules.dashboards import (
    DashboardStore,
    Folder,
    dashboard_response,
    search_hit,
)
from shadow_mvs.evidence.grafana_rules.datasources import Datasource
from shadow_mvs.evidence.grafana_rules.logfmt import log, log_request
from shadow_mvs.evidence.grafana_rules.slug import uid_problem

from . import COMMIT, VERSION, operator_api
from .auth import Authenticator, AuthFailure, Identity
from .dsquery import BadRequest, now_ms, parse_time_ms, run_query
from .prometheus import PrometheusClient, PrometheusError
from .settings import Settings

JSON = "application/json"
JSON_UTF8 = "application/json; charset=UTF-8"
SEARCH_LIMIT_MAX = 5000
TOO_MANY_HITS = (
    "Limit is above maximum allowed (5000), use page parameter to access hits beyond limit"
)
_DATASOURCE_UID = re.compile(r"^/api/datasources/uid/([^/]+)$")
_DATASOURCE_HEALTH = re.compile(r"^/api/datasources/uid/([^/]+)/health$")
_DASHBOARD_UID = re.compile(r"^/api/dashboards/uid/([^/]+)$")
_DATASOURCE_RESOURCE = re.compile(r"^/api/datasources/uid/([^/]+)/resources/(.*)$")


@dataclass(frozen=True)
class State:
    settings: Settings
    datasources: list[Datasource]  # sorted by lower-cased name
    dashboards: DashboardStore
    authenticator: Authenticator

    def datasource(self, uid: str) -> Datasource | None:
        return next((d for d in self.datasources if d.uid == uid), None)

    def datasource_by_name(self, name: str) -> Datasource | None:
        return next((d for d in self.datasources if d.name == name), None)


def go_json(value: Any, indent: int | None = None) -> bytes:
    """Like Go's encoding/json: compact, UTF-8, and <, >, & escaped."""
    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def rbac_denied(action: str) -> dict[str, str]:
    return {
        "accessErrorId": f"ACE{secrets.randbelow(10**10):010d}",
        "message": "You'll need additional permissions to perform this action. "
        f"Permissions needed: {action}",
        "title": "Access denied",
    }


class Reply(Exception):
    """Ends a request with one JSON answer."""

    def __init__(self, status: int, body: Any, content_type: str = JSON) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        self.state = state
        super().__init__(address, StandinHandler)


class StandinHandler(BaseHTTPRequestHandler):
    server: StandinServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "grafana-standin"

    # --- plumbing ---------------------------------------------------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urllib.parse.urlsplit(self.path or "").path if self.path else "-"
        log_request(self.command or "-", path, int(code) if str(code).isdigit() else 0)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the only per-request output is the REQUEST line."""

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_json(self, status: int, body: Any, content_type: str = JSON) -> None:
        self._send(status, go_json(body), content_type)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # --- routing ----------------------------------------------------------------------

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        body = self._read_body()  # always drained, so a kept-alive connection stays in sync
        if path == "/api/health" and self.command in ("GET", "HEAD"):
            health = {"database": "ok", "version": VERSION, "commit": COMMIT}
            self._send(200, go_json(health, indent=2), JSON_UTF8)
            return
        if path == "/healthz" and self.command in ("GET", "HEAD"):
            self._send(200, b"Ok", "text/plain; charset=utf-8")
            return
        if not path.startswith("/api/"):
            self._send_json(404, {"message": "Not found"})
            return
        try:
            identity = self.server.state.authenticator.authenticate(
                self.headers.get("Authorization")
            )
        except AuthFailure as failure:
            # errutil errors go through an encoder that ends the body with a newline.
            self._send(401, go_json(failure.body()) + b"\n", JSON_UTF8)
            return
        try:
            self._route(identity, path, urllib.parse.parse_qs(url.query), body)
        except Reply as reply:
            self._send_json(reply.status, reply.body, reply.content_type)
        except Exception as exc:  # a stand-in bug must still answer like Grafana's recovery
            log("http.server", "error", "Request error", path=path, error=repr(exc))
            self._send_json(500, {"message": "Internal Server Error"})

    def _route(self, who: Identity, path: str, params: dict[str, list[str]], body: bytes) -> None:
        method = self.command
        if match := _DATASOURCE_HEALTH.match(path):
            raise self._datasource_health(urllib.parse.unquote(match.group(1)))
        if method == "POST" and path == "/api/ds/query":
            raise self._ds_query(body)
        if (match := _DATASOURCE_RESOURCE.match(path)) and method in ("GET", "POST"):
            uid, resource = urllib.parse.unquote(match.group(1)), match.group(2)
            self._datasource_resource(uid, resource, body)
            return
        if method not in ("GET", "HEAD"):
            raise Reply(405, {"message": "Method not allowed: this Grafana stand-in is read-only"})
        # Operators' tools (grafana-client): frontend settings, folders, org, user, by name.
        if (tool := operator_api.answer(self.server.state, who, path)) is not None:
            raise Reply(tool.status, tool.body)
        if path == "/api/datasources":
            if not who.is_admin:
                raise Reply(403, rbac_denied("datasources:read"))
            raise Reply(200, [d.list_item() for d in self.server.state.datasources])
        if match := _DATASOURCE_UID.match(path):
            if not who.is_admin:
                raise Reply(403, rbac_denied("datasources:read"))
            found = self.server.state.datasource(urllib.parse.unquote(match.group(1)))
            if found is None:
                raise Reply(404, {"message": "Data source not found"})
            raise Reply(200, found.dto())
        if path == "/api/search":
            raise self._search(params)
        if match := _DASHBOARD_UID.match(path):
            dashboard = self.server.state.dashboards.dashboard(urllib.parse.unquote(match.group(1)))
            if dashboard is None:
                raise Reply(404, {"message": "Dashboard not found"})
            raise Reply(200, dashboard_response(dashboard, who.is_admin, who.anonymous))
        raise Reply(404, {"message": "Not found"})

    # --- handlers ---------------------------------------------------------------------

    def _datasource_health(self, uid: str) -> Reply:
        if uid_problem(uid):
            return Reply(400, {"message": "UID is invalid"})
        datasource = self.server.state.datasource(uid)
        if datasource is None:
            return Reply(500, {"message": "Unable to load datasource metadata"})
        if datasource.type != "prometheus":
            return Reply(501, {"message": "Plugin health check not implemented"})
        client = PrometheusClient(datasource, self.server.state.settings.dataproxy_timeout_s)
        status, result = client.health()
        return Reply(status, result)

    def _datasource_resource(self, uid: str, resource: str, body: bytes) -> None:
        """``/api/datasources/uid/:uid/resources/*`` (pkg/api/datasources.go
        ``CallDatasourceResourceWithUID``, pkg/api/plugin_resource.go): the Prometheus plugin
        forwards the path and query to its server and Grafana passes the answer through —
        status, Content-Type and body as Prometheus sent them. Needs ``datasources:query``."""
        if uid_problem(uid):
            raise Reply(400, {"message": "UID is invalid"})
        datasource = self.server.state.datasource(uid)
        if datasource is None:  # JsonApiErr with an error: the body carries a traceID
            raise Reply(500, {"message": "Unable to load datasource meta data", "traceID": ""})
        if datasource.type != "prometheus":
            raise Reply(404, {"message": "Not found", "traceID": ""})
        client = PrometheusClient(datasource, self.server.state.settings.dataproxy_timeout_s)
        query = urllib.parse.urlsplit(self.path).query
        try:
            status, content_type, answer = client.forward(self.command, resource, query, body)
        except PrometheusError as exc:
            log("plugin.prometheus", "error", "Failed to call resource", error=str(exc))
            raise Reply(500, {"message": "Failed to call resource", "traceID": ""}) from exc
        # flushStream: a plugin answer without Content-Type goes out as application/json.
        self._send(status, answer, content_type or JSON)

    def _search(self, params: dict[str, list[str]]) -> Reply:
        def first(name: str, default: str = "") -> str:
            return params.get(name, [default])[0]

        try:
            limit = int(first("limit", "1000") or 1000)
            page = max(int(first("page", "1") or 1), 1)
        except ValueError:
            return Reply(400, {"message": "bad request data"})
        if limit > SEARCH_LIMIT_MAX:
            return Reply(422, {"message": TOO_MANY_HITS})
        store = self.server.state.dashboards
        kind = first("type")
        text = first("query").lower()
        tags = params.get("tag", [])
        uids = params.get("dashboardUIDs") or params.get("dashboardUID") or []
        folder_uids = params.get("folderUIDs", [])
        items: list[Folder | Any] = []
        if kind in ("", "dash-folder") and not tags and first("starred") != "true":
            items += [f for f in store.folders if (not folder_uids or "general" in folder_uids)]
        if kind in ("", "dash-db") and first("starred") != "true":
            items += [
                d
                for d in store.dashboards
                if all(t in d.tags for t in tags)
                and (not folder_uids or (d.folder.uid if d.folder else "general") in folder_uids)
            ]
        items = [i for i in items if text in i.title.lower() and (not uids or i.uid in uids)]
        items.sort(key=lambda i: (not isinstance(i, Folder), i.title.lower()))
        return Reply(200, [search_hit(i) for i in items[(page - 1) * limit : page * limit]])

    def _ds_query(self, raw: bytes) -> Reply:
        state = self.server.state
        try:
            request = json.loads(raw or b"null")
            if not isinstance(request, dict):
                raise BadRequest("bad request data")
            moment = now_ms()
            from_ms = parse_time_ms(request.get("from", "now-6h"), moment)
            to_ms = parse_time_ms(request.get("to", "now"), moment)
            queries = request.get("queries")
            if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
                raise BadRequest("bad request data")
        except (ValueError, BadRequest) as exc:
            message = str(exc) if isinstance(exc, BadRequest) else "bad request data"
            return Reply(400, {"message": message})
        if not queries:
            return Reply(400, {"message": "No queries found"})
        ref_ids = [str(q.get("refId") or "A") for q in queries]
        if len(set(ref_ids)) != len(ref_ids):
            duplicate = {
                "message": "multiple queries using the same RefId is not allowed",
                "messageId": "query.duplicateRefId",
                "statusCode": 400,
            }
            return Reply(400, duplicate)
        targets: list[Datasource] = []
        for ref_id, query in zip(ref_ids, queries, strict=True):
            reference = query.get("datasource")
            if isinstance(reference, dict) and reference.get("uid"):
                target = state.datasource(str(reference["uid"]))
            elif isinstance(reference, str) and reference:
                target = state.datasource_by_name(reference)  # pre-8.3 form: a name
            else:
                return Reply(400, {"message": f"Query {ref_id} is missing datasource information"})
            if target is None:
                return Reply(404, {"message": "Data source not found"})
            targets.append(target)
        results: dict[str, Any] = {}
        for ref_id, query, target in zip(ref_ids, queries, targets, strict=True):
            if target.type != "prometheus":
                unsupported = f"the stand-in only queries Prometheus, not {target.type!r}"
                results[ref_id] = {"error": unsupported, "errorSource": "downstream", "status": 400}
                continue
            client = PrometheusClient(target, state.settings.dataproxy_timeout_s)
            results[ref_id] = run_query(query | {"refId": ref_id}, target, from_ms, to_ms, client)
        failed = any("error" in r for r in results.values())
        return Reply(HTTPStatus.BAD_REQUEST if failed else HTTPStatus.OK, {"results": results})
