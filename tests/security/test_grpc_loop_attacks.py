"""What callers with no key, or hostile ones, can do to the gateway's gRPC
threads (gateway/grpc_loop.h), on loopback, bounded: hold health watches
(which need no key), flood it with unknown methods, cancel calls in
flight by the hundred, and cut uploads short. None may stop it serving the
others, leave a call counted in flight, or have a cut upload stored as
whole."""
import os
import re
import sys
import time
import unittest
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import threading

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402
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

    def test_an_upload_cancelled_mid_stream_is_not_stored(self):
        # The gateway reads a caller's half-close and its cancellation alike
        # (the stream's messages end); passing a cancellation on as the end
        # of the requests would store the part that arrived as the whole.
        key = self.c.create_key("firm-loop", ["cases.read", "cases.write"], rate=100000)
        md = [("authorization", f"Bearer {key}")]
        create = self.ch.unary_unary("/counsel.cases.v1.CaseService/CreateCase",
                                     request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=cases_pb2.Case.FromString)
        case = create(cases_pb2.CreateCaseRequest(case=cases_pb2.Case(
            client=cases_pb2.Client(display_name="cut"),
            leaked_data=[cases_pb2.LEAKED_DATA_EMAIL])), metadata=md, timeout=10)
        upload = self.ch.stream_unary("/counsel.cases.v1.CaseService/AddEvidence",
                                      request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=cases_pb2.Evidence.FromString)
        for i in range(20):
            sent = threading.Event()
            release = threading.Event()

            def messages():
                yield cases_pb2.AddEvidenceRequest(
                    parent=case.name, evidence=cases_pb2.Evidence(kind=cases_pb2.Evidence.KIND_SMS))
                yield cases_pb2.AddEvidenceRequest(chunk=b"x" * 4096)
                sent.set()
                release.wait(30)  # the cancellation comes while the caller still sends

            call = upload.future(messages(), metadata=md, timeout=30)
            self.assertTrue(sent.wait(30))
            # Half the time at once, half once the chunk is surely through.
            if i % 2:
                time.sleep(0.05)
            call.cancel()
            release.set()
            with self.assertRaises(grpc.FutureCancelledError):
                call.result()
        # A whole upload afterwards: stored, and the only one.
        whole = upload(iter([
            cases_pb2.AddEvidenceRequest(
                parent=case.name, evidence=cases_pb2.Evidence(kind=cases_pb2.Evidence.KIND_SMS)),
            cases_pb2.AddEvidenceRequest(chunk=b"y" * 4096)]), metadata=md, timeout=30)
        self.assertEqual(whole.attachment.size_bytes, 4096)
        listed = self.ch.unary_unary("/counsel.cases.v1.CaseService/ListEvidence",
                                     request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=cases_pb2.ListEvidenceResponse.FromString)
        got = listed(cases_pb2.ListEvidenceRequest(parent=case.name, page_size=100), metadata=md,
                     timeout=10)
        self.assertEqual([e.name for e in got.evidence], [whole.name])


if __name__ == "__main__":
    unittest.main()
