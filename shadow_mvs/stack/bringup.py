"""Bring-up of the compose stack, said in one sentence: the preflight that names the
component at fault before compose runs, the error that blocks every check when `up`
fails, and the service logs that explain it. Shared by the stack fixture, the
``shadow-mvs`` CLI and forensics, so it lives in the package's stack room (fixtures
import it, never the reverse)."""

from __future__ import annotations

import json
import re
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
    offline_image,
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
        # The machine, not a component: the caller ends the run without a verdict.
        raise EnvironmentProblem(
            f"offline image {offline_image()} is not on this machine (`docker image inspect` "
            "finds none): build it with bash compose/images/build-offline-images.sh"
        )
    if grafana_credentials(env_file_path()) is None:
        raise StackStartError(
            "datasource",
            "no Grafana credentials to verify with: copy .env.example to .env and set "
            "GF_SECURITY_ADMIN_PASSWORD (scripts/bootstrap.sh writes one), or set GRAFANA_TOKEN",
            cause="grafana_no_credentials",
        )
    owners = {
        "exporter": settings.exporter_url,
        "prometheus": settings.prometheus_url,
        "grafana": settings.grafana_url,
        "alerting": settings.alertmanager_url,
    }
    taken = [(check, url) for check, url in owners.items() if port_in_use(url)]
    # Only a taken port needs compose asked (~0.2 s) whether our own project holds it.
    if not taken or compose_project(settings).run("ps -q", check=False).stdout.strip():
        return  # free ports, or our own project holds them and `up` recreates it
    check, url = taken[0]
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


# pytest-docker wraps a failed command's output as: Command <cmd> returned <n>: """<output>""".
_WRAPPED = re.compile(r'returned -?\d+: """(.*)"""\.?\s*$', re.DOTALL)
# Compose v2's plain progress lines: "<service> <status> [<detail>]", e.g. (compose 2.40)
#   " prometheus-local Pulling", " grafana Error Get "https://…/v2/": … no such host",
#   " prometheus-local  Interrupted". A pull's failure is the service's "Error" line.
_PROGRESS = re.compile(
    r"^\s*(?P<service>[\w.-]+)\s+(?P<status>Pulling|Pulled|Interrupted|Waiting|Error|"
    r"Building|Built|Creating|Created|Starting|Started|Recreate|Recreated|Running|Skipped)"
    r"\b\s*(?P<detail>.*)$"
)
# A build's base image that cannot be pulled (BuildKit's plain progress, compose 2.40):
#   "#3 [exporter internal] load metadata for <image>" … "#3 ERROR: <reason>"
_BUILD_METADATA = re.compile(
    r"^#(?P<step>\d+) \[(?P<service>[\w.-]+) [^\]]*\] load metadata for (?P<image>\S+)"
)
_BUILD_ERROR = re.compile(r"^#(?P<step>\d+) ERROR: (?P<reason>.*)$")
# The lines in which the daemon or compose itself says what went wrong, in their words.
_ERROR_PREFIXES = ("Error response from daemon:", "Error:", "error:", "failed to solve:")


def compose_output(text: str) -> str:
    """The output of a failed compose command, unwrapped from pytest-docker's exception."""
    wrapped = _WRAPPED.search(text)
    return wrapped.group(1) if wrapped else text


def compose_error_detail(text: str) -> str:
    """What compose or the daemon said went wrong: its error line (``Error response from
    daemon: …``), else the last line that is not progress; never a stray ``.``."""
    lines = [line.strip() for line in compose_output(text).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(_ERROR_PREFIXES)]
    if errors:
        return errors[-1]
    telling = [line for line in lines if not _PROGRESS.match(line) and line != "."]
    return telling[-1] if telling else "no output"


def compose_error_line(text: str) -> str:
    return f"docker compose up failed: {compose_error_detail(text)}"


def failed_pulls(text: str) -> dict[str, str]:
    """Service -> the daemon's reason, for every service whose image pull failed."""
    pulling: set[str] = set()
    failed: dict[str, str] = {}
    for line in compose_output(text).splitlines():
        progress = _PROGRESS.match(line)
        if progress is None:
            continue
        service, status = progress["service"], progress["status"]
        if status == "Pulling":
            pulling.add(service)
        elif status == "Error" and service in pulling:
            failed[service] = progress["detail"].strip()
    return failed


def failed_base_images(text: str) -> dict[str, tuple[str, str]]:
    """Service -> (base image, reason) for every build whose FROM image cannot be pulled."""
    steps: dict[str, tuple[str, str]] = {}
    failed: dict[str, tuple[str, str]] = {}
    for line in compose_output(text).splitlines():
        if metadata := _BUILD_METADATA.match(line.strip()):
            steps[metadata["step"]] = (metadata["service"], metadata["image"])
        elif (error := _BUILD_ERROR.match(line.strip())) and error["step"] in steps:
            service, image = steps[error["step"]]
            failed[service] = (image, error["reason"].strip())
    return failed


def service_images(compose: ComposeProject) -> dict[str, str]:
    """Service -> image, as compose resolves the files and variables (empty if it cannot)."""
    result = compose.run("config --format json", check=False)
    try:
        services = json.loads(result.stdout)["services"]
        return {name: str(spec.get("image", name)) for name, spec in services.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def image_way_out(compose: ComposeProject) -> str:
    build = "bash compose/images/build-offline-images.sh"
    if compose.offline:
        return (
            f"Offline mode pulls nothing: build the local images ({build}), or point the "
            "image variable at one that `docker image ls` lists"
        )
    if offline_image_present():
        return "No registry reachable? The offline images are built here: run with --offline"
    return f"No registry reachable? Build the offline images ({build}), then run with --offline"


def unpullable_images(compose: ComposeProject, text: str) -> str | None:
    """The sentence for a bring-up that failed because an image cannot be pulled (a
    service's image, or the base image of a build): which image, the daemon's reason, and
    the way out. None when no pull failed."""
    failed = failed_pulls(text)
    bases = failed_base_images(text)
    if not failed and not bases:
        return None
    images = service_images(compose) if failed else {}
    named = [
        f"image {images.get(service, service)} (service {service}) cannot be pulled: {reason}"
        for service, reason in sorted(failed.items())
    ]
    named += [
        f"base image {image} (build of service {service}) cannot be pulled: {reason}"
        for service, (image, reason) in sorted(bases.items())
    ]
    return f"{'; '.join(named)}. {image_way_out(compose)}"


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
