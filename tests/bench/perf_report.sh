#!/usr/bin/env bash
# The whole performance report in one run: builds Release, runs the
# in-process benchmarks (Google Benchmark) and the end-to-end load report
# (h2load against the real programs), and prints one table with every
# figure, its baseline from the same run, and the target.
#
#   tests/bench/perf_report.sh [REQUESTS]   (h2load requests per target, default 30000)
#
# COUNSEL_BENCH_CASES sets the ListCases corpus (default 1,000,000; filling
# it takes several minutes on 2 cores).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${1:-30000}
BUILD=${COUNSEL_BENCH_BUILD:-build/release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target guidance_bench cases_bench counsel-guidance counsel-cases \
  counsel-gateway bare_proxy latency_probe >/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"),"\
  "kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "guidance in process (Google Benchmark)..." >&2
"$BUILD/tests/bench/guidance_bench" --benchmark_format=json \
  --benchmark_filter='BM_GetProvisionInProcess|BM_GrpcEcho|BM_GrpcGetProvision' >"$WORK/guidance.json"
echo "case-svc (Google Benchmark; fills the ListCases corpus)..." >&2
"$BUILD/tests/bench/cases_bench" --benchmark_format=json >"$WORK/cases.json"
echo "end to end (h2load)..." >&2
REPORT_KV="$WORK/e2e.kv" COUNSEL_BENCH_BUILD="$BUILD" tests/bench/load_report.sh "$N" >"$WORK/e2e.txt"
echo "HTTP front under ${COUNSEL_BENCH_WATCHERS:-10000} watchers and ${COUNSEL_BENCH_SLOW:-1000} slow senders..." >&2
COUNSEL_BUILD_DIR="$BUILD" /usr/bin/python3 tests/bench/http_report.py \
  "${COUNSEL_BENCH_WATCHERS:-10000}" "${COUNSEL_BENCH_SLOW:-1000}" >"$WORK/http.kv"
echo "webhook delivery lag at ${COUNSEL_BENCH_WEBHOOK_RATE:-200} changes/s to 10 endpoints..." >&2
COUNSEL_BUILD_DIR="$BUILD" /usr/bin/python3 tests/bench/webhook_lag.py \
  "${COUNSEL_BENCH_WEBHOOK_RATE:-200}" 10 10 >"$WORK/webhooks.kv"
echo "20 MiB attachment up and down..." >&2
COUNSEL_BUILD_DIR="$BUILD" /usr/bin/python3 tests/bench/mobile_report.py >"$WORK/mobile.txt"

/usr/bin/python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]

def bench(path):
    out = {}
    for b in json.load(open(path))["benchmarks"]:
        out[b["name"]] = b
    return out

g, c = bench(f"{work}/guidance.json"), bench(f"{work}/cases.json")
kv = dict(line.strip().split("=", 1) for line in open(f"{work}/e2e.kv") if "=" in line)
hv = dict(line.strip().split("=", 1) for line in open(f"{work}/http.kv") if "=" in line)
wv = dict(line.strip().split("=", 1) for line in open(f"{work}/webhooks.kv") if "=" in line)
f = lambda k: float(kv[k])

def one(d, prefix):
    for name, b in d.items():
        if name.startswith(prefix):
            return b
    raise KeyError(prefix)

rows = []
def row(what, value, baseline, ratio, target, met):
    rows.append((what, value, baseline, ratio, target,
                 "" if met is None else ("met" if met else "**missed**")))

# 1. The framework's limit and GetProvision.
echo_ip, prov_ip = one(g, "BM_GrpcEcho")["items_per_second"], one(g, "BM_GrpcGetProvision")["items_per_second"]
row("GetProvision gRPC in process vs bare echo of the same size (4 threads x 16 in flight)",
    f"{prov_ip:,.0f}/s", f"echo {echo_ip:,.0f}/s", f"{prov_ip / echo_ip:.2f}x", ">= 0.8x",
    prov_ip / echo_ip >= 0.8)
row(f"GetProvision end to end, direct (h2load 4x16) vs bare echo answering {kv['response_bytes']} bytes",
    f"{f('rps_direct'):,.0f}/s", f"echo {f('rps_echo'):,.0f}/s",
    f"{f('rps_direct') / f('rps_echo'):.2f}x", ">= 0.8x", f('rps_direct') / f('rps_echo') >= 0.8)
