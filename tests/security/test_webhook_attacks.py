"""Attacks through webhooks, bounded and on loopback: a URL aimed at the
machine's own services, cloud metadata, link-local or a name resolving to
loopback; a receiver that redirects elsewhere; a receiver whose TLS
certificate no CA vouches for; another tenant reading or steering a firm's
webhooks or receiving its events; narrower and client-bound keys; and the
secret looked for in logs, answers and the files on disk."""
import os
import subprocess
import sys
import tempfile
import threading
import http.server
import ssl
import time
import unittest
import json

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402
from webhook_receiver import Receivers  # noqa: E402

OPEN = {"cases": {"webhook_allow_http": "true", "webhook_allow_private_targets": "true",
                  "webhook_retry_initial": "100ms", "webhook_retry_max": "300ms",
                  "webhook_timeout": "3s"}}

NEVER = ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/",
         "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/",
         "http://100.100.100.200/latest/meta-data/", "http://0.0.0.0:80/",
         "http://2130706433/", "http://0x7f.0.0.1/", "http://user:pw@127.0.0.1/"]


def post(c, key, url, expect):
    status, out, _ = c.http("POST", "/v1/webhooks", key=key, body={"url": url})
    return status, out


class StrictPolicyTest(unittest.TestCase):
    """The default operator policy: https and public addresses only."""

    def test_loopback_private_and_plain_http_refused(self):
        with Cluster(BUILD) as c:
            admin = c.create_key("firm-a", ["cases.admin"])
            for url in ["http://crm.example.com/hook", "https://127.0.0.1/hook",
                        "https://localhost:8443/hook", "https://10.0.0.8/hook",
                        "https://[::1]/hook", "https://192.168.1.20/hook"] + NEVER:
                status, out = post(c, admin, url, 400)
                self.assertEqual(status, 400, (url, out))
                self.assertIn("webhook.url", json.dumps(out), url)
            status, out, _ = c.http("GET", "/v1/webhooks", key=admin)
            self.assertEqual(out.get("webhooks", []), [])


