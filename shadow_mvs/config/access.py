"""Reaching an endpoint where it really runs: credentials, extra headers and TLS.

Secrets come from environment variables (or a ``<NAME>_FILE`` variable pointing at a file)
only — never from a flag, so they never land in shell history or a CI log. Which variables
hold them is data: the defaults below, or the names an environment in environments.toml
gives. Every request goes through ``AccessTransport``, which attaches an endpoint's
credentials only to requests for that endpoint's URL (Grafana's token never reaches
Prometheus), applies its TLS settings, and turns a certificate problem or a refused
credential into one non-retryable ``CheckFailed`` that names it.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shadow_mvs.core.run import CheckFailed

ENDPOINTS = ("exporter", "prometheus", "grafana", "alertmanager")
# Header names whose values are secrets (redacted everywhere), e.g. an API key header.
SECRET_HEADER = re.compile(r"authorization|token|key|secret|password|cookie", re.IGNORECASE)


class AccessError(Exception):
    """A secret variable is malformed or its file unreadable (a usage error, exit 2)."""


@dataclass(frozen=True)
class SecretNames:
    """Names of the environment variables that hold an endpoint's secrets."""

    token: str | None = None  # bearer token (Grafana: service-account token)
    basic: str | None = None  # user:password
    headers: str | None = None  # Name=value,Name2=value2 (OTEL_EXPORTER_OTLP_HEADERS style)


DEFAULT_NAMES = {
    "exporter": SecretNames(),
    "prometheus": SecretNames("PROMETHEUS_TOKEN", "PROMETHEUS_AUTH", "PROMETHEUS_HEADERS"),
    "grafana": SecretNames("GRAFANA_TOKEN", "GRAFANA_AUTH", "GRAFANA_HEADERS"),
    "alertmanager": SecretNames("ALERTMANAGER_TOKEN", "ALERTMANAGER_AUTH", "ALERTMANAGER_HEADERS"),
}
TITLES = {
    "exporter": "exporter",
    "prometheus": "Prometheus",
    "grafana": "Grafana",
    "alertmanager": "Alertmanager",
}


@dataclass(frozen=True)
class TLS:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    @property
    def requests_verify(self) -> bool | str:
        if self.insecure:
            return False
        return self.ca_file or True

    @property
    def requests_cert(self) -> tuple[str, str] | str | None:
        if self.cert_file and self.key_file:
            return (self.cert_file, self.key_file)
        return self.cert_file

    def summary(self) -> dict[str, Any]:
        return {
            "ca_file": self.ca_file,
            "client_cert": self.cert_file,
            "insecure": self.insecure,
        }


@dataclass(frozen=True)
class EndpointAccess:
    name: str  # exporter | prometheus | grafana
    url: str
    token: str | None = None
    basic: tuple[str, str] | None = None
    source: str | None = None  # the variable (or file) the credential came from
    headers: tuple[tuple[str, str], ...] = ()
    tls: TLS = field(default_factory=TLS)

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    @property
    def scheme(self) -> str:
        """token | basic | none — token wins over basic auth."""
        if self.token:
            return "token"
        return "basic" if self.basic else "none"

    def request_headers(self) -> dict[str, str]:
        found = dict(self.headers)
        if self.token:
            found["Authorization"] = f"Bearer {self.token}"
        elif self.basic:
            raw = f"{self.basic[0]}:{self.basic[1]}".encode()
            found["Authorization"] = f"Basic {base64.b64encode(raw).decode()}"
        return found

    def secrets(self) -> list[str]:
        found = [self.token or ""]
        if self.basic:
            found.append(self.basic[1])
        for name, value in self.request_headers().items():
            if SECRET_HEADER.search(name):
                found.append(value)
                found.append(value.partition(" ")[2])  # "Bearer x" / "Basic y": the credential
        return [s for s in found if len(s) >= 4]  # never "redact" trivial strings like "a"

    def credential_words(self) -> str:
        """What was presented, for a FAIL line: never the secret itself."""
        if self.token:
            return f"the bearer token from {self.source}"
        if self.basic:
            return f"basic auth as user {self.basic[0]!r} (from {self.source})"
        return "no credentials"

    def summary(self) -> dict[str, Any]:
        """For verify.json: how the endpoint was reached, no secret values."""
        return {
            "url": self.url,
            "auth": self.scheme,
            "auth_source": self.source,
            "headers": sorted(name for name, _ in self.headers),
            "tls": self.tls.summary(),
        }

    def matches(self, url: str) -> bool:
        return url == self.url or url.startswith(self.url + "/") or url.startswith(self.url + "?")


@dataclass(frozen=True)
class Access:
    """How each of the three endpoints is reached in this run."""

    endpoints: tuple[EndpointAccess, ...]

    def __getitem__(self, name: str) -> EndpointAccess:
        return next(e for e in self.endpoints if e.name == name)

    def secrets(self) -> list[str]:
        return [s for e in self.endpoints for s in e.secrets()]

    def warnings(self) -> list[str]:
        return [
            f"WARN|{e.name}_tls=insecure|certificate verification is OFF for {e.url} "
            f"(--{e.name}-insecure); never use this against production"
            for e in self.endpoints
            if e.tls.insecure
        ]

    def summary(self) -> dict[str, Any]:
        return {e.name: e.summary() for e in self.endpoints}


