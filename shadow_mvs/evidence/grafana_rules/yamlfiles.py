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


class YamlError(Exception):
    """A file that does not read or parse; ``str()`` in go-yaml's shape."""


def load_yaml(path: Path) -> Any:
    """The parsed file, or YamlError. go-yaml (a libyaml port) says ``yaml: line N: <problem>``;
    PyYAML's problem words can differ from libyaml's, the line is the same."""
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise YamlError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}: " if mark else ""
        raise YamlError(f"yaml: {line}{exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise YamlError(f"yaml: {exc}") from exc


def unmarshal_error(path: Path, doc: Any, go_type: str) -> str:
    """go-yaml's text for a document whose top node does not fit the Go type."""
    node = yaml.compose(path.read_text())
    line = node.start_mark.line + 1 if node is not None else 1
    tag = "!!map" if isinstance(doc, dict) else "!!seq" if isinstance(doc, list) else "!!str"
    return f"yaml: unmarshal errors:\n  line {line}: cannot unmarshal {tag} into {go_type}"


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
    raise ProvisioningError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_int(value: Any, field: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise ProvisioningError("cannot unmarshal !!bool into int64")
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError as exc:
        raise ProvisioningError(f'strconv.ParseInt: parsing "{value}": invalid syntax') from exc


def as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