class OpenPolicyAttackTest(Receivers, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD, OPEN).__enter__()
        cls.a = cls.c.create_key("firm-a", ["cases.read", "cases.write", "cases.admin"])
        cls.b = cls.c.create_key("firm-b", ["cases.read", "cases.write", "cases.admin"])

    @classmethod
    def tearDownClass(cls):
        cls.close_receivers()
        cls.c.__exit__(None, None, None)

    def create(self, key, url, **fields):
        status, out, _ = self.c.http("POST", "/v1/webhooks", key=key, body={"url": url, **fields})
        self.assertEqual(status, 200, out)
        return out

    def new_case(self, key):
        status, out, _ = self.c.http("POST", "/v1/cases", key=key, body={
            "client": {"id": "client-1", "displayName": "李四", "phone": "13900001111"},
            "leakedData": ["LEAKED_DATA_PHONE"]})
        self.assertEqual(status, 200, out)
        return out["name"]

    def test_metadata_and_link_local_refused_even_with_both_flags(self):
        r = self.receiver()
        w = self.create(self.a, r.url)
        for url in NEVER:
            status, out = post(self.c, self.a, url, 400)
            self.assertEqual(status, 400, (url, out))
            status, out, _ = self.c.http("PATCH", f"/v1/{w['name']}?updateMask=url",
                                         key=self.a, body={"url": url})
            self.assertEqual(status, 400, (url, out))
            self.assertIn("webhook.url", json.dumps(out))
        status, got, _ = self.c.http("GET", f"/v1/{w['name']}", key=self.a)
        self.assertEqual(got["url"], r.url)

    def test_redirect_is_not_followed(self):
        elsewhere = self.receiver()
        r = self.receiver(status=lambda d: (302, {"location": elsewhere.url}))
        w = self.create(self.a, r.url, eventTypes=["case.created"])
        self.new_case(self.a)
        r.wait(lambda ds: len(ds) >= 2)  # the first attempt and a retry
        self.assertEqual(elsewhere.deliveries, [])
        status, log, _ = self.c.http("GET", f"/v1/{w['name']}/deliveries", key=self.a)
        self.assertEqual(log["deliveries"][0]["outcome"], "OUTCOME_FAILED")
        self.assertIn("redirect", log["deliveries"][0]["error"])
        self.c.http("DELETE", f"/v1/{w['name']}", key=self.a)

    def test_unverifiable_tls_is_refused(self):
        d = tempfile.mkdtemp(prefix="counsel-tls-")
        cert, keyf = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", keyf, "-out", cert], check=True, capture_output=True)
        hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                hits.append(1)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, keyf)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            w = self.create(self.a, f"https://127.0.0.1:{srv.server_address[1]}/hook",
                            eventTypes=["case.created"])
            self.new_case(self.a)
            deadline = time.time() + 20
            while True:
                _, log, _ = self.c.http("GET", f"/v1/{w['name']}/deliveries", key=self.a)
                if log.get("deliveries"):
                    break
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            first = log["deliveries"][-1]
            self.assertEqual(first["outcome"], "OUTCOME_FAILED")
            self.assertNotIn("statusCode", first)
            self.assertEqual(hits, [])  # the handshake failed: no request was made
            self.c.http("DELETE", f"/v1/{w['name']}", key=self.a)
        finally:
            srv.shutdown()
            srv.server_close()
            subprocess.run(["rm", "-rf", d], check=False)

    def test_tenants_never_see_or_steer_each_other(self):
        ra, rb = self.receiver(), self.receiver()
        wa = self.create(self.a, ra.url)
        wb = self.create(self.b, rb.url)
        for method, path, body in [("GET", f"/v1/{wa['name']}", None),
                                   ("PATCH", f"/v1/{wa['name']}?updateMask=url", {"url": rb.url}),
                                   ("DELETE", f"/v1/{wa['name']}", None),
                                   ("POST", f"/v1/{wa['name']}:rotateSecret", {}),
                                   ("POST", f"/v1/{wa['name']}:replay", {}),
                                   ("POST", f"/v1/{wa['name']}:test", {}),
                                   ("GET", f"/v1/{wa['name']}/deliveries", None)]:
            status, out, _ = self.c.http(method, path, key=self.b, body=body)
            self.assertEqual(status, 404, (method, path, out))
        _, listed, _ = self.c.http("GET", "/v1/webhooks", key=self.b)
        self.assertEqual([w["name"] for w in listed["webhooks"]], [wb["name"]])
        # A cursor of firm-a's feed means nothing to firm-b's replay.
        status, _, _ = self.c.http("POST", f"/v1/{wb['name']}:replay", key=self.b,
                                   body={"cursor": wa["cursor"]})
        self.assertEqual(status, 400)
        case_a = self.new_case(self.a)
        ra.wait(lambda ds: any(d["json"]["data"].get("case") == case_a for d in ds))
        case_b = self.new_case(self.b)
        rb.wait(lambda ds: any(d["json"]["data"].get("case") == case_b for d in ds))
        self.assertTrue(all(d["json"]["data"]["tenant"] == "firm-b" for d in rb.deliveries))
        self.assertFalse(any(d["json"]["data"].get("case") == case_a for d in rb.deliveries))

    def test_narrower_and_client_bound_keys_refused(self):
        writer = self.c.create_key("firm-a", ["cases.read", "cases.write", "cases.pii"])
        bound = self.c.create_key("firm-a", ["cases.read", "cases.admin"], client="client-1")
        r = self.receiver()
        for key, code in [(writer, 403), (bound, 403), ("not-a-key", 401)]:
            status, out, _ = self.c.http("POST", "/v1/webhooks", key=key, body={"url": r.url})
            self.assertEqual(status, code, out)
            status, out, _ = self.c.http("GET", "/v1/webhooks", key=key)
            self.assertEqual(status, code, out)

    def test_secret_never_in_logs_answers_or_files(self):
        r = self.receiver()
        w = self.create(self.a, r.url + "?token=crm-private-token")
        secret = w["secret"]
        self.new_case(self.a)
        r.wait(lambda ds: len(ds) >= 1)
        rotated = self.c.http("POST", f"/v1/{w['name']}:rotateSecret", key=self.a, body={})[1]
        for method, path in [("GET", f"/v1/{w['name']}"), ("GET", "/v1/webhooks"),
                             ("GET", f"/v1/{w['name']}/deliveries")]:
            _, out, _ = self.c.http(method, path, key=self.a)
            text = json.dumps(out)
            self.assertNotIn(secret[6:], text)
            self.assertNotIn(rotated["secret"][6:], text)
        logs = self.c.logs()
        for s in (secret, rotated["secret"]):
            self.assertNotIn(s[6:], logs)
        self.assertNotIn("crm-private-token", logs)
        raw = b""
        if self.c.postgres:
            raw = self.c.store_bytes()  # every file of the server
        for name in os.listdir(self.c.dir):
            if name.startswith("webhooks.db"):
                with open(os.path.join(self.c.dir, name), "rb") as f:
                    raw += f.read()
        self.assertTrue(raw)
        for s in (secret, rotated["secret"]):
            self.assertNotIn(s[6:].encode(), raw)
        self.assertNotIn(b"crm-private-token", raw)


if __name__ == "__main__":
    unittest.main()
