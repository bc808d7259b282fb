#!/usr/bin/env bash
# Installs Counsel as three systemd services on this machine (as root):
# a `counsel` system user, binaries in /usr/local/bin, keys in /etc/counsel
# (0400, owned by counsel), data in /var/lib/counsel, content imported.
#   deploy/systemd/install.sh [BUILD_DIR]     (default build/release)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/release}
id counsel >/dev/null 2>&1 || useradd --system --home /var/lib/counsel --shell /usr/sbin/nologin counsel
install -d -o counsel -g counsel -m 0700 /var/lib/counsel
install -d -o root -g counsel -m 0750 /etc/counsel
for f in guidance-svc/counsel-guidance case-svc/counsel-cases gateway/counsel-gateway deploy/counsel-healthcheck; do
  install -m 0755 "$BUILD/$f" /usr/local/bin/
done
for k in context master audit; do
  if [ ! -f "/etc/counsel/$k.key" ]; then
    (umask 077 && openssl rand -out "/etc/counsel/$k.key" 32)
  fi
  chown counsel:counsel "/etc/counsel/$k.key"
  chmod 0400 "/etc/counsel/$k.key"
done
install -d /usr/local/share/counsel /usr/local/share/doc/counsel
cp -r "$ROOT/guidance-svc/content" /usr/local/share/counsel/
cp "$ROOT/docs/"*.md /usr/local/share/doc/counsel/
runuser -u counsel -- /usr/local/bin/counsel-guidance import /usr/local/share/counsel/content \
  --db=/var/lib/counsel/guidance.db
install -m 0644 "$ROOT"/deploy/systemd/counsel-*.service /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now counsel-guidance counsel-cases counsel-gateway
echo "installed; create a key with:"
echo "  runuser -u counsel -- counsel-gateway keys create --db=/var/lib/counsel/gateway.db --tenant=T --scopes=..."
