"""Named environments: ``--env NAME`` picks one from the file ``SHADOW_MVS_ENVIRONMENTS_FILE``
names, else ``environments.toml`` in the current directory (a checkout's root has one, an
installed copy has none of its own).

An environment is a table of option values — the same names as the flags, with ``-`` as
``_`` (``prometheus_url``, ``topology``, ``prometheus_ca_file``…) — plus, under
``secrets.<endpoint>``, the NAMES of the variables that hold its secrets, and optionally a
git-ignored ``secrets_file`` (dotenv) those variables may be read from. A flag or a
``SHADOW_MVS_*`` variable still wins over the environment's value. Secrets themselves never
appear in the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from shadow_mvs.config.access import DEFAULT_NAMES, ENDPOINTS, SecretNames

ENVIRONMENTS_FILE_ENV = "SHADOW_MVS_ENVIRONMENTS_FILE"
ENVIRONMENTS_FILE = "environments.toml"  # in the current directory
META_KEYS = {"description", "secrets", "secrets_file", "bring_up"}


class EnvironmentError_(Exception):
    """An unknown environment name or a malformed entry (a usage error, exit 2)."""


@dataclass(frozen=True)
class Environment:
    name: str
    description: str
    values: dict[str, Any]  # option dest → value
    secret_names: dict[str, SecretNames] = field(default_factory=dict)
    secrets_file: Path | None = None
    bring_up: str | None = None  # how `shadow-mvs up --env NAME` starts it (compose profile)

    def names_for(self, endpoint: str) -> SecretNames:
        return self.secret_names.get(endpoint, DEFAULT_NAMES.get(endpoint, SecretNames()))

    def secret_source(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Variables to read secrets from: the process environment over ``secrets_file``."""
        environ = os.environ if environ is None else environ
        from_file: dict[str, str] = {}
        if self.secrets_file is not None and self.secrets_file.exists():
            from_file = {k: v for k, v in dotenv_values(self.secrets_file).items() if v}
        return {**from_file, **environ}


def environments_file() -> Path:
    """The file ``--env`` reads, absolute: a ``shadow-mvs verify`` that starts pytest in a
    checkout elsewhere passes it on unchanged."""
    return Path(os.environ.get(ENVIRONMENTS_FILE_ENV) or ENVIRONMENTS_FILE).absolute()


def not_found(path: Path) -> str:
    """Where ``--env`` looked, in one line."""
    if os.environ.get(ENVIRONMENTS_FILE_ENV):
        return f"no environments file: looked for {path} ({ENVIRONMENTS_FILE_ENV})"
    return (
        f"no environments file: looked for {path} "
        f"(the current directory; {ENVIRONMENTS_FILE_ENV} is not set)"
    )


def load_environments(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or environments_file()
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise EnvironmentError_(not_found(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise EnvironmentError_(f"{path}: {error}") from None


def load_environment(name: str, option_dests: set[str], path: Path | None = None) -> Environment:
    path = path or environments_file()
    try:
        table = load_environments(path)
    except EnvironmentError_ as error:
        raise EnvironmentError_(f"--env {name}: {error}") from None
    if name not in table:
        raise EnvironmentError_(
            f"--env {name}: no such environment in {path.name} (known: {', '.join(table)})"
        )
    raw = dict(table[name])
    unknown = sorted(set(raw) - option_dests - META_KEYS)
    if unknown:
        raise EnvironmentError_(
            f"environment {name!r} in {path.name}: unknown keys {unknown} "
            "(use option names with '_', e.g. prometheus_url)"
        )
    if "env" in raw:
        raise EnvironmentError_(f"environment {name!r}: 'env' cannot name another environment")
    values = {k: v for k, v in raw.items() if k not in META_KEYS}
    for key, value in list(values.items()):
        if key.endswith("_file") and isinstance(value, str) and not Path(value).is_absolute():
            values[key] = str(path.parent / value)
    secret_names = {}
    for endpoint, names in raw.get("secrets", {}).items():
        if endpoint not in ENDPOINTS or not isinstance(names, dict):
            raise EnvironmentError_(f"environment {name!r}: secrets.{endpoint} is not an endpoint")
        extra = sorted(set(names) - {"token", "basic", "headers"})
        if extra:
            raise EnvironmentError_(
                f"environment {name!r}: secrets.{endpoint} keys {extra}; "
                "expected token, basic, headers (variable NAMES, never values)"
            )
        secret_names[endpoint] = SecretNames(**names)
    secrets_file = raw.get("secrets_file")
    return Environment(
        name=name,
        description=str(raw.get("description", "")),
        values=values,
        secret_names=secret_names,
        secrets_file=(path.parent / secrets_file) if secrets_file else None,
        bring_up=raw.get("bring_up"),
    )
