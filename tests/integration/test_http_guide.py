"""docs/http.md runs: every ```sh block, in order, in one bash with
`set -euo pipefail`, against the real three programs. A guide that no
longer matches the API fails here."""
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


class HttpGuideTest(unittest.TestCase):
    def test_every_block_of_the_guide_runs(self):
        with open(os.path.join(REPO, "docs", "http.md"), encoding="utf-8") as f:
            text = f.read()
        blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
        self.assertGreaterEqual(len(blocks), 10)
        script = "set -euo pipefail\n" + "\n".join(
            f"echo '--- block {i}' >&2\n{b}" for i, b in enumerate(blocks))
        with Cluster(BUILD) as c:
            env = dict(os.environ,
                       GW=f"http://127.0.0.1:{c.http_port}",
                       CRM_KEY=c.create_key("firm-guide", ["cases.read", "cases.write",
                                                           "guidance.read"]),
                       MOBILE_KEY=c.create_key("firm-guide", ["cases.contribute",
                                                              "cases.delegate"]),
                       DASH_KEY=c.create_key("firm-guide", ["cases.read", "guidance.read"]))
            out = subprocess.run(["bash", "-c", script], env=env, capture_output=True,
                                 text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])


if __name__ == "__main__":
    unittest.main()
