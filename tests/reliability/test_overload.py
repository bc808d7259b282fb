"""Overload through the real binaries.

First made certain, whatever the machine: a gateway with a cap of 8 calls in
flight has all 8 held by open WatchChanges streams, so every further call is
beyond the cap; each must be refused with RESOURCE_EXHAUSTED (none waits for
its deadline), and once the streams close every call is served again.

Then measured: the gateway's capacity (h2load, closed loop), and an open-loop
client offering three times that rate for 10 s. Whatever this machine manages
to offer, every call is answered or refused (never a timeout or another
error), memory stays bounded, and normal service is back right after. How
many calls were refused, and how fast, is printed, not asserted.

COUNSEL_OVERLOAD_SECONDS changes the 10 s; COUNSEL_LONG_TESTS=1 (the soak
switch of scripts/test.sh) makes it 120 s."""
import os
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster, await_condition, rss_kib  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402

PROVISION = "statutes/public-security-administration-punishments/provisions/art_42"
METHOD = "/counsel.guidance.v1.GuidanceService/GetProvision"
RESOURCE_EXHAUSTED = 8
SECONDS = float(os.environ.get(
    "COUNSEL_OVERLOAD_SECONDS", "120" if os.environ.get("COUNSEL_LONG_TESTS") == "1" else "10"))




def probe(addr, key, rate, seconds):
    """Runs latency_probe; returns its key=value figures and the codes map."""
    out = subprocess.run(
        [os.path.join(BUILD, "tests", "bench", "latency_probe"), f"--addr={addr}",
         f"--rate={rate}", f"--seconds={seconds}", f"--key={key}"],
        capture_output=True, text=True, timeout=seconds + 120).stdout
    figures = dict(re.findall(r"(\w+)=(\S+)", out))
    codes = {int(k): int(v) for k, v in
             (p.split(":") for p in figures.get("codes", "").split(",") if p)}
    return figures, codes






class OverloadTest(unittest.TestCase):
    def test_calls_beyond_a_full_cap_are_refused_and_service_returns(self):
        flags = {"gateway": {"max_in_flight": 8, "max_streams_per_key": 100}}
        with Cluster(BUILD, extra_flags=flags) as c:
            key = c.create_key("firm-a", ["cases.read", "guidance.read"], rate=1000000)
            gw = c.programs["gateway"].proc.pid
            addr = f"127.0.0.1:{c.gateway_port}"
            channel = grpc.insecure_channel(addr)
            watch = channel.unary_stream("/counsel.cases.v1.CaseService/WatchChanges",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
            md = [("authorization", f"Bearer {key}")]
            streams = [watch(b"", metadata=md, timeout=120) for _ in range(8)]
            try:
                await_condition(lambda: c.in_flight() == 8, "8 calls in flight")
                idle = rss_kib(gw)
                figures, codes = probe(addr, key, 500, 2)
                print(f"full cap: codes {codes}; refusal p99 {figures.get('failed_p99_us')} us",
                      file=sys.stderr)
                self.assertEqual(set(codes), {RESOURCE_EXHAUSTED}, codes)
                self.assertLess(rss_kib(gw) - idle, 64 * 1024)
                # A ninth stream is refused the same way.
                with self.assertRaises(grpc.RpcError) as e:
                    next(iter(watch(b"", metadata=md, timeout=10)))
                self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                self.assertIn("calls in flight", e.exception.details())
            finally:
                for s in streams:
                    s.cancel()
            await_condition(lambda: c.in_flight() == 0, "the streams to be released")
            # One call at a time never meets the cap: every one is served.
            get = channel.unary_unary(METHOD, request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
            req = guidance_pb2.GetProvisionRequest(name=PROVISION,
                                                   as_of="2020-01-01").SerializeToString()
            for _ in range(20):
                get(req, metadata=md, timeout=30)
            channel.close()

    def test_three_times_capacity_is_refused_fast_and_recovers(self):
        flags = {"gateway": {"max_in_flight": 200, "default_rate": 1000000,
                             "default_burst": 1000000}}
        with Cluster(BUILD, extra_flags=flags) as c:
            key = c.create_key("firm-a", ["guidance.read"], rate=1000000)
            gw = c.programs["gateway"].proc.pid
            addr = f"127.0.0.1:{c.gateway_port}"

            # Capacity: closed loop, 4 connections x 16 streams.
            req = guidance_pb2.GetProvisionRequest(name=PROVISION,
                                                   as_of="2020-01-01").SerializeToString()
            with tempfile.NamedTemporaryFile(suffix=".bin") as body:
                body.write(struct.pack(">BI", 0, len(req)) + req)
                body.flush()
                out = subprocess.run(
                    ["h2load", "-n", "3000", "-c", "4", "-m", "16", "-H",
                     "content-type: application/grpc", "-H", "te: trailers", "-H",
                     f"authorization: Bearer {key}", "-d", body.name,
                     f"http://{addr}{METHOD}"],
                    capture_output=True, text=True, timeout=120).stdout
            m = re.search(r"finished in [^,]*, ([0-9.]+) req/s", out)
            self.assertIsNotNone(m, out)
            self.assertIn("3000 succeeded", out)
            capacity = float(m.group(1))
            idle = rss_kib(gw)

            # Three times that, open loop, while memory is sampled.
            peak, stop = [idle], threading.Event()

            def sample():
                while not stop.wait(0.05):
                    peak[0] = max(peak[0], rss_kib(gw))

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                figures, codes = probe(addr, key, int(capacity * 3), SECONDS)
            finally:
                stop.set()
                sampler.join()
            refusals = sorted(e["latency_us"] for e in c.programs["gateway"].events()
                              if e.get("event") == "access" and e.get("code") == RESOURCE_EXHAUSTED)
            gw_p99 = refusals[len(refusals) * 99 // 100] if refusals else None
            print(f"gateway-side refusal p99 {gw_p99} us over {len(refusals)}; "
                  f"capacity {capacity:.0f}/s; offered {figures.get('sent_rate')}/s; "
                  f"codes {codes}; refusal p99 {figures.get('failed_p99_us')} us; "
                  f"ok p99 {figures.get('p99_us')} us; gateway RSS {idle} -> {peak[0]} KiB",
                  file=sys.stderr)

            # Every call answered or refused by the cap: nothing timed out
            # (no DEADLINE_EXCEEDED), nothing broke. How much of the offer was
            # beyond capacity depends on how fast this machine can offer it
            # (the probe shares two cores with what it loads), so the number
            # of refusals is reported above, not asserted; the certain case is
            # the test above.
            self.assertLessEqual(set(codes), {0, RESOURCE_EXHAUSTED}, codes)
            self.assertGreater(codes.get(0, 0), 0, codes)
            # Bounded memory: the cap bounds the work held, whatever the offer.
            self.assertLess(peak[0] - idle, 64 * 1024, (idle, peak[0]))

            # Normal service right after: calls one at a time (never near the
            # cap, however slow this machine is) are every one served.
            with grpc.insecure_channel(addr) as ch:
                get = ch.unary_unary(METHOD, request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
                for _ in range(50):
                    get(req, metadata=[("authorization", f"Bearer {key}")], timeout=30)
            self.assertEqual(c.programs["gateway"].proc.poll(), None)


if __name__ == "__main__":
    unittest.main()
