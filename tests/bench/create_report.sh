#!/usr/bin/env bash
# case-svc's CPU per durable create, for several case-svc binaries in one run:
# each binary in turn behind the same guidance-svc and gateway, driven through
# the gateway's gRPC front (h2load, 4 connections x 16 streams, as
# load_report.sh). Rounds alternate between the binaries, so a slower minute
# of a shared machine falls on all of them; the table gives each binary's
# median and its ratio to the first.
#
#   tests/bench/create_report.sh [CREATES_PER_ROUND] [ROUNDS] [LABEL=COUNSEL_CASES_BINARY ...]
#
# Without binaries it measures this tree's Release build alone. A baseline
# from another commit is built from a worktree, e.g. the code issue #15 was
# filed against:
#   git worktree add /tmp/issue15 9262495
#   cmake -S /tmp/issue15 -B /tmp/issue15/build -DCMAKE_BUILD_TYPE=Release
#   cmake --build /tmp/issue15/build -j2 --target counsel-cases
#   tests/bench/create_report.sh 6000 4 issue=/tmp/issue15/build/case-svc/counsel-cases \
#     now=build/release/case-svc/counsel-cases
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-6000}
ROUNDS=${2:-4}
if ! [[ "$N" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [CREATES_PER_ROUND] [ROUNDS] [LABEL=COUNSEL_CASES_BINARY ...]" >&2
  exit 2
fi
shift $(($# < 2 ? $# : 2))
# Binaries as given, made absolute (relative to the caller's directory).
binaries=()
declare -A seen
for entry in "$@"; do
  label=${entry%%=*}
  bin=${entry#*=}
  if [[ "$entry" != *=* || -z "$label" || -n "${seen[$label]:-}" || ! -x "$bin" ]]; then
    echo "$entry: want LABEL=EXECUTABLE, each label once" >&2
    exit 2
  fi
  seen[$label]=1
  binaries+=("$label=$(realpath "$bin")")
done
cd "$ROOT"
BUILD=${COUNSEL_BENCH_BUILD:-build/release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target counsel-guidance counsel-cases counsel-gateway >/dev/null
[ ${#binaries[@]} -gt 0 ] || binaries=("now=$ROOT/$BUILD/case-svc/counsel-cases")
WORK=$(mktemp -d)
# shellcheck source=tests/bench/programs.sh
. tests/bench/programs.sh

start_guidance
# One case-svc and one gateway per binary, each on its own fresh database.
declare -A cases_pid gw_port
i=0
for entry in "${binaries[@]}"; do
  label=${entry%%=*}
  bin=${entry#*=}
  start "cases$i" "$WORK/c$i.log" "$bin" --listen=127.0.0.1:0 --db="$WORK/c$i.db" \
    --master_key_file="$WORK/master.key" --audit_key_file="$WORK/audit.key" \
    --context_key_file="$WORK/context.key" --guidance_addr="127.0.0.1:$G" --reflection=false
  cases_pid[$label]=${pid_of[cases$i]}
  C=$(port_of "$WORK/c$i.log" grpc)
  start "gateway$i" "$WORK/gw$i.log" "$BUILD/gateway/counsel-gateway" --listen=127.0.0.1:0 \
    --http_listen=127.0.0.1:0 --db="$WORK/gw.db" --context_key_file="$WORK/context.key" \
    --guidance_addr="127.0.0.1:$G" --cases_addr="127.0.0.1:$C" --reflection=false \
    --default_rate=1000000 --default_burst=1000000 --max_in_flight=100000
  gw_port[$label]=$(port_of "$WORK/gw$i.log" grpc)
  i=$((i + 1))
done
KEY=$("$BUILD/gateway/counsel-gateway" keys create --db="$WORK/gw.db" --tenant=bench \
  --scopes=cases.write | tail -1)
/usr/bin/python3 - "$WORK" "$BUILD/py" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[2])
from counsel.cases.v1 import cases_pb2
# No request_id: every call creates a case (durable, advice pinned).
create = cases_pb2.CreateCaseRequest(case=cases_pb2.Case(
    client=cases_pb2.Client(display_name="测试", phone="+8613800000000"),
    leaked_data=[cases_pb2.LEAKED_DATA_PHONE, cases_pb2.LEAKED_DATA_NATIONAL_ID],
    summary="load")).SerializeToString()
open(f"{sys.argv[1]}/create.bin", "wb").write(struct.pack(">BI", 0, len(create)) + create)
PY
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
drive() {  # label, count → "req/s"
  h2load -n "$2" -c 4 -m 16 -H "content-type: application/grpc" -H "te: trailers" \
    -H "authorization: Bearer $KEY" -d "$WORK/create.bin" \
    "http://127.0.0.1:${gw_port[$1]}/counsel.cases.v1.CaseService/CreateCase" |
    grep -o 'finished in [^,]*, [0-9.]* req/s' | grep -o '[0-9.]* req/s' | cut -d' ' -f1
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(date -u +%Y-%m-%dT%H:%MZ); $ROUNDS rounds of $N creates per binary, alternating"
declare -A cpu rps
for entry in "${binaries[@]}"; do drive "${entry%%=*}" 2000 >/dev/null; done  # warm up
for round in $(seq 1 "$ROUNDS"); do
  # Every other round in reverse, so no binary always runs first.
  round_order "$round" "${binaries[@]}"
  for entry in "${order[@]}"; do
    label=${entry%%=*}
    before=$(cpu_ticks "${cases_pid[$label]}")
    r=$(drive "$label" "$N")
    after=$(cpu_ticks "${cases_pid[$label]}")
    c=$(( (after - before) * 1000000 / $(getconf CLK_TCK) / N ))
    echo "  round $round $label: $c us of case-svc CPU per create, $r creates/s"
    cpu[$label]+="$c "
    rps[$label]+="$r "
  done
done
# Every create must have been stored: gRPC errors reach h2load as HTTP 200,
# and a binary that refused them would seem to cost nothing.
i=0
for entry in "${binaries[@]}"; do
  got=$(/usr/bin/python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM cases").fetchone()[0])' "$WORK/c$i.db")
  if [ "$got" -ne $((2000 + ROUNDS * N)) ]; then
    echo "${entry%%=*}: $got cases stored, $((2000 + ROUNDS * N)) sent: its figures are void" >&2
    exit 1
  fi
  i=$((i + 1))
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
first=${binaries[0]%%=*}
printf '\n| binary | CPU us per create (median) | ratio to %s | creates/s (median) |\n|---|---|---|---|\n' "$first"
for entry in "${binaries[@]}"; do
  label=${entry%%=*}
  base=$(median "${cpu[$first]}")
  printf '| %s | %s | %s | %.0f |\n' "$label" "$(median "${cpu[$label]}")" \
    "$([ "$base" != 0 ] && printf '%.2f' "$(echo "$(median "${cpu[$label]}") / $base" | bc -l)" || echo -)" \
    "$(median "${rps[$label]}")"
done
