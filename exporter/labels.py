"""Label values and family names of the metric contract (shadow_mvs/data/contract.toml).

Copied here because the exporter runs alone in a container without the shadow_mvs package;
tests/exporter proves the copy equals the contract.
"""

MODES = ("shadow", "live")
EXCHANGES = ("kraken",)
STAGES = ("signal", "intent", "submit", "ack", "fill", "cancel", "risk_block", "error")
EDGES = ("intent_to_ack", "ack_to_fill", "intent_to_fill")
RISK_REASONS = ("max_position", "max_notional", "price_band", "kill_switch")
FEEDS = ("trades", "book")
RUN_STATES = ("idle", "running", "stopped")

UP = "shadow_mvs_up"
EVENTS = "peak_trade_pipeline_events_total"
LATENCY = "peak_trade_pipeline_latency_seconds"
RISK_BLOCKS = "peak_trade_risk_blocks_total"
FEED_GAPS = "peak_trade_feed_gaps_total"
RUN_STATE = "peak_trade_run_state"

# Milliseconds to seconds: acks sit around tens of ms, fills reach into seconds, so a
# p95 from histogram_quantile lands inside a bucket rather than at an edge.
LATENCY_BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)
