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
import multiprocessing
import os
import re
import selectors
import socket
import sys
import threading
import time

BUILD = os.environ.get("COUNSEL_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from counsel_harness import Cluster  # noqa: E402

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
                    change = d.get("change", {})
                    if "commitTime" in change:
                        lags.append(now - commit_time(change["commitTime"]))
    s.close()


def serve(ready, results, n, want):
    """`n` receivers in one process, on one event loop: the cheapest HTTP
    server Python has (an http.server per endpoint would take the 2 cores
    this benchmark measures). Answers 200 to each POST, records (endpoint,
    webhook-id, arrival time, body); reports when every endpoint has `want`
    distinct ids. Signatures are checked by the tests, not here."""
    sel = selectors.DefaultSelector()
    listeners = []
    for i in range(n):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, ("listen", i))
        listeners.append(ls)
    ready.put([f"http://127.0.0.1:{ls.getsockname()[1]}/hook" for ls in listeners])
    got = [dict() for _ in range(n)]
    deadline = time.time() + 300
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    while any(len(g) < want for g in got) and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            kind, i = key.data[0], key.data[1]
            if kind == "listen":
                conn, _ = key.fileobj.accept()
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ, ("conn", i, bytearray()))
                continue
            conn, buf = key.fileobj, key.data[2]
            try:
                chunk = conn.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionError:
                chunk = b""
            if not chunk:
                sel.unregister(conn)
                conn.close()
                continue
            now = time.time()
            buf.extend(chunk)
            while True:
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    break
                head = bytes(buf[:head_end]).lower()
                length = int(re.search(rb"content-length: *(\d+)", head).group(1))
                if len(buf) < head_end + 4 + length:
                    break
                body = bytes(buf[head_end + 4:head_end + 4 + length])
                del buf[:head_end + 4 + length]
                msg_id = re.search(rb"webhook-id: *(\S+)", head).group(1).decode()
                got[i].setdefault(msg_id, []).append((now, body))
                conn.sendall(answer)
    results.put([[(m, t, json.loads(b)["data"]["commitTime"]) for m, arrivals in g.items()
                  for t, b in arrivals] for g in got])


class RemoteReceivers:
    def __init__(self, ctx, n, want):
        self.ready, self.results = ctx.Queue(), ctx.Queue()
        self.proc = ctx.Process(target=serve, args=(self.ready, self.results, n, want),
                                daemon=True)
        self.proc.start()
        self.urls = self.ready.get(timeout=30)

    def collect(self):
        out = self.results.get(timeout=310)
        self.proc.join(timeout=10)
        return out

    def close(self):
        if self.proc.is_alive():
            self.proc.terminate()


def main():
    ctx = multiprocessing.get_context("fork")
    total = int(RATE * SECONDS)
    want = total + 1  # the notes and the case's creation
    receivers = RemoteReceivers(ctx, ENDPOINTS, want)
    collected = []
    try:
        with Cluster(BUILD, FLAGS) as c:
            admin = c.create_key("firm-bench", ["cases.read", "cases.write", "cases.admin"],
                                 rate=100000)
            for url in receivers.urls:
                status, w, _ = c.http("POST", "/v1/webhooks", key=admin, body={"url": url})
                assert status == 200, w
            status, case, _ = c.http("POST", "/v1/cases", key=admin, body={
                "client": {"id": "client-1", "displayName": "压测"},
                "leakedData": ["LEAKED_DATA_PHONE"]})
            assert status == 200, case
            sse_lags, stop = [], threading.Event()
            watcher = threading.Thread(target=watch, args=(c.http_port, admin, sse_lags, stop))
            watcher.start()
            time.sleep(0.5)  # the watcher is admitted before the first write
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
            collected = receivers.collect()
            stop.set()
            watcher.join()
    finally:
        receivers.close()
    lags, dupes = [], 0
    for deliveries in collected:
        seen = set()
        for msg_id, arrived, committed in deliveries:
            if msg_id in seen:
                dupes += 1
                continue
            seen.add(msg_id)
            lags.append(arrived - commit_time(committed))
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
    if out["delivered"] != want * ENDPOINTS:
        sys.exit(f"webhooks: {out['delivered']} of {want * ENDPOINTS} deliveries arrived")
    print(f"webhooks: {out['delivered']} deliveries of {want} changes to {ENDPOINTS} endpoints at "
          f"{out['achieved_rate']}/s: lag p50 {out['lag_p50_ms']} ms, p99 {out['lag_p99_ms']} ms "
          f"(SSE watcher p50 {out['sse_lag_p50_ms']} ms, p99 {out['sse_lag_p99_ms']} ms)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
