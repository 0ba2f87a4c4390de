"""Reaching an endpoint where it really runs: credentials, extra headers and TLS.

Secrets come from environment variables (or a ``<NAME>_FILE`` variable pointing at a file)
only — never from a flag, so they never land in shell history or a CI log. Which variables
hold them is data: the defaults below, or the names an environment in environments.toml
gives. Every request goes through ``AccessTransport`` (shadow_mvs/config/transport.py),
which attaches an endpoint's credentials only to requests for that endpoint's URL
(Grafana's token never reaches Prometheus), applies its TLS settings, and turns a
certificate problem or a refused credential into one non-retryable ``CheckFailed`` that
names it with the words below.

This module holds no HTTP client: the ``shadow-mvs`` CLI resolves and validates access
without importing httpx or requests (the transports do, in their own module).
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

from shadow_mvs.config.redaction import Credential, Redactor
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
    # Named under `secrets` in environments.toml: every header value is a secret (a tenant
    # id too); the built-in PROMETHEUS_HEADERS redacts only secret-looking header names.
    headers_secret: bool = False


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
    names: SecretNames = field(default_factory=SecretNames)  # where credentials are read
    url_credentials: bool = False  # basic auth came from the URL's user:password@

    @property
    def shown_url(self) -> str:
        """The URL as reports show it: credentials taken from it appear as ``***@``."""
        if not self.url_credentials:
            return self.url
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://***@{rest}"

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

    def secrets(self) -> list[str | Credential]:
        """Every secret this endpoint is reached with (the redactor knows their spellings)."""
        found: list[str | Credential] = [self.token or ""]
        if self.basic:
            found.append(Credential(*self.basic))
        for name, value in self.headers:
            if self.names.headers_secret or SECRET_HEADER.search(name):
                found.append(value)
                found.append(value.partition(" ")[2])  # "Bearer x" / "Basic y": the credential
        return [s for s in found if s]

    def credential_words(self) -> str:
        """What was presented, for a FAIL line: never the secret itself."""
        if self.token:
            return f"the bearer token from {self.source}"
        if self.basic:
            return f"basic auth as user {self.basic[0]!r} (from {self.source})"
        return "no credentials"

    def credential_advice(self) -> str:
        """How to give this endpoint credentials: the variables its settings read."""
        names = [n for n in (self.names.basic, self.names.token) if n]
        if not names:
            return (
                f"the {self.title} is reached without credentials here: is a proxy in front "
                f"of it? (an environment can name them under secrets.{self.name})"
            )
        basic, token = self.names.basic, self.names.token
        if basic and token:
            return f"set {basic}=user:pass or {token} (or their _FILE variables)"
        return f"set {names[0]} (or {names[0]}_FILE)"

    def summary(self) -> dict[str, Any]:
        """For verify.json: how the endpoint was reached, no secret values."""
        return {
            "url": self.shown_url,
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

    def secrets(self) -> list[str | Credential]:
        return [s for e in self.endpoints for s in e.secrets()]

    def redactor(self, extra: Sequence[str | Credential] = ()) -> Redactor:
        return Redactor([*self.secrets(), *extra])

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

# An HTTP header name (RFC 9110 token).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SCHEME_WORD = re.compile(r"(?i)(bearer|basic|token)\s")


def read_limited(path: str | Path, limit: int = 1 << 20) -> bytes:
    """A file's bytes, at most ``limit`` (a device such as /dev/zero, or a file far too large
    to be a secret, certificate or settings file, is an ``OSError`` saying so). Pipes
    (``GRAFANA_TOKEN_FILE=<(pass show grafana)``) work: they are read once."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"larger than {limit} bytes: not a secret, certificate or settings file")
    return data


def secret_problem(value: str, kind: str) -> str | None:
    """What is wrong with a secret's value, in words that never quote it; None if nothing.

    ``kind``: token (one printable ASCII word), basic (user:password) or header (a value)."""
    if not value:
        return "is empty"
    if "\n" in value or "\r" in value:
        return "holds a line break (a second line in the file?); keep only the secret"
    if CONTROL.search(value):
        return "holds a control character"
    if value != value.strip():
        return "has spaces around the secret"
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return "is wrapped in quotes; write the secret without them"
    if kind == "token" and SCHEME_WORD.match(value):
        return "starts with an auth scheme word; set the token alone"
    if kind == "token" and any(c.isspace() for c in value):
        return "has a space inside: a token is one word"
    if kind in ("token", "header") and not value.isascii():
        return "holds non-ASCII characters, which an HTTP header cannot carry"
    return None


def read_secret(
    name: str | None, env: Mapping[str, str], kind: str = "token"
) -> tuple[str | None, str | None]:
    """(value, where it came from) from ``NAME`` or the file named by ``NAME_FILE``.

    An empty ``NAME`` counts as unset (CI systems render a missing secret as ""). A value
    or file that is malformed is an ``AccessError`` naming the variable (and the file), never
    the value: it is refused before any request is sent."""
    if not name:
        return None, None
    value = env.get(name, "")
    path = env.get(f"{name}_FILE", "")
    if value and path:
        raise AccessError(f"both {name} and {name}_FILE are set: keep one")
    if value:
        problem = secret_problem(value, kind)
        if problem:
            raise AccessError(f"{name} {problem}")
        return value, name
    if not path:
        return None, None
    where = f"{name}_FILE={path}"
    try:
        raw = read_limited(path, 64 << 10)
    except OSError as error:
        raise AccessError(f"{where}: cannot read it ({error.strerror or error})") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AccessError(f"{where}: not UTF-8 text") from None
    # One line ending is what an editor or `echo` leaves: that is not part of the secret.
    content = content.removesuffix("\n").removesuffix("\r")
    problem = secret_problem(content, kind)
    if problem:
        raise AccessError(f"{where}: the file {problem}")
    return content, f"{name}_FILE"


