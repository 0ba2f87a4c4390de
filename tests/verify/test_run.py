"""The polling, blocking and verdict rules every check relies on."""

import time

import httpx
import pytest

from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.run import CheckBlocked, CheckFailed, VerifyRun, describe


def fast_run() -> VerifyRun:
    run = VerifyRun()
    for record in run.records.values():
        record.budget_s = 0.3
    return run


def context(run: VerifyRun, name: str):
    return run.context(load_contract().check(name))


def test_poll_returns_once_probe_succeeds():
    run = fast_run()
    ctx = context(run, "exporter")
    ctx.record.budget_s = 5  # three attempts at the contract's interval fit well inside
    answers = iter([CheckFailed("warming up"), CheckFailed("still warming"), "ok"])

    def probe():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert ctx.poll(probe) == "ok"
    assert ctx.record.attempts == 3


def test_timeout_message_carries_last_underlying_error():
    ctx = context(fast_run(), "exporter")
    calls = iter(range(1000))

    def probe():
        raise CheckFailed(f"attempt {next(calls)} refused")

    with pytest.raises(CheckFailed) as failed:
        ctx.poll(probe)
    last = ctx.record.attempts - 1
    assert f"attempt {last} refused" in failed.value.message
    assert "gave up after" in failed.value.message
    assert ctx.record.last_error == f"attempt {last} refused"


def test_non_retryable_failure_fails_at_once():
    ctx = context(fast_run(), "datasource")

    def probe():
        raise CheckFailed("HTTP 401", cause="auth", retryable=False)

    with pytest.raises(CheckFailed) as failed:
        ctx.poll(probe)
    assert ctx.record.attempts == 1
    assert failed.value.cause == "auth"


def test_unexpected_exception_is_not_swallowed_as_warm_up():
    ctx = context(fast_run(), "exporter")

    def probe():
        raise KeyError("bug in a check")

    with pytest.raises(KeyError):
        ctx.poll(probe)
    assert ctx.record.attempts == 1


def test_connection_errors_are_retried_and_described():
    ctx = context(fast_run(), "exporter")
    request = httpx.Request("GET", "http://127.0.0.1:9/metrics?secret=x")

    def probe():
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(CheckFailed) as failed:
        ctx.poll(probe)
    assert ctx.record.attempts > 1
    assert "GET http://127.0.0.1:9/metrics: connection failed" in failed.value.message
    assert "secret" not in failed.value.message


def test_downstream_check_is_blocked_by_the_root_cause():
    run = fast_run()
    run.settle("exporter", CheckFailed("down"))
    with pytest.raises(CheckBlocked) as blocked:
        context(run, "targets")
    run.settle("targets", blocked.value)
    with pytest.raises(CheckBlocked) as second:
        context(run, "queries")
    assert second.value.upstream.check == "exporter"
    assert "F-FAIL-EXPORTER" in second.value.message


def test_verdict_names_first_failing_check_not_blocked_ones():
    run = fast_run()
    for name in run.records:
        run.settle(name, None)
    assert run.passed
    assert run.verify_code == "F-OK"
    run.settle("grafana", CheckFailed("down"))
    run.settle("datasource", CheckBlocked(run.records["grafana"]))
    assert not run.passed
    assert run.verify_code == "F-FAIL-GRAFANA"
    assert run.first_failure is run.records["grafana"]


def test_record_routes_sub_causes_to_their_node():
    run = fast_run()
    run.settle("datasource", CheckFailed("points at mini-stack", cause="mini_stack_url"))
    assert run.records["datasource"].node.id == "G-8"
    run.settle("datasource", CheckFailed("401", cause="auth"))
    assert run.records["datasource"].node.id == "G-5"
    assert run.records["datasource"].as_metadata()["g_node"] == "G-5"


def test_describe_timeout_names_the_request():
    request = httpx.Request("GET", "http://127.0.0.1:3000/api/health")
    line = describe(httpx.ReadTimeout("read timed out", request=request))
    assert line.startswith("GET http://127.0.0.1:3000/api/health: timed out")


def test_unreachable_external_link_ends_after_the_grace_not_the_budget():
    from fixtures.local_prometheus import free_loopback_port

    url = f"http://127.0.0.1:{free_loopback_port()}/metrics"
    run = VerifyRun(external=True)
    ctx = context(run, "exporter")
    assert ctx.record.budget_s == 10
    started = time.monotonic()
    with httpx.Client(timeout=1) as client, pytest.raises(CheckFailed) as failed:
        ctx.poll(lambda: client.get(url).raise_for_status())
    assert time.monotonic() - started < load_contract().unreachable_grace_s + 1
    assert "unreachable external stack" in failed.value.message
    assert "Connection refused" in failed.value.message


def test_compose_mode_keeps_retrying_refused_connections_for_the_budget():
    run = VerifyRun(external=False)
    ctx = context(run, "exporter")
    ctx.record.budget_s = load_contract().unreachable_grace_s + 1
    request = httpx.Request("GET", "http://127.0.0.1:9/metrics")

    def probe():
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    started = time.monotonic()
    with pytest.raises(CheckFailed):
        ctx.poll(probe)
    assert time.monotonic() - started >= ctx.record.budget_s


def test_a_link_that_answered_once_keeps_its_budget_in_external_mode():
    # Grace is for "nothing there"; a service that answered is restarting, not absent.
    run = VerifyRun(external=True)
    ctx = context(run, "exporter")
    ctx.record.budget_s = load_contract().unreachable_grace_s + 1
    request = httpx.Request("GET", "http://127.0.0.1:9/metrics")
    answers = iter([CheckFailed("HTTP 503")])

    def probe():
        raise next(answers, httpx.ConnectError("refused", request=request))

    started = time.monotonic()
    with pytest.raises(CheckFailed):
        ctx.poll(probe)
    assert time.monotonic() - started >= ctx.record.budget_s


def test_budget_scale_multiplies_every_budget():
    run = VerifyRun(budget_scale=3)
    for check in load_contract().checks:
        assert run.records[check.name].budget_s == check.budget_s * 3


def test_selection_marks_the_rest_not_selected_and_names_missing_upstreams():
    run = VerifyRun()
    run.select({"queries"})
    assert run.partial
    assert run.selection_note == f"partial: 1 of {len(run.records)} checks selected"
    assert run.records["exporter"].status == "not_selected"
    assert run.records["queries"].unselected_upstream == ("targets",)
    run.settle("queries", None)
    assert run.passed
    assert run.verify_code == "F-OK"
    nothing = VerifyRun()
    nothing.select(set())
    assert not nothing.passed


def test_after_a_final_failure_no_other_check_waits_out_its_warm_up():
    """The run cannot pass any more: a later check's warm-up wait ends at its first attempt,
    blocked by the root; a warm-up failure elsewhere leaves the budget alone."""
    run = fast_run()
    run.settle("grafana", CheckFailed("unreachable"))  # no cause: warm-up
    ctx = context(run, "targets")
    with pytest.raises(CheckFailed):
        ctx.poll(lambda: (_ for _ in ()).throw(CheckFailed("not yet", cause="rate_window_filling")))
    assert ctx.record.attempts > 1
    run.settle("datasource", CheckFailed("HTTP 401", cause="auth"))
    waiting = context(run, "queries")
    with pytest.raises(CheckBlocked) as blocked:
        waiting.poll(lambda: (_ for _ in ()).throw(CheckFailed("not yet", cause="empty")))
    assert waiting.record.attempts == 1
    assert blocked.value.upstream.check == "datasource"
    assert "not waited for: F-FAIL-DATASOURCE (datasource) cannot heal" in blocked.value.message
