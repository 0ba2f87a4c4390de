"""Stack lifecycle for ``pytest verify/``, built on pytest-docker.

pytest-docker's fixtures are overridden by name (command, files, project, setup, cleanup),
so any of them can be overridden again by a conftest closer to the tests.
``shadow_mvs_stack`` wraps pytest-docker's context manager to add what operators need: a
preflight that names the component at fault, teardown on a failed setup and on Ctrl-C,
``--keep-stack``, and ``--stack=external`` which never touches Docker at all. The suite's
own fixtures carry the ``shadow_mvs_`` prefix so they cannot collide with other plugins'.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_docker.plugin import get_docker_services

from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import load_contract
from shadow_mvs.evidence.alertmanager_preflight import alertmanager_findings
from shadow_mvs.evidence.grafana_preflight import grafana_findings
from shadow_mvs.evidence.preflight import PREFLIGHT_ENV, Preflight, run_preflight
from shadow_mvs.report.session import NO_VERDICT_KEY, SETTINGS_KEY, redactor, verify_run
from shadow_mvs.stack.bringup import (
    StackStartError,
    compose_error_detail,
    compose_error_line,
    failing_check,
    preflight,
    unpullable_images,
)
from shadow_mvs.stack.compose import DOWN_ARGS, ComposeProject, EnvironmentProblem, compose_project
from shadow_mvs.stack.services import ServiceWatch

EXIT_USAGE = 2  # usage or environment problem: the same code as the shadow-mvs CLI
# The stack's `down`, running while the verdict is reported, and the command that redoes it.
TEARDOWN_KEY = pytest.StashKey[tuple["Future[None]", str]]()


@dataclass(frozen=True)
class Stack:
    settings: Settings
    compose: ComposeProject


@pytest.fixture(scope="session")
def shadow_mvs_settings(pytestconfig: pytest.Config) -> Settings:
    """The settings the verify session checked at configure time (files read once)."""
    return pytestconfig.stash.get(SETTINGS_KEY, None) or Settings.from_pytest(pytestconfig)


@pytest.fixture(scope="session")
def docker_compose_command(shadow_mvs_settings: Settings) -> str:
    env_file = compose_project(shadow_mvs_settings).env_file
    return f'docker compose --env-file "{env_file}"' if env_file.exists() else "docker compose"


@pytest.fixture(scope="session")
def docker_compose_file(shadow_mvs_settings: Settings) -> list[str]:
    return [str(path) for path in compose_project(shadow_mvs_settings).files]


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return load_contract().project


@pytest.fixture(scope="session")
def docker_setup(shadow_mvs_settings: Settings) -> list[str]:
    return [compose_project(shadow_mvs_settings).up_command()]


@pytest.fixture(scope="session")
def docker_cleanup(shadow_mvs_settings: Settings) -> list[str]:
    return [] if shadow_mvs_settings.keep_stack else [DOWN_ARGS]


def _say(config: pytest.Config, line: str) -> None:
    """Progress on the terminal even while pytest captures the fixture's output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session")
