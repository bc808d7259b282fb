#!/usr/bin/env bash
# Builds Counsel and runs every test: unit, integration and proto lint.
# Long soak and load runs are off unless COUNSEL_LONG_TESTS=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/install-deps.sh --with-buf
BUILD=${COUNSEL_TEST_BUILD_DIR:-build/test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCOUNSEL_WERROR=ON \
  -DCOUNSEL_BUF="$ROOT/.tools/node_modules/.bin/buf" >/dev/null
cmake --build "$BUILD" -j2
ctest --test-dir "$BUILD" --output-on-failure -j2 --timeout 600
