"""What callers with no key, or hostile ones, can do to the gateway's gRPC
threads (gateway/grpc_loop.h), on loopback, bounded: hold health watches
(which need no key), flood it with unknown methods, and cancel calls in
flight by the hundred. None may stop it serving the others or leave a call
counted in flight."""
import os
import re
import sys
import time
import unittest
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402

GET_STATUTE = "/counsel.guidance.v1.GuidanceService/GetStatute"
WATCH_HEALTH = "/grpc.health.v1.Health/Watch"
CHECK_HEALTH = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"


def raw(b):
    return b


class GrpcLoopAttacksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD, extra_flags={"gateway": {"health_watchers": 4}}).__enter__()
        cls.key = cls.c.create_key("firm-loop", ["guidance.read"])
        cls.ch = grpc.insecure_channel(f"127.0.0.1:{cls.c.gateway_port}")

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.c.__exit__(None, None, None)

    def statute(self):
        get = self.ch.unary_unary(GET_STATUTE, request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=guidance_pb2.Statute.FromString)
        name = "statutes/public-security-administration-punishments"
        return get(guidance_pb2.GetStatuteRequest(name=name),
                   metadata=[("authorization", f"Bearer {self.key}")], timeout=10).name == name

    def in_flight(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.c.http_port}/metrics", timeout=10) as r:
            m = re.search(rb"^counsel_gateway_in_flight (\S+)$", r.read(), re.M)
        return float(m.group(1))

    def test_health_watches_need_no_key_so_they_are_capped(self):
        watch = self.ch.unary_stream(WATCH_HEALTH, request_serializer=raw, response_deserializer=raw)
        held = [watch(b"", timeout=60) for _ in range(4)]
        try:
            for call in held:
                self.assertEqual(next(iter(call)), SERVING)
            refused = watch(b"", timeout=60)
            with self.assertRaises(grpc.RpcError) as e:
                next(iter(refused))
            self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            # Everything else as usual meanwhile.
            check = self.ch.unary_unary(CHECK_HEALTH, request_serializer=raw,
                                        response_deserializer=raw)
            self.assertEqual(check(b"", timeout=10), SERVING)
            self.assertTrue(self.statute())
        finally:
            for call in held:
                call.cancel()
        # The places come free once the gateway has seen the cancellations
        # (the caller cannot observe that moment: asked again until then).
        deadline = time.monotonic() + 30
        while True:
            again = watch(b"", timeout=60)
            try:
                self.assertEqual(next(iter(again)), SERVING)
                again.cancel()
                break
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                self.assertLess(time.monotonic(), deadline, "the watchers' places never came free")
                time.sleep(0.05)

    def test_a_flood_of_unknown_methods_costs_the_others_nothing(self):
        def unknown(i):
            call = self.ch.unary_unary(f"/counsel.Nothing/M{i % 7}", request_serializer=raw,
                                       response_deserializer=raw)
            try:
                call(b"x" * 100, timeout=30)
            except grpc.RpcError as e:
                return e.code()
            return None
        with ThreadPoolExecutor(16) as pool:
            codes = set(pool.map(unknown, range(2000)))
        self.assertEqual(codes, {grpc.StatusCode.UNIMPLEMENTED})
        self.assertTrue(self.statute())
        self.assertEqual(self.in_flight(), 0)

    def test_calls_cancelled_in_flight_by_the_hundred_leave_nothing_counted(self):
        get = self.ch.unary_unary(GET_STATUTE, request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=guidance_pb2.Statute.FromString)
        request = guidance_pb2.GetStatuteRequest(
            name="statutes/public-security-administration-punishments")
        flood = self.c.create_key("firm-loop", ["guidance.read"], rate=100000)
        md = [("authorization", f"Bearer {flood}")]
        for _ in range(5):
            futures = [get.future(request, metadata=md, timeout=30) for _ in range(100)]
            for f in futures:
                f.cancel()
        self.assertTrue(self.statute())
        # Each cancelled call is let go once its backend call has ended.
        deadline = time.monotonic() + 30
        while self.in_flight() != 0:
            self.assertLess(time.monotonic(), deadline, "a cancelled call stayed in flight")
            time.sleep(0.05)


if __name__ == "__main__":
    unittest.main()
