#!/usr/bin/env bash
# Unpack Debian's prometheus and prometheus-alertmanager packages (binaries only, no
# service, no web assets) into .tools/ so tests can run promtool, amtool and short-lived
# real Prometheus and Alertmanager servers on the host.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tools"
# Debian's Alertmanager reads its notification templates from this fixed path (a Debian
# patch); the host copy of the binary needs them there, as the package would put them.
templates=/usr/share/prometheus/alertmanager
if [ -x "$dest/bin/promtool" ] && [ -x "$dest/bin/prometheus" ] && [ -x "$dest/bin/amtool" ] \
  && [ -x "$dest/bin/alertmanager" ] && [ -f "$templates/default.tmpl" ]; then
  exit 0
fi
work=$(mktemp -d)
chmod 0777 "$work"  # apt-get download drops privileges to _apt
trap 'rm -rf "$work"' EXIT
packages=(prometheus prometheus-alertmanager)
# A machine that already had Docker may never have fetched the package lists.
(cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null 2>&1) \
  || (apt-get update -qq && cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null)
for deb in "$work"/prometheus_*.deb "$work"/prometheus-alertmanager_*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done
mkdir -p "$dest/bin"
install -m 0755 "$work/root/usr/bin/prometheus" "$work/root/usr/bin/promtool" \
  "$work/root/usr/bin/amtool" "$dest/bin/"
install -m 0755 "$work/root/usr/bin/prometheus-alertmanager" "$dest/bin/alertmanager"
install -d "$templates"
install -m 0644 "$work/root$templates/default.tmpl" "$work/root$templates/email.tmpl" "$templates/"
echo "install-prometheus-tools: $("$dest/bin/promtool" --version 2>&1 | head -n1)" >&2
echo "install-prometheus-tools: $("$dest/bin/amtool" --version 2>&1 | head -n1)" >&2
