"""docs/webhooks.md's verification snippets, Python and Node, run against real
deliveries from the three programs: each accepts a genuine delivery, both
signatures during a rotation, and refuses a changed body, a wrong secret and
an old timestamp."""
import json
import os
import re
import subprocess
import sys
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import REPO, Cluster  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

FLAGS = {"cases": {"webhook_allow_http": "true", "webhook_allow_private_targets": "true"}}

NODE_RUNNER = """
%s
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map((c) => verifyWebhook(c.secret, c.headers, Buffer.from(c.body, "base64")));
process.stdout.write(JSON.stringify(out));
"""


class WebhookGuideTest(unittest.TestCase):
    def test_snippets_verify_real_deliveries(self):
        with open(os.path.join(REPO, "docs", "webhooks.md"), encoding="utf-8") as f:
            text = f.read()
        python_snippet = re.findall(r"```python\n(.*?)```", text, re.S)
        node_snippet = re.findall(r"```js\n(.*?)```", text, re.S)
        self.assertEqual((len(python_snippet), len(node_snippet)), (1, 1))
        scope = {}
        exec(python_snippet[0], scope)  # noqa: S102 - our own documentation
        verify_py = scope["verify_webhook"]

        r = Receiver()
        try:
            with Cluster(BUILD, FLAGS) as c:
                admin = c.create_key("firm-guide", ["cases.read", "cases.write", "cases.admin"])
                status, w, _ = c.http("POST", "/v1/webhooks", key=admin, body={"url": r.url})
                self.assertEqual(status, 200, w)
                status, _, _ = c.http("POST", "/v1/cases", key=admin, body={
                    "client": {"id": "client-1", "displayName": "王五"},
                    "leakedData": ["LEAKED_DATA_EMAIL"]})
                self.assertEqual(status, 200)
                first = r.wait(lambda ds: len(ds) >= 1)[0]
                _, rotated, _ = c.http("POST", f"/v1/{w['name']}:rotateSecret", key=admin, body={})
                c.http("POST", f"/v1/{w['name']}:test", key=admin, body={})
                ping = r.wait(lambda ds: len(ds) >= 2)[1]
        finally:
            r.close()
        old_ts = dict(first["headers"], **{"webhook-timestamp": str(
            int(first["headers"]["webhook-timestamp"]) - 3600)})
        cases = [
            (w["secret"], first["headers"], first["body"], True),
            (w["secret"], first["headers"], first["body"] + b" ", False),
            (rotated["secret"], first["headers"], first["body"], False),
            (w["secret"], old_ts, first["body"], False),
            (w["secret"], ping["headers"], ping["body"], True),         # the old secret
            (rotated["secret"], ping["headers"], ping["body"], True),   # and the new
        ]
        self.assertEqual([verify_py(s, h, b) for s, h, b, _ in cases], [e for *_, e in cases])
        node_in = json.dumps([{"secret": s, "headers": h,
                               "body": __import__("base64").b64encode(b).decode()}
                              for s, h, b, _ in cases])
        out = subprocess.run(["node", "-e", NODE_RUNNER % node_snippet[0]], input=node_in,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout), [e for *_, e in cases])


if __name__ == "__main__":
    unittest.main()
