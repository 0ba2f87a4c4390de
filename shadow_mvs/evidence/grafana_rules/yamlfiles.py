"""Reading provisioning directories the way Grafana does (non-recursive, sorted, .yaml/.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shadow_mvs.evidence.grafana_rules.errors import ProvisioningError
from shadow_mvs.evidence.grafana_rules.logfmt import log

GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def provisioning_files(directory: Path, logger: str) -> list[Path]:
    """``os.ReadDir`` order (by name); a missing directory is logged, not fatal."""
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        log(
            logger,
            "warn",
            "can't read provisioning files from directory",
            path=directory,
            error=exc,
        )
        return []
    return [p for p in entries if p.is_file() and p.suffix in (".yaml", ".yml")]


def load_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ProvisioningError(
            f"{what} provisioning error: could not parse {path}: {exc}"
        ) from exc


def parse_bool(value: Any, field: str, default: bool = False) -> bool:
    """Go ``strconv.ParseBool`` on the (interpolated) value; garbage is fatal."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value)
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise ProvisioningError(f'strconv.ParseBool: parsing "{text}": invalid syntax (field {field})')


def parse_int(value: Any, field: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise ProvisioningError(f"cannot use bool as int (field {field})")
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError as exc:
        raise ProvisioningError(
            f'strconv.ParseInt: parsing "{value}": invalid syntax (field {field})'
        ) from exc


def as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
