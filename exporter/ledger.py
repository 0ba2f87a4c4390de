"""Append-only JSONL ledger, plus an audit that counts what actually reached the file."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class Ledger:
    """Writes each record as one whole line with a single unbuffered write(2).

    There is no user-space buffer, so every returned ``append`` is already in the
    kernel: killing the process can lose nothing written and never leaves half a line.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        # Audit only this run's lines: earlier runs may have appended to the same file.
        self._audit = open(path, "rb")  # noqa: SIM115 - lives as long as the ledger
        self._audit.seek(os.fstat(self._fd).st_size)
        self._audit_tail = b""
        self._audit_counts: dict[str, int] = {}
        self._audit_fees = 0.0
        self._audit_lines = 0

    def append(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        written = os.write(self._fd, line)
        if written != len(line):
            raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")

    def audit(self) -> tuple[dict[str, int], int, float]:
        """Per-stage counts, line count and summed fees of this run's lines, read back
        from disk."""
        *complete, self._audit_tail = (self._audit_tail + self._audit.read()).split(b"\n")
        for raw in complete:
            self._audit_lines += 1
            try:
                record = json.loads(raw)
                stage = record["stage"]
                fee = float(record.get("fee") or 0.0)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a foreign or broken line shows up as a count mismatch
            self._audit_counts[stage] = self._audit_counts.get(stage, 0) + 1
            self._audit_fees += fee
        return dict(self._audit_counts), self._audit_lines, self._audit_fees

    def close(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._audit.close()
