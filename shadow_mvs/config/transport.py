"""The HTTP clients' side of access (shadow_mvs/config/access.py): an httpx transport and a
requests adapter that attach each endpoint's credentials, headers and TLS settings to the
requests for its URL only, follow no redirect, and name a TLS or auth failure in the words
of access.py. Apart from access.py so that resolving and validating access (the
``shadow-mvs`` CLI does, before it starts pytest) imports neither httpx nor requests.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import httpx
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shadow_mvs.config.access import (
    EndpointAccess,
    denied_failure,
    hung_up_after_handshake,
    plain_http_to_tls,
    redirect_failure,
    tls_failure,
    tls_problem,
)


class AccessTransport(httpx.BaseTransport):
    """Routes each request to its endpoint's credentials and TLS settings by URL prefix.

    ``strict`` (the checks) raises a named ``CheckFailed`` for 401/403 from a non-Grafana
    endpoint; forensics passes ``strict=False`` to keep the denial body as evidence.
    ``redirects_fail``: a 3xx from an endpoint is a final ``CheckFailed`` (forensics keeps
    it as evidence). Either way no redirect is followed here, and a request for any other
    origin gets no credential, header or client certificate: they are attached per route.
    """

    def __init__(
        self,
        endpoints: Sequence[EndpointAccess],
        strict: bool = True,
        redirects_fail: bool = True,
    ):
        ordered = sorted(endpoints, key=lambda e: len(e.url), reverse=True)
        self._routes = [(e, httpx.HTTPTransport(verify=_route_context(e))) for e in ordered]
        self._plain: httpx.HTTPTransport | None = None  # built when a URL matches no endpoint
        self.strict = strict
        self.redirects_fail = redirects_fail

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
                problem = tls_problem(error) or hung_up_after_handshake(error, shown, access.tls)
                if problem:
                    raise tls_failure(access, shown, problem) from None
                raise
            location = response.headers.get("Location")
            if self.redirects_fail and response.is_redirect and location is not None:
                response.close()
                raise redirect_failure(access, shown, response.status_code, location)
            if self.strict:
                _raise_for_access(access, shown, response)
            return response
        if self._plain is None:
            self._plain = httpx.HTTPTransport()
        return self._plain.handle_request(request)

    def close(self) -> None:
        for _, transport in self._routes:
            transport.close()
        if self._plain is not None:
            self._plain.close()


def _route_context(access: EndpointAccess) -> ssl.SSLContext:
    """The endpoint's TLS settings for an https:// URL. A route only carries requests whose
    URL starts with the endpoint's, so an http:// endpoint never makes a TLS handshake: it
    gets a context that trusts nothing (fail-closed) instead of loading the CA store, which
    costs ~0.05 s of CPU per context and five contexts per verify."""
    if access.url.startswith("https://"):
        return access.tls.ssl_context()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _raise_for_access(access: EndpointAccess, url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status == 400 and access.url.startswith("http://"):
        body = response.read().decode(errors="replace")
        if "HTTPS server" in body:
            raise plain_http_to_tls(access, url, body)
    if status in (401, 403) and access.name != "grafana":
        raise denied_failure(access, url, status, response.read().decode(errors="replace"))


def access_client(
    endpoints: Sequence[EndpointAccess],
    timeout_s: float,
    strict: bool = True,
    redirects_fail: bool = True,
    **kwargs: Any,
) -> httpx.Client:
    """An httpx client that never follows a redirect (httpx's default, kept explicit)."""
    return httpx.Client(
        transport=AccessTransport(endpoints, strict=strict, redirects_fail=redirects_fail),
        timeout=timeout_s,
        follow_redirects=False,
        **kwargs,
    )


class AccessAdapter(HTTPAdapter):
    """The same for requests-based clients (prometheus-api-client): mounted for the
    endpoint's URL only, it attaches the endpoint's headers and TLS settings to the requests
    it sends and names TLS and auth failures. A redirect ends here as a final failure, before
    requests' ``Session.resolve_redirects`` could follow it (requests strips only
    ``Authorization`` on a cross-origin hop, not an API-key or tenant header)."""

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
            named = tls_problem(error) or hung_up_after_handshake(error, url, tls)
            if named:
                raise tls_failure(self.access, url, named) from None
            raise
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            raise redirect_failure(self.access, url, response.status_code, location)
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
