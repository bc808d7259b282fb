#!/usr/bin/env bash
# The end-to-end load report: builds Release, starts a bare echo server, a
# bare byte-forwarding proxy in front of it, and Counsel's three programs,
# then drives each with h2load (gRPC with framed bodies; HTTP/1.1 for JSON),
# all in one run, and prints one table with ratios to the baselines.
#
#   tests/bench/load_report.sh [REQUESTS]      (default 40000 per target)
#
# With REPORT_KV=FILE it also writes its figures as key=value lines there
# (tests/bench/perf_report.sh folds them into the full report).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${1:-40000}
BUILD=${COUNSEL_BENCH_BUILD:-build/release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target counsel-guidance counsel-cases counsel-gateway bare_proxy \
  latency_probe >/dev/null
WORK=$(mktemp -d)
# shellcheck source=tests/bench/programs.sh
. tests/bench/programs.sh

start_guidance
start cases "$WORK/c.log" "$BUILD/case-svc/counsel-cases" --listen=127.0.0.1:0 --db="$WORK/c.db" \
  --master_key_file="$WORK/master.key" --audit_key_file="$WORK/audit.key" \
  --context_key_file="$WORK/context.key" --guidance_addr=127.0.0.1:$G --reflection=false
C=$(port_of "$WORK/c.log" grpc)
start gateway "$WORK/gw.log" "$BUILD/gateway/counsel-gateway" --listen=127.0.0.1:0 \
  --http_listen=127.0.0.1:0 --db="$WORK/gw.db" --context_key_file="$WORK/context.key" \
  --guidance_addr=127.0.0.1:$G --cases_addr=127.0.0.1:$C --reflection=false \
  --default_rate=1000000 --default_burst=1000000 --max_in_flight=100000
GW=$(port_of "$WORK/gw.log" grpc)
HTTP=$(port_of "$WORK/gw.log" http)
# The same bare proxy in front of guidance-svc: the gateway's path minus
# the gateway's own work (keys, policy, quotas, signing, logs, metrics).
start proxy_g "$WORK/pg.log" "$BUILD/tests/bench/bare_proxy" proxy --forward_metadata \
  --to="127.0.0.1:$G"
PG=$(port_of "$WORK/pg.log" grpc)
WKEY=$("$BUILD/gateway/counsel-gateway" keys create --db="$WORK/gw.db" --tenant=bench \
  --scopes=cases.write | tail -1)
KEY=$("$BUILD/gateway/counsel-gateway" keys create --db="$WORK/gw.db" --tenant=bench \
  --scopes=guidance.read | tail -1)

# Request bodies: a gRPC frame of GetProvisionRequest, and a signed context
# for calling guidance-svc directly (what the gateway would send).
/usr/bin/python3 - "$WORK" "$BUILD/py" "$G" <<'PY'
import base64, hashlib, hmac, struct, sys, time
work, py = sys.argv[1], sys.argv[2]
sys.path.insert(0, py)
from counsel.guidance.v1 import guidance_pb2
from counsel.internal.v1 import call_context_pb2
req = guidance_pb2.GetProvisionRequest(
    name="statutes/public-security-administration-punishments/provisions/art_42",
    as_of="2020-01-01").SerializeToString()
open(f"{work}/req.bin", "wb").write(struct.pack(">BI", 0, len(req)) + req)
from counsel.cases.v1 import cases_pb2
# No request_id: every call creates a case (durable, advice pinned).
create = cases_pb2.CreateCaseRequest(case=cases_pb2.Case(
    client=cases_pb2.Client(display_name="测试", phone="+8613800000000"),
    leaked_data=[cases_pb2.LEAKED_DATA_PHONE, cases_pb2.LEAKED_DATA_NATIONAL_ID],
    summary="load")).SerializeToString()
open(f"{work}/create.bin", "wb").write(struct.pack(">BI", 0, len(create)) + create)
key = open(f"{work}/context.key", "rb").read()
ctx = call_context_pb2.CallContext(
    tenant="bench", key_id="bench", scopes=["guidance.read"],
    method="/counsel.guidance.v1.GuidanceService/GetProvision",
    expire_unix_micros=int((time.time() + 3600) * 1e6)).SerializeToString()
signed = call_context_pb2.SignedCallContext(
    context=ctx, mac=hmac.new(key, ctx, hashlib.sha256).digest()).SerializeToString()
open(f"{work}/ctx.b64", "w").write(base64.b64encode(signed).decode())
# The size of the answer, for an echo server that answers as many bytes.
import grpc
with grpc.insecure_channel(f"127.0.0.1:{sys.argv[3]}") as ch:
    get = ch.unary_unary("/counsel.guidance.v1.GuidanceService/GetProvision")
    open(f"{work}/response_size", "w").write(
        str(len(get(req, metadata=[("counsel-context-bin", signed)], timeout=10))))
PY
CTX=$(cat "$WORK/ctx.b64")
RESPONSE_BYTES=$(cat "$WORK/response_size")
# The framework's references: an echo server answering as many bytes as
# GetProvision does (same bytes on the wire), and the bare proxy in front.
start echo "$WORK/echo.log" "$BUILD/tests/bench/bare_proxy" echo --response_bytes="$RESPONSE_BYTES"
ECHO=$(port_of "$WORK/echo.log" grpc)
start proxy "$WORK/proxy.log" "$BUILD/tests/bench/bare_proxy" proxy --to="127.0.0.1:$ECHO"
PROXY=$(port_of "$WORK/proxy.log" grpc)
GRPC_HEADERS=(-H "content-type: application/grpc" -H "te: trailers")
PROV=/counsel.guidance.v1.GuidanceService/GetProvision

kv() { [ -z "${REPORT_KV:-}" ] || echo "$1=$2" >>"$REPORT_KV"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk "/^$2:/{print \$2}" "/proc/$1/status"; }
names=(echo proxy guidance cases gateway proxy_g)
declare -A idle
for n in "${names[@]}"; do
  idle[$n]=$(rss_kib "${pid_of[$n]}" VmRSS)
  kv "rss_idle_kib_$n" "${idle[$n]}"
done

run() {  # id, label, pid whose CPU to count (or -), h2load args... → "label|rps|lat|failed|cpu"
  local id=$1 label=$2 pid=$3
  shift 3
  local out before=0 after=0
  [ "$pid" = - ] || before=$(cpu_ticks "$pid")
  out=$(h2load -n "$N" "$@" 2>&1)  # a later -n overrides
  [ "$pid" = - ] || after=$(cpu_ticks "$pid")
  local rps failed lat p cpu=""
  rps=$(echo "$out" | grep -o 'finished in [^,]*, [0-9.]* req/s' | grep -o '[0-9.]* req/s' | cut -d' ' -f1)
  failed=$(echo "$out" | grep -o '[0-9]* failed' | head -1 | cut -d' ' -f1)
  lat=$(echo "$out" | grep '^time for request:' | awk '{print $6 " / " $7}')
  # CPU time of the measured process per call (user + system, in µs).
  local total
  total=$(echo "$out" | grep -o 'requests: [0-9]* total' | grep -o '[0-9]*')
  if [ "$pid" != - ]; then
    cpu=$(echo "($after - $before) * 1000000 / $(getconf CLK_TCK) / $total" | bc -l)
    cpu=$(printf '%.0f' "$cpu")
  fi
  kv "rps_$id" "$rps"; kv "failed_$id" "$failed"; [ -z "$cpu" ] || kv "cpu_us_$id" "$cpu"
  echo "$label|$rps|$lat|$failed|$cpu"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "requests per target: $N; gRPC: 4 connections x 16 streams"
results=()
kv response_bytes "$RESPONSE_BYTES"
results+=("$(run echo "bare echo server (answers $RESPONSE_BYTES bytes, as GetProvision)" - -c 4 -m 16 "${GRPC_HEADERS[@]}" -d "$WORK/req.bin" \
  "http://127.0.0.1:$ECHO/bench.Echo/Echo")")
results+=("$(run proxy "bare proxy -> echo (two hops)" "${pid_of[proxy]}" -c 4 -m 16 "${GRPC_HEADERS[@]}" \
  -d "$WORK/req.bin" "http://127.0.0.1:$PROXY/bench.Echo/Echo")")
results+=("$(run direct "guidance-svc GetProvision, direct" - -c 4 -m 16 "${GRPC_HEADERS[@]}" \
  -H "counsel-context-bin: $CTX" -d "$WORK/req.bin" "http://127.0.0.1:$G$PROV")")
results+=("$(run proxy_g "bare proxy -> guidance-svc GetProvision" "${pid_of[proxy_g]}" -c 4 -m 16 \
  "${GRPC_HEADERS[@]}" -H "counsel-context-bin: $CTX" -d "$WORK/req.bin" "http://127.0.0.1:$PG$PROV")")
results+=("$(run gateway "gateway gRPC GetProvision" "${pid_of[gateway]}" -c 4 -m 16 "${GRPC_HEADERS[@]}" \
  -H "authorization: Bearer $KEY" -d "$WORK/req.bin" "http://127.0.0.1:$GW$PROV")")
results+=("$(run create "gateway gRPC CreateCase (durable, a third of the requests)" "${pid_of[cases]}" \
  -n "$((N / 3))" -c 4 -m 16 "${GRPC_HEADERS[@]}" -H "authorization: Bearer $WKEY" \
  -d "$WORK/create.bin" "http://127.0.0.1:$GW/counsel.cases.v1.CaseService/CreateCase")")
# The same 16 requests in flight on both fronts: gRPC on 16 connections of
# one stream each, HTTP/1.1 on 16 kept-alive connections.
results+=("$(run gateway16 "gateway gRPC GetProvision (16 conns x 1 stream)" "${pid_of[gateway]}" \
  -c 16 -m 1 "${GRPC_HEADERS[@]}" -H "authorization: Bearer $KEY" -d "$WORK/req.bin" \
  "http://127.0.0.1:$GW$PROV")")
results+=("$(run http "gateway HTTP/JSON GetProvision (h1, 16 conns)" "${pid_of[gateway]}" --h1 -c 16 \
  -H "authorization: Bearer $KEY" \
  "http://127.0.0.1:$HTTP/v1/statutes/public-security-administration-punishments/provisions/art_42?asOf=2020-01-01")")

printf '\n| target | req/s | mean / sd latency | failed | CPU µs/call (gateway, proxy or case-svc) | ratio to echo | ratio to two-hop proxy |\n'
printf '|---|---|---|---|---|---|---|\n'
echo_rps=$(echo "${results[0]}" | cut -d'|' -f2)
proxy_rps=$(echo "${results[1]}" | cut -d'|' -f2)
for r in "${results[@]}"; do
  IFS='|' read -r label rps lat failed cpu <<<"$r"
  printf '| %s | %s | %s | %s | %s | %.2f | %.2f |\n' "$label" "$rps" "$lat" "$failed" "${cpu:--}" \
    "$(echo "$rps / $echo_rps" | bc -l)" "$(echo "$rps / $proxy_rps" | bc -l)"
done
# Latency the gateway adds at half of its measured maximum rate (open loop),
# beside the same bare proxy in front of the same backend at the same rate.
gw_rps=$(echo "${results[4]}" | cut -d'|' -f2)
half=$(printf '%.0f' "$(echo "$gw_rps / 2" | bc -l)")
kv half_rate "$half"
echo
# Three interleaved rounds of 5 s per path; each percentile is the median
# of the rounds (one noisy neighbour on a shared VM moves a single p99).
echo "open-loop latency at $half calls/s (half the gateway's maximum), 3 interleaved rounds of 5 s:"
declare -A lat
for round in 1 2 3; do
  for path in direct proxy_g gateway; do
    case $path in
      direct) args=(--addr=127.0.0.1:$G --context_b64="$CTX") ;;
      proxy_g) args=(--addr=127.0.0.1:$PG --context_b64="$CTX") ;;
      gateway) args=(--addr=127.0.0.1:$GW --key="$KEY") ;;
    esac
    out=$("$BUILD/tests/bench/latency_probe" --rate="$half" --seconds=5 "${args[@]}")
    echo "  $path #$round: $out"
    for f in p50_us p90_us p99_us max_us; do
      lat[$path.$f]+="$(echo "$out" | grep -o " $f=[0-9]*" | cut -d= -f2) "
    done
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | sed -n 2p; }
for path in direct proxy_g gateway; do
  for f in p50_us p90_us p99_us max_us; do kv "lat_${path}_$f" "$(median "${lat[$path.$f]}")"; done
  echo "  $path median: p50 $(median "${lat[$path.p50_us]}") us, p99 $(median "${lat[$path.p99_us]}") us"
done

printf '\nresident memory (KiB), idle / peak: '
for n in "${names[@]}"; do
  peak=$(rss_kib "${pid_of[$n]}" VmHWM)
  kv "rss_peak_kib_$n" "$peak"
  printf '%s %s/%s  ' "$n" "${idle[$n]}" "$peak"
done
echo
