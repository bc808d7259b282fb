#!/usr/bin/env bash
# Runs Counsel on this machine: guidance-svc, case-svc and the gateway on
# loopback, with the sample content and a demo API key. Ctrl-C stops all three.
#
# State lives in var/ (databases, key files, logs in var/log/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

scripts/install-deps.sh
BUILD=build/release
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCOUNSEL_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target counsel-guidance counsel-cases counsel-gateway counsel-healthcheck

BIN_G=$BUILD/guidance-svc/counsel-guidance
BIN_C=$BUILD/case-svc/counsel-cases
BIN_W=$BUILD/gateway/counsel-gateway
HEALTH=$BUILD/deploy/counsel-healthcheck

mkdir -p var/log
chmod 700 var
for key in context master audit; do
  if [ ! -f "var/$key.key" ]; then
    (umask 077 && openssl rand -out "var/$key.key" 32)
  fi
done

"$BIN_G" import guidance-svc/content --db=var/guidance.db 2>>var/log/import.log

pids=()
stop() {
  trap - INT TERM
  echo
  echo "stopping..."
  # The gateway first, so that no call reaches a stopped backend.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  wait
  echo "stopped."
}
trap stop INT TERM

"$BIN_G" >>var/log/guidance.log 2>&1 & pids+=($!)
"$HEALTH" --wait=30s 127.0.0.1:50051 >/dev/null
"$BIN_C" >>var/log/cases.log 2>&1 & pids+=($!)
"$HEALTH" --wait=30s 127.0.0.1:50052 >/dev/null
"$BIN_W" >>var/log/gateway.log 2>&1 & pids+=($!)
"$HEALTH" --wait=30s 127.0.0.1:50050 >/dev/null

KEY=$("$BIN_W" keys create --tenant=demo --name=demo \
  --scopes=guidance.read,guidance.write,cases.read,cases.write,cases.pii,cases.admin | tail -1)
(umask 077 && echo "$KEY" > var/demo.apikey)

cat <<MSG

Counsel is running (logs in var/log/). A demo key for tenant "demo" is in var/demo.apikey.

  Dashboard: http://127.0.0.1:8080/dashboard/  (sign in with the key in var/demo.apikey)

  HTTP/JSON:
    curl -H "authorization: Bearer $KEY" 127.0.0.1:8080/v1/statutes

  gRPC (through the gateway on 127.0.0.1:50050):
    /usr/bin/python3 tools/counsel-call --key "$KEY" GuidanceService/GetProvision \\
      '{"name": "statutes/public-security-administration-punishments/provisions/art_42", "asOf": "2020-01-01"}'

Ctrl-C stops all three.
MSG
wait
