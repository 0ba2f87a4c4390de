"""Bring-up of the compose stack, said in one sentence: the preflight that names the
component at fault before compose runs, the error that blocks every check when `up`
fails, and the service logs that explain it. Shared by the stack fixture, the
``shadow-mvs`` CLI and forensics, so it lives in the package's stack room (fixtures
import it, never the reverse)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from shadow_mvs.config.env_file import env_file_path, grafana_credentials
from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import load_contract
from shadow_mvs.core.waiting import GaveUp, bounded_poll
from shadow_mvs.stack.compose import (
    ComposeProject,
    EnvironmentProblem,
    compose_project,
    offline_image_present,
    require_docker,
)

# Which check a compose service's failure belongs to.
SERVICE_CHECK = {
    "exporter": "exporter",
    "prometheus-local": "prometheus",
    "grafana": "grafana",
    "alertmanager": "alerting",
}


class StackStartError(Exception):
    """The stack could not be brought up; ``check`` names the component at fault."""

    def __init__(self, check: str, message: str, cause: str | None = None):
        super().__init__(message)
        self.check = check
        self.message = message
        self.cause = cause


def port_in_use(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) == 0


def preflight(settings: Settings) -> None:
    """Refuse to start with a sentence that names the component, before compose runs."""
    try:
        require_docker()
    except EnvironmentProblem as problem:
        raise StackStartError("prometheus", str(problem)) from None
    if settings.offline and not offline_image_present():
        raise StackStartError(
            "prometheus",
            "offline image missing: run bash compose/images/build-offline-images.sh",
        )
    if grafana_credentials(env_file_path()) is None:
        raise StackStartError(
            "datasource",
            "no Grafana credentials to verify with: copy .env.example to .env and set "
            "GF_SECURITY_ADMIN_PASSWORD (scripts/bootstrap.sh writes one), or set GRAFANA_TOKEN",
            cause="grafana_no_credentials",
        )
    ours = compose_project(settings).run("ps -q", check=False).stdout.strip()
    if ours:
        return  # our own project holds the ports; `up` recreates it
    owners = {
        "exporter": settings.exporter_url,
        "prometheus": settings.prometheus_url,
        "grafana": settings.grafana_url,
        "alerting": settings.alertmanager_url,
    }
    for check, url in owners.items():
        if port_in_use(url):
            raise StackStartError(
                check,
                f"port {urlsplit(url).port} is already in use by a process outside compose "
                f"project {load_contract().project}; free it, or verify it with --stack=external",
            )


def failing_check(output: str) -> str:
    for service, check in SERVICE_CHECK.items():
        if f"-{service}-" in output or f'service "{service}"' in output:
            return check
    return "prometheus"  # compose itself failed: G-2 (compose not up / Docker not running)


def compose_error_line(text: str) -> str:
    """The most telling line of a failed compose command (its last non-empty line)."""
    lines = [line.strip() for line in text.replace('"""', "\n").splitlines() if line.strip()]
    detail = lines[-1] if lines else "no output"
    return f"docker compose up failed: {detail}"


def compose_logs(compose: ComposeProject, tail: int = 40) -> str:
    """Last lines of every service's log (for forensics and the request log of the stand-in)."""
    result = compose.run(f"logs --no-color --tail {tail}", check=False)
    return result.stdout + result.stderr


def compose_service_logs(compose: ComposeProject, service: str) -> str:
    return compose.run(f"logs --no-color --no-log-prefix {service}", check=False).stdout


# Which check's budget bounds the warm-up of each endpoint after a bring-up.
ENDPOINT_CHECK = {
    "exporter_url": "exporter",
    "prometheus_url": "prometheus",
    "grafana_url": "grafana",
    "alertmanager_url": "alerting",
}


class _Settled(Exception):
    """The caller's ``settled`` said the service will not come up: stop waiting."""


def wait_answering(
    urls: Mapping[str, str] | None = None,
    scale: float = 1.0,
    settled: Callable[[], bool] | None = None,
) -> None:
    """After a bring-up (``shadow-mvs up``, a recreated service): wait, within each component's
    check budget, until every endpoint answers HTTP at all (any status). A verify against a
    stack it did not start gives "connection refused" only a short grace, so whoever starts
    the stack absorbs the start-up here. Raises EnvironmentProblem naming a silent endpoint.
    ``settled()`` True (e.g. the container exited on purpose) ends the wait quietly."""

    def check_settled(error: BaseException) -> None:
        if settled is not None and settled():
            raise _Settled from None

    contract = load_contract()
    with httpx.Client(timeout=contract.request_timeout_s, verify=False) as client:
        for dest, url in (urls or contract.endpoints).items():
            budget_s = contract.check(ENDPOINT_CHECK[dest]).budget_s * scale
            try:
                bounded_poll(
                    lambda url=url: client.get(url),  # type: ignore[misc]
                    budget_s=budget_s,
                    interval_s=contract.retry_interval_s,
                    retry_if=(httpx.TransportError,),
                    what=f"{url} answering",
                    on_error=check_settled,
                )
            except _Settled:
                return
            except GaveUp as gave_up:
                raise EnvironmentProblem(str(gave_up)) from None
