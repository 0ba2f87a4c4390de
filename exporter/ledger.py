"""Append-only JSONL ledger, plus an audit that reads the whole file back from disk."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("shadow_mvs.exporter")

READ_CHUNK = 1 << 20
# How much of a line the audit quotes when it cannot parse it.
EXCERPT_CHARS = 60


@dataclass
class LedgerAudit:
    """What the file holds: this run's per-stage counts, lines and fees (the lines appended
    since this ledger opened), and every line of the whole file that is not a record."""

    counts: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    fees: float = 0.0
    unparseable: int = 0
    first_unparseable: str | None = None  # "line N: <excerpt>"


def _record(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class Ledger:
    """Writes each record as one whole line with a single unbuffered write(2).

    There is no user-space buffer, so every returned ``append`` is already in the kernel:
    killing the process loses nothing written. A full disk can still cut a write short;
    the next start finds that torn last line and repairs it before appending (see
    ``_repair_torn_tail``), so one run's damage never glues onto the next run's record.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.repair_note = self._repair_torn_tail()
        # This run's lines start here; earlier runs' lines are only checked to be records.
        self._run_start = os.fstat(self._fd).st_size
        self._audit_file = open(path, "rb")  # noqa: SIM115 - lives as long as the ledger
        self._audit_offset = 0  # where the next unread line starts
        self._audit_tail = b""
        self._line_no = 0
        self._audit = LedgerAudit()
        self.audit()  # earlier runs' lines are read now, at start, not during a scrape

    def _repair_torn_tail(self) -> str | None:
        """A last line without its newline is a write cut short (a full disk, a crash
        mid-write). A whole record is terminated; anything else is truncated away, so the
        file ends at its last complete record. Returns what was done, for the log."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return None
        with open(self.path, "rb") as reader:
            start = size
            tail = b""
            while start > 0 and b"\n" not in tail:
                start = max(0, start - 4096)
                reader.seek(start)
                tail = reader.read(size - start)
        if tail.endswith(b"\n"):
            return None
        cut = start + tail.rfind(b"\n") + 1  # 0 when the file has no newline at all
        torn = tail[tail.rfind(b"\n") + 1 :]
        if _record(torn) is not None:
            os.write(self._fd, b"\n")
            note = f"terminated its last line at byte {size} (a whole record without newline)"
        else:
            os.ftruncate(self._fd, cut)
            note = f"truncated a torn last line of {len(torn)} bytes at byte {cut}"
        log.warning("ledger %s: %s", self.path, note)
        return note

    def append(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        written = os.write(self._fd, line)
        if written != len(line):
            raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")

    def audit(self) -> LedgerAudit:
        """The whole file, read incrementally from disk: this run's counts, lines and fees,
        and the first line anywhere in the file that is not a JSON record."""
        while chunk := self._audit_file.read(READ_CHUNK):
            *complete, self._audit_tail = (self._audit_tail + chunk).split(b"\n")
            for raw in complete:
                self._take(raw)
        return LedgerAudit(
            counts=dict(self._audit.counts),
            lines=self._audit.lines,
            fees=self._audit.fees,
            unparseable=self._audit.unparseable,
            first_unparseable=self._audit.first_unparseable,
        )

    def _take(self, raw: bytes) -> None:
        self._line_no += 1
        this_run = self._audit_offset >= self._run_start
        self._audit_offset += len(raw) + 1
        record = _record(raw)
        if record is None:
            self._audit.unparseable += 1
            if self._audit.first_unparseable is None:
                excerpt = raw[:EXCERPT_CHARS].decode(errors="replace")
                self._audit.first_unparseable = f"line {self._line_no}: {excerpt!r}"
        if not this_run:
            return
        self._audit.lines += 1
        if record is None:
            return
        try:
            stage = str(record["stage"])
            fee = float(record.get("fee") or 0.0)
        except (ValueError, KeyError, TypeError):
            return  # a foreign line without a stage shows up as a count mismatch
        self._audit.counts[stage] = self._audit.counts.get(stage, 0) + 1
        self._audit.fees += fee

    def close(self) -> None:
        """Flush to disk and close; an error is raised once as OSError naming the file."""
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._audit_file.close()
