"""Tenant isolation and the call context, attacked directly.

Two tenants; every case method with its own, a foreign and a nonexistent
case, through the gateway and straight against case-svc with a validly
signed context for the other tenant (what a stolen context key would give):
foreign and nonexistent are indistinguishable (NOT_FOUND, same message once
the name is taken out), lists, stats and the feed never show a foreign row.

Then every method of both backends called directly with no context, a
context signed with another key, one tampered with after signing, one
expired, and one captured from another method (a replay): each is
UNAUTHENTICATED, and nothing is stored."""
import hashlib
import hmac
import os
import sys
import time
import unittest

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402
from test_gateway_matrix import ALL_SCOPES, invoke, requests_for  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402
from counsel.gateway.v1 import portal_pb2  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402
from counsel.internal.v1 import call_context_pb2  # noqa: E402
from google.protobuf import symbol_database  # noqa: E402

CASES = cases_pb2.DESCRIPTOR.services_by_name["CaseService"]
GUIDANCE = guidance_pb2.DESCRIPTOR.services_by_name["GuidanceService"]
PORTAL = portal_pb2.DESCRIPTOR.services_by_name["PortalService"]
NONEXISTENT = "cases/00000000000000000000000000"


class TenantIsolationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD).__enter__()
        with open(cls.c.context_key, "rb") as f:
            cls.context_key = f.read()
        cls.gw = grpc.insecure_channel(f"127.0.0.1:{cls.c.gateway_port}")
        cls.cases = grpc.insecure_channel(f"127.0.0.1:{cls.c.cases_port}")
        cls.guidance = grpc.insecure_channel(f"127.0.0.1:{cls.c.guidance_port}")
        cls.keys = {t: cls.c.create_key(t, ALL_SCOPES) for t in ("firm-a", "firm-b")}

    @classmethod
    def tearDownClass(cls):
        for ch in (cls.gw, cls.cases, cls.guidance):
            ch.close()
        cls.c.__exit__(None, None, None)

    def signed(self, tenant, method, key=None, expire_in=60.0, tamper=False):
        ctx = call_context_pb2.CallContext(
            tenant=tenant, key_id="attacker", scopes=ALL_SCOPES, request_id="iso",
            method=method, expire_unix_micros=int((time.time() + expire_in) * 1e6))
        raw = ctx.SerializeToString()
        mac = hmac.new(key or self.context_key, raw, hashlib.sha256).digest()
        if tamper:  # the tenant rewritten after signing
            raw = raw.replace(tenant.encode(), b"firm-z")
        return call_context_pb2.SignedCallContext(context=raw, mac=mac).SerializeToString()

    def direct_md(self, tenant, service, method, **kw):
        return [("counsel-context-bin",
                 self.signed(tenant, f"/{service.full_name}/{method.name}", **kw))]

    def new_case(self, tenant):
        create = self.gw.unary_unary("/counsel.cases.v1.CaseService/CreateCase",
                                     request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=cases_pb2.Case.FromString)
        return create(cases_pb2.CreateCaseRequest(case=cases_pb2.Case(
            client=cases_pb2.Client(display_name="陈一"),
            leaked_data=[cases_pb2.LEAKED_DATA_PHONE])),
            metadata=[("authorization", f"Bearer {self.keys[tenant]}")], timeout=10).name

    def test_foreign_and_nonexistent_cases_are_indistinguishable(self):
        foreign = self.new_case("firm-a")
        own = self.new_case("firm-b")
        foreign_reqs, missing_reqs, own_reqs = (requests_for(foreign), requests_for(NONEXISTENT),
                                                requests_for(own))
        transports = {
            "gateway": lambda service, m: (
                self.gw, [("authorization", f"Bearer {self.keys['firm-b']}")]),
            "case-svc with a signed context": lambda service, m: (
                self.cases, self.direct_md("firm-b", service, m)),
        }
        checked = 0
        for label, route in transports.items():
            for service in (CASES, PORTAL):
                for m in service.methods:
                    if m.name not in foreign_reqs:
                        continue
                    if service is PORTAL and label != "gateway":
                        continue  # composed by the gateway, not served by case-svc
                    if m.name == "EraseClientData":
                        continue  # below, last: it erases the own case
                    ch, md = route(service, m)
                    with self.subTest(transport=label, method=m.name):
                        code_f, _, msg_f = invoke(ch, service, m, foreign_reqs[m.name], md)
                        code_n, _, msg_n = invoke(ch, service, m, missing_reqs[m.name], md)
                        code_o, _, msg_o = invoke(ch, service, m, own_reqs[m.name], md)
                        self.assertEqual(code_f, grpc.StatusCode.NOT_FOUND, msg_f)
                        self.assertEqual(code_n, grpc.StatusCode.NOT_FOUND, msg_n)
                        self.assertEqual(msg_f.replace(foreign, "<name>"),
                                         msg_n.replace(NONEXISTENT, "<name>"))
                        if m.name in ("GetEvidence", "ReadEvidenceAttachment"):
                            # The own case is found; only its entry is missing.
                            self.assertNotEqual(msg_o.replace(own, "<name>"),
                                                msg_f.replace(foreign, "<name>"), m.name)
                        else:
                            self.assertNotEqual(code_o, grpc.StatusCode.NOT_FOUND, m.name)
                        checked += 1
        # Twelve case methods each way, and the brief.
        self.assertEqual(checked, 2 * 12 + 1)

        # Lists, stats and the change feed of firm-b never show firm-a's case.
        for label, route in transports.items():
            for m in CASES.methods:
                ch, md = route(CASES, m)
                if m.name == "ListCases":
                    _, resp, _ = invoke(ch, CASES, m, cases_pb2.ListCasesRequest(page_size=1000), md)
                    self.assertNotIn(foreign, [x.name for x in resp.cases], label)
                    self.assertIn(own, [x.name for x in resp.cases], label)
                if m.name == "ListChanges":
                    _, resp, _ = invoke(ch, CASES, m, cases_pb2.ListChangesRequest(page_size=1000),
                                     md)
                    cases_seen = {x.event.case for x in resp.changes}
                    self.assertNotIn(foreign, cases_seen, label)
                    self.assertIn(own, cases_seen, label)
                if m.name == "GetCaseStats":
                    _, resp, _ = invoke(ch, CASES, m, cases_pb2.GetCaseStatsRequest(), md)
                    self.assertEqual(resp.total_cases, 1, label)

        # Erasure last: foreign and nonexistent alike, and the foreign case untouched.
        for label, route in transports.items():
            m = CASES.methods_by_name["EraseClientData"]
            ch, md = route(CASES, m)
            code_f, _, msg_f = invoke(ch, CASES, m, foreign_reqs[m.name], md)
            code_n, _, msg_n = invoke(ch, CASES, m, missing_reqs[m.name], md)
            self.assertEqual((code_f, code_n), (grpc.StatusCode.NOT_FOUND,) * 2, label)
            self.assertEqual(msg_f.replace(foreign, "<name>"),
                             msg_n.replace(NONEXISTENT, "<name>"))
        get = self.gw.unary_unary("/counsel.cases.v1.CaseService/GetCase",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=cases_pb2.Case.FromString)
        still = get(cases_pb2.GetCaseRequest(name=foreign),
                    metadata=[("authorization", f"Bearer {self.keys['firm-a']}")], timeout=10)
        self.assertEqual(still.name, foreign)
        self.assertFalse(still.client.HasField("erase_time"))
        self.assertEqual(still.client.display_name, "陈一")

    def test_forged_tampered_expired_and_replayed_contexts_are_refused(self):
        other_key = os.urandom(32)
        attacks = {
            "no context": lambda svc, m: [],
            "signed with another key": lambda svc, m: self.direct_md(
                "firm-c", svc, m, key=other_key),
            "tampered after signing": lambda svc, m: self.direct_md("firm-c", svc, m, tamper=True),
            "expired": lambda svc, m: self.direct_md("firm-c", svc, m, expire_in=-1),
            # A context captured from a read, replayed on this method.
            "replayed from another method": lambda svc, m: [(
                "counsel-context-bin",
                self.signed("firm-c", "/counsel.cases.v1.CaseService/GetCase"
                            if m.name != "GetCase" else
                            "/counsel.cases.v1.CaseService/ListCases"))],
            "not a context": lambda svc, m: [("counsel-context-bin", b"\x0a\xff garbage")],
        }
        db = symbol_database.Default()
        calls = 0
        for service, channel in ((CASES, self.cases), (GUIDANCE, self.guidance)):
            for m in service.methods:
                request = db.GetSymbol(m.input_type.full_name)()
                if m.name == "CreateCase":
                    request = cases_pb2.CreateCaseRequest(case=cases_pb2.Case(
                        client=cases_pb2.Client(display_name="陈一"),
                        leaked_data=[cases_pb2.LEAKED_DATA_PHONE]))
                if m.name == "CreateAdvice":
                    request = guidance_pb2.CreateAdviceRequest(advice_id="forged")
                for label, attack in attacks.items():
                    with self.subTest(method=m.name, attack=label):
                        code, _, details = invoke(channel, service, m, request, attack(service, m))
                        self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED, details)
                        calls += 1
        self.assertEqual(calls, len(attacks) * (len(CASES.methods) + len(GUIDANCE.methods)))
        # Nothing was stored for the forged tenant (or anyone).
        m = CASES.methods_by_name["ListCases"]
        _, resp, _ = invoke(self.cases, CASES, m, cases_pb2.ListCasesRequest(),
                         self.direct_md("firm-c", CASES, m))
        self.assertEqual(len(resp.cases), 0)
        m = GUIDANCE.methods_by_name["GetAdvice"]
        code, _, _ = invoke(self.guidance, GUIDANCE, m,
                             guidance_pb2.GetAdviceRequest(name="advice/forged"),
                             self.direct_md("firm-c", GUIDANCE, m))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main()
