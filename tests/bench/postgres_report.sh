#!/usr/bin/env bash
# case-svc on PostgreSQL beside pgbench on the same throwaway server, in one
# run: durable creates through case-svc's gRPC server (64 callers, group
# commit and one commit per request), a pgbench transaction of about a
# create's size at the same concurrency, ListCases at COUNSEL_BENCH_CASES
# cases (default 1,000,000), and the feed's delivery lag across replicas.
#
#   tests/bench/postgres_report.sh [SECONDS]   (pgbench duration, default 10)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECONDS_RUN=${1:-10}
BUILD=${COUNSEL_BENCH_BUILD:-build/release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target cases_bench >/dev/null
WORK=$(mktemp -d)
ENV_FILE="$WORK/postgres.env"
trap 'tests/tools/postgres_server.sh stop "$ENV_FILE"; rm -rf "$WORK"' EXIT
tests/tools/postgres_server.sh start "$ENV_FILE"
# shellcheck disable=SC1090
. "$ENV_FILE"
export PGPASSFILE COUNSEL_PG_ENV="$ENV_FILE" COUNSEL_BENCH_ENGINE=postgres
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}'), $(date -u +%Y-%m-%dT%H:%MZ)"

# A create writes about this much in one transaction: the case row (sealed
# fields, ~600 bytes of proto), its key, one event, one audit entry, the
# tenant's sequence, a request id.
psql "$COUNSEL_PG_URI" -qX <<'SQL'
CREATE TABLE bench_cases (id bigserial PRIMARY KEY, tenant text, data bytea, sealed bytea,
                          state int, assignee text, create_time bigint);
CREATE INDEX ON bench_cases (tenant, state, create_time);
CREATE INDEX ON bench_cases (tenant, assignee, create_time);
CREATE TABLE bench_events (tenant text, seq bigint, data bytea, PRIMARY KEY (tenant, seq));
CREATE TABLE bench_seq (tenant text PRIMARY KEY, seq bigint);
INSERT INTO bench_seq VALUES ('t', 0);
SQL
cat > "$WORK/create.sql" <<'SQL'
\set n random(1, 1000000000)
BEGIN;
INSERT INTO bench_cases (tenant, data, sealed, state, assignee, create_time)
  VALUES ('t', decode(repeat('ab', 300), 'hex'), decode(repeat('cd', 120), 'hex'), 1,
          'lawyer-' || (:n % 20), :n);
UPDATE bench_seq SET seq = seq + 1 WHERE tenant = 't';
INSERT INTO bench_events VALUES ('t', :n, decode(repeat('ef', 80), 'hex')) ON CONFLICT DO NOTHING;
COMMIT;
SQL
echo "pgbench: 64 clients, ${SECONDS_RUN}s, one create-sized transaction each..." >&2
"$BIN/pgbench" -n -c 64 -j 2 -T "$SECONDS_RUN" -f "$WORK/create.sql" "$COUNSEL_PG_URI" \
  >"$WORK/pgbench.txt" 2>&1
PGBENCH_TPS=$(awk '/^tps = /{print $3; exit}' "$WORK/pgbench.txt")
PGBENCH_LAT=$(awk '/latency average/{print $4; exit}' "$WORK/pgbench.txt")

echo "case-svc on PostgreSQL (Google Benchmark)..." >&2
"$BUILD/tests/bench/cases_bench" --benchmark_format=json --benchmark_min_time=3 \
  --benchmark_filter='BM_CreateCase|BM_WatchLag' >"$WORK/create.json"
"$BUILD/tests/bench/cases_bench" --benchmark_format=json \
  --benchmark_filter='BM_ListCases' >"$WORK/list.json"

python3 - "$WORK/create.json" "$WORK/list.json" "$PGBENCH_TPS" "$PGBENCH_LAT" <<'PY'
import json, sys
rows = []
for f in sys.argv[1:3]:
    rows += json.load(open(f))["benchmarks"]
tps, lat = float(sys.argv[3]), sys.argv[4]
by = {b["name"]: b for b in rows}
def rate(name):
    b = next(v for k, v in by.items() if k.startswith(name))
    return b["items_per_second"]
group = rate("BM_CreateCase_GroupCommit")
one = rate("BM_CreateCase_OneCommitPerRequest")
print(f"| figure | value | baseline (same run) | ratio |")
print(f"|---|---|---|---|")
print(f"| CreateCase, group commit, 64 callers | {group:,.0f}/s | pgbench create-sized transaction, 64 clients: {tps:,.0f}/s ({lat} ms) | {group / tps:.2f}x |")
print(f"| CreateCase, one commit per request | {one:,.0f}/s | group commit | {group / one:.2f}x |")
for k, b in by.items():
    if k.startswith("BM_ListCases"):
        print(f"| {k} ({b.get('cases', 0):,.0f} cases) | p50 {b['p50_us']/1000:.2f} ms, p99 {b['p99_us']/1000:.2f} ms | target p99 < 20 ms | |")
    if k.startswith("BM_WatchLag"):
        print(f"| {k} | p50 {b['p50_us']/1000:.2f} ms, p99 {b['p99_us']/1000:.2f} ms | | |")
PY
