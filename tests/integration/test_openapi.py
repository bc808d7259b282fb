"""The served /openapi.json is a valid OpenAPI 3 document (checked by
@apidevtools/swagger-parser from npm, tests/tools), and a client built from
it (swagger-client) calls four routes of the real gateway successfully."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import REPO, Cluster  # noqa: E402

TOOLS = os.path.join(REPO, "tests", "tools")


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(os.path.join(TOOLS, "node_modules", "swagger-client")):
            raise AssertionError("tests/tools is not installed: scripts/install-deps.sh --with-buf")
        cls.c = Cluster(BUILD).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    def test_the_document_validates(self):
        status, doc, _ = self.c.http("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(doc["openapi"], "3.0.3")
        self.assertIn("/v1/cases/{case}", doc["paths"])
        params = {p["name"] for p in doc["paths"]["/v1/cases"]["post"]["parameters"]}
        self.assertIn("requestId", params)
        self.assertEqual(set(doc["components"]["securitySchemes"]), {"bearer", "session"})
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(doc, f, ensure_ascii=False)
            f.flush()
            out = subprocess.run(["node", os.path.join(TOOLS, "validate_openapi.js"), f.name],
                                 capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("valid OpenAPI 3.0.3", out.stdout)

    def test_a_client_built_from_it_calls_the_routes(self):
        key = self.c.create_key("firm-openapi", ["guidance.read", "cases.read", "cases.write"])
        out = subprocess.run(["node", os.path.join(TOOLS, "openapi_client.js"),
                              f"http://127.0.0.1:{self.c.http_port}", key],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = json.loads(out.stdout)
        self.assertGreater(got["statutes"], 0)
        self.assertEqual(got["created"], got["got"])
        self.assertEqual(got["maskedPhone"], "138****5678")
        self.assertEqual(got["provision"], "第四十二条")


if __name__ == "__main__":
    unittest.main()
