#!/usr/bin/env bash
# Installs what Counsel needs to build, run and test, from Debian bookworm's
# packages (and buf from the npm registry for proto lint). Idempotent; run as
# root. See README.md for why each package is here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

PACKAGES=(
  # toolchain
  cmake g++ make pkg-config
  # gRPC, protobuf, Abseil
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # googleapis .proto files (google.api.http, google.rpc.Status)
  golang-github-gogo-googleapis-dev
  # storage, cryptography, HTTP, metrics, logs
  libsqlite3-dev sqlite3 libpq-dev postgresql-15 libsodium-dev libssl-dev openssl libboost1.81-dev
  prometheus-cpp-dev libspdlog-dev libcurl4-openssl-dev ca-certificates
  # allocator for the programs (CMake COUNSEL_TCMALLOC)
  libgoogle-perftools-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-grpcio python3-protobuf
  python3-yaml python3-h2 nghttp2-client curl jq bc systemd
)

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null

# kubectl renders the Kubernetes overlays in the tests; use the one the
# machine has, or Debian's.
command -v kubectl >/dev/null || apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null

# buf (proto lint) ships as an npm package with the binary inside it.
if [ "${1:-}" = "--with-buf" ]; then
  BUF_VERSION=1.75.0
  if ! "$ROOT/.tools/node_modules/.bin/buf" --version 2>/dev/null | grep -qx "$BUF_VERSION"; then
    command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm >/dev/null
    npm install --silent --no-audit --no-fund --prefix "$ROOT/.tools" "@bufbuild/buf@$BUF_VERSION" >/dev/null
  fi
  # The dashboard's browser tests drive Debian's Chromium (playwright-core
  # never downloads a browser), with a CJK font so screenshots show the text.
  command -v chromium >/dev/null || apt-get install -y -qq --no-install-recommends chromium >/dev/null
  [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] ||
    apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null
  # The OpenAPI validator, the client built from the document, playwright-core
  # and axe-core (tests/tools/package-lock.json pins every package).
  if ! (cd "$ROOT/tests/tools" && npm ls --silent >/dev/null 2>&1); then
    (cd "$ROOT/tests/tools" && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
fi
