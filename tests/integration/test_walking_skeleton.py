"""The three real binaries answer on loopback: HTTP and gRPC through the
gateway, keys, signed contexts, health and reflection."""
import json
import os
import signal
import sys
import unittest

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster, pb_fields, pb_varint  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402
from counsel.guidance.v1 import guidance_pb2  # noqa: E402

STATUTE = "statutes/public-security-administration-punishments"
SERVING = 1


def unary(channel, method, request, response_type):
    return channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response_type.FromString)


def health(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check")
        reply = check(b"", timeout=10)
        return dict((f, v) for f, _, v in pb_fields(reply)).get(1, 0)


def reflected_services(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        info = ch.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        # ServerReflectionRequest{list_services: ""} is field 7, length 0.
        replies = list(info(iter([bytes([7 << 3 | 2]) + pb_varint(0)]), timeout=10))
    names = []
    for f, _, v in pb_fields(replies[0]):
        if f == 6:  # list_services_response
            for f2, _, service in pb_fields(v):
                if f2 == 1:
                    names += [n.decode() for f3, _, n in pb_fields(service) if f3 == 1]
    return names


class WalkingSkeletonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(BUILD).__enter__()
        c = cls.cluster
        cls.key = c.create_key("firm-a", ["guidance.read", "cases.read", "cases.write",
                                          "cases.pii"])
        cls.admin = c.create_key("firm-a", ["cases.admin"])
        cls.gw = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}")

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.cluster.__exit__(None, None, None)

    def auth(self, key=None):
        return [("authorization", f"Bearer {key or self.key}")]

    def test_http_lists_the_statute_with_a_key(self):
        status, body, headers = self.cluster.http("GET", "/v1/statutes", key=self.key)
        self.assertEqual(status, 200, body)
        self.assertIn(STATUTE, [s["name"] for s in body["statutes"]])
        psap = next(s for s in body["statutes"] if s["name"] == STATUTE)
        self.assertEqual([v["versionId"] for v in psap["versions"]], ["2013-01-01", "2026-01-01"])
        self.assertIn("x-request-id", headers)

    def test_http_without_key_is_401(self):
        status, body, _ = self.cluster.http("GET", "/v1/statutes")
        self.assertEqual(status, 401)
        self.assertEqual(body["code"], grpc.StatusCode.UNAUTHENTICATED.value[0])

    def test_http_reads_a_provision_as_of_a_date(self):
        status, body, _ = self.cluster.http(
            "GET", f"/v1/{STATUTE}/provisions/art_42__para_1__item_6?asOf=2020-01-01",
            key=self.key)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["text"], "（六）偷窥、偷拍、窃听、散布他人隐私的。")
        status, body, _ = self.cluster.http(
            "GET", f"/v1/{STATUTE}/provisions/art_42?asOf=2010-01-01", key=self.key)
        # The law was in force in 2010 (from 2006); the corpus holds its text
        # only from 2013: a gap in the corpus, not in the law.
        self.assertEqual(status, 404)
        self.assertEqual(body["details"][0]["reason"], "NOT_IN_CORPUS")
        self.assertEqual(body["details"][0]["metadata"]["corpus_from"], "2013-01-01")
        self.assertNotIn("no version in force", body["message"])
        status, statute, _ = self.cluster.http("GET", f"/v1/{STATUTE}", key=self.key)
        self.assertEqual((status, statute["corpusFrom"]), (200, "2013-01-01"))

    def test_grpc_reads_article_42_as_of_2020_with_six_items(self):
        get = unary(self.gw, "/counsel.guidance.v1.GuidanceService/GetProvision",
                    guidance_pb2.GetProvisionRequest, guidance_pb2.Provision)
        p = get(guidance_pb2.GetProvisionRequest(name=f"{STATUTE}/provisions/art_42",
                                                 as_of="2020-01-01"),
                metadata=self.auth(), timeout=10)
        self.assertEqual(p.label, "第四十二条")
        self.assertEqual([i.eid for i in p.children[0].children],
                         [f"art_42__para_1__item_{n}" for n in range(1, 7)])
        self.assertEqual(p.version.version_id, "2013-01-01")

    def test_grpc_without_key_is_unauthenticated(self):
        get = unary(self.gw, "/counsel.guidance.v1.GuidanceService/GetProvision",
                    guidance_pb2.GetProvisionRequest, guidance_pb2.Provision)
        with self.assertRaises(grpc.RpcError) as e:
            get(guidance_pb2.GetProvisionRequest(name=f"{STATUTE}/provisions/art_42"), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_grpc_missing_scope_is_permission_denied(self):
        reader = self.cluster.create_key("firm-a", ["guidance.read"])
        create = unary(self.gw, "/counsel.cases.v1.CaseService/CreateCase",
                       cases_pb2.CreateCaseRequest, cases_pb2.Case)
        with self.assertRaises(grpc.RpcError) as e:
            create(cases_pb2.CreateCaseRequest(), metadata=self.auth(reader), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    def test_backends_refuse_calls_without_a_signed_context(self):
        for port, method, req, resp in [
                (self.cluster.guidance_port, "/counsel.guidance.v1.GuidanceService/ListStatutes",
                 guidance_pb2.ListStatutesRequest(), guidance_pb2.ListStatutesResponse),
                (self.cluster.cases_port, "/counsel.cases.v1.CaseService/GetCase",
                 cases_pb2.GetCaseRequest(name="cases/x"), cases_pb2.Case)]:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
                with self.assertRaises(grpc.RpcError) as e:
                    # Even a key that works at the gateway means nothing to a backend.
                    unary(ch, method, type(req), resp)(req, metadata=self.auth(), timeout=10)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_create_and_get_a_case_over_both_transports(self):
        status, created, _ = self.cluster.http("POST", "/v1/cases", key=self.key, body={
            "client": {"id": "crm-7", "displayName": "张三", "phone": "138 1234 5678"},
            "leakedData": ["LEAKED_DATA_PHONE", "LEAKED_DATA_NATIONAL_ID"]})
        self.assertEqual(status, 200, created)
        self.assertEqual(created["client"]["phone"], "+8613812345678")
        get = unary(self.gw, "/counsel.cases.v1.CaseService/GetCase", cases_pb2.GetCaseRequest,
                    cases_pb2.Case)
        c = get(cases_pb2.GetCaseRequest(name=created["name"]), metadata=self.auth(), timeout=10)
        self.assertEqual(c.client.display_name, "张三")
        self.assertEqual(c.severity, cases_pb2.SEVERITY_HIGH)
        # The case pinned the shipped advice and copied its checklist.
        self.assertTrue(c.advice.startswith("advice/personal-information-leak@"), c.advice)
        self.assertIn("report-to-police", [i.key for i in c.checklist])
        # Another tenant's key sees nothing.
        other = self.cluster.create_key("firm-b", ["cases.read"])
        status, body, _ = self.cluster.http("GET", f"/v1/{created['name']}", key=other)
        self.assertEqual(status, 404)

    def test_streams_pass_through_the_gateway(self):
        watch = self.gw.unary_stream(
            "/counsel.cases.v1.CaseService/WatchChanges",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=cases_pb2.WatchChangesResponse.FromString)
        stream = watch(cases_pb2.WatchChangesRequest(), metadata=self.auth(), timeout=20)
        create = unary(self.gw, "/counsel.cases.v1.CaseService/CreateCase",
                       cases_pb2.CreateCaseRequest, cases_pb2.Case)
        c = create(cases_pb2.CreateCaseRequest(case=cases_pb2.Case(
            client=cases_pb2.Client(display_name="赵六"),
            leaked_data=[cases_pb2.LEAKED_DATA_EMAIL])), metadata=self.auth(), timeout=10)
        for reply in stream:
            if reply.HasField("change") and reply.change.event.case == c.name:
                self.assertEqual(reply.change.event.type, cases_pb2.CaseEvent.TYPE_CASE_CREATED)
                break
        stream.cancel()

        upload = self.gw.stream_unary(
            "/counsel.cases.v1.CaseService/AddEvidence",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=cases_pb2.Evidence.FromString)
        chunks = [cases_pb2.AddEvidenceRequest(
            parent=c.name, evidence=cases_pb2.Evidence(kind=cases_pb2.Evidence.KIND_SMS,
                                                       counterpart="10690000"))]
        chunks += [cases_pb2.AddEvidenceRequest(chunk=b"x" * 65536) for _ in range(5)]
        e = upload(iter(chunks), metadata=self.auth(), timeout=20)
        self.assertEqual(e.attachment.size_bytes, 5 * 65536)
        self.assertEqual(len(e.attachment.sha256), 64)

    def _watch_http(self, accept):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.cluster.http_port, timeout=20)
        conn.request("GET", "/v1/changes:watch", headers={
            "authorization": f"Bearer {self.key}", "accept": accept})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        return conn, resp

    def test_watch_over_http_as_sse_and_ndjson(self):
        for accept, ctype in (("text/event-stream", "text/event-stream"),
                              ("application/json", "application/x-ndjson")):
            conn, resp = self._watch_http(accept)
            self.assertEqual(resp.getheader("content-type"), ctype)
            status, created, _ = self.cluster.http("POST", "/v1/cases", key=self.key, body={
                "client": {"displayName": "钱七"}, "leakedData": ["LEAKED_DATA_ADDRESS"]})
            self.assertEqual(status, 200, created)
            found = False
            while not found:
                line = resp.fp.readline().decode()
                self.assertTrue(line, "stream ended early")
                if accept == "text/event-stream":
                    if line.startswith("data: ") and created["name"] in line:
                        found = True
                elif created["name"] in line:
                    self.assertEqual(json.loads(line)["change"]["event"]["case"], created["name"])
                    found = True
            conn.close()

    def test_evidence_over_http_in_one_body(self):
        status, created, _ = self.cluster.http("POST", "/v1/cases", key=self.key, body={
            "client": {"displayName": "孙八"}, "leakedData": ["LEAKED_DATA_PHONE"]})
        status, e, _ = self.cluster.http("POST", f"/v1/{created['name']}/evidence", key=self.key,
                                         body={"evidence": {"kind": "KIND_CALL",
                                                            "counterpart": "021-5555 1234"},
                                               "chunk": "aGVsbG8="})
        self.assertEqual(status, 200, e)
        self.assertEqual(e["attachment"]["sizeBytes"], "5")
        status, body, _ = self.cluster.http("POST", f"/v1/{created['name']}/evidence", key=self.key,
                                            body={"evidence": {"kind": "KIND_CALL"},
                                                  "chunk": "aGVsbG8=", "attachmentSha256": "00"})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["details"][0]["fieldViolations"][0]["field"], "attachment_sha256")

    def test_bad_input_is_400_naming_the_field(self):
        status, body, _ = self.cluster.http("POST", "/v1/cases", key=self.key, body={
            "client": {"displayName": "张三", "phone": "not a phone"},
            "leakedData": ["LEAKED_DATA_PHONE"]})
        self.assertEqual(status, 400)
        fields = [v["field"] for v in body["details"][0]["fieldViolations"]]
        self.assertEqual(fields, ["case.client.phone"])

    def test_unbuilt_methods_answer_unimplemented(self):
        status, body, _ = self.cluster.http("POST", "/v1/advice/x:rollback", key=self.key,
                                            body={"revisionId": "r"})
        self.assertEqual(status, 403, body)  # guidance.write is missing
        status, body, _ = self.cluster.http("POST", "/v1/audit:verify", key=self.admin, body={})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["ok"])

    def test_case_brief_cites_the_law_as_on_the_incident_date(self):
        status, created, _ = self.cluster.http("POST", "/v1/cases", key=self.key, body={
            "client": {"displayName": "周九"}, "leakedData": ["LEAKED_DATA_PHONE"],
            "occurredOn": "2020-06-01", "discoveredTime": "2020-06-03T08:00:00Z"})
        self.assertEqual(status, 200, created)
        status, brief, _ = self.cluster.http("GET", f"/v1/{created['name']}:brief", key=self.key)
        self.assertEqual(status, 200, brief)
        self.assertEqual(brief["asOf"], "2020-06-01")
        self.assertEqual(brief["case"]["name"], created["name"])
        by_name = {p["name"]: p for p in brief["provisions"]}
        # The advice (third revision) cites 刑法 第二百五十三条之一: on the
        # incident date, the text as amended in 2015.
        crime = by_name["statutes/criminal-law/provisions/art_253-1"]
        self.assertEqual(crime["version"]["versionId"], "2015-11-01")
        # 治安管理处罚法 第五十六条 (personal information) is new in the 2026
        # text: nothing of it was in force in 2020.
        self.assertNotIn(f"{STATUTE}/provisions/art_56", by_name, "not in force in 2020")
        self.assertNotIn(f"{STATUTE}/provisions/art_42__para_1__item_6", by_name,
                         "the privacy item is no longer cited for a leaked number")
        # The civil code took effect in 2021 (its first text is its
        # original): its citations come back stale with the reason, and the
        # brief lists them instead of dropping them.
        cited = [c for s in brief["advice"]["sections"] for st in s["steps"]
                 if st["key"] == "consult-lawyer" for c in st.get("citedProvisions", [])]
        civil = [c for c in cited if c["provision"].startswith("statutes/civil-code/")]
        self.assertTrue(civil, brief["advice"])
        for c in civil:
            self.assertTrue(c["stale"], c)
            self.assertEqual(c["staleReason"], "NOT_IN_FORCE", c)
            self.assertIn("took effect on 2021-01-01", c["staleDetail"])
        listed = {c["provision"]: c for c in brief.get("staleCitations", [])}
        for c in civil:
            self.assertEqual(listed[c["provision"]]["staleReason"], "NOT_IN_FORCE")
        # A foreign tenant gets NOT_FOUND for the whole brief.
        other = self.cluster.create_key("firm-b", ["cases.read", "guidance.read"])
        status, _, _ = self.cluster.http("GET", f"/v1/{created['name']}:brief", key=other)
        self.assertEqual(status, 404)

    def test_advice_is_served_with_its_pinned_citations(self):
        status, body, _ = self.cluster.http(
            "GET", "/v1/advice/personal-information-leak?locale=en", key=self.key)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["locale"], "en")
        self.assertEqual(body["revisionNumber"], "4")

    def test_list_advice_returns_only_the_fields_of_its_read_mask(self):
        status, body, _ = self.cluster.http(
            "GET", "/v1/advice?filter=incident_types%3Apersonal-information-leak"
                   "&readMask=name,revisionId", key=self.key)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["advice"]), 1)
        self.assertEqual(set(body["advice"][0]), {"name", "revisionId"}, body)
        status, err, _ = self.cluster.http("GET", "/v1/advice?readMask=sections.steps",
                                           key=self.key)
        self.assertEqual(status, 400, err)
        self.assertIn("read_mask.paths[0]", err["message"])

    def test_health_is_serving_on_all_three(self):
        for port in (self.cluster.guidance_port, self.cluster.cases_port,
                     self.cluster.gateway_port):
            self.assertEqual(health(port), SERVING)
        status, body, _ = self.cluster.http("GET", "/healthz")
        self.assertEqual(status, 200)

    def test_openapi_document_is_served(self):
        status, doc, _ = self.cluster.http("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(doc["openapi"], "3.0.3")
        self.assertIn("/v1/statutes/{statute}/provisions/{provision}", doc["paths"])
        self.assertIn("/v1/cases/{case}:brief", doc["paths"])

    def test_reflection_lists_the_services(self):
        self.assertIn("counsel.guidance.v1.GuidanceService",
                      reflected_services(self.cluster.guidance_port))
        self.assertIn("counsel.cases.v1.CaseService", reflected_services(self.cluster.cases_port))
        at_gateway = reflected_services(self.cluster.gateway_port)
        for s in ("counsel.guidance.v1.GuidanceService", "counsel.cases.v1.CaseService",
                  "counsel.gateway.v1.PortalService", "grpc.health.v1.Health"):
            self.assertIn(s, at_gateway)

    def test_access_log_holds_no_key_secret_and_no_personal_data(self):
        self.cluster.http("POST", "/v1/cases", key=self.key, headers={"x-request-id": "leak-check-1"},
                          body={"client": {"displayName": "李秘密", "phone": "13900001111"},
                                "leakedData": ["LEAKED_DATA_PHONE"]})
        access = self.cluster.programs["gateway"].wait_for(
            lambda e: e.get("event") == "access" and e.get("request_id") == "leak-check-1")
        self.assertEqual(access["tenant"], "firm-a")
        self.assertEqual(access["code"], 200)
        logs = self.cluster.logs()
        secret = self.key.split("_", 2)[2]
        self.assertNotIn(secret, logs)
        self.assertNotIn("13900001111", logs)
        self.assertNotIn("李秘密", logs)
        self.assertIn('"event":"access"', logs)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_drains_and_exits_zero(self):
        with Cluster(BUILD) as c:
            for role in ("gateway", "cases", "guidance"):
                self.assertEqual(c.programs[role].stop(signal.SIGTERM), 0, role)
                self.assertTrue(any('"event":"stopped"' in line
                                    for line in c.programs[role].lines), role)


if __name__ == "__main__":
    unittest.main()
