"""``shadow-mvs``: the operator's entry point — up, verify, list, explain, drill, down.

Exit codes are the same for every subcommand: 0 PASS/done, 1 FAIL, 2 usage or
environment error (bad flag or value; for up/down also no Docker daemon, missing
credentials or images). ``verify`` reports a stack that cannot start as the FAIL of the
component at fault (exit 1), because that is the verdict an operator needs. ``verify
--format nagios`` exits with Nagios's codes instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from shadow_mvs import suite_version
from shadow_mvs.config.environments import ENVIRONMENTS_FILE_ENV, environments_file
from shadow_mvs.config.settings import OPTIONS, Settings, SettingsError, register_options
from shadow_mvs.core.contract import CHECKS_DIR, REPO_ROOT, checkout_root, load_contract
from shadow_mvs.core.triage import load_triage, route
from shadow_mvs.many import verify_many
from shadow_mvs.report.explain import CONTRACT_TOPIC, contract_facts, contract_lines, node_lines
from shadow_mvs.report.triage_view import commands_in_use, node_view
from shadow_mvs.stack.compose import (
    DOWN_ARGS,
    UP_ARGS,
    EnvironmentProblem,
    compose_project,
    offline_image_present,
    require_compose_files,
    require_docker,
)

# What this module imports at the top is what every subcommand needs: argument parsing, the
# settings and their validation, compose's command lines, and spawning pytest. The modules
# that import an HTTP client or pytest (shadow_mvs.stack.bringup: httpx;
# shadow_mvs.report.formats: pytest, prometheus_client and the reporter) are imported inside
# the functions that use them: `verify` hands the checks to a pytest process that imports
# them itself, so the parent would pay ~0.3 s of CPU per run for nothing
# (tests/verify/test_cli_imports.py keeps it that way).
EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_CODES = "exit codes: 0 done, 2 usage or environment error"
# Each subcommand's --help ends with its exit codes and an example.
EPILOGS = {
    "up": f"{EXIT_CODES} (no Docker daemon, missing images or credentials, port in use)\n"
    "example: shadow-mvs up --offline && shadow-mvs verify --stack=external",
    "down": f"{EXIT_CODES}\nexample: shadow-mvs down --offline",
    "verify": "exit codes: 0 RESULT=PASS, 1 RESULT=FAIL, 2 usage or environment error;\n"
    "  with --format nagios: 0 OK, 1 WARNING (an SLO warning), 2 CRITICAL (RESULT=FAIL),\n"
    "  3 UNKNOWN (usage or internal error)\n"
    "examples: shadow-mvs verify --offline\n"
    "  shadow-mvs verify --stack=external --format json | jq .result\n"
    "  shadow-mvs verify --stack=external --metrics-file /var/lib/node_exporter/verify.prom",
    "list": "exit codes: 0 listed, 2 usage error\n"
    "examples: shadow-mvs list\n  shadow-mvs list --format json | jq '.checks[].f_code'",
    "explain": "exit codes: 0 explained, 2 unknown node\n"
    "examples: shadow-mvs explain G-3\n  shadow-mvs explain contract",
    "drill": "exit codes: 0 the alert reached the receiver and resolved, 1 the chain broke\n"
    "  (the timeline names the stage), 2 usage error or an external stack (never drilled)\n"
    "examples: shadow-mvs drill R-2 --offline\n  shadow-mvs drill R-2 --offline --format json",
}
LIST_FORMATS = ("text", "json")
STACK_FLAGS = ("--offline", "--host-network")
UP_DOWN_FLAGS = (*STACK_FLAGS, "--env")  # what `up` and `down` take besides verify


class OneLineParser(argparse.ArgumentParser):
    """A bad flag is one line and exit 2, like every other bad input (argparse's own error
    prints the usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="shadow-mvs", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"shadow-mvs {suite_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=EPILOGS[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    up = command("up", "start the compose stack and leave it running")
    register_options(up.add_argument, UP_DOWN_FLAGS)
    down = command("down", "stop the stack and drop its volumes")
    register_options(down.add_argument, UP_DOWN_FLAGS)
    verify = command("verify", "run `pytest verify/` with these options")
    register_options(verify.add_argument, [o.flag for o in OPTIONS if o.flag != "--env"])
    verify.add_argument(
        "--env",
        action="append",
        default=None,
        help="named environment (SHADOW_MVS_ENVIRONMENTS_FILE, else ./environments.toml); "
        "repeat to verify several concurrently (env SHADOW_MVS_ENV)",
    )
    verify.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments after --"
    )
    listing = command("list", "list the checks: F-code, triage node, budget, depends-on")
    listing.add_argument("--format", choices=LIST_FORMATS, default="text", help="text or json")
    explain = command(
        "explain", "print a triage node (G-1…G-9), incident runbook (R-1…R-5) or the contract"
    )
    explain.add_argument("node", help=f"node id, e.g. G-3, or {CONTRACT_TOPIC!r}")
    drill = command(
        "drill",
        "break the local simulator on purpose and follow the alert to the receiver "
        "(compose mode only)",
    )
    drill.add_argument("r_node", choices=sorted(load_contract().drills), help="incident runbook")
    register_options(drill.add_argument, (*UP_DOWN_FLAGS, "--stack", "--keep-stack"))
    # The drill's own --format: its timeline, not a verify verdict.
    drill.add_argument(
        "--format",
        dest="output_format",
        choices=("text", "json"),
        default="text",
        help="text: TIMELINE lines; json: the timeline as one JSON object (for CI)",
    )
    return parser


