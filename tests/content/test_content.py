"""The shipped statute files against the verified seed texts, and the
reviewed renumbering maps against both versions' articles. Pure files: no
server."""
import hashlib
import os
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = os.environ.get("COUNSEL_SEED_LAW", os.path.join(REPO, "..", "shared", "seed", "law"))
CONTENT = os.path.join(REPO, "guidance-svc", "content")
TOOLS = os.path.join(CONTENT, "tools")
sys.path.insert(0, TOOLS)

import make_statute_files  # noqa: E402
import renumbering  # noqa: E402

MAPS = [
    ("public-security-administration-punishments", "2013-01-01", "2026-01-01"),
    ("cybersecurity", "2017-06-01", "2026-01-01"),
]


def header_of(path):
    with open(path, encoding="utf-8") as f:
        head = f.read().split("\n\n", 1)[0]
    out = {}
    for line in head.splitlines():
        key, value = line.split(": ", 1)
        out.setdefault(key, []).append(value)
    return out


@unittest.skipUnless(os.path.isdir(SEED), "the seed texts are not beside the repository")
class ShippedTextsTest(unittest.TestCase):
    def test_seed_files_match_their_pinned_sums(self):
        with open(os.path.join(SEED, "SHA256SUMS"), encoding="utf-8") as f:
            sums = f.readlines()
        for line in sums:
            digest, name = line.strip().split(None, 1)
            name = name.lstrip("*")
            with open(os.path.join(SEED, name), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest, name)

    def test_every_seed_text_is_shipped_byte_for_byte(self):
        shipped = {}
        for v in make_statute_files.VERSIONS:
            path = os.path.join(CONTENT, "statutes", v["statute"], v["version_id"] + ".md")
            body = renumbering.body_of(path)
            seed_body = renumbering.body_of(os.path.join(SEED, v["seed"]))
            self.assertEqual(body.encode(), seed_body.encode(), path)
            self.assertEqual(header_of(path)["body_sha256"],
                             [hashlib.sha256(body.encode()).hexdigest()])
            shipped[v["seed"]] = path
        # Every statute text of the seed is shipped, except the excerpt the
        # three full books superseded and the side-by-side comparison page.
        not_shipped = {"民法典(2020-05-28).md", "治安管理处罚法_第四十二条(2012)_对照_第五十条(2025).md"}
        seeds = {f for f in os.listdir(SEED) if f.endswith(".md") and f != "README.md"}
        self.assertEqual(seeds - set(shipped), not_shipped)

    def test_the_files_are_what_the_tool_writes(self):
        with tempfile.TemporaryDirectory() as out:
            # The maps live beside the versions: the tool reads them there.
            for statute, old, new in MAPS:
                os.makedirs(os.path.join(out, "statutes", statute))
                name = f"renumbering-{old}-to-{new}.tsv"
                with open(os.path.join(CONTENT, "statutes", statute, name), "rb") as src, \
                        open(os.path.join(out, "statutes", statute, name), "wb") as dst:
                    dst.write(src.read())
            subprocess.run([sys.executable, os.path.join(TOOLS, "make_statute_files.py"), SEED,
                            out], check=True)
            for v in make_statute_files.VERSIONS:
                rel = os.path.join("statutes", v["statute"], v["version_id"] + ".md")
                with open(os.path.join(out, rel), "rb") as a, \
                        open(os.path.join(CONTENT, rel), "rb") as b:
                    self.assertEqual(a.read(), b.read(), f"{rel} is stale: rerun the tool")

    def test_every_version_says_its_kind_and_where_its_dates_come_from(self):
        for v in make_statute_files.VERSIONS:
            h = header_of(os.path.join(CONTENT, "statutes", v["statute"], v["version_id"] + ".md"))
            self.assertIn(h["kind"][0], ("law", "administrative-regulation",
                                         "judicial-interpretation"), v["seed"])
            self.assertIn(h["date_confidence"][0], ("confirmed-by-text", "from-amending-decision",
                                                    "unconfirmed"), v["seed"])
            self.assertTrue(h["date_source"][0])
        # The seed headers call these dates unconfirmed; so must the corpus.
        unconfirmed = {(v["statute"], v["version_id"]) for v in make_statute_files.VERSIONS
                       if v["date_confidence"] == "unconfirmed"}
        self.assertEqual(unconfirmed, {("cybersecurity", "2026-01-01"),
                                       ("provisions-online-personal-rights", "2021-01-01")})


