"""Watch-only and loopback-only, observed on a running offline stack: every listener of
the stack is bound to 127.0.0.1, and a verify run makes no write call to Grafana (the
stand-in's request log shows only reads and the read-only POST /api/ds/query)."""

import re
import socket

import pytest

from fixtures.faults import FaultBench, run_verify
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.waiting import bounded_poll
from shadow_mvs.stack.bringup import compose_service_logs

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REQUEST = re.compile(r"REQUEST method=(\S+) path=(\S+) status=(\d+)")
READ_ONLY_POSTS = {"/api/ds/query"}


def listening_addresses(port: int) -> set[str]:
    """Local addresses in LISTEN state for a TCP port, from /proc/net/tcp{,6}."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        with open(table) as fh:
            next(fh)
            for row in fh:
                local, state = row.split()[1], row.split()[3]
                address, port_hex = local.split(":")
                if state != "0A" or int(port_hex, 16) != port:
                    continue
                raw = bytes.fromhex(address)
                # /proc prints each 32-bit word in host byte order (little-endian here)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, words))
    return found


@pytest.mark.parametrize("endpoint", ["exporter_url", "prometheus_url", "grafana_url"])
def test_every_listener_is_loopback_only(fault_bench: FaultBench, endpoint):
    port = int(load_contract().endpoints[endpoint].rsplit(":", 1)[1])

    # Right after `up` a service may not have bound yet: wait (bounded) for a listener.
    def bound() -> set[str]:
        found = listening_addresses(port)
        assert found, f"nothing listens on port {port}"
        return found

    addresses = bounded_poll(
        bound, budget_s=15, interval_s=0.2, retry_if=(AssertionError,), what=f"a listener on {port}"
    )
    assert addresses == {"127.0.0.1"}, f"port {port} listens on {addresses}"


def test_verify_makes_no_write_calls(fault_bench: FaultBench, tmp_path):
    before = len(REQUEST.findall(compose_service_logs(fault_bench.compose, "grafana")))
    outcome = run_verify(tmp_path / "verify.json")
    assert outcome.exit_code == 0, outcome.output
    requests = REQUEST.findall(compose_service_logs(fault_bench.compose, "grafana"))[before:]
    assert requests, "the stand-in logged no request of the verify run"
    writes = [
        (m, p)
        for m, p, _ in requests
        if m not in {"GET", "HEAD"} and not (m == "POST" and p in READ_ONLY_POSTS)
    ]
    assert writes == []
    assert {p for _, p, _ in requests} >= {"/api/health", "/api/datasources", "/api/search"}
