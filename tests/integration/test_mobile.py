"""The mobile back end's half of the API, over HTTP only, as its developer
would call it with curl: evidence uploaded by multipart form (file part first
or last) and by JSON, downloaded whole and by range with its digest checked,
notes read back, checklist ticks that are idempotent, and a 25 MiB form
refused without the gateway's memory growing."""
import base64
import hashlib
import http.client
import json
import os
import subprocess
import sys
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster, rss_kib  # noqa: E402

MIB = 1 << 20


def curl(*args):
    """curl's answer as (status, body bytes, headers dict)."""
    r = subprocess.run(["curl", "-sS", "-D", "-", "-o", "-", *args], capture_output=True,
                       timeout=120, check=False)
    raw = r.stdout
    # Skip interim answers (100 Continue).
    while raw.startswith(b"HTTP/1.1 100"):
        raw = raw.split(b"\r\n\r\n", 1)[1]
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    if not lines[0]:
        return 0, r.stderr, {}
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    return status, body, headers


class MobileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD).__enter__()
        cls.base = f"http://127.0.0.1:{cls.c.http_port}"
        crm = cls.c.create_key("firm-a", ["cases.read", "cases.write", "cases.pii"])
        status, case, _ = cls.c.http("POST", "/v1/cases", key=crm, body={
            "client": {"id": "client-1", "displayName": "张三", "phone": "13812345678"},
            "leakedData": ["LEAKED_DATA_PHONE"]})
        assert status == 200, case
        cls.case = case["name"]
        # The app's key: one delegate key acting for each client in turn.
        cls.app = cls.c.create_key("firm-a", ["cases.contribute", "cases.delegate",
                                              "guidance.read"])
        cls.auth = ["-H", f"authorization: Bearer {cls.app}",
                    "-H", "x-counsel-on-behalf-of: client-1"]
        cls.file = os.path.join(cls.c.dir, "截图.png")
        cls.data = os.urandom(700 * 1024 + 7)
        with open(cls.file, "wb") as f:
            f.write(cls.data)

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    def upload_form(self, *parts, extra=()):
        args = [*self.auth, *extra]
        for p in parts:
            args += ["-F", p]
        status, body, _ = curl(*args, f"{self.base}/v1/{self.case}/evidence")
        return status, json.loads(body) if body else None

    def download(self, name, range_header=None):
        args = list(self.auth)
        if range_header:
            args += ["-H", f"range: {range_header}"]
        return curl(*args, f"{self.base}/v1/{name}:download")

    def evidence_count(self):
        status, listed, _ = self.c.http("GET", f"/v1/{self.case}/evidence", key=self.app,
                                        headers={"x-counsel-on-behalf-of": "client-1"})
        self.assertEqual(status, 200)
        return len(listed.get("evidence", []))

    def test_form_upload_with_the_file_first_then_download(self):
        # The order curl users write first: the file, then its description.
        status, ev = self.upload_form(f"file=@{self.file};type=image/png",
                                      'evidence={"kind":"KIND_SCREENSHOT","summary":"短信截图"}')
        self.assertEqual(status, 200, ev)
        sha = hashlib.sha256(self.data).hexdigest()
        self.assertEqual(ev["attachment"]["sha256"], sha)
        self.assertEqual(ev["attachment"]["filename"], "截图.png")
        self.assertEqual(ev["attachment"]["contentType"], "image/png")
        self.assertEqual(int(ev["attachment"]["sizeBytes"]), len(self.data))
        status, body, h = self.download(ev["name"])
        self.assertEqual(status, 200)
        self.assertEqual(body, self.data)
        self.assertEqual(h["content-type"], "image/png")
        self.assertEqual(int(h["content-length"]), len(self.data))
        self.assertEqual(h["repr-digest"],
                         "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode()
                         + ":")
        self.assertIn("filename*=UTF-8''%E6%88%AA%E5%9B%BE.png", h["content-disposition"])
        self.assertTrue(h["content-disposition"].startswith("attachment;"))
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["accept-ranges"], "bytes")
        # GetEvidence describes the same entry.
        status, got, _ = self.c.http("GET", f"/v1/{ev['name']}", key=self.app,
                                     headers={"x-counsel-on-behalf-of": "client-1"})
        self.assertEqual((status, got["attachment"]["sha256"]), (200, sha))

    def test_ranges(self):
        status, ev = self.upload_form(f'evidence={{"kind":"KIND_DOCUMENT"}};type=application/json',
                                      f"file=@{self.file}")
        self.assertEqual(status, 200, ev)
        n = len(self.data)
        for header, first, last in [("bytes=0-99", 0, 99), ("bytes=65530-65545", 65530, 65545),
                                    (f"bytes={n - 10}-", n - 10, n - 1), ("bytes=-5", n - 5, n - 1),
                                    (f"bytes=100-{n + 500}", 100, n - 1)]:
            status, body, h = self.download(ev["name"], header)
            self.assertEqual(status, 206, header)
            self.assertEqual(body, self.data[first:last + 1], header)
            self.assertEqual(h["content-range"], f"bytes {first}-{last}/{n}", header)
            self.assertEqual(int(h["content-length"]), last - first + 1)
        # A range past the end is 416; several ranges send the whole.
        status, _, _ = self.download(ev["name"], f"bytes={n}-")
        self.assertEqual(status, 416)
        status, body, _ = self.download(ev["name"], "bytes=0-1,5-6")
        self.assertEqual((status, body), (200, self.data))

    def test_json_upload_downloads_the_same_bytes(self):
        small = os.urandom(5000)
        status, ev, _ = self.c.http(
            "POST", f"/v1/{self.case}/evidence", key=self.app,
            headers={"x-counsel-on-behalf-of": "client-1"},
            body={"evidence": {"kind": "KIND_SMS", "attachment": {"filename": "sms.txt",
                                                                  "contentType": "text/plain"}},
                  "chunk": base64.b64encode(small).decode(),
                  "attachmentSha256": hashlib.sha256(small).hexdigest()})
        self.assertEqual(status, 200, ev)
        status, body, h = self.download(ev["name"])
        self.assertEqual((status, body, h["content-type"]), (200, small, "text/plain"))

    def test_form_errors_name_the_part_and_store_nothing(self):
        before = self.evidence_count()
        cases = [
            ([f"file=@{self.file}"], "evidence"),                             # no evidence part
            (['evidence={"kind":"KIND_NOPE"}', f"file=@{self.file}"], "evidence.kind"),
            (['evidence={"kind":"KIND_SMS"', f"file=@{self.file}"], "evidence"),  # bad JSON
            (['evidence={"kind":"KIND_SMS"}', f"file=@{self.file}", f"other=@{self.file}"],
             "other"),                                                       # two files
            (['evidence={"kind":"KIND_SMS"}', "colour=red"], "colour"),       # unknown part
            (['evidence={"kind":"KIND_SMS"}', f"file=@{self.file}", "attachmentSha256=" + "0" * 64],
             "attachment_sha256"),
        ]
        for parts, field in cases:
            status, err = self.upload_form(*parts)
            self.assertEqual(status, 400, (parts, err))
            fields = [v["field"] for d in err.get("details", []) for v in d.get("fieldViolations", [])]
            self.assertIn(field, fields, (parts, err))
        self.assertEqual(self.evidence_count(), before)
        # multipart anywhere else is 415.
        status, _, _ = curl(*self.auth, "-F", "note=x", f"{self.base}/v1/{self.case}/notes")
        self.assertEqual(status, 415)

    def test_form_upload_is_idempotent_by_request_id(self):
        parts = ['evidence={"kind":"KIND_CALL","counterpart":"+8613900001111"}',
                 f"file=@{self.file}", "requestId=mobile-upload-1"]
        s1, a = self.upload_form(*parts)
        s2, b = self.upload_form(*parts)
        self.assertEqual((s1, s2), (200, 200), (a, b))
        self.assertEqual(a["name"], b["name"])

    def test_notes_and_idempotent_ticks(self):
        hdr = {"x-counsel-on-behalf-of": "client-1"}
        status, note, _ = self.c.http("POST", f"/v1/{self.case}/notes", key=self.app, headers=hdr,
                                      body={"text": "客户补充：骗子来电 13900001111"})
        self.assertEqual(status, 200, note)
        status, notes, _ = self.c.http("GET", f"/v1/{self.case}/notes", key=self.app, headers=hdr)
        self.assertEqual(status, 200)
        self.assertIn(note["name"], [n["name"] for n in notes["notes"]])
        status, case, _ = self.c.http("GET", f"/v1/{self.case}", key=self.app, headers=hdr)
        item = case["checklist"][0]
        path = f"/v1/{item['name']}"
        status, first, _ = self.c.http("PATCH", f"{path}?updateMask=state", key=self.app,
                                       headers=hdr, body={"state": "STATE_DONE",
                                                          "etag": item["etag"]})
        self.assertEqual(status, 200, first)
        status, events1, _ = self.c.http("GET", f"/v1/{self.case}/events", key=self.app, headers=hdr)
        status, again, _ = self.c.http("PATCH", f"{path}?updateMask=state", key=self.app,
                                       headers=hdr, body={"state": "STATE_DONE"})
        self.assertEqual((status, again), (200, first))
        status, events2, _ = self.c.http("GET", f"/v1/{self.case}/events", key=self.app, headers=hdr)
        self.assertEqual(len(events1["events"]), len(events2["events"]))
        # The etag it had before the tick is stale now.
        status, _, _ = self.c.http("PATCH", f"{path}?updateMask=state", key=self.app, headers=hdr,
                                   body={"state": "STATE_SKIPPED", "etag": item["etag"]})
        self.assertEqual(status, 409)

    def test_oversized_forms_are_refused_without_memory_growth(self):
        big = os.path.join(self.c.dir, "big.bin")
        with open(big, "wb") as f:
            f.write(b"\0" * (25 * MIB))
        gw = self.c.programs["gateway"].proc.pid
        before = rss_kib(gw)
        count = self.evidence_count()
        # With a Content-Length: refused before the body is sent (curl waits
        # for 100 Continue).
        status, err = self.upload_form('evidence={"kind":"KIND_DOCUMENT"}', f"file=@{big}")
        self.assertEqual(status, 413, err)
        # Chunked, so the length is learned only by reading: refused at 20 MiB.
        status, err = self.upload_form('evidence={"kind":"KIND_DOCUMENT"}', f"file=@{big}",
                                       extra=["-H", "transfer-encoding: chunked"])
        self.assertEqual(status, 413, err)
        grown = rss_kib(gw) - before
        print(f"gateway RSS growth over two refused 25 MiB forms: {grown} KiB")
        self.assertLess(grown, 8 * 1024)
        self.assertEqual(self.evidence_count(), count)


if __name__ == "__main__":
    unittest.main()