row("gateway gRPC vs direct", f"{f('rps_gateway'):,.0f}/s", f"direct {f('rps_direct'):,.0f}/s",
    f"{f('rps_gateway') / f('rps_direct'):.2f}x", ">= 0.3x", f('rps_gateway') / f('rps_direct') >= 0.3)
rounds = kv["rounds"]
row(f"gateway gRPC vs bare proxy -> bare echo (two-hop reference): throughput, median of {rounds} "
    "interleaved rounds (ratio: median of per-round ratios, range)", f"{f('rps_gateway'):,.0f}/s",
    f"proxy {f('rps_proxy'):,.0f}/s ({f('rps_proxy') / f('rps_echo'):.2f}x echo)",
    f"{f('ratio_rps_gateway_proxy'):.2f}x ({kv['ratio_rps_gateway_proxy_range']})", ">= 1.0x",
    f('ratio_rps_gateway_proxy') >= 1.0)
row("gateway gRPC vs bare proxy -> bare echo: CPU per forwarded call (gateway, proxy)",
    f"{f('cpu_us_gateway'):.0f} us", f"{f('cpu_us_proxy'):.0f} us",
    f"{f('ratio_cpu_gateway_proxy'):.2f}x ({kv['ratio_cpu_gateway_proxy_range']})", "<= 1.1x",
    f('ratio_cpu_gateway_proxy') <= 1.1)
if "ratio_cpu_proxy_tcm_proxy" in kv:
    row("(reference) the same bare proxy with tcmalloc preloaded, the programs' allocator: "
        "throughput / CPU per call vs the bare proxy", f"{f('rps_proxy_tcm'):,.0f}/s, "
        f"{f('cpu_us_proxy_tcm'):.0f} us", f"proxy {f('rps_proxy'):,.0f}/s, {f('cpu_us_proxy'):.0f} us",
        f"{f('ratio_rps_proxy_tcm_proxy'):.2f}x / {f('ratio_cpu_proxy_tcm_proxy'):.2f}x", "", None)
row("gateway gRPC vs bare proxy -> guidance-svc (same backend)", f"{f('rps_gateway'):,.0f}/s",
    f"proxy {f('rps_proxy_g'):,.0f}/s", f"{f('rps_gateway') / f('rps_proxy_g'):.2f}x", "", None)
row("CPU per forwarded call: gateway vs bare proxy -> guidance-svc",
    f"{f('cpu_us_gateway'):.0f} us", f"{f('cpu_us_proxy_g'):.0f} us",
    f"{f('cpu_us_gateway') / f('cpu_us_proxy_g'):.2f}x", "", None)
row("CreateCase through the gateway (durable, advice pinned from guidance-svc)",
    f"{f('rps_create'):,.0f}/s", "", "", "", None)
row("gateway HTTP/JSON GetProvision vs its gRPC path, 16 requests in flight on each "
    "(HTTP/1.1: 16 kept-alive connections; gRPC: 16 connections x 1 stream), interleaved rounds",
    f"{f('rps_http'):,.0f}/s", f"gateway gRPC {f('rps_gateway16'):,.0f}/s",
    f"{f('ratio_rps_http_gateway16'):.2f}x ({kv['ratio_rps_http_gateway16_range']})", ">= 0.9x",
    f('ratio_rps_http_gateway16') >= 0.9)
row("gateway CPU per call, HTTP/JSON vs gRPC (same 16 in flight)", f"{f('cpu_us_http'):.0f} us",
    f"{f('cpu_us_gateway16'):.0f} us", f"{f('ratio_cpu_http_gateway16'):.2f}x", "", None)
half = kv["half_rate"]
for path, label in (("direct", "direct"), ("proxy_g", "bare proxy -> guidance-svc"),
                    ("gateway", "gateway")):
    row(f"latency at {half}/s open loop (half the gateway's max), {label}",
        f"p50 {f(f'lat_{path}_p50_us') / 1000:.2f} ms, p99 {f(f'lat_{path}_p99_us') / 1000:.2f} ms",
        "", "", "", None)
added = (f('lat_gateway_p99_us') - f('lat_direct_p99_us')) / 1000
row("p99 added by the gateway over direct at that rate", f"{added:.2f} ms", "", "", "< 1 ms",
    added < 1)
