"""The dashboard in a real browser (headless Chromium driven by
playwright-core) against the real three programs: sign-in, triage, a case
created through the API appearing without a reload, a checklist tick in the
timeline, masked data for a key without cases.pii on every view, no write
controls (and writes refused) for a reader, sign-out ending the session,
axe-core on every view, and the SSE connection dropped (the gateway killed
and restarted) and resumed with nothing missed. Screenshots of each view are
written to $COUNSEL_ARTIFACTS (default: the build's artifacts/dashboard)."""
import datetime
import http.client
import json
import os
import subprocess
import sys
import threading
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402

PHONE = "13812345678"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

SPEC = os.path.join(os.path.dirname(__file__), "dashboard.spec.js")


class DashboardTest(unittest.TestCase):
    def test_dashboard_in_chromium(self):
        artifacts = os.environ.get("COUNSEL_ARTIFACTS",
                                   os.path.join(BUILD, "artifacts", "dashboard"))
        os.makedirs(artifacts, exist_ok=True)
        with Cluster(BUILD) as c:
            keys = {
                "writer": c.create_key("firm-a", ["cases.read", "cases.write", "guidance.read"]),
                "reader": c.create_key("firm-a", ["cases.read", "guidance.read"]),
                "admin": c.create_key("firm-a", ["cases.read", "cases.write", "cases.pii",
                                                 "cases.admin", "guidance.read"]),
            }
            today = datetime.date.today()
            known = today.replace(year=today.year - 3) + datetime.timedelta(days=30)
            names = []
            for i, (source, leaked) in enumerate([
                    ("某快递平台", ["LEAKED_DATA_PHONE", "LEAKED_DATA_ADDRESS"]),
                    ("某快递平台", ["LEAKED_DATA_PHONE"]),
                    ("某电商平台", ["LEAKED_DATA_NATIONAL_ID"]),
                    ("", ["LEAKED_DATA_EMAIL"])]):
                status, case, _ = c.http("POST", "/v1/cases", key=keys["admin"], body={
                    "externalRef": f"CRM-{i}", "suspectedSource": source, "leakedData": leaked,
                    # Content is text, never markup: this must show as typed.
                    "summary": XSS if i == 0 else "",
                    "client": {"id": f"client-{i}", "displayName": "张三", "phone": PHONE},
                    "occurredOn": known.isoformat(),
                    "discoveredTime": f"{known.isoformat()}T08:00:00Z",
                    "damageKnownOn": known.isoformat(),
                    "liablePartyIdentifiedOn": known.isoformat()})
                self.assertEqual(status, 200, case)
                names.append(case["name"])
            status, moved, _ = c.http("POST", f"/v1/{names[1]}:transition", key=keys["admin"],
                                      body={"state": "STATE_TRIAGED", "reason": "材料已收到"})
            self.assertEqual(status, 200, moved)
            env = dict(os.environ, GW=f"http://127.0.0.1:{c.http_port}", KEYS=json.dumps(keys),
                       ARTIFACTS=artifacts, PHONE=PHONE, CASE=names[0])
            result, errors = None, ""
            with subprocess.Popen(["node", SPEC], env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) as proc:
                # Bounded whatever happens: a browser step that hangs ends here.
                watchdog = threading.Timer(240, proc.kill)
                watchdog.start()
                try:
                    for line in proc.stdout:
                        if line.strip() == "RESTART":
                            c.restart("gateway")
                            proc.stdin.write("ok\n")
                            proc.stdin.flush()
                        elif line.startswith("RESULT "):
                            result = json.loads(line[len("RESULT "):])
                    proc.wait(timeout=60)
                    errors = proc.stderr.read()
                finally:
                    watchdog.cancel()
                    if proc.poll() is None:
                        proc.kill()
            self.assertIsNotNone(result, errors[-3000:])
            # The page's own headers.
            conn = http.client.HTTPConnection("127.0.0.1", c.http_port, timeout=10)
            conn.request("GET", "/dashboard/")
            resp = conn.getresponse()
            page = resp.read().decode()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            conn.close()
        with open(os.path.join(artifacts, "result.json"), "w") as f:
            json.dump(result, f, ensure_ascii=False, indent=1)

        self.assertEqual(result["problems"], [])
        self.assertEqual(result["csp"], [])
        csp = headers["content-security-policy"]
        for must in ("script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"):
            self.assertIn(must, csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        self.assertEqual(headers["referrer-policy"], "no-referrer")
        self.assertIn("assets/js/main.", page)

        # Sign-in: the key is gone from the page, the cookie is HttpOnly.
        self.assertTrue(result["keyFieldEmptied"])
        self.assertFalse(result["cookieVisible"])
        self.assertIn("firm-a", result["tenantShown"])
        self.assertIn("cases.write", result["scopesShown"])
        # Triage lists the NEW and TRIAGED cases, masked.
        self.assertGreaterEqual(result["triageRows"], 4)
        self.assertTrue(all(x != "张三" for x in result["triageClients"]), result["triageClients"])
        self.assertGreater(result["writerControls"], 0)
        self.assertTrue(result["noReload"])
        self.assertIn("liveAppearMs", result["timings"])
        self.assertTrue(result["tickInTimeline"])
        # Masked on every view; nothing personal in titles, URLs or storage.
        for view, v in result["views"].items():
            self.assertFalse(v["hasRawPhone"], view)
            self.assertNotIn("张三", v["title"] + v["url"] + v["storage"], view)
            self.assertNotIn(PHONE, v["title"] + v["url"] + v["storage"], view)
        self.assertIn("138****5678", result["caseClientPhone"])
        self.assertIn(PHONE, result["adminClient"])
        self.assertGreater(result["caseCitations"], 0)
        self.assertIsNone(result["xss"])
        self.assertIn("<img src=x", result["summaryShown"])
        self.assertTrue(any("某快递平台" in r and "2" in r for r in result["clusters"]),
                        result["clusters"])
        # A reader sees no write controls, and the API refuses anyway.
        self.assertEqual(result["readerControls"], 0)
        self.assertEqual(result["readerTriageControls"], 0)
        self.assertEqual(result["readerWrite"], 403)
        self.assertTrue(result["auditHiddenForReader"])
        self.assertIn("完整", result["audit"])
        self.assertTrue(result["provisionText"])
        self.assertGreater(result["diffMarks"], 0)
        # Sign-out ends the session.
        self.assertEqual(result["afterSignOut"], 401)
        # The drop: the change made while reconnecting arrived.
        self.assertEqual(result["resume"]["stateAtCreate"], "reconnecting")
        self.assertEqual(result["resume"]["finalState"], "live")
        self.assertTrue(result["keyboardNav"])
        self.assertFalse(result["overflowAt390"])
        # axe-core: no serious or critical violation on any view.
        serious = {view: [v for v in vs if v["impact"] in ("serious", "critical")]
                   for view, vs in result["axe"].items()}
        self.assertEqual({k: v for k, v in serious.items() if v}, {})
        self.assertGreaterEqual(len(result["axe"]), 10)


if __name__ == "__main__":
    unittest.main()