def parse_headers(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """``Name=value,Name2=value2``; a name that is no HTTP token or a bad value is refused
    (naming the variable and the header, never the value)."""
    headers = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise AccessError(f"{name}: an entry has no 'Name=': expected Name=value[,N2=v2]")
        if not HEADER_NAME.fullmatch(key):
            raise AccessError(f"{name}: a header name is not an HTTP token (letters, digits, -)")
        problem = secret_problem(value, "header")
        if problem:
            raise AccessError(f"{name}: the value of header {key} {problem}")
        headers.append((key, value))
    return tuple(headers)


def resolve_endpoint(
    name: str,
    url: str,
    tls: TLS,
    names: SecretNames | None = None,
    env: Mapping[str, str] | None = None,
    fallback_basic: Callable[[], tuple[str, str] | None] | None = None,
    url_basic: tuple[tuple[str, str], str] | None = None,
) -> EndpointAccess:
    """Credentials of one endpoint: token, else user:password, else the URL's
    ``user:password@`` (``url_basic``: the pair and where the URL came from), else
    ``fallback_basic``. URL credentials beside configured ones are a usage error."""
    env = os.environ if env is None else env
    names = names or DEFAULT_NAMES.get(name, SecretNames())
    token, token_source = read_secret(names.token, env, "token")
    raw_basic, basic_source = read_secret(names.basic, env, "basic")
    basic = None
    if raw_basic:
        user, sep, password = raw_basic.partition(":")
        if not sep:
            hint = f" (a service-account token goes in {names.token})" if names.token else ""
            raise AccessError(f"{basic_source} has no ':': expected user:password{hint}")
        if not user or not password:
            raise AccessError(f"{basic_source}: expected user:password, one side is empty")
        basic = (user, password)
    if url_basic is not None:
        configured = token_source or basic_source
        if configured:
            raise AccessError(
                f"{url_basic[1]} carries credentials (user:password@) and {configured} sets "
                f"them too: keep one"
            )
        basic, basic_source = url_basic[0], f"the user:password@ of {url_basic[1]}"
    elif not raw_basic and fallback_basic is not None and not token:
        basic = fallback_basic()
        basic_source = ".env admin user" if basic else None
    headers_raw, _ = read_secret(names.headers, env, "header")
    headers = parse_headers(names.headers or "headers", headers_raw) if headers_raw else ()
    return EndpointAccess(
        name=name,
        url=url,
        token=token,
        basic=None if token else basic,
        source=token_source if token else basic_source,
        headers=headers,
        tls=tls,
        names=names,
        url_credentials=url_basic is not None,
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


# A TLS 1.3 server that wants a client certificate finishes the handshake, then sends its
# "certificate required" alert and hangs up; whether the alert or the hang-up reaches the
# client first is a race, so the hang-up is named too when no client certificate is set.
_HUNG_UP = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_HUNG_UP_WORDS = ("Connection aborted", "Transport endpoint is not connected")


def hung_up_after_handshake(error: BaseException, url: str, tls: TLS) -> str | None:
    """The words for an https server that closed the connection before answering while no
    client certificate is configured: most often a server that requires one."""
    if not url.startswith("https://") or tls.cert_file:
        return None
    chain: BaseException | None = error
    depth = 0
    while chain is not None and depth < 8:
        if isinstance(chain, _HUNG_UP) or any(w in str(chain) for w in _HUNG_UP_WORDS):
            return (
                "server closed the connection right after the TLS handshake, before "
                "answering: a server that requires a client certificate does this "
                "(set the client cert and key)"
            )
        chain = chain.__cause__ or chain.__context__
        depth += 1
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
            f"header X-Scope-OrgID (set {access.names.headers or 'headers'}="
            "X-Scope-OrgID=<tenant>)",
            cause="tenant",
            retryable=False,
        )
    what = access.credential_words()
    if access.scheme == "none":
        advice = access.credential_advice()
    elif access.scheme == "basic":
        advice = "wrong user or password"
    else:
        advice = "token wrong, expired or revoked"
    return CheckFailed(
        f"{access.title} auth failed: {url} answered HTTP {status} to {what}: {advice}",
        cause="endpoint_auth",
        retryable=False,
    )


def shown_location(request_url: str, location: str) -> str:
    """Where a redirect points, without credentials, query or fragment: scheme://host:port
    and the path, cut to a few characters (a path can carry a token too)."""
    import httpx  # only when a redirect is answered, so only where requests are sent

    try:
        target = httpx.URL(request_url).join(location)
        origin = f"{target.scheme}://{target.host}"
        if target.port is not None:
            origin += f":{target.port}"
        path = target.path
    except (httpx.InvalidURL, ValueError, TypeError):
        return "an unreadable Location"
    tail = "" if path in ("", "/") and not target.query else "/…"
    return origin + (path if len(path) <= 24 and not target.query else tail)


def redirect_failure(access: EndpointAccess, url: str, status: int, location: str) -> CheckFailed:
    """A redirect is not followed (no credential or header may reach another origin) and
    cannot heal within a run: SSO, a login proxy or a wrong path prefix answered."""
    return CheckFailed(
        f"{access.title} at {url} answered {status} to {shown_location(url, location)}: "
        f"a login proxy in front of {access.title}? (redirects are not followed; point "
        f"--{access.name}-url at {access.title} itself)",
        cause="redirect",
        retryable=False,
    )


def plain_http_to_tls(access: EndpointAccess, url: str, body: str) -> CheckFailed:
    return CheckFailed(
        f"{access.title} TLS: {url} speaks HTTPS but was called over http:// "
        f"({body.strip()[:60]}): use https:// in the URL",
        cause="tls",
        retryable=False,
    )
