"""How this repo's compose project is invoked: which files, which env file, which flags.

One place builds the ``docker compose …`` command line so that pytest-docker's stack
fixture, the ``shadow-mvs`` CLI and the triage commands printed to operators all run
exactly the same thing. A run's settings hold plain values (mode, host networking, an
environment's bring-up); ``compose_project`` turns them into the project.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shadow_mvs.config.env_file import env_file_path
from shadow_mvs.config.settings import Settings
from shadow_mvs.core.contract import REPO_ROOT, Contract, load_contract

UP_ARGS = "up -d --renew-anon-volumes --remove-orphans"
DOWN_ARGS = "down -v --remove-orphans"
# Compose builds the exporter image in online mode only; offline mode never builds.
BUILD_ARGS = "--build"
EXTRA_FILES_ENV = "SHADOW_MVS_COMPOSE_EXTRA_FILES"


class EnvironmentProblem(Exception):
    """The machine cannot run the stack (no Docker daemon, no compose, no images)."""


@dataclass(frozen=True)
class ComposeProject:
    offline: bool
    host_network: bool
    extra_files: tuple[Path, ...] = ()
    root: Path = REPO_ROOT
    # A whole other file set (an environment's bring-up, e.g. compose/prod-shaped.yml).
    file_set: tuple[Path, ...] = ()

    @property
    def contract(self) -> Contract:
        return load_contract()

    @property
    def name(self) -> str:
        return self.contract.project

    @property
    def env_file(self) -> Path:
        """The .env compose interpolates from (SHADOW_MVS_ENV_FILE points elsewhere)."""
        return env_file_path(self.root)

    @property
    def files(self) -> list[Path]:
        stack = self.contract.stack
        files = [self.root / f for f in stack["compose_files"]]
        if self.host_network:
            files.append(self.root / stack["host_network_override"])
        if self.offline:
            files.append(self.root / stack["offline_override"])
        if self.file_set:
            files = list(self.file_set)
        files.extend(self.extra_files)
        # Overrides for this run only (the fault matrix mounts config copies this way).
        extra = os.environ.get(EXTRA_FILES_ENV, "")
        files.extend(Path(p) for p in extra.split(os.pathsep) if p)
        return files

    def base_command(self, relative: bool = False) -> str:
        """``docker compose -p … [--env-file …] -f …`` (relative paths for humans)."""

        def show(path: Path) -> str:
            if relative and path.is_relative_to(self.root):
                path = path.relative_to(self.root)
            return shlex.quote(str(path))

        parts = ["docker", "compose", "-p", self.name]
        if relative or self.env_file.exists():
            parts += ["--env-file", show(self.env_file)]
        for path in self.files:
            parts += ["-f", show(path)]
        return " ".join(parts)

    def up_command(self) -> str:
        return f"{UP_ARGS} {'' if self.offline else BUILD_ARGS}".strip()

    def run(self, subcommand: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one compose subcommand, output captured (for the CLI and fault injectors)."""
        return subprocess.run(
            f"{self.base_command()} {subcommand}",
            shell=True,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=check,
        )


def compose_project(settings: Settings) -> ComposeProject:
    """The project a run's settings name; an environment with a bring-up of its own (e.g.
    prod-shaped) replaces the whole file set with ``compose/<bring-up>.yml``."""
    file_set = (REPO_ROOT / "compose" / f"{settings.bring_up}.yml",) if settings.bring_up else ()
    return ComposeProject(
        offline=settings.offline, host_network=settings.host_network, file_set=file_set
    )


def require_compose_files(project: ComposeProject) -> None:
    """Compose mode starts the stack from a checkout's ``compose/`` folder, and an installed
    copy ships the checks only: say so before Docker is asked, instead of failing a check."""
    folder = project.root / "compose"
    if not folder.is_dir():
        raise EnvironmentProblem(
            f"--stack=compose starts the stack from a checkout's compose files, and there are "
            f"none at {folder} (an installed copy ships the checks only): verify a running "
            "stack with --stack=external, or run from a checkout"
        )


def require_docker() -> None:
    """Fail with a plain sentence (not a traceback) when Docker or compose is missing.

    Both questions go out at once: each is a CLI start and a daemon round trip (~0.2 s), and
    every cold run asks them before `compose up`."""
    try:
        info = subprocess.Popen(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblem(
            "docker CLI not found: run scripts/bootstrap.sh (installs docker.io)"
        ) from exc
    with (
        subprocess.Popen(
            ["docker", "compose", "version"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as compose,
        info,
    ):
        try:
            _, info_errors = info.communicate(timeout=15)
        except subprocess.TimeoutExpired as exc:
            info.kill()
            raise EnvironmentProblem(
                "Docker daemon did not answer `docker info` within 15 s"
            ) from exc
        if info.returncode != 0:
            last = (info_errors.strip().splitlines() or ["no output"])[-1]
            raise EnvironmentProblem(
                f"Docker daemon unreachable ({last}); start it "
                "(scripts/install-host.sh starts dockerd)"
            )
        if compose.wait() != 0:
            raise EnvironmentProblem(
                "docker compose v2 plugin missing: run scripts/install-host.sh"
            )


def offline_image() -> str:
    """The local image offline mode runs (compose/offline.yml's default, or OFFLINE_IMAGE)."""
    return os.environ.get("OFFLINE_IMAGE", "peaktrade-local/obs-base:bookworm")


def offline_image_present(image: str | None = None) -> bool:
    image = image or offline_image()
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return probe.returncode == 0
