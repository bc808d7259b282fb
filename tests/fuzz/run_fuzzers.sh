#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, built with clang-14,
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer. New inputs that
# find new coverage are kept in build/fuzz/corpus/<target>; crashes are left
# in build/fuzz as crash-* files and fail the script.
#   tests/fuzz/run_fuzzers.sh [SECONDS [TARGET...]]   (default: every target)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECONDS_EACH=${1:-60}
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  -DCOUNSEL_SANITIZE=address,undefined -DCOUNSEL_FUZZ=ON -DCOUNSEL_BUILD_TESTS=OFF >/dev/null
TARGETS=(citation filter transcoder multipart guidance_service case_service)
if [ $# -gt 1 ]; then TARGETS=("${@:2}"); fi
cmake --build build/fuzz -j2 --target "${TARGETS[@]}"
for t in "${TARGETS[@]}"; do
  mkdir -p "build/fuzz/corpus/$t"
  (cd build/fuzz && ./tests/fuzz/$t -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
     "corpus/$t" "$ROOT/tests/fuzz/corpus/$t")
done
