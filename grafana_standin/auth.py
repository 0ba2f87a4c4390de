"""Basic auth against the admin user, brute-force lockout, and the anonymous fall-through."""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shadow_mvs.evidence.grafana_rules.logfmt import log

from .settings import Settings

LOGIN_ATTEMPT_WINDOW_S = 300.0


@dataclass(frozen=True)
class Identity:
    login: str
    role: str  # org role: Admin | Editor | Viewer
    anonymous: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "Admin"


class AuthFailure(Exception):
    """Grafana's errutil error; the body keys come out alphabetically like Go's map."""

    def __init__(self, message_id: str, message: str) -> None:
        super().__init__(message)
        self.message_id = message_id
        self.message = message

    def body(self) -> dict[str, object]:
        return {
            "extra": None,
            "message": self.message,
            "messageId": self.message_id,
            "statusCode": 401,
            "traceID": "",
        }


UNAUTHORIZED = ("auth.unauthorized", "Unauthorized")
PASSWORD_FAILED = ("password-auth.failed", "Invalid username or password")
INVALID_BASIC_HEADER = ("basic-auth.invalid-header", "Invalid Basic Auth Header")
INVALID_API_KEY = ("api-key.invalid", "Invalid API key")


class Authenticator:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> Identity:
        """The identity for a request, or AuthFailure (401) when no client accepts it."""
        try:
            if not authorization:
                raise AuthFailure(*UNAUTHORIZED)
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "bearer":
                return self._token(credentials.strip())
            if scheme.lower() != "basic":
                raise AuthFailure(*INVALID_API_KEY)
            return self._basic(credentials.strip())
        except AuthFailure:
            # Grafana tries the next client; anonymous, when enabled, accepts everything.
            if self.settings.anonymous_enabled:
                return Identity("", self.settings.anonymous_role, anonymous=True)
            raise

    def _token(self, token: str) -> Identity:
        """A service-account token (Grafana's APIKey authn client): unknown → api-key.invalid."""
        for known, (name, role) in self.settings.service_account_tokens.items():
            if hmac.compare_digest(token.encode(), known.encode()):
                return Identity(f"sa-1-{name}", role, anonymous=False)
        log(
            "authn.service",
            "info",
            "Failed to authenticate request",
            client="auth.client.api-key",
            error="[api-key.invalid] invalid API key",
        )
        raise AuthFailure(*INVALID_API_KEY)

    def _basic(self, credentials: str) -> Identity:
        try:
            user, sep, password = (
                base64.b64decode(credentials, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailure(*INVALID_BASIC_HEADER) from None
        if not sep:
            raise AuthFailure(*INVALID_BASIC_HEADER)
        username = user.lower()
        if self._locked_out(username):
            log(
                "authn.service",
                "warn",
                "too many consecutive incorrect login attempts for user "
                "- login for user temporarily blocked",
            )
            raise AuthFailure(*PASSWORD_FAILED)
        login_ok = hmac.compare_digest(username.encode(), self.settings.admin_user.lower().encode())
        password_ok = hmac.compare_digest(password.encode(), self.settings.admin_password.encode())
        if not (login_ok and password_ok):
            self._record_failure(username)
            log(
                "authn.service",
                "info",
                "Failed to authenticate request",
                client="auth.client.basic",
                error="[password-auth.failed] invalid username or password",
            )
            raise AuthFailure(*PASSWORD_FAILED)
        return Identity(self.settings.admin_user, "Admin", anonymous=False)

    def _recent(self, username: str) -> list[float]:
        horizon = self.clock() - LOGIN_ATTEMPT_WINDOW_S
        recent = [t for t in self._failures.get(username, []) if t > horizon]
        self._failures[username] = recent
        return recent

    def _locked_out(self, username: str) -> bool:
        if not self.settings.brute_force_protection:
            return False
        with self._lock:
            return len(self._recent(username)) >= self.settings.brute_force_max_attempts

    def _record_failure(self, username: str) -> None:
        if not self.settings.brute_force_protection:
            return
        with self._lock:
            self._recent(username).append(self.clock())
