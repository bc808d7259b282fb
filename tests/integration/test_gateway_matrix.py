"""Every method of the public protos through the real gateway: each method
refused without its scope, a client-bound key unable to reach another
client's case by any method (gRPC and HTTP), and every HTTP route of the
protos reaching its method."""
import os
import sys
import unittest
import urllib.parse

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster  # noqa: E402
from google.protobuf import symbol_database  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402
from counsel.gateway.v1 import portal_pb2  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402

SERVICES = [guidance_pb2.DESCRIPTOR.services_by_name["GuidanceService"],
            cases_pb2.DESCRIPTOR.services_by_name["CaseService"],
            portal_pb2.DESCRIPTOR.services_by_name["PortalService"]]
ALL_SCOPES = ["guidance.read", "guidance.write", "cases.read", "cases.write", "cases.pii",
              "cases.admin"]

# The scopes each method needs, written from the design, independently of
# the gateway's own table: the two must agree.
READ_G, WRITE_G = {"guidance.read"}, {"guidance.write"}
READ_C, WRITE_C, ADMIN_C = {"cases.read"}, {"cases.write"}, {"cases.admin"}
EXPECTED = {
    "ListStatutes": READ_G, "GetStatute": READ_G, "GetProvision": READ_G,
    "ListProvisions": READ_G, "CompareStatuteVersions": READ_G, "ResolveCitations": READ_G,
    "SearchProvisions": READ_G, "ImportStatuteVersion": WRITE_G, "ListAdvice": READ_G,
    "GetAdvice": READ_G, "ListAdviceRevisions": READ_G, "CreateAdvice": WRITE_G,
    "UpdateAdvice": WRITE_G, "PublishAdvice": WRITE_G, "RollbackAdvice": WRITE_G,
    "DeleteAdvice": WRITE_G,
    "CreateCase": WRITE_C, "GetCase": READ_C, "BatchGetCases": READ_C, "ListCases": READ_C, "UpdateCase": WRITE_C,
    "TransitionCase": WRITE_C, "UpdateChecklistItem": WRITE_C, "AddEvidence": WRITE_C,
    "ListEvidence": READ_C, "GetEvidence": READ_C, "ReadEvidenceAttachment": READ_C,
    "ListNotes": READ_C, "AddNote": WRITE_C, "ListCaseEvents": READ_C, "ListChanges": READ_C,
    "WatchChanges": READ_C, "GetCaseStats": READ_C, "EraseClientData": ADMIN_C,
    "VerifyAuditLog": ADMIN_C, "GetCaseBrief": READ_C | READ_G,
    "CreateWebhook": ADMIN_C, "GetWebhook": ADMIN_C, "ListWebhooks": ADMIN_C,
    "UpdateWebhook": ADMIN_C, "DeleteWebhook": ADMIN_C, "RotateWebhookSecret": ADMIN_C,
    "ListWebhookDeliveries": ADMIN_C, "ReplayWebhook": ADMIN_C, "TestWebhook": ADMIN_C,
}
# What cases.contribute (a client's own app) may call in place of cases.read
# or cases.write, from the design; everything else stays refused.
CONTRIBUTOR_MAY = {"GetCase", "BatchGetCases", "ListCases", "UpdateChecklistItem", "AddEvidence", "ListEvidence",
                   "GetEvidence", "ReadEvidenceAttachment", "AddNote", "ListNotes",
                   "ListCaseEvents", "ListChanges", "WatchChanges", "GetCaseBrief"}


def methods():
    for service in SERVICES:
        for m in service.methods:
            yield service, m


def invoke(channel, service, method, request, metadata, timeout=10):
    """Calls any method; returns (status code, response or None, error details)."""
    db = symbol_database.Default()
    resp_type = db.GetSymbol(method.output_type.full_name)
    path = f"/{service.full_name}/{method.name}"
    ser, de = (lambda m: m.SerializeToString()), resp_type.FromString
    try:
        if method.client_streaming:
            call = channel.stream_unary(path, request_serializer=ser, response_deserializer=de)
            return grpc.StatusCode.OK, call(iter([request]), metadata=metadata, timeout=timeout), ""
        if method.server_streaming:
            call = channel.unary_stream(path, request_serializer=ser, response_deserializer=de)
            stream = call(request, metadata=metadata, timeout=timeout)
            first = next(stream)
            stream.cancel()
            return grpc.StatusCode.OK, first, ""
        call = channel.unary_unary(path, request_serializer=ser, response_deserializer=de)
        return grpc.StatusCode.OK, call(request, metadata=metadata, timeout=timeout), ""
    except grpc.RpcError as e:
        return e.code(), None, e.details() or ""


