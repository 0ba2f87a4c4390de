"""Shadow-MVS exporter: a deterministic, watch-only simulator of the Peak_Trade pipeline.

It serves the contract's metric families on ``/metrics`` and appends every pipeline
event to a JSONL ledger. Nothing in this package can place an order.

Runs on the stdlib plus prometheus-client (0.16 in Debian bookworm up to current), so the
offline image can run it from a read-only mount.
"""
