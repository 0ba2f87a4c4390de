#!/usr/bin/env bash
# Build the local image that offline mode runs every service from, using Debian
# packages only (no image registry, no pip inside containers). One image plays all
# parts: real Prometheus (Debian's prometheus), Python 3 with prometheus-client and
# PyYAML for the exporter and the Grafana stand-in.
#
#   bash compose/images/build-offline-images.sh          # build if missing
#   REBUILD=1 bash compose/images/build-offline-images.sh # force a rebuild
set -euo pipefail

IMAGE="${OFFLINE_IMAGE:-peaktrade-local/obs-base:bookworm}"
SUITE="${OFFLINE_SUITE:-bookworm}"

if [ -z "${REBUILD:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "build-offline-images: $IMAGE present (REBUILD=1 to rebuild)" >&2
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "build-offline-images: mmdebstrap missing (run scripts/install-host.sh)" >&2; exit 2; }

echo "build-offline-images: building $IMAGE from Debian $SUITE (about 30 s)" >&2
start=$(date +%s)
# The path-excludes drop docs and the 200+ MB JavaScript the Prometheus web UI would
# pull in; the HTTP API and rule evaluation do not need them.
mmdebstrap --quiet --variant=essential \
  --include=python3,python3-prometheus-client,python3-yaml,prometheus,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/javascript/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$SUITE" - | docker import --change 'ENV PYTHONUNBUFFERED=1' - "$IMAGE" >/dev/null
echo "build-offline-images: $IMAGE built in $(( $(date +%s) - start )) s, $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}')" >&2
