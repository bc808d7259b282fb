#!/usr/bin/env bash
# The end-to-end load report: builds Release, starts a bare echo server, a
# bare byte-forwarding proxy in front of it, and Counsel's three programs,
# then drives each with h2load (gRPC with framed bodies; HTTP/1.1 for JSON),
# all in one run, and prints one table with ratios to the baselines.
#
#   tests/bench/load_report.sh [REQUESTS]      (default 40000 per target)
#
# The GetProvision targets and their references are driven in interleaved
# rounds (LOAD_ROUNDS, default 5; each REQUESTS/LOAD_ROUNDS calls, the order
# reversed every other round): a figure is the median of its rounds, and a
# ratio to the two-hop proxy the median of the per-round ratios, so that a
# shared machine slowing down for a moment moves one round, not the verdict.
# The run is named on its first line (commit, time, host); every figure
# below it comes from that run.
#
# With REPORT_KV=FILE it also writes its figures as key=value lines there
# (tests/bench/perf_report.sh folds them into the full report).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${1:-40000}
ROUNDS=${LOAD_ROUNDS:-5}
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
# The same proxy on the allocator Counsel's programs link (a reference, not
# the target's baseline: how much of a difference is the allocator's).
TCMALLOC=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -1 || true)
if [ -n "$TCMALLOC" ]; then
  start proxy_tcm "$WORK/proxy_tcm.log" env LD_PRELOAD="$TCMALLOC" \
    "$BUILD/tests/bench/bare_proxy" proxy --to="127.0.0.1:$ECHO"
  PROXY_TCM=$(port_of "$WORK/proxy_tcm.log" grpc)
fi
GRPC_HEADERS=(-H "content-type: application/grpc" -H "te: trailers")
PROV=/counsel.guidance.v1.GuidanceService/GetProvision

kv() { [ -z "${REPORT_KV:-}" ] || echo "$1=$2" >>"$REPORT_KV"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk "/^$2:/{print \$2}" "/proc/$1/status"; }
names=(echo proxy guidance cases gateway proxy_g)
[ -z "$TCMALLOC" ] || names+=(proxy_tcm)
declare -A idle
for n in "${names[@]}"; do
  idle[$n]=$(rss_kib "${pid_of[$n]}" VmRSS)
  kv "rss_idle_kib_$n" "${idle[$n]}"
done

# One h2load run against a target: "rps|mean / sd latency|failed|CPU µs per
# call of `pid` (empty for -)".
measure() {  # pid (or -), h2load args...
  local pid=$1
  shift
  local out before=0 after=0
  [ "$pid" = - ] || before=$(cpu_ticks "$pid")
  out=$(h2load "$@" 2>&1)
  [ "$pid" = - ] || after=$(cpu_ticks "$pid")
  local rps failed lat total cpu=""
  rps=$(echo "$out" | grep -o 'finished in [^,]*, [0-9.]* req/s' | grep -o '[0-9.]* req/s' | cut -d' ' -f1)
  failed=$(echo "$out" | grep -o '[0-9]* failed' | head -1 | cut -d' ' -f1)
  lat=$(echo "$out" | grep '^time for request:' | awk '{print $6 " / " $7}')
  total=$(echo "$out" | grep -o 'requests: [0-9]* total' | grep -o '[0-9]*')
  # CPU time of the measured process per call (user + system).
  [ "$pid" = - ] || cpu=$(echo "($after - $before) * 1000000 / $(getconf CLK_TCK) / $total" | bc -l)
  echo "$rps|$lat|$failed|$cpu"
}

RUN="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +changes) at $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
kv run "$RUN"
kv rounds "$ROUNDS"
echo "run: $RUN"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "requests per target: $N ($ROUNDS interleaved rounds for GetProvision and its references); gRPC: 4 connections x 16 streams"
kv response_bytes "$RESPONSE_BYTES"

