"""Webhooks through the real programs, as a CRM developer would use them over
HTTP/JSON: signed deliveries checked with a receiver written from the
Standard Webhooks text, a receiver down and back with every change delivered
in per-case order, kill -9 of case-svc mid-backlog losing nothing, 410
disabling, secret rotation, replay, ping and the delivery log."""
import json
import os
import sys
import time
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster  # noqa: E402
from webhook_receiver import Receivers, verify  # noqa: E402

# Fast retries so a test sees several; delivery to loopback over plain HTTP.
FLAGS = {"cases": {"webhook_allow_http": "true", "webhook_allow_private_targets": "true",
                   "webhook_retry_initial": "100ms", "webhook_retry_max": "400ms",
                   "webhook_timeout": "5s"}}


def unique(deliveries):
    """First accepted delivery of each webhook-id, in arrival order."""
    seen, out = set(), []
    for d in deliveries:
        if 200 <= d["answered"] < 300 and d["headers"]["webhook-id"] not in seen:
            seen.add(d["headers"]["webhook-id"])
            out.append(d)
    return out


class WebhookTest(Receivers, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD, FLAGS).__enter__()
        cls.admin = cls.c.create_key("firm-a", ["cases.read", "cases.write", "cases.admin"])

    @classmethod
    def tearDownClass(cls):
        cls.close_receivers()
        cls.c.__exit__(None, None, None)

    def call(self, method, path, body=None, key=None, expect=200):
        status, out, _ = self.c.http(method, path, key=key or self.admin, body=body)
        self.assertEqual(status, expect, out)
        return out

    def create_webhook(self, url, **fields):
        return self.call("POST", "/v1/webhooks", {"url": url, **fields})

    def new_case(self, phone="13812345678"):
        return self.call("POST", "/v1/cases", {
            "client": {"id": "client-1", "displayName": "张三", "phone": phone},
            "leakedData": ["LEAKED_DATA_PHONE"]})["name"]

    def test_signed_thin_deliveries_in_commit_order(self):
        r = self.receiver()
        w = self.create_webhook(r.url, description="CRM 同步")
        secret = w["secret"]
        self.assertTrue(secret.startswith("whsec_"))
        self.assertEqual(w["state"], "STATE_ACTIVE")
        # The secret is answered once: never by Get or List.
        got = self.call("GET", f"/v1/{w['name']}")
        self.assertNotIn("secret", got)
        listed = self.call("GET", "/v1/webhooks")
        self.assertTrue(all("secret" not in x for x in listed["webhooks"]))
        self.assertIn(w["name"], [x["name"] for x in listed["webhooks"]])

        case = self.new_case()
        self.call("POST", f"/v1/{case}:transition", {"state": "STATE_TRIAGED", "reason": "电话 13812345678 核实"})
        self.call("POST", f"/v1/{case}/notes", {"text": "客户 13812345678 来电"})
        got = r.wait(lambda ds: len(unique(ds)) >= 3)
        deliveries = unique(got)[:3]
        self.assertEqual([d["json"]["type"] for d in deliveries],
                         ["case.created", "case.state_changed", "case.note_added"])
        for d in deliveries:
            self.assertTrue(verify(secret, d["headers"], d["body"]), d["headers"])
            self.assertFalse(verify("whsec_" + "A" * 44, d["headers"], d["body"]))
            self.assertEqual(d["json"]["data"]["case"], case)
            self.assertEqual(d["json"]["data"]["tenant"], "firm-a")
            # Thin: no personal data, no free text.
            self.assertNotIn(b"13812345678", d["body"])
            self.assertNotIn("张三".encode(), d["body"])
            self.assertNotIn(b"reason", d["body"])
        self.assertEqual(deliveries[1]["json"]["data"]["toState"], "STATE_TRIAGED")
        # The payload's cursor resumes the feed right after that change.
        cursor = deliveries[1]["json"]["data"]["cursor"]
        after = self.call("GET", f"/v1/changes?cursor={cursor}")
        self.assertEqual(after["changes"][0]["event"]["type"], "TYPE_NOTE_ADDED")
        # The delivery log, newest first, with codes and latency (an attempt
        # is logged once its answer is read).
        deadline = time.time() + 10
        while True:
            log = self.call("GET", f"/v1/{w['name']}/deliveries").get("deliveries", [])
            if len(log) >= 3 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(len(log), 3)
        self.assertEqual(log[0]["outcome"], "OUTCOME_SUCCEEDED")
        self.assertEqual(log[0]["statusCode"], 200)
        self.assertIn("latency", log[0])
        self.call("DELETE", f"/v1/{w['name']}")
        self.call("GET", f"/v1/{w['name']}", expect=404)

    def test_receiver_down_then_back_loses_nothing_and_keeps_order(self):
        down = {"on": True}
        r = self.receiver(status=lambda d: 503 if down["on"] else 200)
        w = self.create_webhook(r.url, eventTypes=["case.created", "case.note_added",
                                                    "case.state_changed"])
        cases = [self.new_case() for _ in range(3)]
        for i in range(4):
            for case in cases:
                self.call("POST", f"/v1/{case}/notes", {"text": f"第{i}次"})
        r.wait(lambda ds: len(ds) >= 4)  # several refused attempts
        state = self.call("GET", f"/v1/{w['name']}")
        self.assertGreaterEqual(state.get("consecutiveFailures", 0), 1)
        self.assertEqual(state["lastError"], "HTTP 503")
        down["on"] = False
        got = r.wait(lambda ds: len(unique(ds)) >= 15, timeout=60)
        events = unique(got)
        self.assertEqual(len(events), 15)
        # Per case, the order of the case's own timeline.
        for case in cases:
            timeline = self.call("GET", f"/v1/{case}/events")["events"]
            want = [e["name"] for e in timeline]
            seen = [d["json"]["data"]["event"] for d in events if d["json"]["data"]["case"] == case]
            self.assertEqual(seen, want)
        # A repeat always carries the id and body of the first send.
        by_id = {}
        for d in got:
            by_id.setdefault(d["headers"]["webhook-id"], set()).add(d["body"])
        self.assertTrue(all(len(bodies) == 1 for bodies in by_id.values()),
                        [b for b in by_id.values() if len(b) > 1][:1])
        self.assertEqual(self.call("GET", f"/v1/{w['name']}")["state"], "STATE_ACTIVE")

    def test_kill_9_mid_backlog_loses_nothing(self):
        r = self.receiver(delay=0.05)
        w = self.create_webhook(r.url, eventTypes=["case.note_added"])
        case = self.new_case()
        for i in range(40):
            self.call("POST", f"/v1/{case}/notes", {"text": f"n{i}"})
        r.wait(lambda ds: len(ds) >= 5)
        self.c.restart("cases")  # SIGKILL, then start again
        got = r.wait(lambda ds: len(unique(ds)) >= 40, timeout=60)
        ids = [d["headers"]["webhook-id"] for d in unique(got)]
        self.assertEqual(len(set(ids)), 40)
        seqs = [int(i.rsplit("_", 1)[1]) for i in ids]
        self.assertEqual(seqs, sorted(seqs))
        self.call("DELETE", f"/v1/{w['name']}")

    def test_gone_disables_and_enabling_resumes(self):
        answer = {"code": 410}
        r = self.receiver(status=lambda d: answer["code"])
        w = self.create_webhook(r.url)
        case = self.new_case()
        got = self.wait_state(w["name"], "STATE_DISABLED")
        self.assertIn("410", got["lastError"])
        n = len(r.deliveries)
        self.call("POST", f"/v1/{case}/notes", {"text": "disabled meanwhile"})
        # Enabled again: the change that got 410 is sent again, then the rest.
        answer["code"] = 200
        self.call("PATCH", f"/v1/{w['name']}?updateMask=state", {"state": "STATE_ACTIVE",
                                                                 "etag": got["etag"]})
        done = r.wait(lambda ds: len(unique(ds)) >= 2)
        self.assertEqual([d["json"]["type"] for d in unique(done)][:2],
                         ["case.created", "case.note_added"])
        self.assertGreater(len(r.deliveries), n)
        # A stale etag is refused.
        self.call("PATCH", f"/v1/{w['name']}?updateMask=description",
                  {"description": "x", "etag": got["etag"]}, expect=409)

    def wait_state(self, name, state, timeout=30):
        deadline = time.time() + timeout
        while True:
            got = self.call("GET", f"/v1/{name}")
            if got["state"] == state:
                return got
            if time.time() > deadline:
                self.fail(f"{name} never {state}: {got}")
            time.sleep(0.05)

    def test_rotation_signs_with_both_secrets(self):
        r = self.receiver()
        w = self.create_webhook(r.url, eventTypes=["case.created"])
        old = w["secret"]
        rotated = self.call("POST", f"/v1/{w['name']}:rotateSecret", {})
        new = rotated["secret"]
        self.assertNotEqual(old, new)
        self.assertIn("previousSecretExpireTime", rotated)
        self.new_case()
        d = r.wait(lambda ds: len(unique(ds)) >= 1)[0]
        self.assertEqual(len(d["headers"]["webhook-signature"].split(" ")), 2)
        self.assertTrue(verify(old, d["headers"], d["body"]))
        self.assertTrue(verify(new, d["headers"], d["body"]))

    def test_ping_replay_and_errors(self):
        r = self.receiver()
        w = self.create_webhook(r.url, eventTypes=["case.created"])
        ping = self.call("POST", f"/v1/{w['name']}:test", {})
        self.assertEqual(ping["outcome"], "OUTCOME_SUCCEEDED")
        d = r.wait(lambda ds: len(ds) >= 1)[0]
        self.assertEqual(d["json"]["type"], "webhook.ping")
        self.assertTrue(verify(w["secret"], d["headers"], d["body"]))
        case = self.new_case()
        first = r.wait(lambda ds: any(x["json"]["type"] == "case.created" for x in ds))
        created = [x for x in first if x["json"]["type"] == "case.created"][0]
        # Replay from the webhook's start position: the same change, same id.
        self.call("POST", f"/v1/{w['name']}:replay", {"cursor": w["cursor"]})
        again = r.wait(lambda ds: sum(x["json"]["type"] == "case.created" for x in ds) >= 2)
        ids = [x["headers"]["webhook-id"] for x in again if x["json"]["type"] == "case.created"]
        self.assertEqual(ids[0], ids[1])
        self.assertEqual(created["json"]["data"]["case"], case)
        # Errors a CRM developer meets, each naming its field.
        for body, field in [({"url": "ftp://x.example/"}, "webhook.url"),
                            ({"url": r.url, "eventTypes": ["case.deleted"]}, "webhook.event_types"),
                            ({"url": r.url, "state": "STATE_FAILING"}, "webhook.state"),
                            ({"url": "http://169.254.169.254/latest"}, "webhook.url")]:
            status, out, _ = self.c.http("POST", "/v1/webhooks", key=self.admin, body=body)
            self.assertEqual(status, 400, out)
            self.assertIn(field, json.dumps(out, ensure_ascii=False))
        self.call("POST", f"/v1/{w['name']}:replay", {"cursor": "bogus"}, expect=400)
        self.call("PATCH", f"/v1/{w['name']}?updateMask=secret", {"secret": "x"}, expect=400)
        self.call("GET", "/v1/webhooks/doesnotexist", expect=404)
        # Idempotent creation: the same request id answers the same webhook.
        a = self.call("POST", "/v1/webhooks?requestId=crm-setup-1", {"url": r.url})
        b = self.call("POST", "/v1/webhooks?requestId=crm-setup-1", {"url": r.url})
        self.assertEqual(a["name"], b["name"])
        self.assertEqual(a["secret"], b["secret"])
        self.call("POST", "/v1/webhooks?requestId=crm-setup-1", {"url": r.url + "2"}, expect=400)
        # Once rotated, a repeat names the webhook but no longer shows a
        # secret: a request id seen in some log does not yield the new one.
        self.call("POST", f"/v1/{a['name']}:rotateSecret", {})
        c = self.call("POST", "/v1/webhooks?requestId=crm-setup-1", {"url": r.url})
        self.assertEqual(c["name"], a["name"])
        self.assertNotIn("secret", c)
        # Disabling needs no resolution of the stored URL.
        self.call("PATCH", f"/v1/{a['name']}?updateMask=state", {"state": "STATE_DISABLED"})


if __name__ == "__main__":
    unittest.main()
