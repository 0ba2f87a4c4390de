#!/usr/bin/env bash
# Unpack Debian's prometheus package (binaries only, no service, no web assets) into
# .tools/ so tests can run promtool and short-lived real Prometheus servers on the host.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tools"
if [ -x "$dest/bin/promtool" ] && [ -x "$dest/bin/prometheus" ]; then
  exit 0
fi
work=$(mktemp -d)
chmod 0777 "$work"  # apt-get download drops privileges to _apt
trap 'rm -rf "$work"' EXIT
# A machine that already had Docker may never have fetched the package lists.
(cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1) \
  || (apt-get update -qq && cd "$work" && apt-get download -qq prometheus >/dev/null)
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
mkdir -p "$dest/bin"
install -m 0755 "$work/root/usr/bin/prometheus" "$work/root/usr/bin/promtool" "$dest/bin/"
echo "install-prometheus-tools: $("$dest/bin/promtool" --version 2>&1 | head -n1)" >&2
