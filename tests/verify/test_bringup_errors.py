"""A stack that cannot start says why: compose's own error text survives pytest-docker's
wrapping, and a failed image pull names the image, the daemon's reason and the way out.

The texts below are compose 2.40's output as this machine printed it for an image under a
registry host that cannot resolve (the reserved ``.invalid`` domain); the Docker test of
the whole flow is tests/integration/test_verify_flow.py."""

from __future__ import annotations

import os
import subprocess
import sys

from shadow_mvs.stack.bringup import (
    compose_error_detail,
    compose_error_line,
    failed_base_images,
    failed_pulls,
    unpullable_images,
)
from shadow_mvs.stack.compose import ComposeProject

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


TEARDOWN_CONFTEST = """
from concurrent.futures import Future

from shadow_mvs.plugin.stack import TEARDOWN_KEY


def pytest_configure(config):
    down = Future()
    quotes = '"' * 3  # pytest-docker's execute() wraps compose's output in triple quotes
    daemon = "Error response from daemon: removal of container x is already in progress"
    down.set_exception(Exception(f"Command docker compose down returned 1: {quotes}{daemon}{quotes}"))
    config.stash[TEARDOWN_KEY] = (down, "docker compose -p peaktrade-shadow-mvs down -v")
"""


def test_a_failed_down_after_the_verdict_is_one_line_with_the_command(tmp_path):
    """``down`` runs while the verdict is reported; the session still waits for it, and a
    failure is told, not lost in a background thread."""
    (tmp_path / "conftest.py").write_text(TEARDOWN_CONFTEST)
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    assert True\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        "WARN|stack|compose down failed: Error response from "
        "daemon: removal of container x is already in progress; run: docker compose -p "
        "peaktrade-shadow-mvs down -v"
    ) in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
