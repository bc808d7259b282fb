#!/usr/bin/python3
"""The HTTP front under many idle watchers and slow senders, measured (not
asserted): the gateway's memory with WATCHERS open SSE watchers, /healthz and
a unary GET answered meanwhile (latency p50/p99), how soon every watcher gets
a change written during the run, then the same two routes while SLOW
slowloris connections drip one header line at a time.

    COUNSEL_BUILD_DIR=build/release tests/bench/http_report.py [WATCHERS] [SLOW]

Prints key=value lines (folded into docs/performance.md by hand or by
tests/bench/perf_report.sh). Loopback only; everything it opens it closes."""
import os
import re
import resource
import selectors
import socket
import sys
import time

BUILD = os.path.abspath(os.environ.get("COUNSEL_BUILD_DIR", "build/release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402

WATCHERS = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
SLOW = int(sys.argv[2]) if len(sys.argv) > 2 else 1000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, len(values) * p // 100)] if values else -1


def timed_gets(c, key, n):
    health, unary = [], []
    for _ in range(n):
        t = time.monotonic()
        status, _, _ = c.http("GET", "/healthz")
        health.append((time.monotonic() - t) * 1000)
        assert status == 200
        t = time.monotonic()
        status, _, _ = c.http("GET", "/v1/statutes", key=key)
        unary.append((time.monotonic() - t) * 1000)
        assert status == 200
    return health, unary


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = WATCHERS + SLOW + 1000
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, need)), hard))
    flags = {"gateway": {"max_streams_per_key": WATCHERS * 2, "max_streams_per_tenant": WATCHERS * 2,
                         "max_in_flight": WATCHERS * 3}}
    out = {}
    with Cluster(BUILD, extra_flags=flags) as c:
        key = c.create_key("firm-bench", ["cases.read", "cases.write", "guidance.read"],
                           rate=1000000)
        gw = c.programs["gateway"].proc.pid
        timed_gets(c, key, 20)  # warm up
        idle = rss_kib(gw)
        sel = selectors.DefaultSelector()
        request = (f"GET /v1/changes:watch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                   "Accept: text/event-stream\r\n\r\n").encode()
        socks = []
        for _ in range(WATCHERS):
            s = socket.create_connection(("127.0.0.1", c.http_port))
            s.sendall(request)
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, bytearray())
        # Every watcher admitted: its response head arrived.
        started = 0
        deadline = time.monotonic() + 120
        while started < WATCHERS and time.monotonic() < deadline:
            for k, _ in sel.select(timeout=1):
                buf = k.data
                chunk = k.fileobj.recv(65536)
                if not chunk:
                    raise RuntimeError("a watcher was refused or closed")
                before = b"\r\n\r\n" in buf
                buf.extend(chunk)
                if not before and b"\r\n\r\n" in buf:
                    started += 1
        out["watchers"] = started
        out["gateway_rss_idle_kib"] = idle
        out["gateway_rss_watchers_kib"] = rss_kib(gw)
        out["gateway_rss_growth_mib"] = round((rss_kib(gw) - idle) / 1024, 1)
        health, unary = timed_gets(c, key, 200)
        out["healthz_p50_ms"], out["healthz_p99_ms"] = round(pct(health, 50), 2), round(pct(health, 99), 2)
        out["unary_p50_ms"], out["unary_p99_ms"] = round(pct(unary, 50), 2), round(pct(unary, 99), 2)
        # A change reaches every watcher: time from its acknowledgement.
        for k in sel.get_map().values():
            k.data.clear()
        status, created, _ = c.http("POST", "/v1/cases", key=key, body={
            "client": {"displayName": "王五"}, "leakedData": ["LEAKED_DATA_PHONE"]})
        assert status == 200, created
        t0 = time.monotonic()
        marker = created["name"].encode()
        got = {}
        deadline = t0 + 30
        while len(got) < WATCHERS and time.monotonic() < deadline:
            for k, _ in sel.select(timeout=1):
                if k.fileobj in got:
                    k.fileobj.recv(65536)
                    continue
                k.data.extend(k.fileobj.recv(65536))
                if marker in k.data:
                    got[k.fileobj] = (time.monotonic() - t0) * 1000
        lags = list(got.values())
        out["delivered"] = len(lags)
        out["delivered_within_1s"] = sum(1 for v in lags if v <= 1000)
        out["delivery_p50_ms"], out["delivery_p99_ms"] = round(pct(lags, 50), 1), round(pct(lags, 99), 1)
        out["delivery_max_ms"] = round(max(lags), 1) if lags else -1
        for s in socks:
            sel.unregister(s)
            s.close()
        # Slow senders: one header line at a time, never finishing.
        slow = []
        for _ in range(SLOW):
            s = socket.create_connection(("127.0.0.1", c.http_port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        health, unary = timed_gets(c, key, 200)
        for s in slow:
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass
        out["slowloris"] = SLOW
        out["slow_healthz_p99_ms"] = round(pct(health, 99), 2)
        out["slow_unary_p99_ms"] = round(pct(unary, 99), 2)
        for s in slow:
            s.close()
        out["gateway_alive"] = c.programs["gateway"].proc.poll() is None
    for k, v in out.items():
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
