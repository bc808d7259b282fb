#!/usr/bin/env bash
# Builds Counsel and runs every test: unit, integration and proto lint, then the
# unit tests again under ASan+UBSan (COUNSEL_SKIP_SANITIZERS=1 skips that pass).
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

# The unit tests again with AddressSanitizer and UndefinedBehaviorSanitizer, in
# their own build tree so the main build stays incremental. TSan is not run:
# Debian's gRPC and Abseil are not instrumented, so TSan cannot see their
# synchronisation and reports thousands of false races (README).
if [[ "${COUNSEL_SKIP_SANITIZERS:-0}" != 1 ]]; then
  SAN="$BUILD-asan"
  cmake -S . -B "$SAN" -DCMAKE_BUILD_TYPE=Debug -DCOUNSEL_SANITIZE=address,undefined \
    -DCOUNSEL_BUF="$ROOT/.tools/node_modules/.bin/buf" >/dev/null
  cmake --build "$SAN" -j2 --target counsel_common_test counsel_guidance_test \
    counsel_cases_test counsel_gateway_test
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir "$SAN" -L unit --output-on-failure -j2 --timeout 600
fi
