"""Drill: ``shadow-mvs drill R-n`` run several times; prints the whole drill's wall time and
the time to detect (fault → notification at the receiver) as min/median/max, against the
rule's promise (for + evaluation + scrape + group_wait). Each run brings the stack up fresh
and takes it down (R-2 ≈ 1.5 min a run)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from shadow_mvs.core.contract import REPO_ROOT
from shadow_mvs.stack.compose import require_docker

from .common import EXIT_FAIL, EXIT_OK, emit, emit_spread, parser, run_main


def main() -> int:
    args_parser = parser(__doc__)
    args_parser.add_argument("r_node", nargs="?", default="R-2")
    args_parser.add_argument("--runs", type=int, default=3)
    args = args_parser.parse_args()
    require_docker()
    walls, detects = [], []
    promise = None
    for _ in range(args.runs):
        command = [sys.executable, "-m", "shadow_mvs.cli", "drill", args.r_node, "--format=json"]
        started = time.monotonic()
        done = subprocess.run(
            [*command, *(() if args.online else ("--offline",))],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(time.monotonic() - started)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"drill {args.r_node} failed (exit {done.returncode}): {last}")
            print(done.stdout)
            return EXIT_FAIL
        timeline = json.loads(done.stdout)
        detects.append(float(timeline["time_to_detect_s"]))
        promise = timeline["promise"]
    emit_spread(f"drill_{args.r_node}_wall", walls)
    emit_spread(f"drill_{args.r_node}_time_to_detect", detects)
    emit(f"drill_{args.r_node}_promise", str(promise))
    return EXIT_OK


if __name__ == "__main__":
    run_main(main)
