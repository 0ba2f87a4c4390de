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

from shadow_mvs.config.access import DEFAULT_NAMES, SecretNames, read_limited
from shadow_mvs.core.contract import PACKAGE_DIR

SCHEMA_FILE = PACKAGE_DIR / "data" / "environments_schema.toml"

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
    source: Path | None = None  # the environments file it came from

    def names_for(self, endpoint: str) -> SecretNames:
        return self.secret_names.get(endpoint, DEFAULT_NAMES.get(endpoint, SecretNames()))

    def secret_source(
        self, environ: Mapping[str, str] | None = None, need_file: bool = False
    ) -> dict[str, str]:
        """Variables to read secrets from: the process environment over ``secrets_file``.

        With ``need_file`` (a verify run), a named file that does not exist while a variable
        it should hold is not set either is a usage error: the run would go on without
        credentials. (``up`` writes the file; building settings for it passes False.)"""
        environ = os.environ if environ is None else environ
        from_file: dict[str, str] = {}
        if self.secrets_file is None:
            return dict(environ)
        if not self.secrets_file.is_file():
            unset = [v for v in self.variables() if not environ.get(v)]
            if need_file and unset:
                raise EnvironmentError_(
                    f"environment {self.name!r}: secrets_file {self.secrets_file} does not "
                    f"exist (or is no file) and {unset[0]} is not set either"
                )
            return dict(environ)
        try:
            with self.secrets_file.open(encoding="utf-8") as fh:
                from_file = {k: v for k, v in dotenv_values(stream=fh).items() if v}
        except (OSError, UnicodeDecodeError) as error:
            why = getattr(error, "strerror", None) or "not UTF-8 text"
            raise EnvironmentError_(
                f"environment {self.name!r}: secrets_file {self.secrets_file}: "
                f"cannot read it ({why})"
            ) from None
        return {**from_file, **environ}

    def variables(self) -> list[str]:
        """The secret variables this environment names."""
        return [
            variable
            for names in self.secret_names.values()
            for variable in (names.token, names.basic, names.headers)
            if variable
        ]


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


def load_environments(path: Path | None = None) -> dict[str, Any]:
    """The file as TOML; any way it cannot be read is one line naming it."""
    path = path or environments_file()
    try:
        return tomllib.loads(read_limited(path).decode("utf-8"))
    except FileNotFoundError:
        raise EnvironmentError_(not_found(path)) from None
    except IsADirectoryError:
        raise EnvironmentError_(f"{path}: is a directory, not an environments file") from None
    except OSError as error:
        raise EnvironmentError_(f"{path}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise EnvironmentError_(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise EnvironmentError_(f"{path}: not valid TOML: {error}") from None


def entry_schema(option_schema: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The declared schema of one entry: the data file plus one property per option."""
    with SCHEMA_FILE.open("rb") as fh:
        schema = tomllib.load(fh)
    schema["properties"].update(option_schema)
    return schema


def _words(error: Any) -> str:
    """A schema error in one line that never quotes a value under ``secrets``."""
    under_secrets = bool(error.absolute_path) and error.absolute_path[0] == "secrets"
    kind, expected = error.validator, error.validator_value
    if kind == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        words = f"unknown keys {unknown}"
        if under_secrets and len(error.absolute_path) == 1:
            return f"{words}: expected an endpoint ({', '.join(error.schema['properties'])})"
        if under_secrets:
            return f"{words}; expected token, basic, headers (variable NAMES, never values)"
        return f"{words} (use option names with '_', e.g. prometheus_url)"
    if kind == "type":
        return f"expected {'a table' if expected == 'object' else f'a {expected}'}"
    if kind == "pattern" and under_secrets:
        return (
            "not a variable NAME (upper case, e.g. GRAFANA_TOKEN): write the name of the "
            "variable that holds the secret, never the secret itself"
        )
    if kind == "pattern":
        return f"{error.instance!r} does not match {expected}"
    if kind == "enum":
        return f"{error.instance!r}: expected one of {', '.join(map(str, expected))}"
    if kind == "minProperties":
        return "names no variable: expected token, basic and/or headers"
    if kind == "minLength":
        return "is empty"
    return str(error.message).splitlines()[0]


def check_entry(
    path: Path, name: str, entry: Any, option_schema: Mapping[str, dict[str, Any]]
) -> None:
    """One entry against the declared schema (``jsonschema``): file, entry and key named."""
    if not isinstance(entry, dict):
        raise EnvironmentError_(f"{path}: [{name}] is not a table (write [{name}] and its keys)")
    if "env" in entry:
        raise EnvironmentError_(f"{path}: [{name}] env: cannot name another environment")
    import jsonschema  # only runs that pick an environment pay for the import

    validator = jsonschema.Draft202012Validator(entry_schema(option_schema))
    error = jsonschema.exceptions.best_match(validator.iter_errors(entry))
    if error is not None:
        key = ".".join(str(part) for part in error.absolute_path)
        where = f"[{name}] {key}" if key else f"[{name}]"
        raise EnvironmentError_(f"{path}: {where}: {_words(error)}")


def load_environment(
    name: str, option_schema: Mapping[str, dict[str, Any]], path: Path | None = None
) -> Environment:
    path = path or environments_file()
    try:
        table = load_environments(path)
    except EnvironmentError_ as error:
        raise EnvironmentError_(f"--env {name}: {error}") from None
    if name not in table:
        raise EnvironmentError_(
            f"--env {name}: no such environment in {path} (known: {', '.join(table)})"
        )
    for other, entry in table.items():  # one malformed entry is a malformed file
        check_entry(path, other, entry, option_schema)
    raw = dict(table[name])
    values = {k: v for k, v in raw.items() if k not in META_KEYS}
    for key, value in list(values.items()):
        if key.endswith("_file") and isinstance(value, str) and not Path(value).is_absolute():
            values[key] = str(path.parent / value)
    secret_names = {
        endpoint: SecretNames(**names, headers_secret=True)
        for endpoint, names in raw.get("secrets", {}).items()
    }
    secrets_file = raw.get("secrets_file")
    return Environment(
        name=name,
        description=str(raw.get("description", "")),
        values=values,
        secret_names=secret_names,
        secrets_file=(path.parent / secrets_file) if secrets_file else None,
        bring_up=raw.get("bring_up"),
        source=path,
    )
