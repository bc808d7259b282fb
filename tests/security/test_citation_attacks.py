"""Hostile use of the citation surfaces added with the legal corpus: label
lookups in provision names, lawyer-style labels in free text, and the import
that replaces a version's header. Each answer is a deliberate refusal or a
plain answer (never a 5xx), a narrower key cannot re-map wIds, and the
guidance service is still serving afterwards."""
import os
import sys
import unittest
import urllib.parse

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from counsel_harness import Cluster  # noqa: E402

PSAP = "statutes/public-security-administration-punishments"
LABELS = ["第", "第条", "第" * 40 + "条", "第九九九九九九九九九条", "第一千千千千条", "第0条",
          "第-1条", "第五十条第零款", "第五十条之十", "第五十条第一款第六项第七目第八目",
          "第５０条", "第五十条\u0000", "第五十条%2F..%2F..", "第五十条第一款第（六）项",
          "第二百五十三条之一之一", "第" + "十" * 60 + "条"]


class CitationAttacksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(BUILD).__enter__()
        cls.reader = cls.cluster.create_key("firm-a", ["guidance.read"], rate=100000)
        cls.writer = cls.cluster.create_key("firm-a", ["guidance.write"], rate=100000)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)

    def test_hostile_labels_are_refused_or_not_found(self):
        for label in LABELS:
            path = f"/v1/{PSAP}/provisions/" + urllib.parse.quote(label, safe="") + \
                "?asOf=2026-06-01"
            status, body, _ = self.cluster.http("GET", path, key=self.reader)
            self.assertIn(status, (200, 400, 404), f"{label!r}: {status} {body}")
        status, _, _ = self.cluster.http("GET", "/readyz")
        self.assertEqual(status, 200)

    def test_a_label_lookup_needs_a_key_and_the_scope(self):
        path = f"/v1/{PSAP}/provisions/" + urllib.parse.quote("第五十条", safe="")
        status, _, _ = self.cluster.http("GET", path)
        self.assertEqual(status, 401)
        other = self.cluster.create_key("firm-a", ["cases.read"])
        status, _, _ = self.cluster.http("GET", path, key=other)
        self.assertEqual(status, 403)

    def test_a_text_full_of_citations_to_nothing_is_answered(self):
        # 2,500 citations of an article no version has: each is unresolved
        # with its reason; the answer is bounded by the 10,000-character cap.
        text = "第九百条" * 2501
        status, body, _ = self.cluster.http("POST", "/v1/citations:resolve", key=self.reader,
                                            body={"text": text[:10000],
                                                  "defaultStatute": PSAP})
        self.assertEqual(status, 200)
        self.assertEqual(len(body["citations"]), 2500)
        self.assertTrue(all(c["unresolvedReason"] == "NO_SUCH_PROVISION"
                            for c in body["citations"]))
        status, _, _ = self.cluster.http("POST", "/v1/citations:resolve", key=self.reader,
                                         body={"text": text})
        self.assertEqual(status, 400)

    def test_only_a_writer_can_replace_a_versions_header(self):
        with open(os.path.join(REPO, "guidance-svc", "content", "statutes",
                               "public-security-administration-punishments", "2026-01-01.md"),
                  encoding="utf-8") as f:
            shipped = f.read()
        # Same text, a header that would re-map 第五十条 onto another article.
        forged = shipped.replace("wid_map: art_50=2013-01-01/art_42",
                                 "wid_map: art_50=2013-01-01/art_1", 1)
        self.assertNotEqual(forged, shipped)
        body = {"content": forged, "sourceName": "forged.md"}
        status, _, _ = self.cluster.http("POST", "/v1/statutes:importVersion", key=self.reader,
                                         body=body)
        self.assertEqual(status, 403)
        status, p, _ = self.cluster.http("GET", f"/v1/{PSAP}/provisions/art_50?asOf=2026-06-01",
                                         key=self.reader)
        self.assertEqual(p["wid"], "2013-01-01/art_42", "nothing changed")
        # A writer cannot either: the forged map gives old 第一条's wid to two
        # provisions (new 第一条 keeps it), which the import refuses.
        status, err, _ = self.cluster.http("POST", "/v1/statutes:importVersion",
                                           key=self.writer, body=body)
        self.assertEqual(status, 400, err)
        self.assertIn("two provisions", err["message"])
        # Nor can a header re-import move a version's dates.
        with open(os.path.join(REPO, "guidance-svc", "content", "statutes",
                               "public-security-administration-punishments", "2013-01-01.md"),
                  encoding="utf-8") as f:
            old_text = f.read()
        moved = old_text.replace("ended: 2025-12-31", "ended: 2014-12-31", 1)
        self.assertNotEqual(moved, old_text)
        status, err, _ = self.cluster.http("POST", "/v1/statutes:importVersion",
                                           key=self.writer,
                                           body={"content": moved, "sourceName": "moved.md"})
        self.assertEqual(status, 409, err)
        status, p, _ = self.cluster.http("GET", f"/v1/{PSAP}/provisions/art_42?asOf=2020-06-01",
                                         key=self.reader)
        self.assertEqual(status, 200, "the 2013 text still answers for 2020")
        status, p, _ = self.cluster.http("GET", f"/v1/{PSAP}/provisions/art_50?asOf=2026-06-01",
                                         key=self.reader)
        self.assertEqual(p["wid"], "2013-01-01/art_42")
        # A map entry naming a provision the text lacks is refused outright.
        bad = shipped.replace("wid_parts: listed", "wid_parts: listed\nwid_map: art_999=x/art_1", 1)
        status, err, _ = self.cluster.http("POST", "/v1/statutes:importVersion", key=self.writer,
                                           body={"content": bad, "sourceName": "bad.md"})
        self.assertEqual(status, 400, err)
        self.assertIn("art_999", err["message"])


if __name__ == "__main__":
    unittest.main()
