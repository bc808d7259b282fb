"""HTTP watchers share one case-svc stream per tenant, client and view: many
watchers cost one backend stream; a watcher resuming from any cursor while
changes are being written gets exactly the feed after it (nothing lost,
nothing repeated); a case-svc restart is bridged without a gap; another
client's or tenant's watchers never see the group's changes."""
import http.client
import json
import os
import re
import sys
import threading
import time
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))

from counsel_harness import Cluster, await_condition  # noqa: E402


class Watch:
    """One SSE watcher; `events` collects (id, case name) of change events."""

    def __init__(self, port, key, headers=None, path="/v1/changes:watch"):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        h = {"authorization": f"Bearer {key}", "accept": "text/event-stream"}
        h.update(headers or {})
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.events, self.cases, self.last_id = [], [], None
        self.bookmarks = 0

    def read_until(self, predicate, timeout=120):
        """Reads frames until predicate(self) holds; False if the stream ends
        first, or `timeout` seconds pass (bookmarks keep an idle stream
        talking, so the socket's own timeout would never fire)."""
        deadline = time.monotonic() + timeout
        event, ident = None, None
        while not predicate(self):
            if time.monotonic() > deadline:
                return False
            line = self.resp.fp.readline().decode()
            if not line:
                return False
            line = line.rstrip("\n")
            if line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "change":
                change = json.loads(line[6:])["change"]
                self.events.append((ident, change["event"]["name"]))
                if "case" in change:
                    self.cases.append(change["case"])
                self.last_id = ident
            elif line.startswith("data: ") and event == "bookmark":
                self.bookmarks += 1
            elif line.startswith("data: ") and event == "problem":
                raise AssertionError(line)
        return True

    def live(self):
        """Waits for the first bookmark: a watch without a cursor starts
        there, and a change committed before it may not be in the stream."""
        assert self.read_until(lambda w: w.bookmarks > 0), "no first bookmark"
        return self

    def close(self):
        self.resp.close()
        self.conn.close()


def shared_feeds(c):
    _, body, _ = c.http("GET", "/metrics")
    m = re.search(r"^counsel_gateway_shared_feeds(?:\{\})? ([0-9.e+]+)$", body, re.M)
    return float(m.group(1)) if m else -1


class WatchFanoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster(BUILD, extra_flags={"gateway": {"max_streams_per_key": 200,
                                                        "max_streams_per_tenant": 400}}).__enter__()
        cls.key = cls.c.create_key("firm-fan", ["cases.read", "cases.write"], rate=100000)

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)

    def create(self, key=None, client="c1"):
        status, case, _ = self.c.http("POST", "/v1/cases", key=key or self.key, body={
            "client": {"id": client, "displayName": "王五"}, "leakedData": ["LEAKED_DATA_PHONE"]})
        self.assertEqual(status, 200, case)
        return case["name"]

    def all_changes_after(self, cursor):
        """The feed after `cursor`, as (cursor, event name), from ListChanges."""
        out = []
        while True:
            q = f"?pageSize=1000&cursor={cursor}" if cursor else "?pageSize=1000"
            status, page, _ = self.c.http("GET", f"/v1/changes{q}", key=self.key)
            self.assertEqual(status, 200, page)
            changes = page.get("changes", [])
            out += [(ch["cursor"], ch["event"]["name"]) for ch in changes]
            if not changes:
                return out
            cursor = page["nextCursor"]

    def test_many_watchers_share_one_backend_stream(self):
        watchers = [Watch(self.c.http_port, self.key).live() for _ in range(50)]
        try:
            await_condition(lambda: shared_feeds(self.c) == 1, "one shared stream")
            name = self.create()
            for w in watchers:
                self.assertTrue(w.read_until(lambda w: any(name in e for _, e in w.events)))
        finally:
            for w in watchers:
                w.close()
        await_condition(lambda: shared_feeds(self.c) == 0, "the shared stream to end")

    def test_resuming_under_concurrent_writes_loses_and_repeats_nothing(self):
        anchor = Watch(self.c.http_port, self.key).live()
        first = self.create()
        self.assertTrue(anchor.read_until(lambda w: any(first in e for _, e in w.events)))
        start = anchor.last_id
        stop = threading.Event()
        written = []

        def writer():
            while not stop.is_set() and len(written) < 60:
                written.append(self.create())
        t = threading.Thread(target=writer)
        t.start()
        resumed = []
        try:
            # Watchers join at different moments, each from the anchor's
            # position, while changes are being committed.
            for _ in range(6):
                resumed.append(Watch(self.c.http_port, self.key, {"last-event-id": start}))
        finally:
            stop.set()
            t.join()
        last = written[-1]
        try:
            expected = [e for _, e in self.all_changes_after(start)]
            self.assertTrue(any(last in e for e in expected))
            for w in resumed:
                self.assertTrue(w.read_until(lambda w: any(last in e for _, e in w.events)))
                got = [e for _, e in w.events]
                self.assertEqual(got, expected[:len(got)])
                self.assertEqual(len(got), len(expected), "a change lost or repeated")
        finally:
            anchor.close()
            for w in resumed:
                w.close()

    def test_a_case_svc_restart_is_bridged_without_a_gap(self):
        w = Watch(self.c.http_port, self.key).live()
        try:
            before = self.create()
            self.assertTrue(w.read_until(lambda w: any(before in e for _, e in w.events)))
            self.c.restart("cases")
            await_condition(lambda: self.c.http("GET", "/readyz")[0] == 200, "case-svc back")
            after = self.create()
            # The same HTTP stream, no reconnect: the shared stream resumed
            # from its last position.
            self.assertTrue(w.read_until(lambda w: any(after in e for _, e in w.events)))
            names = [e for _, e in w.events]
            self.assertEqual(len(names), len(set(names)))
        finally:
            w.close()

    def test_full_view_carries_the_case_masked_per_scope(self):
        masked = self.c.create_key("firm-fan", ["cases.read"])
        full = Watch(self.c.http_port, masked, path="/v1/changes:watch?view=CHANGE_VIEW_FULL").live()
        basic = Watch(self.c.http_port, masked).live()
        try:
            status, case, _ = self.c.http("POST", "/v1/cases", key=self.key, body={
                "client": {"id": "c1", "displayName": "王五", "phone": "13812345678"},
                "leakedData": ["LEAKED_DATA_PHONE"]})
            self.assertEqual(status, 200, case)
            name = case["name"]
            self.assertTrue(full.read_until(lambda w: any(name in e for _, e in w.events)))
            got = [c for c in full.cases if c["name"] == name][0]
            self.assertEqual(got["client"]["phone"], "138****5678")
            self.assertTrue(basic.read_until(lambda w: any(name in e for _, e in w.events)))
            self.assertEqual(basic.cases, [])
            # Two views, two shared streams; ListChanges takes the view too.
            # (Awaited: an earlier test's stream ends a moment after its
            # last watcher left.)
            await_condition(lambda: shared_feeds(self.c) == 2, "two shared streams")
            status, page, _ = self.c.http("GET", "/v1/changes?view=CHANGE_VIEW_FULL&pageSize=1000",
                                          key=masked)
            self.assertEqual(status, 200, page)
            mine = [ch for ch in page["changes"] if ch["event"]["case"] == name]
            self.assertEqual(mine[0]["case"]["client"]["phone"], "138****5678")
        finally:
            full.close()
            basic.close()

    def test_groups_never_mix_clients_or_tenants(self):
        bound = self.c.create_key("firm-fan", ["cases.read"], client="c2")
        other = self.c.create_key("firm-other", ["cases.read", "cases.write"])
        mine, theirs = Watch(self.c.http_port, bound).live(), Watch(self.c.http_port, other).live()
        try:
            hidden = self.create(client="c1")
            seen = self.create(client="c2")
            self.assertTrue(mine.read_until(lambda w: any(seen in e for _, e in w.events)))
            self.assertFalse(any(hidden in e for _, e in mine.events))
            own = self.create(key=other, client="c9")
            self.assertTrue(theirs.read_until(lambda w: any(own in e for _, e in w.events)))
            self.assertFalse(any(hidden in e or seen in e for _, e in theirs.events))
            # A cursor of one group does not open in another.
            status, _, _ = self.c.http("GET", f"/v1/changes?cursor={mine.last_id}", key=other)
            self.assertEqual(status, 400)
        finally:
            mine.close()
            theirs.close()


if __name__ == "__main__":
    unittest.main()