@unittest.skipUnless(os.path.isdir(SEED), "the seed texts are not beside the repository")
class RenumberingMapTest(unittest.TestCase):
    def versions(self, statute, old, new):
        by = {(v["statute"], v["version_id"]): v for v in make_statute_files.VERSIONS}
        o, n = by[(statute, old)], by[(statute, new)]
        return (renumbering.parse_articles(renumbering.body_of(os.path.join(SEED, o["seed"]))),
                renumbering.parse_articles(renumbering.body_of(os.path.join(SEED, n["seed"]))))

    def rows(self, statute, old, new):
        return renumbering.load_map(os.path.join(
            CONTENT, "statutes", statute, f"renumbering-{old}-to-{new}.tsv"))

    def test_every_article_of_both_versions_is_mapped_or_declared(self):
        for statute, old, new in MAPS:
            o, n = self.versions(statute, old, new)
            self.assertEqual(renumbering.check_map(self.rows(statute, old, new), set(o), set(n)),
                             [], statute)

    def test_the_check_fails_on_an_article_left_out(self):
        statute, old, new = MAPS[0]
        o, n = self.versions(statute, old, new)
        rows = [r for r in self.rows(statute, old, new) if r["new"] != "art_62"]
        problems = renumbering.check_map(rows, set(o), set(n))
        self.assertIn("new art_62 is neither mapped nor declared new", problems)
        self.assertIn("old art_51 is neither mapped nor declared removed", problems)
        rows = self.rows(statute, old, new) + [dict(new="art_63", old="art_51",
                                                    relation="continues", line=0)]
        self.assertIn("old art_51 continues into two new articles",
                      renumbering.check_map(rows, set(o), set(n)))

    def test_the_continuations_text_similarity_missed_are_paired(self):
        pairs = {(r["new"], r["old"]): r["relation"] for r in self.rows(*MAPS[0])}
        for new, old in [("art_62", "art_51"), ("art_88", "art_58"), ("art_122", "art_103")]:
            self.assertEqual(pairs.get((new, old)), "continues", (new, old))
        self.assertEqual(pairs.get(("art_90", "art_77")), "merged")
        self.assertEqual(pairs.get(("art_90", "art_78")), "continues")
        self.assertEqual(pairs.get(("art_58", "art_49")), "continues")
        self.assertEqual(pairs.get(("art_59", "art_49")), "split")
        self.assertEqual(pairs.get(("art_56", "-")), "new", "personal information is new")

    def test_parts_are_matched_by_text_not_position(self):
        o, n = self.versions(*MAPS[0])
        parts = renumbering.match_parts(o["art_19"], n["art_20"])
        self.assertNotIn("art_20__para_1__item_3", parts, "取得被侵害人谅解的 is new")
        self.assertEqual(parts["art_20__para_1__item_4"], "art_19__para_1__item_3")
        parts = renumbering.match_parts(o["art_6"], n["art_2"])
        self.assertNotIn("art_2__para_1", parts)
        self.assertEqual(parts["art_2__para_2"], "art_6__para_1")

    def test_a_paragraph_that_became_an_item_keeps_its_provision(self):
        o, n = self.versions(*MAPS[1])
        parts = renumbering.match_parts(o["art_70"], n["art_71"])
        self.assertEqual(parts.get("art_71__para_1__item_1"), "art_70__para_1")
        # Not the personal-information paragraph that merely shares phrasing.
        self.assertNotIn("art_71__para_2", parts)

    def test_every_decision_by_reading_says_why(self):
        for statute, old, new in MAPS:
            for r in self.rows(statute, old, new):
                if r["basis"] == "reading" or r["relation"] != "continues":
                    self.assertGreater(len(r["note"]), 20, r)


if __name__ == "__main__":
    unittest.main()
