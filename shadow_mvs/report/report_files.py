"""The verdict survives its reports: where verify.json, junit.xml and the forensics bundle
go is tried before any check runs.

A default path that cannot be written (``reports`` is a file, a read-only directory) turns
that report off: the run goes on, the terminal still prints every check line and RESULT,
a ``WARN|reports|…`` line says what was not written and why, and the exit code follows
RESULT. A path the operator asked for (``--json-report-file``, ``--junitxml``) that cannot
be written is a usage error (exit 2) before any request: a CI job that collects that file
must not pass on without it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# The WARN lines of this session's report problems (read by the reporter).
PROBLEMS_KEY = pytest.StashKey[list[str]]()
JSON_DEFAULT = ".report.json"  # pytest-json-report's own default: not asked for


class ReportPathError(Exception):
    """A report path the operator asked for cannot be written."""


def write_problem(path: Path) -> str | None:
    """Why a file cannot be written at ``path`` (None when it can), found by trying: the
    directory is created as the writer would, and a probe file is made and removed."""
    if path.is_dir():
        return f"{path} is a directory"
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                return f"{ancestor} is a file, not a directory"
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".shadow-mvs-probe-"):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            return f"{path} is read-only"
    except OSError as error:
        where = error.filename or path.parent
        return f"{where}: {error.strerror or error}"
    return None


def asked_for(config: pytest.Config) -> tuple[bool, bool]:
    """Whether the operator named the JSON and JUnit paths (read before the verify plugin
    fills in its defaults)."""
    json_file = config.option.json_report_file
    return bool(json_file) and json_file != JSON_DEFAULT, bool(config.option.xmlpath)


def guard(config: pytest.Config, asked_json: bool, asked_junit: bool) -> list[str]:
    """Try every report path of this session; turn off the default ones that cannot be
    written and return their WARN lines. Raises ReportPathError for an asked-for path."""
    problems: list[str] = []
    json_file = config.option.json_report_file if config.option.json_report else None
    if json_file:
        why = write_problem(Path(json_file))
        if why and asked_json:
            raise ReportPathError(f"cannot write --json-report-file {json_file}: {why}")
        if why:
            config.option.json_report = False  # pytest-json-report then registers nothing
            problems.append(f"reports|not written: {json_file} ({why})")
    junit = config.option.xmlpath
    if junit:
        why = write_problem(Path(os.path.expandvars(junit)).expanduser())
        if why and asked_junit:
            raise ReportPathError(f"cannot write --junitxml {junit}: {why}")
        if why:
            config.option.xmlpath = None  # junitxml configures after this (tryfirst) hook
            problems.append(f"reports|not written: {junit} ({why})")
    config.stash[PROBLEMS_KEY] = problems
    return problems


def problems_of(config: pytest.Config) -> list[str]:
    return config.stash.get(PROBLEMS_KEY, [])


def note_problem(config: pytest.Config, line: str) -> None:
    """A report that failed while it was written (the disk filled, a directory vanished)."""
    config.stash.setdefault(PROBLEMS_KEY, []).append(line)
