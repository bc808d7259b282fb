"""The gateway under limits and backend failure, through the real binaries:
a quota that trips and recovers, metrics, readiness, and a killed backend
that fails fast while the other keeps working, then recovers without a
gateway restart."""
import os
import sys
import time
import unittest

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402


def until(predicate, timeout=10):
    """Waits for a condition that depends on time passing or a restart."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError("condition not reached")


class GatewayResilienceTest(unittest.TestCase):
    def test_quota_trips_with_retry_after_and_recovers(self):
        with Cluster(BUILD) as c:
            out = c.run("counsel-gateway", "keys", "create", f"--db={c.gateway_db}",
                        "--tenant=firm-a", "--scopes=guidance.read", "--rate=2", "--burst=2")
            key = out.stdout.strip().splitlines()[-1]
            codes = [c.http("GET", "/v1/statutes", key=key)[0] for _ in range(3)]
            self.assertEqual(codes[:2], [200, 200])
            self.assertEqual(codes[2], 429)
            status, body, headers = c.http("GET", "/v1/statutes", key=key)
            self.assertEqual(status, 429)
            self.assertGreaterEqual(int(headers["retry-after"]), 1)
            self.assertEqual(body["details"][0]["@type"], "type.googleapis.com/google.rpc.RetryInfo")
            until(lambda: c.http("GET", "/v1/statutes", key=key)[0] == 200)
            status, metrics, _ = c.http("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertIn('counsel_gateway_rate_limited_total{reason="quota"}', metrics)
            self.assertIn("counsel_gateway_calls_total", metrics)
            # Invented method names are refused and counted under one label:
            # a caller cannot create metric series.
            with grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}") as ch:
                for i in range(3):
                    with self.assertRaises(grpc.RpcError) as e:
                        ch.unary_unary(f"/made.Up/Method{i}")(b"", timeout=5)
                    self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
            _, metrics, _ = c.http("GET", "/metrics")
            self.assertNotIn("made.Up", metrics)
            self.assertIn('method="unknown"', metrics)

    def test_failed_keys_are_limited_per_source(self):
        with Cluster(BUILD) as c:
            codes = [c.http("GET", "/v1/statutes", key="ck_" + "a" * 16 + "_" + "b" * 52)[0]
                     for _ in range(25)]
            self.assertEqual(codes[0], 401)
            self.assertEqual(codes[-1], 429)

    def test_killed_backend_fails_fast_and_recovers(self):
        with Cluster(BUILD) as c:
            key = c.create_key("firm-a", ["guidance.read", "cases.read", "cases.write"])
            md = [("authorization", f"Bearer {key}")]
            self.assertEqual(c.http("GET", "/readyz")[0], 200)
            ch = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}")
            get = ch.unary_unary("/counsel.guidance.v1.GuidanceService/GetStatute",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=guidance_pb2.Statute.FromString)
            stats = ch.unary_unary("/counsel.cases.v1.CaseService/GetCaseStats",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=cases_pb2.CaseStats.FromString)
            req = guidance_pb2.GetStatuteRequest(
                name="statutes/public-security-administration-punishments")
            get(req, metadata=md, timeout=5)
            c.programs["guidance"].stop()
            self.assertEqual(c.http("GET", "/readyz")[0], 503)
            for _ in range(3):
                start = time.monotonic()
                with self.assertRaises(grpc.RpcError) as e:
                    get(req, metadata=md, timeout=5)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
                self.assertLess(time.monotonic() - start, 1.0, "fails fast, not at the deadline")
            stats(cases_pb2.GetCaseStatsRequest(), metadata=md, timeout=5)  # the other backend works
            c.restart("guidance")  # already stopped: starts it again on its port

            def works():
                try:
                    return get(req, metadata=md, timeout=5).name == req.name
                except grpc.RpcError:
                    return False
            until(works)
            self.assertEqual(c.http("GET", "/readyz")[0], 200)
            ch.close()


if __name__ == "__main__":
    unittest.main()
