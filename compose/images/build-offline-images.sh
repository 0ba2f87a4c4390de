#!/usr/bin/env bash
# Build the local image that offline mode runs every service from, using Debian
# packages only (no image registry, no pip inside containers). One image plays all
# parts: real Prometheus (Debian's prometheus), real Alertmanager (Debian's
# prometheus-alertmanager), Python 3 with prometheus-client and PyYAML for the exporter,
# the Grafana stand-in and the alert receiver.
#
#   bash compose/images/build-offline-images.sh          # build if missing or outdated
#   REBUILD=1 bash compose/images/build-offline-images.sh # force a rebuild
#
# The package list is stored in the image as a label: an image built from another list
# (an older checkout's) is rebuilt, so `scripts/bootstrap.sh` brings every machine along.
set -euo pipefail

IMAGE="${OFFLINE_IMAGE:-peaktrade-local/obs-base:bookworm}"
SUITE="${OFFLINE_SUITE:-bookworm}"
PACKAGES="python3,python3-prometheus-client,python3-yaml,prometheus,prometheus-alertmanager,ca-certificates"
LABEL="org.peaktrade.obs-base.packages"

if [ -z "${REBUILD:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  built_with=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
  if [ "$built_with" = "$PACKAGES" ]; then
    echo "build-offline-images: $IMAGE present (REBUILD=1 to rebuild)" >&2
    exit 0
  fi
  echo "build-offline-images: $IMAGE was built from other packages (${built_with:-no list}); rebuilding" >&2
fi
command -v mmdebstrap >/dev/null || { echo "build-offline-images: mmdebstrap missing (run scripts/install-host.sh)" >&2; exit 2; }

echo "build-offline-images: building $IMAGE from Debian $SUITE (about 30 s)" >&2
start=$(date +%s)
# The path-excludes drop docs and the 200+ MB JavaScript the Prometheus web UI would
# pull in; the HTTP API and rule evaluation do not need them.
mmdebstrap --quiet --variant=essential \
  --include="$PACKAGES" \
  --dpkgopt='path-exclude=/usr/share/javascript/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$SUITE" - | docker import --change 'ENV PYTHONUNBUFFERED=1' \
    --change "LABEL $LABEL=$PACKAGES" - "$IMAGE" >/dev/null
echo "build-offline-images: $IMAGE built in $(( $(date +%s) - start )) s, $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}')" >&2
