"""The three programs with mutual TLS between them (deploy/tls/make-dev-ca.sh):
the gateway works end to end over TLS, while a client without a certificate
from the CA is refused by the backends."""
import os
import subprocess
import sys
import tempfile
import shutil
import unittest

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402


class MtlsTest(unittest.TestCase):
    def test_backends_refuse_clients_without_a_certificate(self):
        certs = tempfile.mkdtemp()
        try:
            subprocess.run([os.path.join(ROOT, "deploy/tls/make-dev-ca.sh"), certs], check=True,
                           capture_output=True)
            tls = lambda name: {"tls_cert": f"{certs}/{name}.pem", "tls_key": f"{certs}/{name}.key",
                                "tls_ca": f"{certs}/ca.pem"}
            with Cluster(BUILD, extra_flags={"guidance": tls("guidance"), "cases": tls("cases"),
                                             "gateway": tls("gateway")}) as c:
                key = c.create_key("firm-a", ["guidance.read", "cases.read", "cases.write"])
                ca = open(f"{certs}/ca.pem", "rb").read()
                # Through the gateway (TLS front, mTLS behind it) everything works.
                with grpc.secure_channel(f"127.0.0.1:{c.gateway_port}",
                                         grpc.ssl_channel_credentials(root_certificates=ca)) as ch:
                    get = ch.unary_unary("/counsel.guidance.v1.GuidanceService/GetStatute",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=guidance_pb2.Statute.FromString)
                    s = get(guidance_pb2.GetStatuteRequest(
                        name="statutes/public-security-administration-punishments"),
                        metadata=[("authorization", f"Bearer {key}")], timeout=10)
                    self.assertEqual(s.short_title, "治安管理处罚法")
                status, created, _ = c.http("POST", "/v1/cases", key=key, body={
                    "client": {"displayName": "郑十"}, "leakedData": ["LEAKED_DATA_PHONE"]})
                self.assertEqual(status, 200, created)  # case-svc → guidance-svc over mTLS too
                # A plain client, and a TLS client with no certificate, are refused.
                for creds in (None, grpc.ssl_channel_credentials(root_certificates=ca)):
                    for port in (c.guidance_port, c.cases_port):
                        target = f"127.0.0.1:{port}"
                        ch = grpc.insecure_channel(target) if creds is None else \
                            grpc.secure_channel(target, creds)
                        health = ch.unary_unary("/grpc.health.v1.Health/Check")
                        with self.assertRaises(grpc.RpcError) as e:
                            health(b"", timeout=5)
                        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
                        ch.close()
        finally:
            shutil.rmtree(certs)


if __name__ == "__main__":
    unittest.main()
