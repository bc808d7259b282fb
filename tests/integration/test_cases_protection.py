"""Personal data never leaks, and acknowledged writes survive kill -9.

Runs the three real binaries. The leak canary gives a client recognisable
personal data, drives every case method (failures included), then searches
every log line, every error message, the change feed and the raw bytes of
the database and its WAL for it. The crash loop kills case-svc with SIGKILL
under concurrent writes through the gateway and checks that every
acknowledged case is there afterwards, whole, with a valid audit chain."""
import http.client
import json
import os
import shutil
import signal
import sys
import threading
import unittest

import grpc

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import ON_POSTGRES, Cluster  # noqa: E402
from counsel.cases.v1 import cases_pb2  # noqa: E402

NAME = "欧阳测试甲"
PHONE = "13700001234"
EMAIL = "canary@leak.example"
NATIONAL_ID = "110105199003071239"
COUNTERPART = "13799998888"
CANARIES = [NAME, PHONE, EMAIL, NATIONAL_ID, COUNTERPART, "7000-0123", "9999-8888"]


class LeakCanaryTest(unittest.TestCase):
    def test_no_personal_data_anywhere(self):
        with Cluster(BUILD) as c:
            full = c.create_key("firm-a", ["cases.read", "cases.write", "cases.pii",
                                           "cases.admin", "guidance.read"])
            dash = c.create_key("firm-a", ["cases.read", "guidance.read"])
            seen = []  # every response body and error text a client saw

            def call(method, path, key=full, body=None):
                status, out, _ = c.http(method, path, key=key, body=body)
                seen.append(json.dumps(out, ensure_ascii=False))
                return status, out

            status, case = call("POST", "/v1/cases", body={
                "client": {"id": "crm-77", "displayName": NAME, "phone": PHONE, "email": EMAIL,
                           "nationalId": NATIONAL_ID},
                "leakedData": ["LEAKED_DATA_PHONE", "LEAKED_DATA_NATIONAL_ID"]})
            self.assertEqual(status, 200, case)
            name = case["name"]
            # Failures: bad input, stale etag, forbidden transition, foreign tenant.
            call("POST", "/v1/cases", body={"client": {"displayName": NAME, "phone": PHONE + "9"},
                                            "leakedData": ["LEAKED_DATA_PHONE"]})
            call("POST", "/v1/cases", body={"client": {"displayName": NAME,
                                                       "nationalId": NATIONAL_ID[:-1] + "0"},
                                            "leakedData": ["LEAKED_DATA_PHONE"]})
            call("PATCH", f"/v1/{name}?updateMask=summary", body={"etag": "r99", "summary": "x"})
            call("POST", f"/v1/{name}:transition", body={"state": "STATE_CLOSED", "reason": "x"})
            call("GET", f"/v1/{name}", key=c.create_key("firm-b", ["cases.read"]))
            call("GET", "/v1/cases?filter=" + "client.phone%20%3D%20%22" + PHONE + "%22")
            call("GET", "/v1/cases?filter=client.phone%20%3D%20%22not-a-phone%22")
            # Reads with and without cases.pii, evidence, notes, events, feed, stats.
            call("GET", f"/v1/{name}")
            call("GET", f"/v1/{name}", key=dash)
            call("POST", f"/v1/{name}/evidence", body={
                "evidence": {"kind": "KIND_CALL", "counterpart": COUNTERPART,
                             "summary": "冒充客服来电"}, "chunk": "aGVsbG8="})
            call("GET", f"/v1/{name}/evidence", key=dash)
            call("POST", f"/v1/{name}/notes", body={"note": {"text": f"{NAME} 说 {PHONE} 已停用"}})
            call("GET", f"/v1/{name}/events")
            call("GET", "/v1/cases:stats")
            status, changes = call("GET", "/v1/changes")
            feed = json.dumps(changes, ensure_ascii=False)
            call("GET", f"/v1/{name}:brief", key=dash)
            call("POST", "/v1/audit:verify", body={})
            for canary in CANARIES:
                self.assertNotIn(canary, feed, "change feed")
            status, dash_view, _ = c.http("GET", f"/v1/{name}", key=dash)
            for canary in CANARIES:
                self.assertNotIn(canary, json.dumps(dash_view, ensure_ascii=False), "masked read")
            # Errors never echo personal data.
            errors = [s for s in seen if '"code"' in s]
            self.assertGreaterEqual(len(errors), 5)
            for e in errors:
                for canary in CANARIES:
                    self.assertNotIn(canary, e, e)
            # Files: the database and its WAL (or every file of the
            # PostgreSQL server) while running, and after a stop.
            for when in ("running", "stopped"):
                if when == "stopped":
                    c.programs["gateway"].stop()
                    c.programs["cases"].stop()
                raw = c.store_bytes()
                self.assertGreater(len(raw), 4096)
                for canary in CANARIES:
                    self.assertNotIn(canary.encode(), raw, f"the store's files ({when})")
            for canary in CANARIES:
                self.assertNotIn(canary, c.logs(), "logs")


