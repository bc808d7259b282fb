"""The HTTP/JSON front on the event-driven server, through the real gateway.

No connection holds a thread: 300 idle SSE watchers and 300 slowloris
connections (one header line every few hundred milliseconds) are open while
/healthz and a unary route answer; the slow senders are cut off at the header
deadline; a watcher's resources are freed when its client leaves, not at the
next bookmark. Bodies: curl's default form content type is JSON, other types
415, every error a JSON google.rpc.Status. SSE that browsers can use: `id:`
on every change, `retry:`, `Last-Event-ID` resumes with nothing lost or
repeated, errors as `problem`. Percent-encoded names reach their method."""
import http.client
import json
import os
import re
import socket
import sys
import time
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster, await_condition  # noqa: E402

WATCHERS = 300
SLOW = 300
CASE = {"client": {"displayName": "周九"}, "leakedData": ["LEAKED_DATA_PHONE"]}




class HttpFrontTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Bookmarks once an hour: a watcher must be freed when its client
        # leaves, not when the next frame fails.
        flags = {"gateway": {"max_streams_per_key": 1000, "max_streams_per_tenant": 1000,
                             "http_header_timeout": "1s"},
                 "cases": {"bookmark_interval": "1h"}}
        cls.c = Cluster(BUILD, extra_flags=flags).__enter__()
        cls.key = cls.c.create_key("firm-http", ["cases.read", "cases.write", "guidance.read"],
                                   rate=100000)

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    def raw(self, data, read=True):
        s = socket.create_connection(("127.0.0.1", self.c.http_port), timeout=10)
        s.sendall(data)
        if not read:
            return s
        out = b""
        try:
            while b"\r\n\r\n" not in out or len(out) < 12:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            head, _, body = out.partition(b"\r\n\r\n")
            m = re.search(rb"content-length: (\d+)", head, re.I)
            while m and len(body) < int(m.group(1)):
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        finally:
            s.close()
        return int(head.split()[1]), head.decode(), body

    def in_flight(self):
        return self.c.in_flight()

    def open_watch(self, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=30)
        h = {"authorization": f"Bearer {self.key}", "accept": "text/event-stream"}
        h.update(headers or {})
        conn.request("GET", "/v1/changes:watch", headers=h)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        return conn, resp

    def test_idle_watchers_and_slow_senders_hold_no_thread(self):
        watchers = [self.open_watch() for _ in range(WATCHERS)]
        slow = []
        try:
            await_condition(lambda: self.in_flight() >= WATCHERS, "the watchers to be admitted")
            for _ in range(SLOW):
                s = socket.create_connection(("127.0.0.1", self.c.http_port), timeout=10)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                slow.append(s)
            # Other callers are served meanwhile (each within a 10 s deadline;
            # the old thread-per-connection server hung every route).
            for _ in range(5):
                status, body, _ = self.c.http("GET", "/healthz")
                self.assertEqual(status, 200)
                status, body, _ = self.c.http("GET", "/v1/statutes", key=self.key)
                self.assertEqual(status, 200, body)
            # A change reaches every idle watcher.
            status, created, _ = self.c.http("POST", "/v1/cases", key=self.key, body=CASE)
            self.assertEqual(status, 200, created)
            for conn, resp in watchers[:: WATCHERS // 10]:
                while True:
                    line = resp.fp.readline().decode()
                    self.assertTrue(line, "stream ended early")
                    if line.startswith("data: ") and created["name"] in line:
                        break
            # The slow senders are cut off at the header deadline (1 s here).
            for s in slow:
                s.settimeout(10)
                self.assertEqual(s.recv(100), b"", "a slow sender was not cut off")
        finally:
            for s in slow:
                s.close()
            for conn, resp in watchers:
                resp.close()  # the response holds the socket too
                conn.close()
        # Every watcher freed once its client left (bookmarks are an hour apart).
        await_condition(lambda: self.in_flight() == 0, "the watchers to be freed", timeout=10)

    def test_watchers_that_leave_at_once_are_survived(self):
        # A client that closes right after the response head (the write of
        # `retry:` still in flight) once crashed the gateway.
        for _ in range(100):
            conn, resp = self.open_watch()
            resp.close()
            conn.close()
        self.assertIsNone(self.c.programs["gateway"].proc.poll())
        status, _, _ = self.c.http("GET", "/healthz")
        self.assertEqual(status, 200)

    def test_bodies_and_errors(self):
        big = json.dumps(dict(CASE, summary="长" * 9000)).encode()  # over 8,192 bytes
        status, head, body = self.raw(
            b"POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + self.key.encode() +
            b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
            str(len(big)).encode() + b"\r\n\r\n" + big)
        self.assertEqual(status, 200, body[:300])
        status, head, body = self.raw(
            b"POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 2\r\n\r\n{}")
        self.assertEqual(status, 415)
        self.assertEqual(json.loads(body)["code"], 3)
        for request, want in ((b"GET /v1/nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404),
                              (b"DELETE /v1/statutes HTTP/1.1\r\nHost: x\r\n\r\n", 405),
                              (b"POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                               str(64 << 20).encode() + b"\r\n\r\n", 413),
                              (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                               b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n", 431)):
            status, head, body = self.raw(request)
            self.assertEqual(status, want, (request[:40], body))
            err = json.loads(body)
            self.assertIn("message", err)
            self.assertIsInstance(err["code"], int)
            self.assertIn("application/json", head)

    def test_sse_ids_retry_and_resume_with_last_event_id(self):
        conn, resp = self.open_watch()
        self.assertEqual(resp.fp.readline().decode().strip(), "retry: 2000")
        status, first, _ = self.c.http("POST", "/v1/cases", key=self.key, body=CASE)
        event = {}
        while "data" not in event or first["name"] not in event["data"]:
            event = {}
            while True:
                line = resp.fp.readline().decode().rstrip("\n")
                if not line:
                    break
                k, _, v = line.partition(": ")
                event[k] = v
        self.assertEqual(event["event"], "change")
        last_id = event["id"]
        self.assertTrue(last_id)
        resp.close()
        conn.close()
        # Written while nobody watched.
        status, second, _ = self.c.http("POST", "/v1/cases", key=self.key, body=CASE)
        conn, resp = self.open_watch({"last-event-id": last_id})
        names = []
        while second["name"] not in names:
            line = resp.fp.readline().decode()
            if line.startswith("data: "):
                names.append(json.loads(line[6:])["change"]["event"]["case"])
        resp.close()
        conn.close()
        self.assertNotIn(first["name"], names, "nothing repeated")
        # A bad cursor is a `problem` event (EventSource keeps `error` for itself).
        conn, resp = self.open_watch({"last-event-id": "not-a-cursor"})
        text = resp.read().decode()
        conn.close()
        self.assertIn("event: problem", text)
        self.assertNotIn("event: error", text)

    def test_locale_is_matched_by_bcp47(self):
        path = "/v1/advice/personal-information-leak"
        for query, header, want, fallback in (("?locale=en-US", None, "en", False),
                                              ("?locale=zh", None, "zh-CN", False),
                                              ("?locale=zh-Hans", None, "zh-CN", False),
                                              ("", "en-GB,en;q=0.9", "en", False),
                                              ("", "fr-CH, fr;q=0.9, en;q=0.8", "en", False),
                                              ("?locale=fr", None, "zh-CN", True),
                                              ("?locale=zh-CN", "en", "zh-CN", False)):
            headers = {"accept-language": header} if header else {}
            status, body, _ = self.c.http("GET", path + query, key=self.key, headers=headers)
            self.assertEqual(status, 200, body)
            self.assertEqual(body.get("locale", "zh-CN"), want, (query, header))
            self.assertEqual(body.get("localeFallback", False), fallback, (query, header))

    def test_every_bad_field_is_named_and_enums_list_their_values(self):
        status, body, _ = self.c.http("POST", "/v1/cases", key=self.key, body={
            "client": {"displayName": "x", "nickname": "y"}, "leakedData": ["PHONEX"],
            "severity": 7, "labels": "not-a-map", "summary": 12})
        self.assertEqual(status, 400, body)
        fields = {v["field"]: v["description"] for d in body["details"]
                  for v in d.get("fieldViolations", [])}
        self.assertEqual(set(fields), {"client.nickname", "leakedData[0]", "severity", "labels",
                                       "summary"}, fields)
        self.assertIn("LEAKED_DATA_PHONE", fields["leakedData[0]"])
        status, listed, _ = self.c.http("GET", "/v1/cases?pageSize=1000", key=self.key)
        self.assertNotIn("PHONEX", json.dumps(listed), "nothing was stored")

    def test_checklist_items_have_their_own_etag_and_ticks_are_idempotent(self):
        status, case, _ = self.c.http("POST", "/v1/cases", key=self.key, body=CASE)
        first, second = case["checklist"][0], case["checklist"][1]
        self.assertTrue(first["etag"])
        self.assertNotEqual(first["etag"], case["etag"])

        def tick(item, etag, state="STATE_DONE"):
            return self.c.http("PATCH", f"/v1/{item['name']}?updateMask=state", key=self.key,
                               body={"name": item["name"], "state": state, "etag": etag})

        def events():
            return len(self.c.http("GET", f"/v1/{case['name']}/events", key=self.key)[1]["events"])

        status, done, _ = tick(first, first["etag"])
        self.assertEqual(status, 200, done)
        self.assertNotEqual(done["etag"], first["etag"])
        before = events()
        status, again, _ = tick(first, done["etag"])
        self.assertEqual(status, 200, again)
        self.assertEqual(again, done, "the same answer: no rewrite of completeTime or etag")
        self.assertEqual(events(), before, "no new event")
        status, stale, _ = tick(first, first["etag"], "STATE_SKIPPED")
        self.assertEqual(status, 409, stale)
        # Ticking one item leaves the other's etag valid.
        status, other, _ = tick(second, second["etag"])
        self.assertEqual(status, 200, other)

    def test_percent_encoded_names_reach_their_method(self):
        status, created, _ = self.c.http("POST", "/v1/cases", key=self.key, body=CASE)
        name = created["name"]
        status, plain, _ = self.c.http("GET", f"/v1/{name}", key=self.key)
        status2, encoded, _ = self.c.http("GET", "/v1/" + name.replace("/", "%2F"), key=self.key)
        self.assertEqual((status, status2), (200, 200), encoded)
        self.assertEqual(plain["name"], encoded["name"])


if __name__ == "__main__":
    unittest.main()
