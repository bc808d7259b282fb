#!/usr/bin/env python3
"""The dashboard's first triage page with N open cases in the tenant (10,000
by default): cases are created through the gateway, then headless Chromium
times navigation → first row (cold page, the session already signed in),
five times. Also the bytes of the initial load. Prints key=value lines.
Run: COUNSEL_BUILD_DIR=build/release tests/bench/dashboard_report.py [N]"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time

BUILD = os.environ.get("COUNSEL_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from counsel_harness import Cluster  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
LEAKED = ["LEAKED_DATA_PHONE", "LEAKED_DATA_NATIONAL_ID", "LEAKED_DATA_EMAIL", "LEAKED_DATA_ADDRESS"]


def main():
    with Cluster(BUILD) as c:
        key = c.create_key("firm-load", ["cases.read", "cases.write", "guidance.read"], rate=100000)
        start = time.monotonic()
        counter = [0]
        lock = threading.Lock()

        def writer():
            conn = http.client.HTTPConnection("127.0.0.1", c.http_port, timeout=60)
            while True:
                with lock:
                    i = counter[0]
                    if i >= N:
                        break
                    counter[0] += 1
                body = json.dumps({"client": {"id": f"client-{i}", "displayName": "负载"},
                                   "leakedData": [LEAKED[i % len(LEAKED)]],
                                   "suspectedSource": f"来源-{i % 17}"}).encode()
                conn.request("POST", "/v1/cases", body=body,
                             headers={"authorization": f"Bearer {key}",
                                      "content-type": "application/json"})
                r = conn.getresponse()
                r.read()
                assert r.status == 200, r.status
            conn.close()
        threads = [threading.Thread(target=writer) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seeded = time.monotonic() - start
        out = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "dashboard_first_page.js")],
                             env=dict(os.environ, GW=f"http://127.0.0.1:{c.http_port}", KEY=key),
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            sys.exit(out.stderr)
        print(f"open_cases={N}")
        print(f"seed_seconds={seeded:.1f}")
        sys.stdout.write(out.stdout)


if __name__ == "__main__":
    main()