# The interleaved targets: id|label|pid to count|h2load arguments after -n.
# GetProvision with 64 calls in flight (4 connections x 16 streams), and
# the gateway's two fronts with the same 16 in flight on each: gRPC on 16
# connections of one stream, HTTP/1.1 on 16 kept-alive connections.
G64="-c|4|-m|16|-H|content-type: application/grpc|-H|te: trailers|-d|$WORK/req.bin"
G16="-c|16|-m|1|-H|content-type: application/grpc|-H|te: trailers|-d|$WORK/req.bin"
targets=(
  "echo|bare echo server (answers $RESPONSE_BYTES bytes, as GetProvision)|-|$G64|http://127.0.0.1:$ECHO/bench.Echo/Echo"
  "proxy|bare proxy -> echo (two hops)|${pid_of[proxy]}|$G64|http://127.0.0.1:$PROXY/bench.Echo/Echo"
  "direct|guidance-svc GetProvision, direct|-|$G64|-H|counsel-context-bin: $CTX|http://127.0.0.1:$G$PROV"
  "proxy_g|bare proxy -> guidance-svc GetProvision|${pid_of[proxy_g]}|$G64|-H|counsel-context-bin: $CTX|http://127.0.0.1:$PG$PROV"
  "gateway|gateway gRPC GetProvision|${pid_of[gateway]}|$G64|-H|authorization: Bearer $KEY|http://127.0.0.1:$GW$PROV"
)
[ -z "$TCMALLOC" ] || targets+=(
  "proxy_tcm|bare proxy -> echo, tcmalloc preloaded (reference)|${pid_of[proxy_tcm]}|$G64|http://127.0.0.1:$PROXY_TCM/bench.Echo/Echo")
targets+=(
  "gateway16|gateway gRPC GetProvision (16 conns x 1 stream)|${pid_of[gateway]}|$G16|-H|authorization: Bearer $KEY|http://127.0.0.1:$GW$PROV"
  "http|gateway HTTP/JSON GetProvision (h1, 16 conns)|${pid_of[gateway]}|--h1|-c|16|-H|authorization: Bearer $KEY|http://127.0.0.1:$HTTP/v1/statutes/public-security-administration-punishments/provisions/art_42?asOf=2020-01-01"
)
per_round=$((N / ROUNDS))
for round in $(seq 1 "$ROUNDS"); do
  round_order "$round" "${targets[@]}"
  for t in "${order[@]}"; do
    IFS='|' read -r -a f <<<"$t"
    r=$(measure "${f[2]}" -n "$per_round" "${f[@]:3}")
    echo "${f[0]}|$round|$r" >>"$WORK/rounds"
  done
done
# Medians per target, and the gateway's per-round ratios to the proxy.
/usr/bin/python3 - "$WORK/rounds" "$WORK/medians" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    tid, rnd, rps, lat, failed, cpu = line.rstrip("\n").split("|")
    rows.setdefault(tid, {})[int(rnd)] = (float(rps), lat, int(failed or 0), float(cpu) if cpu else None)
with open(sys.argv[2], "w") as out:
    for tid, by in rows.items():
        rps = statistics.median(v[0] for v in by.values())
        cpus = [v[3] for v in by.values() if v[3] is not None]
        failed = sum(v[2] for v in by.values())
        # the latency of the round whose rate is the median one
        lat = min(by.values(), key=lambda v: abs(v[0] - rps))[1]
        cpu = f"{statistics.median(cpus):.1f}" if cpus else ""
        out.write(f"{tid}|{rps:.0f}|{lat}|{failed}|{cpu}\n")
    for tid, base in (("gateway", "proxy"), ("proxy_g", "proxy"), ("proxy_tcm", "proxy"),
                      ("http", "gateway16")):
        if tid not in rows:
            continue
        rounds = sorted(set(rows[tid]) & set(rows[base]))
        rr = [rows[tid][r][0] / rows[base][r][0] for r in rounds]
        out.write(f"ratio_rps_{tid}|{statistics.median(rr):.3f}|{min(rr):.3f}|{max(rr):.3f}\n")
        if rows[tid][rounds[0]][3] is not None:
            cr = [rows[tid][r][3] / rows[base][r][3] for r in rounds]
            out.write(f"ratio_cpu_{tid}|{statistics.median(cr):.3f}|{min(cr):.3f}|{max(cr):.3f}\n")