class CrashLoopTest(unittest.TestCase):
    ROUNDS = int(os.environ.get(
        "COUNSEL_CRASH_ROUNDS", "20" if os.environ.get("COUNSEL_LONG_TESTS") == "1" else "3"))

    def test_kill_minus_nine_loses_no_acknowledged_case(self):
        with Cluster(BUILD) as c:
            key = c.create_key("firm-a", ["cases.read", "cases.write", "cases.admin"])
            acked, lock = [], threading.Lock()
            stop = threading.Event()

            def writer(n):
                ch = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}")
                create = ch.unary_unary("/counsel.cases.v1.CaseService/CreateCase",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=cases_pb2.Case.FromString)
                i = 0
                while not stop.is_set():
                    i += 1
                    req = cases_pb2.CreateCaseRequest(request_id=f"w{n}-{i}", case=cases_pb2.Case(
                        client=cases_pb2.Client(display_name="测试"),
                        leaked_data=[cases_pb2.LEAKED_DATA_PHONE]))
                    try:
                        got = create(req, metadata=[("authorization", f"Bearer {key}")], timeout=5)
                        with lock:
                            acked.append(got.name)
                    except grpc.RpcError:
                        pass  # not acknowledged: may or may not exist
                ch.close()

            threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for _ in range(self.ROUNDS):
                target = len(acked) + 50
                while len(acked) < target:
                    threading.Event().wait(0.01)
                c.restart("cases")  # SIGKILL, then start again on the same port
            stop.set()
            for t in threads:
                t.join()
            self.assertGreaterEqual(len(acked), 50 * self.ROUNDS)
            c.programs["gateway"].stop()
            c.programs["cases"].stop()
            if not ON_POSTGRES:
                self.assertEqual(c.cases_rows("PRAGMA integrity_check")[0][0], "ok")
            ids = {r[0] for r in c.cases_rows("SELECT case_id FROM cases")}
            missing = [a for a in acked if a[len("cases/"):] not in ids]
            self.assertEqual(missing, [], "acknowledged cases lost")
            # No partial rows: each case has its created event and audit entry.
            n_cases = int(c.cases_rows("SELECT count(*) FROM cases")[0][0])
            n_created = int(c.cases_rows("SELECT count(*) FROM audit_log WHERE action = "
                                         "'TYPE_CASE_CREATED'")[0][0])
            self.assertEqual(n_cases, n_created)
            verify = c.run("counsel-cases", "audit", "verify", f"--db={c.cases_db}",
                           f"--audit_key_file={c.audit_key}", check=False)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)


class RestoreDrillTest(unittest.TestCase):
    @unittest.skipIf(ON_POSTGRES, "SQLite's online backup; PostgreSQL backs up itself")
    def test_backup_under_load_restores_with_every_acknowledged_case(self):
        with Cluster(BUILD) as c:
            key = c.create_key("firm-a", ["cases.read", "cases.write"])
            ch = grpc.insecure_channel(f"127.0.0.1:{c.gateway_port}")
            create = ch.unary_unary("/counsel.cases.v1.CaseService/CreateCase",
                                    request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=cases_pb2.Case.FromString)
            get = ch.unary_unary("/counsel.cases.v1.CaseService/GetCase",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=cases_pb2.Case.FromString)
            md = [("authorization", f"Bearer {key}")]
            acked, lock, stop = [], threading.Lock(), threading.Event()

            def writer():
                while not stop.is_set():
                    got = create(cases_pb2.CreateCaseRequest(case=cases_pb2.Case(
                        client=cases_pb2.Client(display_name="测试"),
                        leaked_data=[cases_pb2.LEAKED_DATA_EMAIL])), metadata=md, timeout=10)
                    with lock:
                        acked.append(got.name)

            t = threading.Thread(target=writer)
            t.start()
            while len(acked) < 30:
                threading.Event().wait(0.01)
            with lock:
                before = list(acked)  # acknowledged before the backup began
            backup = os.path.join(c.dir, "backup.db")
            c.run("counsel-cases", "backup", f"--to={backup}",
                  f"--db={os.path.join(c.dir, 'cases.db')}")
            stop.set()
            t.join()
            # Restore into a new folder and start case-svc on it.
            restored_dir = os.path.join(c.dir, "restored")
            os.makedirs(restored_dir)
            restored = os.path.join(restored_dir, "cases.db")
            os.rename(backup, restored)
            # The erasure ledger travels with the keys, never in a backup.
            shutil.copy(os.path.join(c.dir, "cases.db.erasures"), restored + ".erasures")
            verify = c.run("counsel-cases", "audit", "verify", f"--db={restored}",
                           f"--audit_key_file={c.audit_key}", check=False)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            prog = c.programs["cases"]
            prog.argv = [a if not a.startswith("--db=") else f"--db={restored}" for a in prog.argv]
            c.restart("cases", sig=signal.SIGTERM)
            for name in before:
                got = get(cases_pb2.GetCaseRequest(name=name), metadata=md, timeout=10)
                self.assertEqual(got.name, name)
            ch.close()


if __name__ == "__main__":
    unittest.main()
