"""Attacks on the mobile back end's routes: a cases.contribute key trying
everything outside its list, another client's or tenant's evidence, a key
without cases.pii downloading bytes that cannot be masked, and an uploaded
"image" that is HTML with a header-splitting file name. Bounded, loopback."""
import base64
import http.client
import json
import os
import sys
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402


def raw_form(port, path, key, parts, extra_headers=None):
    """POSTs a multipart form built by hand (names curl would refuse)."""
    boundary = "b0undary7f3"
    body = b""
    for headers, data in parts:
        body += f"--{boundary}\r\n".encode() + headers.encode() + b"\r\n\r\n" + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"authorization": f"Bearer {key}",
         "content-type": f"multipart/form-data; boundary={boundary}"}
    h.update(extra_headers or {})
    conn.request("POST", path, body=body, headers=h)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw) if raw else None


class MobileAttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD).__enter__()
        c = cls.c
        cls.crm = c.create_key("firm-a", ["cases.read", "cases.write", "cases.pii"])
        cls.cases = {}
        for client in ("client-1", "client-2"):
            status, case, _ = c.http("POST", "/v1/cases", key=cls.crm, body={
                "client": {"id": client, "displayName": "李四"}, "leakedData": ["LEAKED_DATA_PHONE"]})
            assert status == 200, case
            cls.cases[client] = case["name"]
            status, ev, _ = c.http("POST", f"/v1/{case['name']}/evidence", key=cls.crm, body={
                "evidence": {"kind": "KIND_SCREENSHOT",
                             "attachment": {"filename": "a.png", "contentType": "image/png"}},
                "chunk": base64.b64encode(b"PNG-" + client.encode()).decode()})
            assert status == 200, ev
            cls.cases[client + "/evidence"] = ev["name"]
        cls.app = c.create_key("firm-a", ["cases.contribute", "cases.delegate", "guidance.read"])
        cls.as1 = {"x-counsel-on-behalf-of": "client-1"}

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    def test_contributor_is_refused_everything_outside_its_list(self):
        own = self.cases["client-1"]
        attempts = [
            ("PATCH", f"/v1/{own}?updateMask=summary", {"summary": "x"}),
            ("POST", f"/v1/{own}:transition", {"state": "STATE_TRIAGED", "reason": "x"}),
            ("POST", f"/v1/{own}:eraseClientData", {"reason": "x"}),
            ("GET", "/v1/cases:stats", None),
            ("POST", "/v1/cases", {"client": {"id": "client-1"}, "leakedData": ["LEAKED_DATA_PHONE"]}),
            ("POST", "/v1/audit:verify", {}),
        ]
        for method, path, body in attempts:
            status, err, _ = self.c.http(method, path, key=self.app, body=body, headers=self.as1)
            self.assertEqual(status, 403, (path, err))
        # What it may do, it may do only for the client it acts for.
        status, listed, _ = self.c.http("GET", "/v1/cases", key=self.app, headers=self.as1)
        self.assertEqual([c["name"] for c in listed["cases"]], [own])
        status, brief, _ = self.c.http("GET", f"/v1/{own}:brief", key=self.app, headers=self.as1)
        self.assertEqual(status, 200, brief)
        # Unbound and naming no client, it can do nothing.
        status, err, _ = self.c.http("GET", f"/v1/{own}", key=self.app)
        self.assertEqual(status, 403)
        lone = self.c.create_key("firm-a", ["cases.contribute"])
        status, err, _ = self.c.http("GET", "/v1/cases", key=lone)
        self.assertEqual(status, 403)
        self.assertIn("one client", err["message"])

    def test_another_clients_evidence_and_notes_are_not_found(self):
        theirs = self.cases["client-2"]
        theirs_ev = self.cases["client-2/evidence"]
        for method, path in [("GET", f"/v1/{theirs_ev}"), ("GET", f"/v1/{theirs_ev}:download"),
                             ("GET", f"/v1/{theirs}/notes"), ("GET", f"/v1/{theirs}/evidence")]:
            status, _, _ = self.c.http(method, path, key=self.app, headers=self.as1)
            self.assertEqual(status, 404, path)
        # A batch read is all or nothing: one foreign name fails it whole.
        own = self.cases["client-1"]
        status, got, _ = self.c.http("GET", f"/v1/cases:batchGet?names={own}&names={own}",
                                     key=self.app, headers=self.as1)
        self.assertEqual((status, [c["name"] for c in got["cases"]]), (200, [own, own]))
        status, err, _ = self.c.http("GET", f"/v1/cases:batchGet?names={own}&names={theirs}",
                                     key=self.app, headers=self.as1)
        self.assertEqual(status, 404, err)
        self.assertNotIn("cases", err)
        # An evidence name that pairs the own case with the other's entry id.
        own = self.cases["client-1"]
        mixed = f"{own}/evidence/{theirs_ev.rsplit('/', 1)[1]}"
        status, _, _ = self.c.http("GET", f"/v1/{mixed}:download", key=self.app, headers=self.as1)
        self.assertEqual(status, 404)
        # An upload by form into the other client's case stores nothing.
        status, _ = raw_form(self.c.http_port, f"/v1/{theirs}/evidence", self.app, [
            ('Content-Disposition: form-data; name="evidence"', b'{"kind":"KIND_SMS"}')],
            self.as1)
        self.assertEqual(status, 404)
        status, listed, _ = self.c.http("GET", f"/v1/{theirs}/evidence", key=self.crm)
        self.assertEqual(len(listed["evidence"]), 1)
        # Another tenant, even with every scope.
        other = self.c.create_key("firm-b", ["cases.read", "cases.pii"])
        status, _, _ = self.c.http("GET", f"/v1/{theirs_ev}:download", key=other)
        self.assertEqual(status, 404)

    def test_attachment_needs_pii_or_the_clients_own_key(self):
        ev = self.cases["client-1/evidence"]
        reader = self.c.create_key("firm-a", ["cases.read"])
        status, err, _ = self.c.http("GET", f"/v1/{ev}:download", key=reader)
        self.assertEqual(status, 403, err)
        self.assertIn("cases.pii", err["message"])
        # Its description is still readable (masked where personal).
        status, _, _ = self.c.http("GET", f"/v1/{ev}", key=reader)
        self.assertEqual(status, 200)
        for key, headers in [(self.crm, {}), (self.app, self.as1),
                             (self.c.create_key("firm-a", ["cases.read"], client="client-1"), {})]:
            conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=30)
            conn.request("GET", f"/v1/{ev}:download",
                         headers={"authorization": f"Bearer {key}", **headers})
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b"PNG-client-1"))
            conn.close()
        status, _, _ = self.c.http("GET", f"/v1/{ev}:download")
        self.assertEqual(status, 401)

    def test_uploaded_html_is_never_served_as_a_page(self):
        own = self.cases["client-1"]
        status, ev = raw_form(self.c.http_port, f"/v1/{own}/evidence", self.app, [
            ('Content-Disposition: form-data; name="file"; filename="x\\"; evil=1.html"\r\n'
             'Content-Type: text/html', b"<script>alert(1)</script>"),
            ('Content-Disposition: form-data; name="evidence"', b'{"kind":"KIND_DOCUMENT"}')],
            self.as1)
        self.assertEqual(status, 200, ev)
        conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=30)
        conn.request("GET", f"/v1/{ev['name']}:download",
                     headers={"authorization": f"Bearer {self.app}", **self.as1})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        disposition = resp.getheader("content-disposition")
        self.assertTrue(disposition.startswith('attachment; filename="x_; evil=1.html"'),
                        disposition)
        self.assertEqual(resp.getheader("x-content-type-options"), "nosniff")
        self.assertEqual(resp.getheader("content-security-policy"), "sandbox")
        # A content type that would split the headers is refused at upload.
        status, err, _ = self.c.http("POST", f"/v1/{own}/evidence", key=self.app, headers=self.as1,
                                     body={"evidence": {"kind": "KIND_SMS", "attachment": {
                                         "contentType": "text/html\r\nx-evil: 1"}},
                                           "chunk": base64.b64encode(b"x").decode()})
        self.assertEqual(status, 400, err)


if __name__ == "__main__":
    unittest.main()
