"""Hostile input generated from the descriptors: every unary method of the
public protos, through the gateway with a key holding every scope, gets
requests whose string fields are over-long, SQL- or filter-like, or
malformed resource names, whose integers are negative or huge and whose
enums are out of range. Each answer must be a deliberate refusal (never
INTERNAL, UNKNOWN or a dropped connection), and every program must still be
serving afterwards."""
import os
import sys
import unittest

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402
from google.protobuf import descriptor, symbol_database  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402
from counsel.gateway.v1 import portal_pb2  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402

SERVICES = [guidance_pb2.DESCRIPTOR.services_by_name["GuidanceService"],
            cases_pb2.DESCRIPTOR.services_by_name["CaseService"],
            portal_pb2.DESCRIPTOR.services_by_name["PortalService"]]
ALL_SCOPES = ["guidance.read", "guidance.write", "cases.read", "cases.write", "cases.pii",
              "cases.admin"]
FD = descriptor.FieldDescriptor
STRINGS = ["x" * 100000, "' OR 1=1; DROP TABLE cases; --", "statutes/../../etc/passwd",
           "cases/%00", '"', "state = ", "第" * 5000, "advice/a@b@c", "\u202e\u0000"]
ACCEPTABLE = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
              grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS,
              grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.ABORTED, grpc.StatusCode.OK,
              grpc.StatusCode.PERMISSION_DENIED}


def fill(msg, s, depth=0):
    """Sets every scalar field of msg (and its sub-messages) to hostile values."""
    for f in msg.DESCRIPTOR.fields:
        if f.type == FD.TYPE_MESSAGE:
            if f.message_type.GetOptions().map_entry:
                getattr(msg, f.name)[s[:200]] = s[:200]
                continue
            if depth < 2 and not f.message_type.full_name.startswith("google.protobuf."):
                sub = getattr(msg, f.name).add() if f.label == FD.LABEL_REPEATED else \
                    getattr(msg, f.name)
                fill(sub, s, depth + 1)
            continue
        value = {FD.TYPE_STRING: s, FD.TYPE_BYTES: s.encode("utf-8", "ignore")[:1000],
                 FD.TYPE_INT32: -1, FD.TYPE_INT64: -(2 ** 62), FD.TYPE_BOOL: True,
                 FD.TYPE_DOUBLE: -1e308, FD.TYPE_ENUM: 999}.get(f.type)
        if value is None:
            continue
        if f.label == FD.LABEL_REPEATED:
            getattr(msg, f.name).append(value)
        else:
            setattr(msg, f.name, value)


class BadInputTest(unittest.TestCase):
    def test_every_method_refuses_hostile_input_and_nothing_crashes(self):
        with Cluster(BUILD) as c:
            key = c.run("counsel-gateway", "keys", "create", f"--db={c.gateway_db}",
                        "--tenant=firm-a", f"--scopes={','.join(ALL_SCOPES)}", "--rate=100000",
                        "--burst=100000").stdout.strip().splitlines()[-1]
            md = [("authorization", f"Bearer {key}")]
            db = symbol_database.Default()
            ch = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}",
                                       options=[("grpc.max_send_message_length", 64 << 20)])
            tried = 0
            for service in SERVICES:
                for m in service.methods:
                    if m.server_streaming:
                        continue
                    req_type = db.GetSymbol(m.input_type.full_name)
                    resp_type = db.GetSymbol(m.output_type.full_name)
                    path = f"/{service.full_name}/{m.name}"
                    for s in STRINGS:
                        req = req_type()
                        fill(req, s)
                        try:
                            if m.client_streaming:
                                call = ch.stream_unary(path, request_serializer=lambda x: x.SerializeToString(),
                                                       response_deserializer=resp_type.FromString)
                                call(iter([req]), metadata=md, timeout=10)
                            else:
                                call = ch.unary_unary(path, request_serializer=lambda x: x.SerializeToString(),
                                                      response_deserializer=resp_type.FromString)
                                call(req, metadata=md, timeout=10)
                            code, details = grpc.StatusCode.OK, ""
                        except grpc.RpcError as e:
                            code, details = e.code(), e.details() or ""
                        self.assertIn(code, ACCEPTABLE, f"{m.name} with {s[:30]!r}: {code} {details}")
                        tried += 1
            self.assertGreater(tried, 200)
            # Everyone is still up.
            for role in ("guidance", "cases", "gateway"):
                self.assertIsNone(c.programs[role].proc.poll(), role)
            status, _, _ = c.http("GET", "/readyz")
            self.assertEqual(status, 200)
            ch.close()


if __name__ == "__main__":
    unittest.main()