def requests_for(name):
    """A request naming case `name` for every method that takes one."""
    return {
        "GetCase": cases_pb2.GetCaseRequest(name=name),
        "BatchGetCases": cases_pb2.BatchGetCasesRequest(names=[name]),
        "UpdateCase": cases_pb2.UpdateCaseRequest(case=cases_pb2.Case(name=name, summary="x"),
                                                  update_mask={"paths": ["summary"]}),
        "TransitionCase": cases_pb2.TransitionCaseRequest(
            name=name, state=cases_pb2.Case.STATE_TRIAGED, reason="x"),
        "UpdateChecklistItem": cases_pb2.UpdateChecklistItemRequest(
            item=cases_pb2.ChecklistItem(name=f"{name}/checklist/change-passwords",
                                         state=cases_pb2.ChecklistItem.STATE_DONE)),
        "AddEvidence": cases_pb2.AddEvidenceRequest(
            parent=name, evidence=cases_pb2.Evidence(kind=cases_pb2.Evidence.KIND_SMS)),
        "ListEvidence": cases_pb2.ListEvidenceRequest(parent=name),
        "GetEvidence": cases_pb2.GetEvidenceRequest(name=f"{name}/evidence/e1"),
        "ReadEvidenceAttachment": cases_pb2.ReadEvidenceAttachmentRequest(
            name=f"{name}/evidence/e1"),
        "ListNotes": cases_pb2.ListNotesRequest(parent=name),
        "AddNote": cases_pb2.AddNoteRequest(parent=name, note=cases_pb2.Note(text="x")),
        "ListCaseEvents": cases_pb2.ListCaseEventsRequest(parent=name),
        "EraseClientData": cases_pb2.EraseClientDataRequest(name=name, reason="x"),
        "GetCaseBrief": portal_pb2.GetCaseBriefRequest(name=name),
    }


class GatewayMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD).__enter__()
        cls.ch = grpc.insecure_channel(f"127.0.0.1:{cls.c.gateway_port}")

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.c.__exit__(None, None, None)

    def test_every_method_has_an_expected_scope(self):
        names = {m.name for _, m in methods()}
        self.assertEqual(names, set(EXPECTED), "a method without a decided scope")

    def test_every_method_refuses_a_key_without_its_scope(self):
        db = symbol_database.Default()
        for service, m in methods():
            lacking = [s for s in ALL_SCOPES if s not in EXPECTED[m.name]]
            key = self.c.create_key("firm-a", lacking)
            req = db.GetSymbol(m.input_type.full_name)()
            code, _, _ = invoke(self.ch, service, m, req, [("authorization", f"Bearer {key}")])
            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED, m.name)

    def test_contribute_key_reaches_only_its_methods(self):
        """A client-bound cases.contribute key: every method outside the list is
        PERMISSION_DENIED whatever the request; those on it get past the scope
        check (any other answer)."""
        db = symbol_database.Default()
        key = self.c.create_key("firm-a", ["cases.contribute", "guidance.read"],
                                client="client-1")
        md = [("authorization", f"Bearer {key}")]
        for service, m in methods():
            if service.name == "GuidanceService":
                continue
            req = db.GetSymbol(m.input_type.full_name)()
            code, _, details = invoke(self.ch, service, m, req, md)
            if m.name in CONTRIBUTOR_MAY:
                self.assertNotEqual(code, grpc.StatusCode.PERMISSION_DENIED, (m.name, details))
            else:
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED, m.name)
        # Unbound, it is refused everywhere: it acts for one client or none.
        unbound = self.c.create_key("firm-a", ["cases.contribute"])
        for service, m in methods():
            if m.name in CONTRIBUTOR_MAY and m.name != "GetCaseBrief":
                req = db.GetSymbol(m.input_type.full_name)()
                code, _, details = invoke(self.ch, service, m, req,
                                          [("authorization", f"Bearer {unbound}")])
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED, m.name)
                self.assertIn("one client", details)

    def test_client_bound_key_cannot_reach_another_clients_case(self):
        owner = self.c.create_key("firm-a", ALL_SCOPES)
        status, theirs, _ = self.c.http("POST", "/v1/cases", key=owner, body={
            "client": {"id": "client-2", "displayName": "吴二"}, "leakedData": ["LEAKED_DATA_PHONE"]})
        self.assertEqual(status, 200, theirs)
        name = theirs["name"]
        bound = self.c.run("counsel-gateway", "keys", "create", f"--db={self.c.gateway_db}",
                           "--tenant=firm-a", f"--scopes={','.join(ALL_SCOPES)}",
                           "--client=client-1").stdout.strip().splitlines()[-1]
        md = [("authorization", f"Bearer {bound}")]
        by_name = requests_for(name)
        for service, m in methods():
            if m.name in by_name:
                code, _, _ = invoke(self.ch, service, m, by_name[m.name], md)
                self.assertEqual(code, grpc.StatusCode.NOT_FOUND, m.name)
        # Lists and the feed never show it.
        for service, m in methods():
            if m.name == "ListCases":
                code, resp, _ = invoke(self.ch, service, m, cases_pb2.ListCasesRequest(), md)
                self.assertEqual(code, grpc.StatusCode.OK)
                self.assertNotIn(name, [c.name for c in resp.cases])
            if m.name == "ListChanges":
                code, resp, _ = invoke(self.ch, service, m, cases_pb2.ListChangesRequest(), md)
                self.assertEqual(code, grpc.StatusCode.OK)
                self.assertNotIn(name, [ch.event.case for ch in resp.changes])
            if m.name == "GetCaseStats":
                code, resp, _ = invoke(self.ch, service, m, cases_pb2.GetCaseStatsRequest(), md)
                self.assertEqual(resp.total_cases, 0)
        # Over HTTP too.
        for method, path in [("GET", f"/v1/{name}"), ("GET", f"/v1/{name}/evidence"),
                             ("GET", f"/v1/{name}/events"), ("GET", f"/v1/{name}:brief"),
                             ("POST", f"/v1/{name}/notes"), ("POST", f"/v1/{name}:transition")]:
            body = {"text": "x"} if path.endswith("notes") else (
                {"state": "STATE_TRIAGED", "reason": "x"} if "transition" in path else None)
            status, _, _ = self.c.http(method, path, key=bound, body=body)
            self.assertEqual(status, 404, path)
        status, listed, _ = self.c.http("GET", "/v1/cases", key=bound)
        self.assertNotIn(name, [c["name"] for c in listed.get("cases", [])])
        # A delegate key must name its client, and then sees only that client.
        delegate = self.c.create_key("firm-a", ["cases.read", "cases.delegate"])
        status, _, _ = self.c.http("GET", f"/v1/{name}", key=delegate)
        self.assertEqual(status, 403)
        status, _, _ = self.c.http("GET", f"/v1/{name}", key=delegate,
                                   headers={"x-counsel-on-behalf-of": "client-1"})
        self.assertEqual(status, 404)
        status, _, _ = self.c.http("GET", f"/v1/{name}", key=delegate,
                                   headers={"x-counsel-on-behalf-of": "client-2"})
        self.assertEqual(status, 200)

    def test_every_http_route_reaches_its_method(self):
        key = self.c.create_key("firm-a", ALL_SCOPES)
        status, doc, _ = self.c.http("GET", "/openapi.json")
        self.assertEqual(status, 200)
        filled = {"statute": "x", "provision": "art_1", "advice": "x", "case": "x",
                  "item": "k", "evidence": "e1", "webhook": "w1"}
        checked = 0
        for template, ops in doc["paths"].items():
            path = template
            for var, value in filled.items():
                path = path.replace("{" + var + "}", value)
            if not path.startswith("/v1/") or path.startswith("/v1/sessions"):
                continue  # health and sessions: not methods of the protos
            self.assertNotIn("{", path, template)
            for verb in ops:
                if verb == "parameters":
                    continue
                method = verb.upper()
                body = {} if method in ("POST", "PATCH", "PUT") else None
                if path.endswith(":watch"):
                    continue  # a stream: covered by the watch tests
                status, out, _ = self.c.http(method, urllib.parse.quote(path, safe="/:"),
                                             key=key, body=body)
                message = out.get("message", "") if isinstance(out, dict) else ""
                self.assertNotIn(status, (405, 501), f"{method} {path}: {out}")
                self.assertFalse(message.startswith("no route"), f"{method} {path}")
                checked += 1
        self.assertGreaterEqual(checked, 30)


if __name__ == "__main__":
    unittest.main()