# --- resolution from the environment -----------------------------------------------------


def read_secret(name: str | None, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(value, where it came from) from ``NAME`` or the file named by ``NAME_FILE``."""
    if not name:
        return None, None
    value = env.get(name, "")
    if value:
        return value.strip(), name
    path = env.get(f"{name}_FILE", "")
    if not path:
        return None, None
    try:
        content = Path(path).read_text().strip()
    except OSError as error:
        raise AccessError(f"{name}_FILE={path}: cannot read it ({error.strerror})") from None
    return (content or None), f"{name}_FILE"


def parse_headers(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    headers = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise AccessError(
                f"{name}: {key.strip() or part!r} has no '=': expected Name=value[,Name2=value2]"
            )
        headers.append((key.strip(), value.strip()))
    return tuple(headers)


def resolve_endpoint(
    name: str,
    url: str,
    tls: TLS,
    names: SecretNames | None = None,
    env: Mapping[str, str] | None = None,
    fallback_basic: Callable[[], tuple[str, str] | None] | None = None,
) -> EndpointAccess:
    """Credentials of one endpoint: token, else user:password, else ``fallback_basic``."""
    env = os.environ if env is None else env
    names = names or DEFAULT_NAMES.get(name, SecretNames())
    token, token_source = read_secret(names.token, env)
    raw_basic, basic_source = read_secret(names.basic, env)
    basic = None
    if raw_basic:
        user, sep, password = raw_basic.partition(":")
        if not sep:
            hint = f" (a service-account token goes in {names.token})" if names.token else ""
            raise AccessError(f"{basic_source} has no ':': expected user:password{hint}")
        basic = (user, password)
    elif fallback_basic is not None and not token:
        basic = fallback_basic()
        basic_source = ".env admin user" if basic else None
    headers_raw, _ = read_secret(names.headers, env)
    headers = parse_headers(names.headers or "headers", headers_raw) if headers_raw else ()
    return EndpointAccess(
        name=name,
        url=url,
        token=token,
        basic=None if token else basic,
        source=token_source if token else basic_source,
        headers=headers,
        tls=tls,
    )


# --- naming what went wrong ------------------------------------------------------------

_VERIFY_FAILED = re.compile(r"certificate verify failed: ([^(\"'\]]+)")


def tls_problem(error: BaseException) -> str | None:
    """Name a TLS failure in Go's words: unknown authority, expired, wrong host name, …"""
    text = " ".join(_chain_text(error))
    match = _VERIFY_FAILED.search(text)
    if match:
        detail = match.group(1).strip().rstrip(".")
        lowered = detail.lower()
        if "expired" in lowered:
            return f"certificate expired ({detail})"
        if "not yet valid" in lowered:
            return f"certificate not yet valid ({detail})"
        if "mismatch" in lowered or "not valid for" in lowered:
            return f"wrong host name: {detail}"
        if "issuer" in lowered or "self-signed" in lowered or "self signed" in lowered:
            return f"certificate signed by unknown authority ({detail})"
        return f"certificate rejected ({detail})"
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "does not speak TLS (wrong version number): use http://"
    if "CERTIFICATE_REQUIRED" in text or "certificate required" in text:
        return "server requires a client certificate (set the client cert and key)"
    if "BAD_CERTIFICATE" in text or "bad certificate" in text:
        return (
            "server rejected the TLS handshake: it requires a client certificate signed by "
            "its client CA (none sent, or the wrong one)"
        )
    if "UNKNOWN_CA" in text or "unknown ca" in text:
        return "server rejected our client certificate (unknown ca)"
    return None


def _chain_text(error: BaseException | None) -> list[str]:
    seen: list[str] = []
    depth = 0
    while error is not None and depth < 8:
        seen.append(f"{type(error).__name__}: {error}")
        if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
            seen.append(f"certificate verify failed: {error.verify_message}")
        error = error.__cause__ or error.__context__
        depth += 1
    return seen


def tls_failure(access: EndpointAccess, url: str, problem: str) -> CheckFailed:
    hint = f"; trust its CA with --{access.name}-ca-file" if "unknown authority" in problem else ""
    return CheckFailed(f"{access.title} TLS: {url}: {problem}{hint}", cause="tls", retryable=False)


def denied_failure(access: EndpointAccess, url: str, status: int, body: str) -> CheckFailed:
    """A 401/403 from Prometheus (or a Mimir-style backend) in plain words."""
    if "no org id" in body.lower():
        return CheckFailed(
            f'{access.title} at {url} answered HTTP {status} "no org id": missing tenant '
            f"header X-Scope-OrgID (set {DEFAULT_NAMES[access.name].headers or 'headers'}="
            "X-Scope-OrgID=<tenant>)",
            cause="tenant",
            retryable=False,
        )
    what = access.credential_words()
    if access.scheme == "none":
        names = DEFAULT_NAMES.get(access.name, SecretNames())
        advice = f"set {names.basic}=user:pass or {names.token} (or their _FILE variables)"
    elif access.scheme == "basic":
        advice = "wrong user or password"
    else:
        advice = "token wrong, expired or revoked"
    return CheckFailed(
        f"{access.title} auth failed: {url} answered HTTP {status} to {what}: {advice}",
        cause="endpoint_auth",
        retryable=False,
    )


def plain_http_to_tls(access: EndpointAccess, url: str, body: str) -> CheckFailed:
    return CheckFailed(
        f"{access.title} TLS: {url} speaks HTTPS but was called over http:// "
        f"({body.strip()[:60]}): use https:// in the URL",
        cause="tls",
        retryable=False,
    )


# --- transports ----------------------------------------------------------------------------


class AccessTransport(httpx.BaseTransport):
    """Routes each request to its endpoint's credentials and TLS settings by URL prefix.

    ``strict`` (the checks) raises a named ``CheckFailed`` for 401/403 from a non-Grafana
    endpoint; forensics passes ``strict=False`` to keep the denial body as evidence.
    """

    def __init__(self, endpoints: Sequence[EndpointAccess], strict: bool = True):
        ordered = sorted(endpoints, key=lambda e: len(e.url), reverse=True)
        self._routes = [(e, httpx.HTTPTransport(verify=e.tls.ssl_context())) for e in ordered]
        self._plain = httpx.HTTPTransport()
        self.strict = strict

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        for access, transport in self._routes:
            if not access.matches(url):
                continue
            for key, value in access.request_headers().items():
                request.headers.setdefault(key, value)
            shown = str(request.url.copy_with(query=None))
            try:
                response = transport.handle_request(request)
            except httpx.TransportError as error:
                problem = tls_problem(error)
                if problem:
                    raise tls_failure(access, shown, problem) from None
                raise
            if self.strict:
                _raise_for_access(access, shown, response)
            return response
        return self._plain.handle_request(request)

    def close(self) -> None:
        for _, transport in self._routes:
            transport.close()
        self._plain.close()


def _raise_for_access(access: EndpointAccess, url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == 400 and access.url.startswith("http://"):
        body = response.read().decode(errors="replace")
        if "HTTPS server" in body:
            raise plain_http_to_tls(access, url, body)
    if status in (401, 403) and access.name != "grafana":
        raise denied_failure(access, url, status, response.read().decode(errors="replace"))


def access_client(
    endpoints: Sequence[EndpointAccess], timeout_s: float, strict: bool = True, **kwargs: Any
) -> httpx.Client:
    return httpx.Client(
        transport=AccessTransport(endpoints, strict=strict), timeout=timeout_s, **kwargs
    )


class AccessAdapter(HTTPAdapter):
    """The same for requests-based clients (prometheus-api-client): mounted for the
    endpoint's URL only, it attaches the endpoint's headers and TLS settings to the requests
    it sends and names TLS and auth failures. The session itself carries none of them, so a
    redirect to another origin leaves with no credential, header or client certificate."""

    def __init__(self, access: EndpointAccess, **kwargs: Any):
        super().__init__(**kwargs)
        self.access = access

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = (request.url or "").split("?")[0]
        # A copy: requests builds a redirect from the caller's request, which stays clean.
        request = request.copy()
        for key, value in self.access.request_headers().items():
            request.headers.setdefault(key, value)
        tls = self.access.tls
        if tls.requests_verify is not True:  # True keeps requests' own CA bundle choice
            verify = tls.requests_verify
        cert = tls.requests_cert or cert
        try:
            response = super().send(request, stream, timeout, verify, cert, proxies)
        except requests.exceptions.SSLError as error:
            problem = tls_problem(error) or str(error)
            raise tls_failure(self.access, url, problem) from None
        except requests.exceptions.ConnectionError as error:
            named = tls_problem(error)
            if named:
                raise tls_failure(self.access, url, named) from None
            raise
        if response.status_code == 400 and "HTTPS server" in response.text:
            raise plain_http_to_tls(self.access, url, response.text)
        if response.status_code in (401, 403):
            raise denied_failure(self.access, url, response.status_code, response.text)
        return response


def requests_session(access: EndpointAccess) -> requests.Session:
    """A session whose requests to the endpoint's URL go through its ``AccessAdapter``, with
    no urllib3 retries (tenacity owns retrying). Mounted at ``<url>/``: requests picks the
    longest matching prefix, so a client library that mounts a plain adapter at the bare URL
    (PrometheusConnect does) leaves ours in charge, and a sibling URL that merely starts with
    the same characters is not ours."""
    session = requests.Session()
    session.mount(access.url + "/", AccessAdapter(access, max_retries=Retry(total=0)))
    return session
