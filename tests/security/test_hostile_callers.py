"""Hostile callers against the real binaries, on loopback, bounded.

Each test is one attack that worked against an earlier release: a gzip bomb
with no key, a forged log line in a header, the delegation header on a key
that cannot use it, bad keys locking out good ones behind one address,
one key holding every stream, world-readable database files, two processes
migrating one new database at once, impossible dates and control characters,
and what a client-bound key could learn from conflicts and request ids."""
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import ON_POSTGRES, Cluster, rss_kib  # noqa: E402

GET_PROVISION = "/counsel.guidance.v1.GuidanceService/GetProvision"
WATCH = "/counsel.cases.v1.CaseService/WatchChanges"
LEAK = {"client": {"displayName": "测试乙", "phone": "13700002222"},
        "leakedData": ["LEAKED_DATA_PHONE"]}




def raw(b):
    return b


def first_message(call):
    """Waits for a stream's first message (a bookmark comes every second):
    the gateway has admitted it and holds its slot."""
    next(iter(call))
    return call


def error_fields(body):
    """Field names of every BadRequest violation in a JSON google.rpc.Status."""
    out = []
    for d in (body or {}).get("details", []):
        out += [v.get("field") for v in d.get("fieldViolations", [])]
    return out


class HostileCallersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        flags = {"gateway": {"max_streams_per_key": 3, "max_streams_per_tenant": 5}}
        cls.c = Cluster(BUILD, extra_flags=flags).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    # (a) A compressed message is refused before it is inflated, with or
    # without a key, by all three programs.
    def test_compressed_requests_are_refused_before_inflating(self):
        bomb = bytes(128 << 20)  # 128 MiB of zeros: about 128 KiB as gzip
        for role, port in (("gateway", self.c.gateway_port), ("cases", self.c.cases_port),
                           ("guidance", self.c.guidance_port)):
            pid = self.c.programs[role].proc.pid
            before = rss_kib(pid)
            with grpc.insecure_channel(f"127.0.0.1:{port}",
                                       compression=grpc.Compression.Gzip) as ch:
                call = ch.unary_unary(GET_PROVISION, request_serializer=raw,
                                      response_deserializer=raw)
                with self.assertRaises(grpc.RpcError) as e:
                    call(bomb, timeout=30)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED, role)
            self.assertLess(rss_kib(pid) - before, 32 * 1024, role)
            self.assertIsNone(self.c.programs[role].proc.poll(), role)

    def test_compressed_http_bodies_are_not_inflated(self):
        import gzip
        import http.client
        bomb = gzip.compress(bytes(64 << 20))  # 64 MiB of zeros
        pid = self.c.programs["gateway"].proc.pid
        self.c.http("POST", "/v1/citations:resolve", body={"text": "x"})  # warm up
        before = rss_kib(pid)
        conn = http.client.HTTPConnection("127.0.0.1", self.c.http_port, timeout=30)
        conn.request("POST", "/v1/citations:resolve", body=bomb,
                     headers={"content-type": "application/json", "content-encoding": "gzip"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        # Measured at once: an inflated body is freed (unmapped) right after.
        grown = rss_kib(pid) - before
        conn.close()
        self.assertEqual(resp.status, 415, body)
        self.assertIn("Content-Encoding", body["message"])
        self.assertLess(grown, 16 * 1024)

    # A header value with a line break and a JSON object, sent with no key,
    # must not become a line of its own in any program's log.
    def test_log_lines_cannot_be_forged(self):
        import h2.config
        import h2.connection
        forged = '1S\n{"event":"access","forged":"yes"}'
        for port in (self.c.gateway_port, self.c.cases_port, self.c.guidance_port):
            conn = h2.connection.H2Connection(h2.config.H2Configuration(
                client_side=True, validate_outbound_headers=False,
                normalize_outbound_headers=False))
            conn.initiate_connection()
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(conn.data_to_send())
                conn.send_headers(1, [(":method", "POST"), (":scheme", "http"),
                                      (":path", GET_PROVISION), (":authority", "x"),
                                      ("content-type", "application/grpc"), ("te", "trailers"),
                                      ("grpc-timeout", forged),
                                      ("x-request-id", 'r\n{"event":"access","forged":"yes"}')],
                                  end_stream=False)
                conn.send_data(1, b"\x00\x00\x00\x00\x00", end_stream=True)
                s.sendall(conn.data_to_send())
                try:
                    while s.recv(65536):
                        pass
                except (socket.timeout, ConnectionError):
                    pass
        # Protobuf's own complaints (a string field that is not UTF-8) too.
        with grpc.insecure_channel(f"127.0.0.1:{self.c.cases_port}") as ch:
            get = ch.unary_unary("/counsel.cases.v1.CaseService/GetCase",
                                 request_serializer=raw, response_deserializer=raw)
            with self.assertRaises(grpc.RpcError):
                get(b"\x0a\x03\xff\xfe\n", timeout=10)
        # A marker call whose log line is awaited: everything before it is in.
        key = self.c.create_key("firm-log", ["guidance.read"])
        self.c.http("GET", "/v1/statutes", key=key, headers={"x-request-id": "log-marker"})
        self.c.programs["gateway"].wait_for(lambda e: e.get("request_id") == "log-marker")
        quoted = 0
        for prog in self.c.programs.values():
            for line in list(prog.lines):
                obj = json.loads(line)  # every line is one JSON object
                self.assertIsInstance(obj, dict, line)
                self.assertNotEqual(obj.get("forged"), "yes", line)
                quoted += obj.get("event") == "grpc" and "forged" in obj.get("message", "")
        # gRPC did quote the header: inside a field of its own JSON line.
        self.assertGreater(quoted, 0)

    def test_on_behalf_of_is_refused_where_it_cannot_apply(self):
        crm = self.c.create_key("firm-obo", ["cases.read", "cases.write"])
        bound = self.c.create_key("firm-obo", ["cases.read"], client="client-1")
        status, body, _ = self.c.http("GET", "/v1/cases", key=crm,
                                      headers={"x-counsel-on-behalf-of": "client-1"})
        self.assertEqual(status, 400, body)
        self.assertIn("x-counsel-on-behalf-of", error_fields(body))
        status, body, _ = self.c.http("GET", "/v1/cases", key=bound,
                                      headers={"x-counsel-on-behalf-of": "client-2"})
        self.assertEqual(status, 403, body)
        status, body, _ = self.c.http("GET", "/v1/cases", key=bound,
                                      headers={"x-counsel-on-behalf-of": "client-1"})
        self.assertEqual(status, 200, body)

    # (c) Failures count against the key id they present; behind one address
    # (an ingress) bad keys never lock out a valid one.
    def test_failed_keys_never_lock_out_a_valid_key(self):
        good = self.c.create_key("firm-auth", ["guidance.read"])
        victim = self.c.create_key("firm-auth", ["guidance.read"])
        key_id = victim.split("_")[1]
        wrong = f"ck_{key_id}_{'a' * 52}"
        garbage = "ck_" + "b" * 16 + "_" + "c" * 52
        codes = [self.c.http("GET", "/v1/statutes", key=k)[0]
                 for k in [wrong] * 30 + [garbage] * 30]
        self.assertIn(401, codes)
        self.assertIn(429, codes)  # the limiter did engage for each
        self.assertEqual(codes[:20], [401] * 20)
        for k in (good, victim):
            status, body, _ = self.c.http("GET", "/v1/statutes", key=k)
            self.assertEqual(status, 200, body)

    # (b) One key cannot hold every stream: caps per key and per tenant, and
    # keys of other tenants are untouched.
    def test_streams_are_capped_per_key_and_per_tenant(self):
        a = self.c.create_key("firm-streams", ["cases.read"])
        b = self.c.create_key("firm-streams", ["cases.read"])
        other = self.c.create_key("firm-other", ["cases.read"])
        ch = grpc.insecure_channel(f"127.0.0.1:{self.c.gateway_port}")
        watch = ch.unary_stream(WATCH, request_serializer=raw, response_deserializer=raw)
        held = []

        def open_stream(key):
            call = watch(b"", metadata=[("authorization", f"Bearer {key}")], timeout=60)
            held.append(call)
            return call

        def refused(key):
            call = open_stream(key)
            try:
                next(iter(call))
            except grpc.RpcError as e:
                return e.code(), e.details()
            return None, None

        try:
            for _ in range(3):
                first_message(open_stream(a))
            code, details = refused(a)
            self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("this key holds its limit of 3", details)
            for _ in range(2):
                first_message(open_stream(b))
            code, details = refused(b)
            self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("this tenant holds its limit of 5", details)
            # Another tenant: streams and unary calls as usual.
            first_message(open_stream(other))
            status, _, _ = self.c.http("GET", "/v1/cases", key=other)
            self.assertEqual(status, 200)
        finally:
            for call in held:
                call.cancel()
            ch.close()

    def test_a_key_can_carry_its_own_stream_cap(self):
        out = self.c.run("counsel-gateway", "keys", "create", f"--db={self.c.gateway_db}",
                         "--tenant=firm-own-cap", "--scopes=cases.read", "--max_streams=4")
        key = out.stdout.strip().splitlines()[-1]
        ch = grpc.insecure_channel(f"127.0.0.1:{self.c.gateway_port}")
        watch = ch.unary_stream(WATCH, request_serializer=raw, response_deserializer=raw)
        md = [("authorization", f"Bearer {key}")]
        held = [first_message(watch(b"", metadata=md, timeout=60)) for _ in range(4)]
        try:
            fifth = watch(b"", metadata=md, timeout=60)
            held.append(fifth)
            with self.assertRaises(grpc.RpcError) as e:
                next(iter(fifth))
            self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("4 open streams", e.exception.details())
        finally:
            for call in held:
                call.cancel()
            ch.close()
        bad = self.c.run("counsel-gateway", "keys", "create", f"--db={self.c.gateway_db}",
                         "--tenant=t", "--scopes=cases.read", "--max_streams=-1", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("max_streams", bad.stderr)

    @unittest.skipIf(ON_POSTGRES, "SQLite's files")
    def test_database_files_and_backups_are_private(self):
        key = self.c.create_key("firm-files", ["cases.read", "cases.write"])
        status, _, _ = self.c.http("POST", "/v1/cases", key=key, body=LEAK)
        self.assertEqual(status, 200)
        backup = os.path.join(self.c.dir, "backup.db")
        self.c.run("counsel-cases", "backup", f"--to={backup}",
                   f"--db={os.path.join(self.c.dir, 'cases.db')}",
                   f"--master_key_file={self.c.master_key}", f"--audit_key_file={self.c.audit_key}")
        checked = 0
        for name in os.listdir(self.c.dir):
            if ".db" in name:
                mode = stat.S_IMODE(os.stat(os.path.join(self.c.dir, name)).st_mode)
                self.assertEqual(mode & 0o077, 0, f"{name} is {oct(mode)}")
                checked += 1
        self.assertGreaterEqual(checked, 6)  # three databases with WAL, a backup

    @unittest.skipIf(ON_POSTGRES, "SQLite's STRICT tables; PostgreSQL's columns always hold their type")
    def test_tables_enforce_their_types(self):
        import sqlite3
        for db, table in (("cases.db", "cases"), ("cases.db", "audit_log"),
                          ("gateway.db", "api_keys"), ("guidance.db", "provisions")):
            con = sqlite3.connect(f"file:{os.path.join(self.c.dir, db)}?mode=ro", uri=True)
            try:
                sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                  (table,)).fetchone()[0]
            finally:
                con.close()
            self.assertTrue(sql.rstrip().endswith("STRICT"), (db, table, sql))
        # Someone holding the file cannot slip text in where a number belongs.
        copy = os.path.join(self.c.dir, "strict-copy.db")
        self.c.run("counsel-cases", "backup", f"--to={copy}",
                   f"--db={os.path.join(self.c.dir, 'cases.db')}")
        con = sqlite3.connect(copy)
        try:
            with self.assertRaises(sqlite3.Error):
                con.execute("INSERT INTO tenant_seq (tenant, seq) VALUES ('t', 'seven')")
        finally:
            con.close()
            os.remove(copy)

    def test_many_processes_may_open_a_new_database_at_once(self):
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "gateway.db")

            def create(i):
                return subprocess.run(
                    [self.c.bin("counsel-gateway"), "keys", "create", f"--db={db}",
                     f"--tenant=t{i}", "--scopes=cases.read"],
                    capture_output=True, text=True, timeout=60)
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(create, range(16)))
            for r in results:
                self.assertEqual(r.returncode, 0, r.stderr)
            listed = subprocess.run([self.c.bin("counsel-gateway"), "keys", "list", f"--db={db}"],
                                    capture_output=True, text=True, check=True).stdout
            self.assertEqual(listed.count("active"), 16)

    def test_impossible_dates_and_control_characters_are_refused(self):
        key = self.c.create_key("firm-values", ["cases.read", "cases.write"])
        cases = [
            ({"occurredOn": "9999-12-31"}, "case.occurred_on"),
            ({"occurredOn": "1899-12-31"}, "case.occurred_on"),
            ({"damageKnownOn": "9999-01-01"}, "case.damage_known_on"),
            ({"client": {"displayName": "张三\u0000"}}, "case.client.display_name"),
            ({"client": {"displayName": "张三\u001b[31m"}}, "case.client.display_name"),
            ({"client": {"displayName": "张\u202e三"}}, "case.client.display_name"),
            ({"client": {"displayName": "张三\n李四"}}, "case.client.display_name"),
            ({"summary": "电话\u202e打来"}, "case.summary"),
            ({"assignee": "律师\u0007"}, "case.assignee"),
        ]
        for change, field in cases:
            body = json.loads(json.dumps(LEAK))
            for k, v in change.items():
                if isinstance(v, dict):
                    body[k].update(v)
                else:
                    body[k] = v
            status, out, _ = self.c.http("POST", "/v1/cases", key=key, body=body)
            self.assertEqual(status, 400, (change, out))
            self.assertIn(field, error_fields(out), (change, out))
        status, listed, _ = self.c.http("GET", "/v1/cases", key=key)
        self.assertEqual(listed.get("cases", []), [], "bad input stored nothing")
        # Line breaks and tabs stay allowed in free text.
        ok = dict(LEAK, summary="第一行\n\t第二行", occurredOn="2026-01-05")
        status, out, _ = self.c.http("POST", "/v1/cases", key=key, body=ok)
        self.assertEqual(status, 200, out)

    # Narrow keys learn nothing about other clients' cases.
    def test_conflicts_and_request_ids_tell_a_narrow_key_nothing(self):
        firm = self.c.create_key("firm-narrow", ["cases.read", "cases.write"])
        bound = self.c.create_key("firm-narrow", ["cases.read", "cases.write"], client="c-2")
        status, first, _ = self.c.http("POST", "/v1/cases?requestId=req-1", key=firm,
                                       body=dict(LEAK, externalRef="CRM-1",
                                                 client=dict(LEAK["client"], id="c-1")))
        self.assertEqual(status, 200, first)
        # The same request id from the bound key is its own request.
        status, mine, _ = self.c.http("POST", "/v1/cases?requestId=req-1", key=bound,
                                      body=dict(LEAK, summary="另一个请求"))
        self.assertEqual(status, 200, mine)
        self.assertNotEqual(mine["name"], first["name"])
        # A narrow key may not set external_ref at all: no conflict to learn from.
        status, out, _ = self.c.http("POST", "/v1/cases", key=bound,
                                     body=dict(LEAK, externalRef="CRM-1"))
        self.assertEqual(status, 403, out)
        self.assertNotIn(first["name"], json.dumps(out))
        # The firm's own conflict on update names the field, not SQL.
        status, second, _ = self.c.http("POST", "/v1/cases", key=firm, body=LEAK)
        status, out, _ = self.c.http(
            "PATCH", f"/v1/{second['name']}?updateMask=externalRef", key=firm,
            body={"name": second["name"], "externalRef": "CRM-1"})
        self.assertEqual(status, 409, out)
        text = json.dumps(out)
        self.assertIn("case.external_ref", text)
        self.assertNotIn("UNIQUE", text)
        self.assertNotIn("constraint", text)


    # VerifyAuditLog shows a firm its own chain only; cursors and page
    # tokens show nothing and work nowhere else.
    def test_audit_cursors_and_page_tokens_show_one_tenant_nothing_of_another(self):
        a = self.c.create_key("firm-audit-a", ["cases.read", "cases.write", "cases.admin"])
        b = self.c.create_key("firm-audit-b", ["cases.read", "cases.write", "cases.admin"])
        a_bound = self.c.create_key("firm-audit-a", ["cases.read"], client="c-1")
        for _ in range(5):
            self.assertEqual(self.c.http("POST", "/v1/cases", key=a,
                                         body=dict(LEAK, client=dict(LEAK["client"], id="c-1")))[0],
                             200)
        self.assertEqual(self.c.http("POST", "/v1/cases", key=b, body=LEAK)[0], 200)
        status, verified, _ = self.c.http("POST", "/v1/audit:verify", key=b, body={})
        self.assertEqual(status, 200, verified)
        self.assertTrue(verified["ok"])
        self.assertEqual(int(verified["entriesChecked"]), 1, "firm B sees its own entry only")
        self.assertTrue(verified["head"].startswith("1:"), verified)
        # A head of firm A's chain means nothing in firm B's.
        status, va, _ = self.c.http("POST", "/v1/audit:verify", key=a, body={})
        self.assertEqual(int(va["entriesChecked"]), 5)
        status, cross, _ = self.c.http("POST", "/v1/audit:verify", key=b,
                                       body={"expectedHead": va["head"]})
        self.assertFalse(cross.get("ok", False), cross)
        # Cursors: opaque, and another tenant's does not open.
        status, changes, _ = self.c.http("GET", "/v1/changes", key=a)
        cursor = changes["nextCursor"]
        self.assertNotRegex(cursor, r"^[0-9]+$")
        status, body, _ = self.c.http("GET", f"/v1/changes?cursor={cursor}", key=b)
        self.assertEqual(status, 400, body)
        # Page tokens: bound to the tenant and the client binding.
        status, page, _ = self.c.http("GET", "/v1/cases?pageSize=2", key=a)
        token = page["nextPageToken"]
        for other in (b, a_bound):
            status, body, _ = self.c.http("GET", f"/v1/cases?pageSize=2&pageToken={token}",
                                          key=other)
            self.assertEqual(status, 400, body)
            self.assertIn("page_token", json.dumps(body))
        status, page2, _ = self.c.http("GET", f"/v1/cases?pageSize=2&pageToken={token}", key=a)
        self.assertEqual(status, 200, page2)
        case = page["cases"][0]["name"]
        status, events, _ = self.c.http("GET", f"/v1/{case}/events?pageSize=1", key=a)
        self.assertEqual(status, 200, events)
        if events.get("nextPageToken"):
            self.assertNotRegex(events["nextPageToken"], r"^[0-9]+$")


if __name__ == "__main__":
    unittest.main()
