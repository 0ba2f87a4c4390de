"""``python -m exporter``: flags with environment fallbacks, the NO-LIVE gate, run loop."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from .labels import EXCHANGES, MODES
from .ledger import Ledger
from .metrics import build_registry
from .pipeline import Pipeline
from .server import EXPOSITION_FAULTS, ExporterServer, make_server
from .simulation import PROFILES

PROG = "shadow-mvs-exporter"
DEFAULT_LISTEN = "127.0.0.1:9109"
DEFAULT_TICK_S = 0.25
LIVE_GATE_ENV = "LIVE_TRADING_ENABLED"

log = logging.getLogger("shadow_mvs.exporter")


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT (e.g. {DEFAULT_LISTEN})")
    if host != "localhost":
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{host!r} in {value!r} is not an IPv4 address or 'localhost'"
            ) from None
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise argparse.ArgumentTypeError(f"port {port_text!r} in {value!r} is not in 0-65535")
    return host, int(port_text)


def one_of(allowed: Sequence[str]) -> Callable[[str], str]:
    # A type check instead of choices=: argparse never checks choices against defaults,
    # and the defaults here come from the environment.
    def check(value: str) -> str:
        if value not in allowed:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not one of the contract's values: {', '.join(allowed)}"
            )
        return value

    return check


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive number of seconds")
    return seconds


def integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None


def live_trading_enabled(env: Mapping[str, str]) -> bool:
    """Strict: unset means false; anything but exactly 'true' or 'false' is an error."""
    raw = env.get(LIVE_GATE_ENV, "false")
    if raw not in ("true", "false"):
        raise ValueError(f"{LIVE_GATE_ENV} must be 'true' or 'false', got {raw!r}")
    return raw == "true"


def default_ledger_path(env: Mapping[str, str]) -> str:
    return env.get("SHADOW_MVS_LEDGER") or str(
        Path(tempfile.gettempdir()) / "shadow-mvs" / "ledger.jsonl"
    )


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Deterministic Shadow-MVS pipeline simulator: serves /metrics, /snapshot and "
            "/healthz and appends every event to a JSONL ledger. Watch-only: it never "
            "places orders, in any mode."
        ),
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=env.get("SHADOW_MVS_LISTEN", DEFAULT_LISTEN),
        metavar="HOST:PORT",
        help=f"address to serve on (env SHADOW_MVS_LISTEN, default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--mode",
        type=one_of(MODES),
        default=env.get("SHADOW_MVS_MODE", "shadow"),
        metavar="{" + ",".join(MODES) + "}",
        help=f"mode label (env SHADOW_MVS_MODE, default shadow); live needs {LIVE_GATE_ENV}=true",
    )
    parser.add_argument(
        "--exchange",
        type=one_of(EXCHANGES),
        default=env.get("SHADOW_MVS_EXCHANGE", "kraken"),
        metavar="{" + ",".join(EXCHANGES) + "}",
        help="exchange label (env SHADOW_MVS_EXCHANGE, default kraken)",
    )
    parser.add_argument(
        "--seed",
        type=integer,
        default=env.get("SHADOW_MVS_SEED", "42"),
        help="simulation seed; same seed, same events (env SHADOW_MVS_SEED, default 42)",
    )
    parser.add_argument(
        "--profile",
        type=one_of(tuple(PROFILES)),
        default=env.get("SHADOW_MVS_PROFILE", "healthy"),
        metavar="{" + ",".join(PROFILES) + "}",
        help="session health to simulate; all but healthy breach one SLO on purpose "
        "(env SHADOW_MVS_PROFILE, default healthy). Never changes the NO-LIVE gate",
    )
    parser.add_argument(
        "--ledger",
        type=Path,
        default=default_ledger_path(env),
        metavar="PATH",
        help="JSONL ledger, appended to (env SHADOW_MVS_LEDGER, default under the temp dir)",
    )
    parser.add_argument(
        "--tick",
        type=positive_seconds,
        default=env.get("SHADOW_MVS_TICK", str(DEFAULT_TICK_S)),
        metavar="SECONDS",
        help=f"simulated tick interval (env SHADOW_MVS_TICK, default {DEFAULT_TICK_S})",
    )
    parser.add_argument(
        "--run-id",
        default=None,
        help="ledger run_id (default: MODE-EXCHANGE-seedSEED-<UTC start, microseconds>-<random>)",
    )
    return parser


def default_run_id(mode: str, exchange: str, seed: int) -> str:
    """MODE-EXCHANGE-seedSEED-<UTC start to the microsecond>-<random>: two starts in the
    same instant (restarts, parallel runs on one ledger) still get distinct run ids, and
    so distinct intent and client order ids, which derive from it."""
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{mode}-{exchange}-seed{seed}-{started}-{secrets.token_hex(4)}"


def fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = build_parser(env)
    args = parser.parse_args(argv)
    try:
        live_enabled = live_trading_enabled(env)
    except ValueError as exc:
        parser.error(str(exc))
    fault = env.get("SHADOW_MVS_FAULT_EXPOSITION", "")
    if fault not in ("", *EXPOSITION_FAULTS):
        parser.error(
            f"SHADOW_MVS_FAULT_EXPOSITION must be one of {', '.join(EXPOSITION_FAULTS)}, "
            f"got {fault!r}"
        )
    if args.mode == "live" and not live_enabled:
        return fail(
            f"mode 'live' refused: {LIVE_GATE_ENV} is not 'true' (NO-LIVE gate; use mode shadow)",
            2,
        )

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host, port = args.listen
    run_id = args.run_id or default_run_id(args.mode, args.exchange, args.seed)
    try:
        ledger = Ledger(args.ledger)
    except OSError as exc:
        return fail(f"cannot open ledger {args.ledger}: {exc.strerror or exc}", 1)
    pipeline = Pipeline(
        seed=args.seed,
        mode=args.mode,
        exchange=args.exchange,
        run_id=run_id,
        ledger=ledger,
        profile=PROFILES[args.profile],
    )
    try:
        server = make_server(host, port, pipeline, build_registry(pipeline), fault=fault)
    except OSError as exc:
        close_ledger(ledger)
        return fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1)

    log.info(
        "watch-only simulator: mode=%s exchange=%s profile=%s seed=%s run_id=%s ledger=%s tick=%s",
        args.mode,
        args.exchange,
        args.profile,
        args.seed,
        run_id,
        args.ledger,
        args.tick,
    )
    if fault:
        log.warning(
            "test-only SHADOW_MVS_FAULT_EXPOSITION=%s: /metrics served wrong on purpose", fault
        )
    if args.mode == "live":
        log.warning(
            "%s=true: mode=live only labels this simulation; nothing trades, no order "
            "is ever placed",
            LIVE_GATE_ENV,
        )
    return serve(server, pipeline, ledger, args.tick)


def serve(server: ExporterServer, pipeline: Pipeline, ledger: Ledger, tick_s: float) -> int:
    """Serve and tick until SIGTERM/SIGINT, then stop ticking and close the ledger."""
    stop = threading.Event()
    ledger_failed = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    def tick_loop() -> None:
        while not stop.wait(tick_s):
            try:
                pipeline.advance()
            except OSError as exc:
                log.error("ledger write failed, stopping: %s", exc)
                ledger_failed.set()
                stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    http_thread = threading.Thread(
        target=server.serve_forever, args=(0.1,), name="http", daemon=True
    )
    ticker = threading.Thread(target=tick_loop, name="ticker", daemon=True)
    pipeline.set_run_state("running")
    http_thread.start()
    ticker.start()
    host, port = server.server_address[:2]
    log.info("serving /metrics /snapshot /healthz on %s:%s", host, port)

    stop.wait()
    ticker.join()
    pipeline.set_run_state("stopped")
    server.shutdown()
    server.server_close()
    if not close_ledger(ledger):
        return 1
    log.info("stopped; ledger flushed to %s", ledger.path)
    return 1 if ledger_failed.is_set() else 0


def close_ledger(ledger: Ledger) -> bool:
    """fsync and close; a failure (a full disk, an I/O error) is one log line, not a
    traceback, and the exit code says the ledger may be incomplete."""
    try:
        ledger.close()
    except OSError as exc:
        log.error("ledger %s: flush on close failed: %s", ledger.path, exc.strerror or exc)
        return False
    return True