def _settings(args: argparse.Namespace, verifying: bool = False) -> Settings:
    values = vars(args)
    if isinstance(values.get("env"), list):  # verify --env a --env b: one at a time here
        values = {**values, "env": values["env"][0]}
    return Settings.from_values(values, verifying=verifying)


def _say(settings: Settings, text: str) -> None:
    """What compose said, through the run's redactor (.env values can be secrets)."""
    print(settings.redactor().text(text), file=sys.stderr)


def cmd_up(args: argparse.Namespace) -> int:
    from shadow_mvs.stack.bringup import (
        compose_error_line,
        preflight,
        unpullable_images,
        wait_answering,
    )

    settings = _settings(args)
    require_compose_files(compose_project(settings))
    if settings.bring_up:
        return environment_up(settings)
    preflight(settings)
    compose = compose_project(settings)
    print(
        f"shadow-mvs: {compose.base_command(relative=True)} {compose.up_command()}", file=sys.stderr
    )
    started = time.monotonic()
    result = compose.run(compose.up_command(), check=False)
    if result.returncode != 0:
        output = result.stdout + result.stderr
        _say(settings, unpullable_images(compose, output) or compose_error_line(output))
        return EXIT_USAGE
    # The verify that follows treats this stack as external (short grace on "connection
    # refused"), so `up` returns only once every endpoint answers.
    wait_answering(settings.urls)
    print(
        f"shadow-mvs: stack up in {time.monotonic() - started:.1f} s; "
        "next: shadow-mvs verify --stack=external",
        file=sys.stderr,
    )
    return EXIT_PASS


def cmd_down(args: argparse.Namespace) -> int:
    settings = _settings(args)
    require_docker()
    compose = compose_project(settings)
    require_compose_files(compose)
    result = compose.run(DOWN_ARGS, check=False)
    if result.returncode != 0:
        _say(settings, result.stderr.strip())
        return EXIT_USAGE
    if settings.bring_up:
        from shadow_mvs.stack import (
            prod_shaped,  # cryptography and bcrypt: only for a stack we generate
        )

        prod_shaped.remove()
        print(f"shadow-mvs: removed {prod_shaped.PKI_DIR.relative_to(REPO_ROOT)}", file=sys.stderr)
    print(f"shadow-mvs: project {compose.name} is down", file=sys.stderr)
    return EXIT_PASS


def suite_root() -> Path | None:
    """The checkout ``pytest verify`` runs in (see ``checkout_root``); None: run the installed
    copy from the current directory."""
    return checkout_root()


def pytest_command(args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "pytest", *pytest_args(args)]