own = (f('lat_gateway_p99_us') - f('lat_proxy_g_p99_us')) / 1000
row("p99 added by the gateway over a bare proxy to the same backend at that rate",
    f"{own:.2f} ms", "", "", "", None)

# The HTTP front under many watchers and slow senders (tests/bench/http_report.py).
h = lambda k: float(hv[k])
row(f"{hv['watchers']} SSE watchers on one gateway: its RSS growth", f"{h('gateway_rss_growth_mib'):.0f} MiB",
    f"idle {h('gateway_rss_idle_kib') / 1024:.0f} MiB", "", "<= 200 MiB",
    h('gateway_rss_growth_mib') <= 200)
row("meanwhile: /healthz and a unary GET, p99", f"{h('healthz_p99_ms'):.2f} / {h('unary_p99_ms'):.2f} ms",
    "", "", "< 50 ms", max(h('healthz_p99_ms'), h('unary_p99_ms')) < 50)
row("a change written meanwhile, delivered to every watcher within 1 s",
    f"{hv['delivered_within_1s']} of {hv['watchers']} (p99 {h('delivery_p99_ms'):.0f} ms)", "", "",
    "all", hv['delivered_within_1s'] == hv['watchers'])
row(f"{hv['slowloris']} slowloris connections: /healthz and a unary GET, p99",
    f"{h('slow_healthz_p99_ms'):.2f} / {h('slow_unary_p99_ms'):.2f} ms", "", "", "< 50 ms",
    max(h('slow_healthz_p99_ms'), h('slow_unary_p99_ms')) < 50)

# Webhooks (tests/bench/webhook_lag.py): commit to a loopback receiver.
row(f"webhook delivery lag, {wv['achieved_rate']} changes/s to {wv['endpoints']} endpoints "
    f"({wv['delivered']} deliveries, {wv['duplicates']} repeats)",
    f"p50 {float(wv['lag_p50_ms']):.2f} ms, p99 {float(wv['lag_p99_ms']):.2f} ms",
    f"SSE watcher p50 {float(wv['sse_lag_p50_ms']):.2f} ms, p99 {float(wv['sse_lag_p99_ms']):.2f} ms",
    f"{float(wv['lag_p99_ms']) / max(float(wv['sse_lag_p99_ms']), 0.001):.1f}x p99", "", None)

# 2. case-svc.
gc, one_c = one(c, "BM_CreateCase_GroupCommit"), one(c, "BM_CreateCase_OneCommitPerRequest")
row("CreateCase durable (synchronous=FULL), 64 callers: group commit vs one commit per request",
    f"{gc['items_per_second']:,.0f}/s", f"{one_c['items_per_second']:,.0f}/s",
    f"{gc['items_per_second'] / one_c['items_per_second']:.1f}x", ">= 5x",
    gc["items_per_second"] / one_c["items_per_second"] >= 5)
for name, b in c.items():
    if name.startswith("BM_ListCases"):
        row(f"ListCases over {b.get('cases', 0):,.0f} cases, {name.split('/')[1] if '/' in name else name}",
            f"p50 {b['p50_us'] / 1000:.2f} ms, p99 {b['p99_us'] / 1000:.2f} ms", "", "", "", None)
w = one(c, "BM_WatchLag")
row("WatchChanges delivery lag under concurrent writers",
    f"p50 {w['p50_us'] / 1000:.2f} ms, p99 {w['p99_us'] / 1000:.2f} ms", "", "", "", None)

# 3. Memory.
for p, label in (("guidance", "guidance-svc"), ("cases", "case-svc"), ("gateway", "gateway"),
                 ("echo", "bare echo"), ("proxy", "bare proxy")):
    idle, peak = f(f"rss_idle_kib_{p}") / 1024, f(f"rss_peak_kib_{p}") / 1024
    row(f"resident memory, {label}: idle / peak under load", f"{idle:.0f} / {peak:.0f} MiB", "",
        "", "< 64 MiB idle" if p in ("guidance", "cases", "gateway") else "",
        idle < 64 if p in ("guidance", "cases", "gateway") else None)

print()
print(f"run: {kv['run']}")
print()
print("| measure | result | baseline (same run) | ratio | target | |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
PY
echo
echo "end-to-end detail:"
cat "$WORK/e2e.txt"
echo
cat "$WORK/mobile.txt"
