"""``shadow-mvs``: the operator's entry point — up, verify, explain, down.

Exit codes are the same for every subcommand: 0 PASS/done, 1 FAIL, 2 usage or
environment error (bad flag or value; for up/down also no Docker daemon, missing
credentials or images). ``verify`` reports a stack that cannot start as the FAIL of the
component at fault (exit 1), because that is the verdict an operator needs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import suite_version
from .bringup import StackStartError, preflight
from .causes import causes_routed_to
from .compose import DOWN_ARGS, EnvironmentProblem, require_docker
from .contract import PACKAGE_DIR, REPO_ROOT
from .settings import OPTIONS, Settings, SettingsError, register_options
from .triage import load_triage

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
STACK_FLAGS = ("--offline", "--host-network")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shadow-mvs", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"shadow-mvs {suite_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the compose stack and leave it running")
    register_options(up.add_argument, STACK_FLAGS)
    down = sub.add_parser("down", help="stop the stack and drop its volumes")
    register_options(down.add_argument, STACK_FLAGS)
    verify = sub.add_parser("verify", help="run `pytest verify/` with these options")
    register_options(verify.add_argument)
    verify.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments after --"
    )
    explain = sub.add_parser(
        "explain", help="print a triage node (G-1…G-9) or incident runbook (R-1…R-5)"
    )
    explain.add_argument("node", help="node id, e.g. G-3")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_values(vars(args))


def cmd_up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    preflight(settings)
    compose = settings.compose
    print(
        f"shadow-mvs: {compose.base_command(relative=True)} {compose.up_command()}", file=sys.stderr
    )
    started = time.monotonic()
    result = compose.run(compose.up_command(), check=False)
    if result.returncode != 0:
        print(result.stderr.strip() or result.stdout.strip(), file=sys.stderr)
        return EXIT_USAGE
    print(
        f"shadow-mvs: stack up in {time.monotonic() - started:.1f} s; "
        "next: shadow-mvs verify --stack=external",
        file=sys.stderr,
    )
    return EXIT_PASS


def cmd_down(args: argparse.Namespace) -> int:
    require_docker()
    compose = _settings(args).compose
    result = compose.run(DOWN_ARGS, check=False)
    if result.returncode != 0:
        print(result.stderr.strip(), file=sys.stderr)
        return EXIT_USAGE
    print(f"shadow-mvs: project {compose.name} is down", file=sys.stderr)
    return EXIT_PASS


def is_checkout(path: Path) -> bool:
    """A source tree of this project (same test as shadow_mvs.is_checkout, which must not
    import verify; kept here so an editable venv made before shadow_mvs existed still runs)."""
    return (path / "verify" / "contract.toml").is_file() and (path / "compose").is_dir()


def suite_root() -> Path | None:
    """The checkout ``pytest verify`` runs in: this package's own (editable install), else one
    at or above the current directory (a non-editable install used from a checkout behaves
    as the editable one), else None: run the installed copy from the current directory."""
    for candidate in (REPO_ROOT, Path.cwd(), *Path.cwd().parents):
        if is_checkout(candidate):
            return candidate
    return None


def pytest_command(args: argparse.Namespace) -> list[str]:
    if suite_root() is not None:
        command = [sys.executable, "-m", "pytest", PACKAGE_DIR.name]
    else:  # no pyproject.toml to read addopts from: no cache dir inside site-packages
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(PACKAGE_DIR)]
    for opt in OPTIONS:
        value = getattr(args, opt.dest, None)
        if value is None or value is False:
            continue
        command += [opt.flag] if opt.is_switch else [f"{opt.flag}={value}"]
    extra = [a for a in args.pytest_args if a != "--"]
    return command + extra


def cmd_verify(args: argparse.Namespace) -> int:
    _settings(args)  # reject bad values before pytest starts
    code = subprocess.run(pytest_command(args), cwd=suite_root(), check=False).returncode
    return {0: EXIT_PASS, 1: EXIT_FAIL}.get(code, EXIT_USAGE)


def cmd_explain(args: argparse.Namespace) -> int:
    nodes = load_triage()
    node = nodes.get(args.node.upper())
    if node is None:
        print(f"shadow-mvs: unknown node {args.node!r}; known: {', '.join(nodes)}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{node.id}: {node.title}")
    print(f"  symptom:      {node.symptom}")
    print(f"  likely cause: {node.likely_cause}")
    print(f"  reached from: {', '.join(node.routes) or '-'}")
    for cause in causes_routed_to(node.id):
        print(f"  cause {cause.id}: {cause.sentence}")
    print("  next commands:")
    for command in node.commands(Settings.from_values({}).compose.base_command(relative=True)):
        print(f"    {command}")
    return EXIT_PASS


COMMANDS = {"up": cmd_up, "down": cmd_down, "verify": cmd_verify, "explain": cmd_explain}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (SettingsError, EnvironmentProblem) as error:
        print(f"shadow-mvs: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StackStartError as error:
        print(f"shadow-mvs: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
