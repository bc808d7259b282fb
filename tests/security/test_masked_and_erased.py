"""Masked stays masked, erased stays erased: attacks on the real binaries.

A key without cases.pii tries to recover a masked phone number by filtering
(the bisection that recovered one in 158 queries), reads free text that
quotes identifiers, and the files are searched byte for byte: free text is
sealed at rest; after EraseClientData is acknowledged no byte of the client's
wrapped key or of anything sealed under it remains in the database, its WAL
or its free pages; a backup taken before the erasure, restored by the
documented procedure, does not bring the data back; and a database whose
erasure ledger is missing refuses to start."""
import json
import os
import shutil
import sys
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import ON_POSTGRES, Cluster, Program  # noqa: E402

PHONE = "13987654321"
NATIONAL_ID = "11010519491231002X"
FREE_TEXT = f"张三（身份证{NATIONAL_ID}，手机{PHONE}，邮箱 zhangsan@example.com）"
SUMMARY_MARK = "泄露于某某快递平台的订单"


class MaskedAndErasedTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(BUILD).__enter__()
        self.db = os.path.join(self.c.dir, "cases.db")
        self.full = self.c.create_key("firm-a", ["cases.read", "cases.write", "cases.pii",
                                                 "cases.admin"])
        self.dash = self.c.create_key("firm-a", ["cases.read", "cases.write"])

    def tearDown(self):
        self.c.__exit__(None, None, None)

    def create(self, client_id="crm-1", phone=PHONE):
        status, case = self.c.http("POST", "/v1/cases", key=self.full, body={
            "client": {"id": client_id, "displayName": "张三", "phone": phone,
                       "nationalId": NATIONAL_ID, "email": "zhangsan@example.com"},
            "summary": f"{SUMMARY_MARK}：{FREE_TEXT}",
            "leakedData": ["LEAKED_DATA_PHONE", "LEAKED_DATA_NATIONAL_ID"]})[:2]
        self.assertEqual(status, 200, case)
        return case

    def test_filters_on_personal_fields_need_the_pii_scope(self):
        case = self.create()
        attacks = ['client.phone = "13987654321"',
                   'state = NEW OR client.phone = "13900000000"',
                   'client.national_id = "11010519491231002X"',
                   'client.email = "zhangsan@example.com"',
                   'client.display_name = "张三"',
                   'NOT client.phone = "13987654321"']
        for f in attacks:
            for path in ("/v1/cases", "/v1/cases:stats"):
                status, body, _ = self.c.http("GET", f"{path}?filter={_q(f)}", key=self.dash)
                self.assertEqual(status, 403, (f, body))
                self.assertIn("client.", body["message"], body)
        by_counterpart = _q('counterpart = "13800001111"')
        status, body, _ = self.c.http(
            "GET", f"/v1/{case['name']}/evidence?filter={by_counterpart}", key=self.dash)
        self.assertEqual(status, 403, body)
        self.assertIn("counterpart", body["message"])
        # With cases.pii the lookup works as before.
        status, body, _ = self.c.http("GET", f"/v1/cases?filter={_q(attacks[0])}", key=self.full)
        self.assertEqual(status, 200, body)
        self.assertEqual([x["name"] for x in body["cases"]], [case["name"]])

    def test_free_text_is_masked_without_pii_and_sealed_at_rest(self):
        case = self.create()
        name = case["name"]
        s, ev, _ = self.c.http("POST", f"/v1/{name}/evidence", key=self.full, body={
            "evidence": {"kind": "KIND_CALL", "counterpart": "13800001111",
                         "summary": f"对方自称客服，报出{FREE_TEXT}"}})
        self.assertEqual(s, 200, ev)
        s, note, _ = self.c.http("POST", f"/v1/{name}/notes", key=self.dash,
                                 body={"text": f"回电 {PHONE}"})
        self.assertEqual(s, 200, note)
        self.assertNotIn(PHONE, json.dumps(note, ensure_ascii=False))
        s, moved, _ = self.c.http("POST", f"/v1/{name}:transition", key=self.full,
                                  body={"state": "STATE_TRIAGED", "reason": f"客户 {PHONE} 来电确认"})
        self.assertEqual(s, 200, moved)
        item = moved["checklist"][0]["name"]
        s, ticked, _ = self.c.http("PATCH", f"/v1/{item}?updateMask=state,note", key=self.full,
                                   body={"name": item, "state": "STATE_DONE",
                                         "note": f"已通知 {NATIONAL_ID}"})
        self.assertEqual(s, 200, ticked)
        seen = []
        # The writer without cases.pii gets the item back masked too.
        s, retick, _ = self.c.http("PATCH", f"/v1/{item}?updateMask=state", key=self.dash,
                                   body={"name": item, "state": "STATE_SKIPPED"})
        self.assertEqual(s, 200, retick)
        seen.append(json.dumps(retick, ensure_ascii=False))
        # An attachment's file name is free text too.
        s, shot, _ = self.c.http("POST", f"/v1/{name}/evidence", key=self.full, body={
            "evidence": {"kind": "KIND_SCREENSHOT", "attachment": {
                "filename": f"张三_身份证_{NATIONAL_ID}.jpg", "contentType": "image/jpeg"}},
            "chunk": "aGVsbG8="})
        self.assertEqual(s, 200, shot)
        for path in (f"/v1/{name}", "/v1/cases", f"/v1/{name}/evidence", f"/v1/{name}/events",
                     "/v1/changes"):
            s, body, _ = self.c.http("GET", path, key=self.dash)
            self.assertEqual(s, 200, (path, body))
            seen.append(json.dumps(body, ensure_ascii=False))
        text = "\n".join(seen)
        for secret in (PHONE, NATIONAL_ID, "zhangsan@example.com"):
            self.assertNotIn(secret, text, secret)
        self.assertIn("139****4321", text)
        self.assertIn("110105********002X", text)
        self.assertIn(SUMMARY_MARK, text)  # the rest of the text is there
        # The pii key reads it whole.
        s, body, _ = self.c.http("GET", f"/v1/{name}", key=self.full)
        self.assertIn(FREE_TEXT, body["summary"])
        s, body, _ = self.c.http("GET", f"/v1/{name}/events", key=self.full)
        self.assertIn(PHONE, json.dumps(body, ensure_ascii=False))
        # At rest, free text is sealed: nothing of it in the files.
        raw = self.c.store_bytes()
        for secret in (SUMMARY_MARK, PHONE, NATIONAL_ID, "对方自称客服", "已通知", "来电确认",
                       "张三_身份证"):
            self.assertNotIn(secret.encode(), raw, secret)

    SEALED = (("client_keys", "wrapped"),
              ("cases", "name_sealed, phone_sealed, email_sealed, national_id_sealed, text_sealed"),
              ("evidence", "counterpart_sealed, attachment_sealed, summary_sealed"),
              ("notes", "text_sealed"), ("events", "reason_sealed"))

    def sealed_values(self):
        """Every wrapped key and sealed value of the database, read raw."""
        values = []
        for table, cols in self.SEALED:
            for row in self.c.cases_rows(f"SELECT {cols} FROM {table}"):
                values += list(row)
        if ON_POSTGRES:  # bytea comes back as \x hex text
            values = [bytes.fromhex(v[2:]) if v else None for v in values]
        return [v for v in values if v]

    def make_record_of_every_kind(self):
        case = self.create()
        name = case["name"]
        self.c.http("POST", f"/v1/{name}/evidence", key=self.full, body={
            "evidence": {"kind": "KIND_SCREENSHOT", "counterpart": "13800001111",
                         "summary": "截图甲乙丙", "attachment": {"filename": "a.png",
                                                          "contentType": "image/png"}},
            "chunk": "aGVsbG8gd29ybGQ="})
        self.c.http("POST", f"/v1/{name}/notes", key=self.full, body={"text": "备注甲乙丙"})
        self.c.http("POST", f"/v1/{name}:transition", key=self.full,
                    body={"state": "STATE_TRIAGED", "reason": "核实甲乙丙"})
        return name

    @unittest.skipUnless(ON_POSTGRES, "PostgreSQL's half of the erasure guarantee")
    def test_erasure_on_postgres_leaves_no_live_copy_and_never_plaintext(self):
        # PostgreSQL keeps earlier row versions until VACUUM reuses their
        # space, and its WAL (and archives, replicas) keep them longer: what
        # stays there is ciphertext under a destroyed data key, whose wrapped
        # copy opens only with the master key (docs/operations.md).
        name = self.make_record_of_every_kind()
        self.assertGreaterEqual(len(self.sealed_values()), 8)
        s, erased, _ = self.c.http("POST", f"/v1/{name}:eraseClientData", key=self.full,
                                   body={"reason": f"客户张三（{PHONE}）要求删除"})
        self.assertEqual(s, 200, erased)
        self.assertEqual(self.sealed_values(), [], "a live row still holds a sealed value or key")
        raw = self.c.store_bytes()
        # Marked words: the same server holds the shipped advice, whose text
        # speaks of screenshots and notes too.
        for secret in (PHONE, NATIONAL_ID, "客户张三", "截图甲乙丙", "备注甲乙丙", "核实甲乙丙",
                       SUMMARY_MARK):
            self.assertTrue(secret.encode() not in raw, secret)  # not assertNotIn: raw is huge

    @unittest.skipIf(ON_POSTGRES, "SQLite's files; PostgreSQL: the test above")
    def test_erased_means_no_byte_left_in_the_files(self):
        name = self.make_record_of_every_kind()
        secrets = self.sealed_values()
        self.assertGreaterEqual(len(secrets), 8)
        raw = self.c.store_bytes()
        self.assertTrue(all(v in raw for v in secrets))  # the search can find them
        s, erased, _ = self.c.http("POST", f"/v1/{name}:eraseClientData", key=self.full,
                                   body={"reason": f"客户张三（{PHONE}）要求删除"})
        self.assertEqual(s, 200, erased)
        raw = self.c.store_bytes()
        for secret in (PHONE, "客户张三", "截图甲乙丙"):
            self.assertNotIn(secret.encode(), raw, secret)
        s, listed, _ = self.c.http("GET", f"/v1/{name}/evidence", key=self.full)
        self.assertNotIn("attachment", json.dumps(listed), "the description went with the file")
        left = [v for v in secrets if v in raw]
        where = {}
        folder, base = os.path.split(self.db)
        for f in os.listdir(folder):
            if f.startswith(base) and not f.endswith(".erasures"):
                data = open(os.path.join(folder, f), "rb").read()
                for v in left:
                    if v in data:
                        where.setdefault(f, []).append((data.find(v), secrets.index(v)))
        self.assertEqual(left, [], f"{len(left)} sealed values survive the erasure: {where}")
        self.assertEqual(os.path.getsize(self.db + "-wal"), 0)

    def test_get_evidence_and_list_notes_mask_and_isolate(self):
        case = self.create()
        name = case["name"]
        s, ev, _ = self.c.http("POST", f"/v1/{name}/evidence", key=self.full, body={
            "evidence": {"kind": "KIND_CALL", "counterpart": "13800001111",
                         "summary": f"来电自称客服 {PHONE}"}})
        self.assertEqual(s, 200, ev)
        for text in ("第一条", f"第二条 {PHONE}", "第三条"):
            self.assertEqual(self.c.http("POST", f"/v1/{name}/notes", key=self.full,
                                         body={"text": text})[0], 200)
        s, got, _ = self.c.http("GET", f"/v1/{ev['name']}", key=self.dash)
        self.assertEqual(s, 200, got)
        self.assertEqual(got["name"], ev["name"])
        self.assertNotIn(PHONE, json.dumps(got, ensure_ascii=False))
        s, full, _ = self.c.http("GET", f"/v1/{ev['name']}", key=self.full)
        self.assertIn(PHONE, full["summary"])
        s, page1, _ = self.c.http("GET", f"/v1/{name}/notes?pageSize=2", key=self.dash)
        self.assertEqual(s, 200, page1)
        self.assertEqual([n["text"] for n in page1["notes"]][0], "第一条")
        self.assertNotIn(PHONE, json.dumps(page1, ensure_ascii=False))
        s, page2, _ = self.c.http("GET", f"/v1/{name}/notes?pageSize=2&pageToken="
                                  f"{page1['nextPageToken']}", key=self.dash)
        self.assertEqual([n["text"] for n in page2["notes"]], ["第三条"])
        # Another firm: the same NOT_FOUND as for nothing at all.
        other = self.c.create_key("firm-z", ["cases.read", "cases.pii"])
        for path in (f"/v1/{ev['name']}", f"/v1/{name}/notes"):
            s, body, _ = self.c.http("GET", path, key=other)
            self.assertEqual(s, 404, body)
        s, body, _ = self.c.http("GET", f"/v1/{name}/evidence/nope", key=self.full)
        self.assertEqual(s, 404, body)

    def test_a_replayed_request_id_confirms_no_guess(self):
        case = self.create()
        s, note, _ = self.c.http("POST", f"/v1/{case['name']}/notes?requestId=n-1", key=self.full,
                                 body={"text": f"客户手机 {PHONE}"})
        self.assertEqual(s, 200, note)
        # Another key replays the id with a guessed body: its own request, so
        # right and wrong guesses look the same (both new notes).
        for guess in (f"客户手机 {PHONE}", "客户手机 13900000000"):
            guesser = self.c.create_key("firm-a", ["cases.read", "cases.write"])
            s, body, _ = self.c.http("POST", f"/v1/{case['name']}/notes?requestId=n-1",
                                     key=guesser, body={"text": guess})
            self.assertEqual(s, 200, body)
            self.assertNotEqual(body["name"], note["name"])

    def test_the_audit_chain_needs_a_firm_wide_key(self):
        bound = self.c.create_key("firm-a", ["cases.read", "cases.admin"], client="crm-1")
        s, body, _ = self.c.http("POST", "/v1/audit:verify", key=bound, body={})
        self.assertEqual(s, 403, body)

    @unittest.skipIf(ON_POSTGRES, "SQLite's backup and ledger; PostgreSQL backs up itself")
    def test_a_restored_backup_stays_erased(self):
        case = self.create()
        name = case["name"]
        backup = os.path.join(self.c.dir, "before-erasure.db")
        self.c.run("counsel-cases", "backup", f"--to={backup}", f"--db={self.db}")
        s, _, _ = self.c.http("POST", f"/v1/{name}:eraseClientData", key=self.full,
                              body={"reason": "客户要求删除"})
        self.assertEqual(s, 200)
        # The documented restore: stop, copy the backup over, start.
        prog = self.c.programs["cases"]
        prog.stop()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.remove(self.db + suffix)
        shutil.copy(backup, self.db)
        argv = [a if not a.startswith("--listen=") else f"--listen=127.0.0.1:{self.c.cases_port}"
                for a in prog.argv]
        restarted = Program("cases", argv, self.c.dir)
        self.c.programs["cases"] = restarted
        restarted.wait_for(lambda e: e.get("event") == "erasures_reapplied")
        restarted.port()
        s, body, _ = self.c.http("GET", f"/v1/{name}", key=self.full)
        self.assertEqual(s, 200, body)
        self.assertIn("eraseTime", body["client"])
        text = json.dumps(body, ensure_ascii=False)
        for secret in (PHONE, NATIONAL_ID, "张三", SUMMARY_MARK):
            self.assertNotIn(secret, text)
        self.assertNotIn(PHONE.encode(), self.c.store_bytes())
        s, events, _ = self.c.http("GET", f"/v1/{name}/events", key=self.full)
        self.assertIn("erasure-ledger", json.dumps(events))

    @unittest.skipIf(ON_POSTGRES, "the ledger beside a SQLite file")
    def test_a_database_without_its_ledger_refuses_to_start(self):
        self.create()
        prog = self.c.programs["cases"]
        prog.stop()
        os.rename(self.db + ".erasures", self.db + ".erasures.away")
        p = Program("cases", prog.argv, self.c.dir)
        self.c.programs["cases"] = p
        p.proc.wait(timeout=30)
        self.assertNotEqual(p.proc.returncode, 0)
        self.assertIn("erasure ledger", "\n".join(p.lines))
        os.rename(self.db + ".erasures.away", self.db + ".erasures")
        again = Program("cases", prog.argv, self.c.dir)
        self.c.programs["cases"] = again
        again.port()


def _q(text):
    from urllib.parse import quote
    return quote(text, safe="")


if __name__ == "__main__":
    unittest.main()
