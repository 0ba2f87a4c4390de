"""The git-ignored ``.env`` beside the compose files: where it is, and the Grafana admin it
names.

Compose interpolates the stack from it, and the verifier falls back on its Grafana admin
when no ``GRAFANA_AUTH`` or token is set, so both must read the same file: this module is
that one place. Reading it is configuration; building the compose command is the stack
room's (shadow_mvs/stack/compose.py), which asks here for the path.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

from shadow_mvs.core.contract import REPO_ROOT, load_contract

ENV_FILE_VAR = "SHADOW_MVS_ENV_FILE"  # points the stack and the verifier at another file


def env_file_path(root: Path = REPO_ROOT) -> Path:
    """The .env compose interpolates from (``SHADOW_MVS_ENV_FILE`` points elsewhere)."""
    return Path(os.environ.get(ENV_FILE_VAR) or root / load_contract().stack["env_file"])


def grafana_credentials(env_file: Path) -> tuple[str, str] | None:
    """Credentials for the verifier: GRAFANA_AUTH=user:pass wins, else the .env admin."""
    contract = load_contract()
    auth = os.environ.get(contract.grafana["credentials_env"], "")
    if ":" in auth:
        user, _, password = auth.partition(":")
        return user, password
    file_values = dotenv_values(env_file) if env_file.exists() else {}
    user_key, password_key = (
        contract.grafana["admin_user_env"],
        contract.grafana["admin_password_env"],
    )
    admin_user = os.environ.get(user_key) or file_values.get(user_key)
    admin_password = os.environ.get(password_key) or file_values.get(password_key)
    if admin_user and admin_password:
        return admin_user, admin_password
    return None
