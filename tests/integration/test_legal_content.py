"""The legal corpus through the real gateway over HTTP, as a lawyer's
dashboard or a CRM reads it: every seed text imported byte for byte, the
reviewed renumbering, what the corpus does not know, how sure its dates
are, judicial interpretations cited like statutes, labels as a lawyer
writes them, and stale citations with their reasons."""
import os
import sys
import unittest
import urllib.parse

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "release"))
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = os.environ.get("COUNSEL_SEED_LAW", os.path.join(REPO, "..", "shared", "seed", "law"))
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(REPO, "guidance-svc", "content", "tools"))

from counsel_harness import Cluster  # noqa: E402
import make_statute_files  # noqa: E402
import renumbering  # noqa: E402

PSAP = "statutes/public-security-administration-punishments"
CSL = "statutes/cybersecurity"


def q(path):
    return urllib.parse.quote(path, safe="/:?=&")


class LegalContentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(BUILD).__enter__()
        cls.key = cls.cluster.create_key("firm-a", ["guidance.read", "cases.read",
                                                    "cases.write"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)

    def get(self, path, want=200):
        status, body, _ = self.cluster.http("GET", q(path), key=self.key)
        self.assertEqual(status, want, body)
        return body

    def provision(self, statute, eid, as_of, want=200):
        return self.get(f"/v1/{statute}/provisions/{eid}?asOf={as_of}", want)

    def articles(self, statute, version):
        out, token = [], ""
        while True:
            page = self.get(f"/v1/{statute}/provisions?versionId={version}&pageSize=1000"
                            + (f"&pageToken={token}" if token else ""))
            out += page["provisions"]
            token = page.get("nextPageToken", "")
            if not token:
                return out

    @unittest.skipUnless(os.path.isdir(SEED), "the seed texts are not beside the repository")
    def test_every_seed_text_reads_back_byte_for_byte(self):
        for v in make_statute_files.VERSIONS:
            statute = f"statutes/{v['statute']}"
            seed = renumbering.parse_articles(
                renumbering.body_of(os.path.join(SEED, v["seed"])),
                amendment=v.get("body_form") == "amendment")
            served = self.articles(statute, v["version_id"])
            self.assertEqual([a["eid"] for a in served], list(seed), v["seed"])
            for a in served:
                self.assertEqual(a["text"].encode(), seed[a["eid"]]["text"].encode(),
                                 f"{v['seed']} {a['eid']}")

    def test_kinds_issuers_coverage_and_date_sources(self):
        body = self.get("/v1/statutes?pageSize=100")
        by = {s["name"]: s for s in body["statutes"]}
        self.assertEqual(len(by), 12)
        interp = by["statutes/interpretation-personal-information-crimes"]
        self.assertEqual(interp["kind"], "KIND_JUDICIAL_INTERPRETATION")
        self.assertEqual(interp["issuingBody"], "最高人民法院、最高人民检察院")
        self.assertEqual(by["statutes/network-data-security-regulation"]["kind"],
                         "KIND_ADMINISTRATIVE_REGULATION")
        self.assertEqual(by[PSAP]["corpusCoverage"], "text known from 2013-01-01")
        for s in by.values():
            for v in s["versions"]:
                self.assertIn(v["dateConfidence"], ("DATE_CONFIDENCE_CONFIRMED_BY_TEXT",
                                                    "DATE_CONFIDENCE_FROM_AMENDING_DECISION",
                                                    "DATE_CONFIDENCE_UNCONFIRMED"), s["name"])
                self.assertTrue(v["dateSource"], s["name"])

    def test_the_missed_continuations_are_paired(self):
        for new, old in [("art_62", "art_51"), ("art_88", "art_58"), ("art_122", "art_103")]:
            p = self.provision(PSAP, new, "2026-06-01")
            self.assertEqual(p["wid"], f"2013-01-01/{old}", new)
        merged = self.provision(PSAP, "art_90", "2026-06-01")
        self.assertEqual(merged["alsoContinues"], ["2013-01-01/art_77"])
        split = self.provision(PSAP, "art_59", "2026-06-01")
        self.assertEqual(split["alsoContinues"], ["2013-01-01/art_49"])
        # The comparison reports old 51 renumbered, not removed and re-added.
        body = self.get(f"/v1/{PSAP}:compare?fromVersion=2013-01-01&toVersion=2026-01-01"
                        "&pageSize=1000")
        removed = [c["fromEid"] for c in body["changes"] if "KIND_REMOVED" in c["kinds"]]
        self.assertEqual(sorted(removed), ["art_61", "art_62", "art_76"])
        self.assertNotIn("art_51", removed)
        kinds = {(c.get("fromEid"), c.get("toEid")): c["kinds"] for c in body["changes"]}
        self.assertEqual(kinds[("art_77", "art_90")], ["KIND_MERGED"])
        self.assertEqual(kinds[("art_49", "art_59")], ["KIND_SPLIT"])

    def test_new_20_3_is_not_old_19_3(self):
        new_item = self.provision(PSAP, "art_20__para_1__item_3", "2026-06-01")
        self.assertEqual(new_item["text"], "（三）取得被侵害人谅解的；")
        old_item = self.provision(PSAP, "art_19__para_1__item_3", "2020-01-01")
        self.assertNotEqual(new_item["wid"], old_item["wid"])
        moved = self.provision(PSAP, "art_20__para_1__item_4", "2026-06-01")
        self.assertEqual(moved["wid"], old_item["wid"], "出于他人胁迫或者诱骗的 moved to (四)")

    def test_before_the_corpus_text_is_not_in_corpus(self):
        body = self.provision(PSAP, "art_42", "2010-01-01", want=404)
        self.assertEqual(body["details"][0]["reason"], "NOT_IN_CORPUS")
        self.assertEqual(body["details"][0]["metadata"]["corpus_from"], "2013-01-01")
        # Before an original text the law itself was not in force.
        body = self.provision("statutes/data-security", "art_1", "2021-08-31", want=404)
        self.assertEqual(body["details"][0]["reason"], "NOT_IN_FORCE")

    def test_an_unconfirmed_date_is_flagged(self):
        p = self.provision(CSL, "art_44__para_2", "2026-06-01")
        self.assertEqual(p["version"]["versionId"], "2026-01-01")
        self.assertEqual(p["version"]["dateConfidence"], "DATE_CONFIDENCE_UNCONFIRMED")
        self.assertIn("not confirmed", p["dateCaveat"])
        confirmed = self.provision("statutes/personal-information-protection", "art_57",
                                   "2026-06-01")
        self.assertNotIn("dateCaveat", confirmed)

    def test_the_interpretation_is_cited_like_a_statute(self):
        status, body, _ = self.cluster.http("POST", "/v1/citations:resolve", key=self.key, body={
            "text": "《最高人民法院、最高人民检察院关于办理侵犯公民个人信息刑事案件适用法律若干问题的解释》"
                    "第五条", "asOf": "2024-01-01", "includeText": True})
        self.assertEqual(status, 200, body)
        [c] = body["citations"]
        self.assertTrue(c["resolved"], c)
        self.assertEqual(c["provision"],
                         "statutes/interpretation-personal-information-crimes/provisions/art_5")
        self.assertEqual(c["statuteKind"], "KIND_JUDICIAL_INTERPRETATION")
        self.assertIn("情节严重", c["provisionText"])

    def test_a_label_lookup(self):
        p = self.provision(PSAP, "第五十条第一款第六项", "2026-06-01")
        self.assertEqual(p["eid"], "art_50__para_1__item_6")
        self.assertEqual(p["citationLabel"], "第五十条第一款第六项")
        p = self.provision(PSAP, "第四十二条", "2020-01-01")
        self.assertEqual(p["eid"], "art_42")
        # Old 42(6) asked as of 2026 names its successor.
        body = self.provision(PSAP, "第四十二条第六项", "2026-06-01", want=404)
        self.assertEqual(body["details"][0]["reason"], "NO_SUCH_PROVISION")
        self.assertEqual(body["details"][0]["metadata"]["successor_label"], "第五十条第一款第六项")
        self.assertIn("第五十条第一款第六项", body["message"])
        # Not one label: INVALID_ARGUMENT naming the field.
        status, body, _ = self.cluster.http(
            "GET", q(f"/v1/{PSAP}/provisions/第五十条及以下?asOf=2026-06-01"), key=self.key)
        self.assertEqual(status, 400, body)
        self.assertIn("name", body["message"])

    def test_a_stale_citation_says_why_and_names_the_provision_in_force(self):
        # The first revision (2024) pinned 第四十二条第六项 of the 2013 text.
        body = self.get("/v1/advice/personal-information-leak:listRevisions")
        first = body["revisions"][-1]
        advice = self.get(f"/v1/advice/personal-information-leak@{first['revisionId']}"
                          "?resolveCitationsAsOf=2026-06-01")
        cited = [c for s in advice["sections"] for st in s["steps"]
                 for c in st.get("citedProvisions", []) if st["key"] == "report-to-police"]
        self.assertEqual(cited[0]["label"], "第四十二条第六项")
        self.assertEqual(cited[0]["resolvedLabel"], "第五十条第一款第六项")
        # The newest revision read as of a day before the civil code: stale,
        # with the reason and a sentence saying why.
        advice = self.get("/v1/advice/personal-information-leak?resolveCitationsAsOf=2020-06-01")
        stale = [c for s in advice["sections"] for st in s["steps"]
                 for c in st.get("citedProvisions", []) if c.get("stale")]
        civil = [c for c in stale if c["provision"].startswith("statutes/civil-code/")]
        self.assertTrue(civil)
        for c in civil:
            self.assertEqual(c["staleReason"], "NOT_IN_FORCE")
            self.assertIn("took effect on 2021-01-01", c["staleDetail"])
        # The brief of a 2020 incident lists them instead of dropping them.
        status, case, _ = self.cluster.http("POST", "/v1/cases", key=self.key, body={
            "client": {"displayName": "吴十"}, "leakedData": ["LEAKED_DATA_PHONE"],
            "occurredOn": "2020-06-01", "discoveredTime": "2020-06-03T08:00:00Z"})
        self.assertEqual(status, 200, case)
        brief = self.get(f"/v1/{case['name']}:brief")
        reasons = {c["provision"]: c["staleReason"] for c in brief["staleCitations"]}
        self.assertEqual(reasons["statutes/civil-code/provisions/art_995"], "NOT_IN_FORCE")


if __name__ == "__main__":
    unittest.main()
