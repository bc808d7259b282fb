"""Attacks on the dashboard's routes, over plain HTTP on loopback: path
traversal and encoded variants, methods other than GET, an open redirect
through /dashboard, framing and sniffing (every answer under /dashboard/
carries the policy headers, errors included), and a session cookie used
without its CSRF token. The page itself (script injection through case
content, CSP violations) is attacked in tests/browser/test_dashboard.py."""
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


def raw(port, method, target, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, target, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


class DashboardAttackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    def test_only_the_compiled_files_are_served(self):
        for target in ["/dashboard/../openapi.json", "/dashboard/%2e%2e/openapi.json",
                       "/dashboard/assets/../../v1/cases", "/dashboard/assets/%2e%2e%2fmetrics",
                       "/dashboard/index.html", "/dashboard/js/main.js", "/dashboard/make_assets.py",
                       "/dashboard/assets/", "/dashboard//etc/passwd", "/dashboard/" + "a" * 4000]:
            status, headers, body = raw(self.c.http_port, "GET", target)
            self.assertIn(status, (400, 404, 414, 431), target)
            self.assertNotIn(b"openapi", body[:200], target)
            self.assertNotIn(b"root:", body, target)

    def test_policy_headers_on_every_answer(self):
        status, headers, page = raw(self.c.http_port, "GET", "/dashboard/")
        self.assertEqual(status, 200)
        assets = [p.decode() for p in __import__("re").findall(rb'"(assets/[^"]+)"', page)]
        self.assertGreaterEqual(len(assets), 2)
        for target in ["/dashboard/", "/dashboard/nope", f"/dashboard/{assets[0]}"]:
            status, headers, _ = raw(self.c.http_port, "GET", target)
            csp = headers.get("content-security-policy", "")
            self.assertIn("frame-ancestors 'none'", csp, target)
            self.assertIn("script-src 'self'", csp, target)
            self.assertNotIn("unsafe", csp, target)
            self.assertEqual(headers.get("x-content-type-options"), "nosniff", target)
            self.assertEqual(headers.get("x-frame-options"), "DENY", target)
            self.assertEqual(headers.get("referrer-policy"), "no-referrer", target)
        _, headers, _ = raw(self.c.http_port, "GET", "/dashboard/")
        self.assertEqual(headers["cache-control"], "no-cache")
        _, headers, _ = raw(self.c.http_port, "GET", f"/dashboard/{assets[0]}")
        self.assertIn("immutable", headers["cache-control"])

    def test_no_open_redirect_and_no_writes(self):
        for target in ["/dashboard", "/dashboard?next=//evil.example", "/dashboard?%0d%0aSet-Cookie:x=1"]:
            status, headers, _ = raw(self.c.http_port, "GET", target)
            self.assertEqual(status, 301, target)
            self.assertEqual(headers["location"], "/dashboard/", target)
            self.assertNotIn("set-cookie", headers, target)
        for method in ["POST", "PUT", "DELETE", "PATCH"]:
            status, _, _ = raw(self.c.http_port, method, "/dashboard/", body=b"{}",
                               headers={"content-type": "application/json"})
            self.assertIn(status, (404, 405), method)

    def test_head_has_no_body_and_the_connection_stays_in_step(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=10)
        conn.request("HEAD", "/dashboard/")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertGreater(int(r.getheader("content-length")), 100)
        self.assertEqual(r.read(), b"")
        conn.request("GET", "/healthz")  # the same connection: the next answer is intact
        r = conn.getresponse()
        self.assertEqual((r.status, r.read()), (200, b"ok\n"))
        conn.close()

    def test_a_cookie_without_its_csrf_token_changes_nothing(self):
        key = self.c.create_key("firm-a", ["cases.read", "cases.write"])
        conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=10)
        conn.request("POST", "/v1/sessions", body=json.dumps({"apiKey": key}),
                     headers={"content-type": "application/json"})
        r = conn.getresponse()
        r.read()
        cookie = r.getheader("set-cookie").split(";")[0]
        conn.close()
        body = json.dumps({"client": {"id": "c1", "displayName": "x"},
                           "leakedData": ["LEAKED_DATA_PHONE"]}).encode()
        status, _, _ = raw(self.c.http_port, "POST", "/v1/cases", body=body,
                           headers={"cookie": cookie, "content-type": "application/json",
                                    "origin": "http://evil.example"})
        self.assertEqual(status, 403)
        status, _, listed = raw(self.c.http_port, "GET", "/v1/cases", headers={"cookie": cookie})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(listed).get("cases", []), [])


if __name__ == "__main__":
    unittest.main()
