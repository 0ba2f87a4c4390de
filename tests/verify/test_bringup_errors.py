"""A stack that cannot start says why: compose's own error text survives pytest-docker's
wrapping, and a failed image pull names the image, the daemon's reason and the way out.

The texts below are compose 2.40's output as this machine printed it for an image under a
registry host that cannot resolve (the reserved ``.invalid`` domain); the Docker test of
the whole flow is tests/integration/test_verify_flow.py."""

from __future__ import annotations

import pytest

from fixtures.faults import occupy_port
from fixtures.local_prometheus import free_loopback_port
from shadow_mvs.config.settings import Settings
from shadow_mvs.stack.bringup import (
    StackStartError,
    compose_error_detail,
    compose_error_line,
    failed_base_images,
    failed_pulls,
    preflight,
    unpullable_images,
)
from shadow_mvs.stack.compose import ComposeProject, compose_project

REASON = (
    'Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid on '
    "10.255.255.53:53: no such host"
)
PULL_FAILED = (
    " grafana Pulling \n"
    " prometheus-local Pulling \n"
    f" grafana Error {REASON}\n"
    " prometheus-local  Interrupted\n"
    f"Error response from daemon: {REASON}\n"
)
# How pytest-docker's execute() raises it: the output inside triple quotes, then a dot.
WRAPPED = f'Command docker compose -p x up -d returned 1: """{PULL_FAILED}""".'


def test_the_daemons_message_is_kept_not_the_stray_dot():
    assert compose_error_detail(WRAPPED) == f"Error response from daemon: {REASON}"
    assert (
        compose_error_line(WRAPPED)
        == f"docker compose up failed: Error response from daemon: {REASON}"
    )


def test_without_an_error_line_the_last_line_that_is_not_progress_is_kept():
    text = 'returned 1: """ exporter Building\nservice "exporter" has neither an image nor a build\n""".'
    assert compose_error_detail(text) == 'service "exporter" has neither an image nor a build'
    assert compose_error_detail('returned 1: """""".') == "no output"


def test_a_failed_pull_is_found_per_service():
    assert failed_pulls(WRAPPED) == {"grafana": REASON}
    assert failed_pulls(" exporter Error something else entirely\n") == {}  # never pulled


def test_no_pull_failure_is_no_image_sentence(tmp_path):
    compose = ComposeProject(offline=True, host_network=True, root=tmp_path)
    assert unpullable_images(compose, "Error response from daemon: Conflict.") is None


BASE_REASON = (
    'failed to do request: Head "https://registry.invalid/v2/shadow-mvs/base/manifests/0": '
    "dial tcp: lookup registry.invalid on 10.255.255.53:53: no such host"
)
BUILD_FAILED = (
    '#0 building with "default" instance using docker driver\n\n'
    "#3 [exporter internal] load metadata for registry.invalid/shadow-mvs/base:0\n"
    f"#3 ERROR: {BASE_REASON}\n"
    "------\n"
    " > [exporter internal] load metadata for registry.invalid/shadow-mvs/base:0:\n"
    "------\n"
    "failed to solve: rpc error: code = Unknown desc = failed to solve with frontend "
    f"dockerfile.v0: failed to create LLB definition: {BASE_REASON}\n"
)


def test_a_build_whose_base_image_cannot_be_pulled_names_it(tmp_path):
    assert failed_base_images(BUILD_FAILED) == {
        "exporter": ("registry.invalid/shadow-mvs/base:0", BASE_REASON)
    }
    assert compose_error_detail(BUILD_FAILED).startswith("failed to solve: rpc error")
    compose = ComposeProject(offline=True, host_network=True, root=tmp_path)
    sentence = unpullable_images(compose, BUILD_FAILED)
    assert sentence is not None
    assert sentence.startswith(
        "base image registry.invalid/shadow-mvs/base:0 (build of service exporter) "
        f"cannot be pulled: {BASE_REASON}. Offline mode pulls nothing"
    )


# Docker: the preflight asks the daemon first (and, for a taken port, compose whether our
# own project holds it), so it runs in the serial Docker group, never beside a live stack.
@pytest.mark.docker
def test_a_port_taken_outside_compose_names_its_check_before_up(tmp_path):
    free = [free_loopback_port() for _ in range(3)]
    with occupy_port("127.0.0.1", 0) as taken:
        settings = Settings.from_values(
            {
                "offline": True,
                "exporter_url": f"http://127.0.0.1:{free[0]}",
                "prometheus_url": f"http://127.0.0.1:{taken}",
                "grafana_url": f"http://127.0.0.1:{free[1]}",
                "alertmanager_url": f"http://127.0.0.1:{free[2]}",
            }
        )
        running = compose_project(settings).run("ps -q", check=False).stdout.strip()
        assert not running, "the compose project is up: its ports would count as its own"
        with pytest.raises(StackStartError) as refused:
            preflight(settings)
    assert refused.value.check == "prometheus"
    assert f"port {taken} is already in use by a process outside compose project" in str(
        refused.value
    )
    preflight(settings)  # the same ports, all free again: `up` may go on