PY
declare -A med
labels=()
for t in "${targets[@]}"; do
  IFS='|' read -r -a f <<<"$t"
  labels+=("${f[0]}|${f[1]}")
done
while IFS='|' read -r id a b c d; do
  med[$id]="$a|$b|$c|$d"
done <"$WORK/medians"
for l in "${labels[@]}"; do
  id=${l%%|*}
  IFS='|' read -r rps lat failed cpu <<<"${med[$id]}"
  kv "rps_$id" "$rps"; kv "failed_$id" "$failed"; [ -z "$cpu" ] || kv "cpu_us_$id" "$cpu"
done
for pair in gateway:proxy proxy_g:proxy proxy_tcm:proxy http:gateway16; do
  id=${pair%%:*} base=${pair#*:}
  for what in rps cpu; do
    [ -n "${med[ratio_${what}_$id]:-}" ] || continue
    IFS='|' read -r m lo hi _ <<<"${med[ratio_${what}_$id]}"
    kv "ratio_${what}_${id}_$base" "$m"; kv "ratio_${what}_${id}_${base}_range" "$lo-$hi"
  done
done

# Single runs: CreateCase, and the two fronts at the same concurrency.
run() {  # id, label, pid whose CPU to count (or -), h2load args... → "label|rps|lat|failed|cpu"
  local id=$1 label=$2 pid=$3
  shift 3
  local r
  r=$(measure "$pid" -n "$N" "$@")  # a later -n overrides
  IFS='|' read -r rps lat failed cpu <<<"$r"
  kv "rps_$id" "$rps"; kv "failed_$id" "$failed"; [ -z "$cpu" ] || kv "cpu_us_$id" "$cpu"
  echo "$id|$label|$rps|$lat|$failed|$cpu"
}
results=()
for l in "${labels[@]}"; do
  id=${l%%|*}
  results+=("$id|${l#*|}|${med[$id]}")
done
results+=("$(run create "gateway gRPC CreateCase (durable, a third of the requests; one run)" "${pid_of[cases]}" \
  -n "$((N / 3))" -c 4 -m 16 "${GRPC_HEADERS[@]}" -H "authorization: Bearer $WKEY" \
  -d "$WORK/create.bin" "http://127.0.0.1:$GW/counsel.cases.v1.CaseService/CreateCase")")

printf '\n| target | req/s | mean / sd latency | failed | CPU µs/call (gateway, proxy or case-svc) | ratio to echo | ratio to two-hop proxy |\n'
printf '|---|---|---|---|---|---|---|\n'
echo_rps=$(echo "${med[echo]}" | cut -d'|' -f1)
proxy_rps=$(echo "${med[proxy]}" | cut -d'|' -f1)
for r in "${results[@]}"; do
  IFS='|' read -r id label rps lat failed cpu <<<"$r"
  [ -z "$cpu" ] || cpu=$(printf '%.0f' "$cpu")
  printf '| %s | %s | %s | %s | %s | %.2f | %.2f |\n' "$label" "$rps" "$lat" "$failed" "${cpu:--}" \
    "$(echo "$rps / $echo_rps" | bc -l)" "$(echo "$rps / $proxy_rps" | bc -l)"
done
echo
for pair in "gateway:bare proxy -> echo" "proxy_g:bare proxy -> echo" \
    "proxy_tcm:bare proxy -> echo" "http:the gateway's gRPC at 16 in flight"; do
  id=${pair%%:*} base=${pair#*:}
  [ -n "${med[ratio_rps_$id]:-}" ] || continue
  IFS='|' read -r m lo hi _ <<<"${med[ratio_rps_$id]}"
  line="$id vs $base, median of $ROUNDS per-round ratios: throughput ${m}x ($lo-$hi)"
  if [ -n "${med[ratio_cpu_$id]:-}" ]; then
    IFS='|' read -r m lo hi _ <<<"${med[ratio_cpu_$id]}"
    line+=", CPU per call ${m}x ($lo-$hi)"
  fi
  echo "$line"
done
# Latency the gateway adds at half of its measured maximum rate (open loop),
# beside the same bare proxy in front of the same backend at the same rate.
gw_rps=$(echo "${med[gateway]}" | cut -d'|' -f1)
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
