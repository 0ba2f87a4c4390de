#!/usr/bin/env bash
# Everything a fresh Debian build machine needs before `pytest verify/` or `pytest tests/`:
# Docker engine + compose v2, the offline image, promtool/prometheus binaries for tests,
# the Python venv, and a git-ignored .env with a generated Grafana admin password.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
step() { printf 'bootstrap: %s\n' "$*" >&2; }

step "host: docker engine, compose plugin, mmdebstrap"
bash scripts/install-host.sh
step "promtool + prometheus binaries in .tools/"
bash scripts/install-prometheus-tools.sh
step "offline image"
bash compose/images/build-offline-images.sh

if [ ! -x .venv/bin/python ]; then
  step "python venv .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import shadow_mvs.cli, pytest_docker, tenacity" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  step "pip install -e .[dev]"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  touch .venv/.installed
fi
# Byte-compile the checkout as pip does an installed package: where PYTHONDONTWRITEBYTECODE
# is set, nothing else ever writes these, and every verify compiled the engine from source
# (~0.1 s of CPU per run; Python ignores a .pyc whose source has changed since).
step "byte-compile the checkout"
.venv/bin/python -m compileall -q shadow_mvs exporter grafana_standin alert_receiver >/dev/null

if [ ! -f .env ]; then
  step "writing .env (generated Grafana admin password; git-ignored)"
  password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(18))')
  sed "s/^GF_SECURITY_ADMIN_PASSWORD=.*/GF_SECURITY_ADMIN_PASSWORD=${password}/" .env.example > .env
  chmod 600 .env
fi
step "ready"
