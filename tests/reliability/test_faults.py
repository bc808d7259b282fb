"""Faults through the real binaries: SIGTERM under load drains and exits 0,
and a create whose deadline expires is not created twice by its retry."""
import os
import signal
import sys
import threading
import time
import unittest

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402


def stub(channel, method, resp):
    return channel.unary_unary(f"/counsel.cases.v1.CaseService/{method}",
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=resp.FromString)


class FaultsTest(unittest.TestCase):
    def test_sigterm_under_load_drains_and_exits_zero(self):
        with Cluster(BUILD, extra_flags={"cases": {"drain_timeout": "3s"}}) as c:
            key = c.create_key("firm-a", ["cases.read", "cases.write"], rate=100000)
            md = [("authorization", f"Bearer {key}")]
            ch = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}")
            create = stub(ch, "CreateCase", cases_pb2.Case)
            codes, acked, lock, stop = [], [], threading.Lock(), threading.Event()

            def writer(n):
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        got = create(cases_pb2.CreateCaseRequest(
                            request_id=f"t{n}-{i}", case=cases_pb2.Case(
                                client=cases_pb2.Client(display_name="测试"),
                                leaked_data=[cases_pb2.LEAKED_DATA_PHONE])),
                            metadata=md, timeout=5)
                        with lock:
                            acked.append(got.name)
                            codes.append(grpc.StatusCode.OK)
                    except grpc.RpcError as e:
                        with lock:
                            codes.append(e.code())

            threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            while len(acked) < 100:
                time.sleep(0.01)
            start = time.monotonic()
            prog = c.programs["cases"]
            prog.proc.send_signal(signal.SIGTERM)
            code = prog.proc.wait(timeout=10)
            elapsed = time.monotonic() - start
            stop.set()
            for t in threads:
                t.join()
            self.assertEqual(code, 0)
            self.assertLess(elapsed, 3 + 2, "exits within the drain time")
            # Calls either completed or were refused (UNAVAILABLE, or CANCELLED for
            # calls gRPC had queued but not started when the server shut down).
            self.assertLessEqual(set(codes), {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE,
                                              grpc.StatusCode.CANCELLED})
            c.restart("cases", sig=signal.SIGTERM)
            get = stub(ch, "GetCase", cases_pb2.Case)
            # The gateway's circuit for case-svc opened while it was down; it
            # lets a trial through a second later.
            deadline = time.monotonic() + 10
            while True:
                try:
                    get(cases_pb2.GetCaseRequest(name=acked[0]), metadata=md, timeout=5)
                    break
                except grpc.RpcError as e:
                    self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE)
                    self.assertLess(time.monotonic(), deadline, "no recovery")
                    time.sleep(0.1)
            for name in acked:
                self.assertEqual(get(cases_pb2.GetCaseRequest(name=name), metadata=md,
                                     timeout=5).name, name)
            ch.close()

    def test_expired_deadline_then_retry_creates_once(self):
        with Cluster(BUILD) as c:
            key = c.create_key("firm-a", ["cases.read", "cases.write"], rate=100000)
            md = [("authorization", f"Bearer {key}")]
            ch = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}")
            create = stub(ch, "CreateCase", cases_pb2.Case)
            listing = stub(ch, "ListCases", cases_pb2.ListCasesResponse)
            req = cases_pb2.CreateCaseRequest(request_id="retry-1", case=cases_pb2.Case(
                external_ref="EXT-RETRY-1", client=cases_pb2.Client(display_name="测试"),
                leaked_data=[cases_pb2.LEAKED_DATA_PHONE]))
            expired = 0
            for _ in range(20):
                try:
                    create(req, metadata=md, timeout=0.0005)
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                        expired += 1
            self.assertGreater(expired, 0)
            ch.close()
            # The client retries as it should: same request_id, until it succeeds.
            ch = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}")
            create = stub(ch, "CreateCase", cases_pb2.Case)
            listing = stub(ch, "ListCases", cases_pb2.ListCasesResponse)
            first = None
            for _ in range(20):
                try:
                    first = create(req, metadata=md, timeout=10)
                    break
                except grpc.RpcError as e:
                    # The expired calls may have tripped the backend's circuit:
                    # back off as a client should, and retry.
                    self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE)
                    time.sleep(0.25)
            self.assertIsNotNone(first)
            again = create(req, metadata=md, timeout=10)
            self.assertEqual(first.name, again.name)
            cases = listing(cases_pb2.ListCasesRequest(page_size=1000), metadata=md, timeout=10).cases
            self.assertEqual([x.external_ref for x in cases].count("EXT-RETRY-1"), 1)
            ch.close()


if __name__ == "__main__":
    unittest.main()
