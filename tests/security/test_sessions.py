"""Browser sessions through the real gateway, attacked as a page and a
forger would: the key is exchanged once for an HttpOnly cookie; the cookie
has exactly its key's tenant and scopes; a change of state needs the CSRF
token; the bearer header wins over a cookie; ending the session or revoking
its key stops the cookie; a session token is stored only as a hash."""
import http.client
import json
import os
import sys
import time
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402

CASE = {"client": {"displayName": "吴十"}, "leakedData": ["LEAKED_DATA_PHONE"]}


class SessionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    def call(self, method, path, cookie=None, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=30)
        h = dict(headers or {})
        if cookie:
            h["cookie"] = f"theme=dark; counsel_session={cookie}"
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            h.setdefault("content-type", "application/json")
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, (json.loads(raw) if raw else None), resp

    def sign_in(self, key):
        status, body, resp = self.call("POST", "/v1/sessions", body={"apiKey": key})
        self.assertEqual(status, 201, body)
        cookie = resp.getheader("set-cookie")
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, cookie)
        token = cookie.split(";")[0].split("=", 1)[1]
        return token, body

    def test_a_session_is_its_key_and_changes_need_the_csrf_token(self):
        key = self.c.create_key("firm-s", ["cases.read", "cases.write"])
        token, info = self.sign_in(key)
        self.assertEqual(info["tenant"], "firm-s")
        self.assertEqual(sorted(info["scopes"]), ["cases.read", "cases.write"])
        self.assertTrue(info["csrfToken"])
        self.assertIn("expireTime", info)
        self.assertNotIn(key, json.dumps(info), "the key is not echoed")
        status, body, _ = self.call("GET", "/v1/cases", cookie=token)
        self.assertEqual(status, 200, body)
        status, body, _ = self.call("POST", "/v1/cases", cookie=token, body=CASE)
        self.assertEqual(status, 403, body)
        self.assertIn("x-csrf-token", body["message"])
        status, body, _ = self.call("POST", "/v1/cases", cookie=token, body=CASE,
                                    headers={"x-csrf-token": "wrong"})
        self.assertEqual(status, 403, body)
        status, created, _ = self.call("POST", "/v1/cases", cookie=token, body=CASE,
                                       headers={"x-csrf-token": info["csrfToken"]})
        self.assertEqual(status, 200, created)
        # The page, reloaded, asks who it is (and its CSRF token) again.
        status, again, _ = self.call("GET", "/v1/sessions/current", cookie=token)
        self.assertEqual(status, 200, again)
        self.assertEqual(again["csrfToken"], info["csrfToken"])
        # EventSource sends cookies, not headers: the watch works with one.
        conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=30)
        conn.request("GET", "/v1/changes:watch", headers={
            "cookie": f"counsel_session={token}", "accept": "text/event-stream"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        resp.close()
        conn.close()

    def test_no_more_than_its_key(self):
        reader = self.c.create_key("firm-s2", ["cases.read"])
        token, info = self.sign_in(reader)
        status, body, _ = self.call("POST", "/v1/cases", cookie=token, body=CASE,
                                    headers={"x-csrf-token": info["csrfToken"]})
        self.assertEqual(status, 403, body)
        self.assertIn("cases.write", body["message"])

    def test_the_bearer_header_wins_over_a_cookie(self):
        a = self.c.create_key("firm-a1", ["cases.read", "cases.write"])
        b = self.c.create_key("firm-b1", ["cases.read"])
        self.c.http("POST", "/v1/cases", key=a, body=CASE)
        token, _ = self.sign_in(a)
        status, body, _ = self.call("GET", "/v1/cases", cookie=token,
                                    headers={"authorization": f"Bearer {b}"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body.get("cases", []), [], "firm B's key saw firm B's (empty) list")

    def test_sign_out_and_revocation_end_the_cookie(self):
        key = self.c.create_key("firm-s3", ["cases.read"])
        token, info = self.sign_in(key)
        status, body, _ = self.call("DELETE", "/v1/sessions/current", cookie=token)
        self.assertEqual(status, 403, "signing out needs the CSRF token too")
        status, body, resp = self.call("DELETE", "/v1/sessions/current", cookie=token,
                                       headers={"x-csrf-token": info["csrfToken"]})
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", resp.getheader("set-cookie"))
        status, body, _ = self.call("GET", "/v1/cases", cookie=token)
        self.assertEqual(status, 401, body)
        # Revoking the key ends its sessions within a second or so.
        token, _ = self.sign_in(key)
        self.assertEqual(self.call("GET", "/v1/cases", cookie=token)[0], 200)
        key_id = key.split("_")[1]
        self.c.run("counsel-gateway", "keys", "revoke", f"--db={self.c.gateway_db}", key_id)
        deadline = time.monotonic() + 10
        while self.call("GET", "/v1/cases", cookie=token)[0] != 401:
            self.assertLess(time.monotonic(), deadline, "the session outlived its key")
            time.sleep(0.05)

    def test_bad_sign_ins_and_stored_hashes(self):
        status, body, _ = self.call("POST", "/v1/sessions", body={"apiKey": "ck_nope"})
        self.assertEqual(status, 401, body)
        status, body, _ = self.call("POST", "/v1/sessions", body={})
        self.assertEqual(status, 400, body)
        self.assertIn("apiKey", json.dumps(body))
        status, body, _ = self.call("GET", "/v1/cases", cookie="cs_forged")
        self.assertEqual(status, 401, body)
        key = self.c.create_key("firm-s4", ["cases.read"])
        token, _ = self.sign_in(key)
        if self.c.postgres:
            raw = self.c.store_bytes()  # every file of the server
        else:
            with open(self.c.gateway_db, "rb") as f:
                raw = f.read()
            if os.path.exists(self.c.gateway_db + "-wal"):
                with open(self.c.gateway_db + "-wal", "rb") as f:
                    raw += f.read()
        self.assertNotIn(token.encode(), raw)
        self.assertNotIn(token, self.c.logs())


if __name__ == "__main__":
    unittest.main()
