"""Programs kept apart on one PostgreSQL database: each program logs in as a
role of its own, which may create its schema and nothing else. Then the
whole system works as with one role, and someone holding one program's
credentials (a compromised gateway, say) can read or change no other
program's tables: no sealed case, no key hash, no statute or advice."""
import os
import subprocess
import sys
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "test"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.join(BUILD, "py"))

from counsel_harness import ON_POSTGRES, Cluster  # noqa: E402

# What each program owns, and a statement that reads or changes it.
OWN = {
    "cases": ["SELECT count(*) FROM counsel_cases.cases",
              "SELECT count(*) FROM counsel_cases.client_keys",
              "UPDATE counsel_cases.cases SET client_id = client_id",
              "SELECT count(*) FROM counsel_webhooks.webhooks"],
    "gateway": ["SELECT count(*) FROM counsel_gateway.api_keys",
                "UPDATE counsel_gateway.api_keys SET revoke_time = NULL"],
    "guidance": ["SELECT count(*) FROM counsel_guidance.advice_revisions",
                 "UPDATE counsel_guidance.statute_versions SET content_sha256 = 'x'",
                 "INSERT INTO counsel_guidance.statutes VALUES ('x', 'x', 'x', '', '', 0)"],
}


def as_role(uri, sql):
    return subprocess.run(["psql", uri, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, timeout=60)


@unittest.skipUnless(ON_POSTGRES, "needs the test command's PostgreSQL server (COUNSEL_PG_ENV)")
class PostgresRolesTest(unittest.TestCase):
    def test_each_program_reaches_its_own_tables_only(self):
        with Cluster(BUILD, cases_on_postgres=True, postgres_roles=True) as c:
            key = c.create_key("firm-r", ["cases.read", "cases.write", "guidance.read"])
            s, case, _ = c.http("POST", "/v1/cases", key=key, body={
                "client": {"displayName": "吴十", "phone": "13912345678"},
                "leakedData": ["LEAKED_DATA_PHONE"]})
            self.assertEqual(s, 200, case)
            self.assertTrue(case["advice"].startswith("advice/"), case)
            self.assertEqual(c.http("GET", "/v1/statutes", key=key)[0], 200)
            # Every program's tables are there and its own role uses them.
            for program, statements in OWN.items():
                uri = c.postgres.uri_for(program)
                self.assertNotEqual(uri, c.postgres.uri)
                for sql in statements:
                    out = as_role(uri, f"BEGIN; {sql}; ROLLBACK")
                    self.assertEqual(out.returncode, 0, (program, sql, out.stderr))
            # No other program's role can.
            for program in OWN:
                uri = c.postgres.uri_for(program)
                for other, statements in OWN.items():
                    if other == program:
                        continue
                    for sql in statements:
                        out = as_role(uri, f"BEGIN; {sql}; ROLLBACK")
                        self.assertNotEqual(out.returncode, 0, (program, "ran", sql))
                        self.assertIn("permission denied", out.stderr, (program, sql))
            # Nor can one drop or create in another's schema.
            out = as_role(c.postgres.uri_for("gateway"), "DROP SCHEMA counsel_cases CASCADE")
            self.assertNotEqual(out.returncode, 0)
            out = as_role(c.postgres.uri_for("cases"),
                          "CREATE TABLE counsel_guidance.t (x int)")
            self.assertNotEqual(out.returncode, 0)
            s, again, _ = c.http("GET", f"/v1/{case['name']}", key=key)
            self.assertEqual(s, 200, again)


if __name__ == "__main__":
    unittest.main()
