"""The exporter's HTTP server: prometheus-client's content negotiation over real HTTP, and
the bounds that keep it up under abuse (connection timeout, handler pool, backlog)."""

from __future__ import annotations

import gzip
import http.client
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from exporter.ledger import Ledger
from exporter.metrics import build_registry
from exporter.pipeline import Pipeline
from exporter.server import ExporterServer, make_server
from shadow_mvs.core.contract import Contract
from shadow_mvs.core.waiting import GaveUp, bounded_poll
from shadow_mvs.evidence.exposition import inspect_exposition

from .conftest import Exporter

OPENMETRICS = "application/openmetrics-text"


def raw_get(url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One GET with the stdlib client: headers exactly as given, the body as sent (no
    transparent gzip decoding, unlike httpx)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5.0)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# --- content negotiation (prometheus-client's MetricsHandler) -----------------------------


def test_plain_scrape_gets_the_classic_text_format(
    busy_exporter: Exporter, shadow_mvs_contract: Contract
):
    status, headers, body = raw_get(busy_exporter.url, "/metrics", {"Accept": "*/*"})
    assert status == 200
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "content-encoding" not in headers
    text = body.decode()
    assert "# EOF" not in text
    assert any(f.name == "shadow_mvs_up" for f in text_string_to_metric_families(text))
    report = inspect_exposition(text, shadow_mvs_contract, headers["content-type"])
    assert report.problems == []
    assert len(report.families) == len(shadow_mvs_contract.families)


def test_openmetrics_when_asked_ends_in_eof_and_meets_the_contract(
    busy_exporter: Exporter, shadow_mvs_contract: Contract
):
    # Prometheus's own Accept header when it prefers OpenMetrics (scrape_protocols).
    accept = f"{OPENMETRICS};version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    status, headers, body = raw_get(busy_exporter.url, "/metrics", {"Accept": accept})
    assert status == 200
    assert headers["content-type"].startswith(f"{OPENMETRICS}; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics_families(text)}  # raises without # EOF
    assert families["peak_trade_pipeline_events"].type == "counter"
    report = inspect_exposition(text, shadow_mvs_contract, headers["content-type"])
    assert report.problems == []
    assert len(report.families) == len(shadow_mvs_contract.families)
    plain = inspect_exposition(busy_exporter.metrics_text(), shadow_mvs_contract)
    assert set(report.families) == set(plain.families)


def test_an_openmetrics_body_without_eof_is_refused_by_the_check(
    busy_exporter: Exporter, shadow_mvs_contract: Contract
):
    _, headers, body = raw_get(busy_exporter.url, "/metrics", {"Accept": OPENMETRICS})
    cut = body.decode().removesuffix("# EOF\n")
    with pytest.raises(ValueError, match="EOF"):
        inspect_exposition(cut, shadow_mvs_contract, headers["content-type"])


@pytest.mark.parametrize("accept", ["*/*", OPENMETRICS])
def test_gzip_when_accepted(busy_exporter: Exporter, accept: str):
    status, headers, body = raw_get(
        busy_exporter.url, "/metrics", {"Accept": accept, "Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert "shadow_mvs_up" in text
    assert text.endswith("# EOF\n") == (accept == OPENMETRICS)


def test_snapshot_and_healthz_stay_json_beside_metrics(busy_exporter: Exporter):
    for path in ("/snapshot", "/healthz"):
        status, headers, _ = raw_get(busy_exporter.url, path, {"Accept": OPENMETRICS})
        assert (status, headers["content-type"]) == (200, "application/json")
    status, _, body = raw_get(busy_exporter.url, "/nope", {})
    assert status == 404
    assert b"no such endpoint" in body


# --- bounds: an in-process server with small limits ---------------------------------------

SMALL_POOL = 2
SHORT_TIMEOUT_S = 0.3


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[ExporterServer]:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    pipeline = Pipeline(seed=1, mode="shadow", exchange="kraken", run_id="t", ledger=ledger)
    server = make_server(
        "127.0.0.1",
        0,
        pipeline,
        build_registry(pipeline),
        max_threads=SMALL_POOL,
        timeout_s=SHORT_TIMEOUT_S,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    ledger.close()


def url_of(server: ExporterServer) -> str:
    host, port = address_of(server)
    return f"http://{host}:{port}"


def address_of(server: ExporterServer) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


def idle_connections(server: ExporterServer, count: int) -> list[socket.socket]:
    """Connections that are accepted (or queued) and never send a byte."""
    return [socket.create_connection(address_of(server), timeout=1.0) for _ in range(count)]


def closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def handler_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("http"))


def test_a_silent_connection_is_closed_after_the_timeout(small_server: ExporterServer):
    (sock,) = idle_connections(small_server, 1)

    def closed() -> None:
        if not closed_by_peer(sock):
            raise AssertionError("the exporter still holds the silent connection")

    try:
        bounded_poll(closed, budget_s=5.0, interval_s=0.05, retry_if=(AssertionError,), what="")
    finally:
        sock.close()


def test_idle_connections_never_take_more_than_the_pool(small_server: ExporterServer):
    held = idle_connections(small_server, 20)
    try:
        # Every idle connection is answered in turn (timed out), and a real request queued
        # behind them is still served: the pool bounds threads, it does not drop work.
        status, _, body = raw_get(url_of(small_server), "/healthz", {})
        assert status == 200
        assert b'"ok"' in body
        assert handler_threads() <= SMALL_POOL
    finally:
        for sock in held:
            sock.close()


def test_the_backlog_queues_a_burst_instead_of_refusing_it(small_server: ExporterServer):
    # socketserver's default backlog of 5 lets only a handful of connects through while
    # the pool is busy; the rest hang in SYN retries until their connect timeout.
    held: list[socket.socket] = []
    try:
        for _ in range(100):
            held.append(socket.create_connection(address_of(small_server), timeout=0.5))
    except OSError as error:
        pytest.fail(f"connect {len(held) + 1} of 100 failed while the pool was busy: {error!r}")
    finally:
        for sock in held:
            sock.close()


def test_a_broken_client_is_no_traceback(
    small_server: ExporterServer, capsys: pytest.CaptureFixture[str]
):
    (sock,) = idle_connections(small_server, 1)
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers

    def closed() -> None:
        if not closed_by_peer(sock):
            raise AssertionError("still open")

    try:
        bounded_poll(closed, budget_s=5.0, interval_s=0.05, retry_if=(AssertionError,), what="")
    except GaveUp as error:
        pytest.fail(f"half a request held the connection: {error.last!r}")
    finally:
        sock.close()
    assert "Traceback" not in capsys.readouterr().err