def shadow_mvs_stack(
    pytestconfig: pytest.Config,
    shadow_mvs_settings: Settings,
    docker_compose_command: str,
    docker_compose_file: list[str],
    docker_compose_project_name: str,
    docker_setup: list[str],
    docker_cleanup: list[str],
) -> Iterator[Stack]:
    compose = compose_project(shadow_mvs_settings)
    if shadow_mvs_settings.stack == "external":
        yield Stack(shadow_mvs_settings, compose)
        return
    # The config preflight reads the mounted files while Docker is asked and the stack comes
    # up, so a healthy cold run barely waits for it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checked = pool.submit(_timed_preflight, compose)
        started = time.monotonic()
        try:
            preflight(shadow_mvs_settings)
            _say(
                pytestconfig,
                f"INFO|stack={shadow_mvs_settings.stack_label} up: "
                f"{compose.base_command(True)} {compose.up_command()}",
            )
            started = time.monotonic()
            services = _bring_up(
                compose,
                docker_compose_command,
                docker_compose_file,
                docker_compose_project_name,
                docker_setup,
                docker_cleanup,
            )
        except EnvironmentProblem as problem:
            # An image that cannot be pulled or is not built says nothing about the chain
            # being verified: exit 2 (as `shadow-mvs up` does), never a component's FAIL.
            pytestconfig.stash[NO_VERDICT_KEY] = str(problem)
            pytest.exit(
                "shadow-mvs: no verdict, the stack cannot start (ERROR|stack says why)",
                returncode=EXIT_USAGE,
            )
        up_done = time.monotonic()
        checked_files, preflight_s = checked.result()
        waited = time.monotonic() - up_done
    _say(
        pytestconfig,
        f"INFO|preflight {len(checked_files.findings)} findings in {preflight_s:.2f} s "
        f"(waited {waited:.2f} s after up)",
    )
    up_seconds = round(time.monotonic() - started, 2)
    run = verify_run(pytestconfig)
    if run is not None:  # we started it: a service that dies ends its check's wait at once
        run.final_state = ServiceWatch(compose, run)
        run.attach(checked_files.findings, checked_files.covered)
    _say(pytestconfig, f"INFO|stack up in {up_seconds} s")
    up_at = time.monotonic()
    try:
        yield Stack(shadow_mvs_settings, compose)
    finally:
        # How long after `up` the verdict was settled (bench/fault_matrix reads it).
        _say(pytestconfig, f"INFO|checks settled {time.monotonic() - up_at:.2f} s after up")
        if shadow_mvs_settings.keep_stack:
            services.__exit__(None, None, None)
            _say(pytestconfig, f"INFO|stack kept: {compose.base_command(True)} {DOWN_ARGS}")
        else:
            # The verdict is settled: RESULT and the reports need not wait the ~0.5 s Docker
            # takes to remove the stack. The process still does (pytest_unconfigure below).
            teardown = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow-mvs-down")
            pytestconfig.stash[TEARDOWN_KEY] = (
                teardown.submit(services.__exit__, None, None, None),
                f"{compose.base_command(True)} {DOWN_ARGS}",
            )
            teardown.shutdown(wait=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Wait for the stack's ``down``; say so if it failed, with the command to finish it."""
    pending = config.stash.get(TEARDOWN_KEY, None)
    if pending is None:
        return
    down, command = pending
    try:
        down.result()
    except Exception as error:  # pytest-docker raises a bare Exception with compose's output
        line = redactor(config).text(
            f"WARN|stack|compose down failed: {compose_error_detail(str(error))}; run: {command}"
        )
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)


def _timed_preflight(compose: ComposeProject) -> tuple[Preflight, float]:
    if os.environ.get(PREFLIGHT_ENV, "on").lower() in ("0", "off", "false", "no"):
        return Preflight([]), 0.0  # bench/cold_verify measures a cold run without it
    started = time.monotonic()
    checkers = [grafana_findings, alertmanager_findings]
    return run_preflight(compose, checkers), time.monotonic() - started


def _bring_up(
    compose: ComposeProject,
    docker_compose_command: str,
    docker_compose_file: list[str],
    docker_compose_project_name: str,
    docker_setup: list[str],
    docker_cleanup: list[str],
) -> Any:
    services = get_docker_services(
        docker_compose_command,
        docker_compose_file,
        docker_compose_project_name,
        docker_setup,
        docker_cleanup,
    )
    try:
        services.__enter__()
    except BaseException as error:  # includes Ctrl-C during `up`
        compose.run(DOWN_ARGS, check=False)
        if isinstance(error, Exception):
            text = str(error)
            unpullable = unpullable_images(compose, text)
            if unpullable is not None:  # the machine, not a component: no verdict
                raise EnvironmentProblem(unpullable) from None
            raise StackStartError(failing_check(text), compose_error_line(text)) from None
        raise
    return services
