"""Many environments at once: wall time of ``shadow-mvs verify --env …`` for 1 environment
and for N (default 4) environments that are the same external stack N times.

The stack is the Docker-free prod-shaped one (fixtures/prod_shaped.py: an agent
remote-writing over TLS + basic auth to a central Prometheus, the Grafana stand-in over
HTTPS with a token), so no Docker and no fixed ports are needed. A generated
environments file (SHADOW_MVS_ENVIRONMENTS_FILE) names it N times; each environment reads
its secrets from its own variable names. Target: N healthy environments in at most 1.5 times
the wall time of one.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import EXIT_FAIL, EXIT_OK, emit, parser
from fixtures.prod_shaped import ProdShaped, prod_shaped
from shadow_mvs.core.contract import REPO_ROOT

TARGET_RATIO = 1.5


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(shaped: ProdShaped, environments: Path, names: list[str]) -> tuple[float, int, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SHADOW_MVS_") and k not in ("GRAFANA_AUTH", "PROMETHEUS_AUTH")
    }
    env["SHADOW_MVS_ENVIRONMENTS_FILE"] = str(environments)
    env.update(shaped.secret_env(names))
    command = [sys.executable, "-m", "shadow_mvs.cli", "verify"]
    for name in names:
        command += ["--env", name]
    if len(names) == 1:  # one environment: the plain verify, its report where many put it
        command += ["--", f"--json-report-file=reports/env-{names[0]}/verify.json", "-q"]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    return time.monotonic() - started, result.returncode, result.stdout + result.stderr


def main() -> int:
    cli = parser(__doc__, stack=False)
    cli.add_argument("--count", type=int, default=4, help="environments at once (default 4)")
    args = cli.parse_args()
    with tempfile.TemporaryDirectory() as tmp, prod_shaped(Path(tmp) / "stack") as shaped:
        environments = Path(tmp) / "environments.toml"
        names = [f"bench{i}" for i in range(1, args.count + 1)]
        environments.write_text(shaped.environments_toml(names))
        warm, code, output = run(shaped, environments, ["bench1"])  # absorbs first-write lag
        if code != 0:
            print(output)
            return EXIT_FAIL
        # CPU of the verify processes only: the stack's servers are still running, so
        # RUSAGE_CHILDREN does not count them yet.
        cpu_before = children_cpu()
        one, code_one, _ = run(shaped, environments, ["bench1"])
        cpu_one = children_cpu() - cpu_before
        many, code_many, output = run(shaped, environments, names)
        cpu_many = children_cpu() - cpu_before - cpu_one
        summary = json.loads((REPO_ROOT / "reports" / "summary.json").read_text())
    emit("multi_env_warmup", warm, "s")
    emit("multi_env_1", one, "s")
    emit(f"multi_env_{args.count}", many, "s")
    emit("multi_env_cpu_1", cpu_one, "s")
    emit(f"multi_env_cpu_{args.count}", cpu_many, "s")
    emit("multi_env_cpu_per_session", cpu_many / args.count, "s")
    emit("multi_env_load_1m", os.getloadavg()[0])
    ratio = many / one
    emit("multi_env_ratio", ratio, "x")
    passed = sum(e["result"] == "PASS" for e in summary["environments"])
    emit("multi_env_passed", f"{passed}/{args.count}")
    print(
        f"1 environment {one:.2f} s, {args.count} at once {many:.2f} s "
        f"({ratio:.2f}x, target <= {TARGET_RATIO}x)"
    )
    ok = code_one == 0 and code_many == 0 and passed == args.count and ratio <= TARGET_RATIO
    if not ok:
        print(output)
    return EXIT_OK if ok else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