def pytest_args(args: argparse.Namespace) -> list[str]:
    """What ``pytest`` is given to verify: the checks and every flag set here."""
    if suite_root() is not None:
        command = ["verify"]
    else:  # no pyproject.toml to read addopts from: no cache dir inside site-packages
        command = ["-p", "no:cacheprovider", str(CHECKS_DIR)]
    for opt in OPTIONS:
        value = getattr(args, opt.dest, None)
        if isinstance(value, list):  # --env, one environment per pytest run
            value = value[0]
        if value is None or value is False:
            continue
        command += [opt.flag] if opt.is_switch else [f"{opt.flag}={value}"]
    extra = [a for a in args.pytest_args if a != "--"]
    return command + extra


def environment_up(settings: Settings) -> int:
    """``up --env prod-shaped``: generate the PKI and secrets, then start its compose files."""
    from shadow_mvs.stack.bringup import StackStartError, port_in_use

    if not settings.offline:
        print(
            f"shadow-mvs: --env {settings.env_name} runs from the offline image: add --offline",
            file=sys.stderr,
        )
        return EXIT_USAGE
    require_docker()
    if not offline_image_present():
        raise StackStartError(
            "prometheus", "offline image missing: run bash compose/images/build-offline-images.sh"
        )
    compose = compose_project(settings)
    if not compose.run("ps -q", check=False).stdout.strip():
        for port in (9109, 9092, 3000, 9095):
            if port_in_use(f"http://127.0.0.1:{port}"):
                print(
                    f"shadow-mvs: port {port} is in use outside compose project "
                    f"{compose.name}; free it first",
                    file=sys.stderr,
                )
                return EXIT_USAGE
    from shadow_mvs.stack import (
        prod_shaped,  # cryptography and bcrypt: only for a stack we generate
    )

    prod_shaped.prepare()
    up = f"{UP_ARGS}"
    print(f"shadow-mvs: {compose.base_command(relative=True)} {up}", file=sys.stderr)
    started = time.monotonic()
    result = compose.run(up, check=False)
    if result.returncode != 0:
        _say(settings, result.stderr.strip() or result.stdout.strip())
        return EXIT_USAGE
    print(
        f"shadow-mvs: {settings.env_name} up in {time.monotonic() - started:.1f} s "
        f"(certificates and secrets in {prod_shaped.PKI_DIR.relative_to(REPO_ROOT)}); "
        f"next: shadow-mvs verify --env {settings.env_name}",
        file=sys.stderr,
    )
    return EXIT_PASS


def pytest_environment() -> dict[str, str]:
    """pytest may run in a checkout other than the current directory (an editable install):
    it reads the environments file ``--env`` resolved here, not that checkout's."""
    return {**os.environ, ENVIRONMENTS_FILE_ENV: str(environments_file())}


def cmd_verify(args: argparse.Namespace) -> int:
    if args.env and len(args.env) > 1:
        if (args.format or "text") != "text":
            raise SettingsError(
                f"--format {args.format} is for one environment; several --env write "
                "reports/summary.json and one verify.json per environment"
            )
        return verify_many(args, pytest_args, suite_root() or Path.cwd(), pytest_environment())
    settings = _settings(args, verifying=True)  # reject bad values before pytest starts
    if settings.stack == "compose" and suite_root() is None:
        # No checkout to run pytest in, so the stack would come from this copy's own
        # (absent) compose files; from a checkout, pytest runs there and finds them.
        require_compose_files(compose_project(settings))
    code = subprocess.run(
        pytest_command(args), cwd=suite_root(), env=pytest_environment(), check=False
    ).returncode
    if settings.output_format == "nagios":  # pytest already exits with Nagios's codes
        from shadow_mvs.report.formats import NAGIOS_UNKNOWN

        return code if code in (0, 1, 2, 3) else NAGIOS_UNKNOWN
    return {0: EXIT_PASS, 1: EXIT_FAIL}.get(code, EXIT_USAGE)


def check_rows() -> list[dict[str, object]]:
    """The contract's checks in run order, as ``shadow-mvs list`` shows them."""
    return [
        {
            "check": check.name,
            "f_code": check.f_code,
            "node": route(check.f_code).id,
            "budget_s": check.budget_s,
            "depends_on": list(check.depends_on),
            "gated_by": check.gated_by,
            "proves": check.proves,
        }
        for check in load_contract().checks
    ]


