#!/usr/bin/env python3
"""The gateway's memory while a 20 MiB attachment goes up as a multipart form
and comes back down: peak RSS above the idle gateway, sampled every 2 ms.
Prints a Markdown table. Run: COUNSEL_BUILD_DIR=build/release
tests/bench/mobile_report.py"""
import os
import subprocess
import sys
import threading
import time

BUILD = os.environ.get("COUNSEL_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from counsel_harness import Cluster, rss_kib  # noqa: E402


def peak_during(pid, action):
    peak = [rss_kib(pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.002)
    t = threading.Thread(target=sample)
    t.start()
    start = time.monotonic()
    action()
    took = time.monotonic() - start
    done.set()
    t.join()
    return peak[0], took


with Cluster(BUILD) as c:
    key = c.create_key("firm-bench", ["cases.read", "cases.write", "cases.pii"])
    _, case, _ = c.http("POST", "/v1/cases", key=key, body={
        "client": {"id": "c1", "displayName": "测试"}, "leakedData": ["LEAKED_DATA_PHONE"]})
    path = os.path.join(c.dir, "20mib.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(20 << 20))
    gw = c.programs["gateway"].proc.pid
    base = f"http://127.0.0.1:{c.http_port}"
    auth = ["-H", f"authorization: Bearer {key}"]
    idle = rss_kib(gw)
    out = {}

    def upload():
        r = subprocess.run(["curl", "-sf", *auth, "-F", f"file=@{path}",
                            "-F", 'evidence={"kind":"KIND_DOCUMENT"}',
                            f"{base}/v1/{case['name']}/evidence"], capture_output=True, check=True)
        import json
        out["name"] = json.loads(r.stdout)["name"]

    def download():
        subprocess.run(["curl", "-sf", *auth, "-o", os.path.join(c.dir, "back.bin"),
                        f"{base}/v1/{out['name']}:download"], check=True)

    up_peak, up_s = peak_during(gw, upload)
    down_peak, down_s = peak_during(gw, download)
    with open(path, "rb") as a, open(os.path.join(c.dir, "back.bin"), "rb") as b:
        assert a.read() == b.read()
    print("| 20 MiB attachment | gateway peak RSS above idle | wall time |")
    print("|---|---|---|")
    print(f"| multipart upload | {(up_peak - idle) / 1024:.1f} MiB | {up_s:.2f} s |")
    print(f"| download | {(down_peak - idle) / 1024:.1f} MiB | {down_s:.2f} s |")
    print(f"(idle gateway RSS {idle / 1024:.1f} MiB)")
