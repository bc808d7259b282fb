#!/usr/bin/env python3
"""Webhook delivery lag: changes written at a steady rate (200/s by default)
while 10 webhooks of the firm deliver each of them to 10 loopback receivers.
Lag is the receiver's arrival time minus the change's commit time. The
baseline, measured on the same changes in the same run, is an SSE watcher of
the gateway (`/v1/changes:watch`): the push path without signing, HTTP
client or per-webhook bookkeeping.

Prints key=value lines (perf_report.sh reads them) and a summary on stderr.
Run: COUNSEL_BUILD_DIR=build/release tests/bench/webhook_lag.py [RATE] [SECONDS] [ENDPOINTS]"""
import datetime
import http.client
import json
import os
import socket
import sys
import threading
import time

BUILD = os.environ.get("COUNSEL_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from counsel_harness import Cluster  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

RATE = float(sys.argv[1]) if len(sys.argv) > 1 else 200
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10
ENDPOINTS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
WRITERS = 8
FLAGS = {"cases": {"webhook_allow_http": "true", "webhook_allow_private_targets": "true",
                   "webhook_workers": str(max(4, ENDPOINTS))}}


def commit_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


def watch(port, key, lags, stop):
    """SSE watcher: lag of each change it reads."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((f"GET /v1/changes:watch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode())
    s.settimeout(0.5)
    buf = b""
    while not stop.is_set():
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        now = time.time()
        buf += chunk
        while b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            for line in frame.split(b"\n"):
                if line.startswith(b"data: "):
                    try:
                        d = json.loads(line[6:])
                    except ValueError:
                        continue
                    if "commitTime" in d:
                        lags.append(now - commit_time(d["commitTime"]))
    s.close()


def main():
    receivers = [Receiver() for _ in range(ENDPOINTS)]
    try:
        with Cluster(BUILD, FLAGS) as c:
            admin = c.create_key("firm-bench", ["cases.read", "cases.write", "cases.admin"],
                                 rate=100000)
            for r in receivers:
                status, w, _ = c.http("POST", "/v1/webhooks", key=admin, body={"url": r.url})
                assert status == 200, w
            status, case, _ = c.http("POST", "/v1/cases", key=admin, body={
                "client": {"id": "client-1", "displayName": "压测"},
                "leakedData": ["LEAKED_DATA_PHONE"]})
            assert status == 200, case
            sse_lags, stop = [], threading.Event()
            watcher = threading.Thread(target=watch, args=(c.http_port, admin, sse_lags, stop))
            watcher.start()
            time.sleep(0.5)  # the watcher is admitted before the first write
            total = int(RATE * SECONDS)
            start = time.monotonic()
            written = [0]
            lock = threading.Lock()

            def writer(i):
                conn = http.client.HTTPConnection("127.0.0.1", c.http_port, timeout=30)
                body = json.dumps({"text": "lag"}).encode()
                while True:
                    with lock:
                        n = written[0]
                        if n >= total:
                            break
                        written[0] += 1
                    wait = start + n / RATE - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    conn.request("POST", f"/v1/{case['name']}/notes", body=body,
                                 headers={"authorization": f"Bearer {admin}",
                                          "content-type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    assert resp.status == 200, resp.status
                conn.close()
            threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wrote_for = time.monotonic() - start
            want = total + 1  # the notes and the case's creation
            for r in receivers:
                r.wait(lambda ds: len(ds) >= want, timeout=120)
            stop.set()
            watcher.join()
    finally:
        for r in receivers:
            r.close()
    lags, dupes = [], 0
    for r in receivers:
        seen = set()
        for d in r.deliveries:
            if d["headers"]["webhook-id"] in seen:
                dupes += 1
                continue
            seen.add(d["headers"]["webhook-id"])
            lags.append(d["time"] - commit_time(d["json"]["data"]["commitTime"]))
    out = {
        "rate": RATE, "achieved_rate": round(total / wrote_for, 1), "changes": want,
        "endpoints": ENDPOINTS, "delivered": len(lags), "duplicates": dupes,
        "lag_p50_ms": round(pct(lags, 0.5) * 1000, 2), "lag_p99_ms": round(pct(lags, 0.99) * 1000, 2),
        "lag_max_ms": round(max(lags) * 1000, 2),
        "sse_lag_p50_ms": round(pct(sse_lags, 0.5) * 1000, 2),
        "sse_lag_p99_ms": round(pct(sse_lags, 0.99) * 1000, 2), "sse_seen": len(sse_lags),
    }
    for k, v in out.items():
        print(f"{k}={v}")
    print(f"webhooks: {out['delivered']} deliveries of {want} changes to {ENDPOINTS} endpoints at "
          f"{out['achieved_rate']}/s: lag p50 {out['lag_p50_ms']} ms, p99 {out['lag_p99_ms']} ms "
          f"(SSE watcher p50 {out['sse_lag_p50_ms']} ms, p99 {out['sse_lag_p99_ms']} ms)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