def cmd_list(args: argparse.Namespace) -> int:
    rows = check_rows()
    if args.format == "json":
        document = {"contract_version": load_contract().version, "checks": rows}
        print(json.dumps(document, indent=2))
        return EXIT_PASS
    header = ("check", "F-code", "node", "budget", "depends on")
    table = [
        (
            str(row["check"]),
            str(row["f_code"]),
            str(row["node"]),
            f"{row['budget_s']:g} s",
            ", ".join(row["depends_on"]) or "-",  # type: ignore[arg-type]
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
    for line in [header, *table]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return EXIT_PASS


def cmd_drill(args: argparse.Namespace) -> int:
    from shadow_mvs.drill import DrillRefused, refuse_unless_local, run_drill

    settings = _settings(args)
    try:
        refuse_unless_local(settings)  # before anything touches a stack
    except DrillRefused as refused:
        print(f"shadow-mvs: {refused}", file=sys.stderr)
        return EXIT_USAGE
    require_compose_files(compose_project(settings))
    return run_drill(settings, args.r_node, args.output_format, settings.keep_stack)


def cmd_explain(args: argparse.Namespace) -> int:
    """A node with its next commands for the mode in use (the SHADOW_MVS_* variables, and
    whether a checkout is at hand), or the contract's tables (``explain contract``)."""
    if args.node.lower() == CONTRACT_TOPIC:
        lines = contract_lines(load_contract())  # data-file facts only
        text = "\n".join(lines)
    else:
        nodes = load_triage()
        node = nodes.get(args.node.upper())
        if node is None:
            known = ", ".join([*nodes, CONTRACT_TOPIC])
            print(f"shadow-mvs: unknown node {args.node!r}; known: {known}", file=sys.stderr)
            return EXIT_USAGE
        settings = Settings.from_values({})
        view = node_view(node, commands_in_use(settings))
        lines = node_lines(view, contract_facts(load_contract(), settings, view))
        text = settings.redactor().text("\n".join(lines))
    print(text)
    return EXIT_PASS


COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "verify": cmd_verify,
    "list": cmd_list,
    "explain": cmd_explain,
    "drill": cmd_drill,
}


def wants_nagios(argv: Sequence[str]) -> bool:
    """``verify --format nagios`` (or SHADOW_MVS_FORMAT=nagios): usage errors are UNKNOWN."""
    words = list(argv)
    if "verify" not in words:
        return False
    asked = [w.split("=", 1)[1] for w in words if w.startswith("--format=")]
    asked += [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--format"]
    return (asked[-1] if asked else os.environ.get("SHADOW_MVS_FORMAT")) == "nagios"


def nagios_unknown(text: str) -> int:
    """Nagios's UNKNOWN line on stdout, and its code."""
    from shadow_mvs.report.formats import NAGIOS_SERVICE, NAGIOS_UNKNOWN

    print(f"{NAGIOS_SERVICE} UNKNOWN - shadow-mvs: {text}")
    return NAGIOS_UNKNOWN


def stack_start_failed(error: Exception) -> int:
    """A stack that could not start (``up``, ``drill``) is one line and exit 2; any other
    exception is a bug and keeps its traceback."""
    from shadow_mvs.stack.bringup import StackStartError

    if not isinstance(error, StackStartError):
        raise error
    print(f"shadow-mvs: {error.message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    nagios = wants_nagios(words)
    parser = build_parser()
    try:
        args = parser.parse_args(words)
    except SystemExit as leaving:
        if nagios and leaving.code == EXIT_USAGE:  # argparse said what was wrong on stderr
            return nagios_unknown("usage error")
        raise
    try:
        return COMMANDS[args.command](args)
    except (SettingsError, EnvironmentProblem) as error:
        print(f"shadow-mvs: {error}", file=sys.stderr)
        if nagios:
            return nagios_unknown(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_USAGE
    except Exception as error:  # re-raised unless the stack could not start
        return stack_start_failed(error)


if __name__ == "__main__":
    sys.exit(main())
