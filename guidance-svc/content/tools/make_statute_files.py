#!/usr/bin/python3
"""Writes the statute files of guidance-svc/content/ from the verified seed
texts (../shared/seed/law/), in the import format of docs/content-format.md.

The statute text (everything after the seed file's first empty line) is
copied byte for byte and pinned with body_sha256; the header records where it
comes from. The wId map of a later version is taken from a reviewed pairs
map (renumbering-*.tsv, see renumbering.py): continued articles take the
older article's wid, and their paragraphs and items the wid of the older
part whose text they match; merges and splits become also_continues.

    make_statute_files.py SEED_LAW_DIR CONTENT_DIR
"""
import hashlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import renumbering  # noqa: E402

PSAP = "public-security-administration-punishments"
CSL = "cybersecurity"
NPCSC = "全国人民代表大会常务委员会"
SPC = "最高人民法院"
VERSIONS = [
    dict(seed="治安管理处罚法(2012-10-26).md", statute=PSAP, kind="law",
         title="中华人民共和国治安管理处罚法", short_title="治安管理处罚法", aliases="治安处罚法",
         issuing_body=NPCSC, version_id="2013-01-01",
         promulgated="2012-10-26", effective="2013-01-01", ended="2025-12-31",
         document_number="主席令第67号", excerpt="false",
         date_confidence="from-amending-decision",
         date_source="2013-01-01 is the 2012 amending decision's commencement as quoted by "
                     "non-official pages (p.safehoo.com, npcobserver.com); the decision's text is "
                     "not in the corpus, the consolidated text states only the original 2006-03-01, "
                     "and the LawRefBook metadata says 2012-10-26"),
    dict(seed="治安管理处罚法(2025-06-27).md", statute=PSAP, kind="law",
         title="中华人民共和国治安管理处罚法", short_title="治安管理处罚法", aliases="治安处罚法",
         issuing_body=NPCSC, version_id="2026-01-01",
         promulgated="2025-06-27", effective="2026-01-01", excerpt="false",
         date_confidence="confirmed-by-text",
         date_source="第一百四十四条: 本法自2026年1月1日起施行",
         wid_pairs="renumbering-2013-01-01-to-2026-01-01.tsv", wid_base="2013-01-01"),
    dict(seed="个人信息保护法(2021-08-20).md", original="true", statute="personal-information-protection",
         kind="law", title="中华人民共和国个人信息保护法", short_title="个人信息保护法",
         aliases="个保法,PIPL", issuing_body=NPCSC,
         version_id="2021-11-01", promulgated="2021-08-20", effective="2021-11-01",
         document_number="主席令第91号", excerpt="false",
         date_confidence="confirmed-by-text", date_source="第七十四条: 本法自2021年11月1日起施行"),
    dict(seed="民法典(2020-05-28)_总则_人格权编_侵权责任编.md", original="true", statute="civil-code", kind="law",
         title="中华人民共和国民法典", short_title="民法典", aliases="", issuing_body="全国人民代表大会",
         version_id="2021-01-01", promulgated="2020-05-28", effective="2021-01-01",
         excerpt="true", date_confidence="confirmed-by-text",
         date_source="第一千二百六十条 (附则, not among the three books held): 本法自2021年1月1日起施行; "
                     "the source's header line 2021年1月1日 施行 agrees"),
    dict(seed="刑法第二百五十三条之一(2009-02-28).md", statute="criminal-law", kind="law",
         title="中华人民共和国刑法", short_title="刑法", aliases="",
         issuing_body="全国人民代表大会", version_issuing_body=NPCSC,
         version_id="2009-02-28", promulgated="2009-02-28", effective="2009-02-28",
         ended="2015-10-31", excerpt="true", body_form="amendment",
         date_confidence="from-amending-decision",
         date_source="刑法修正案（七）第十五条: 本修正案自公布之日起施行; the publication date "
                     "2009-02-28 is not separately confirmed"),
    dict(seed="刑法第二百五十三条之一(2015-08-29).md", statute="criminal-law", kind="law",
         title="中华人民共和国刑法", short_title="刑法", aliases="",
         issuing_body="全国人民代表大会", version_issuing_body=NPCSC,
         version_id="2015-11-01", promulgated="2015-08-29", effective="2015-11-01",
         excerpt="true", date_confidence="from-amending-decision",
         date_source="刑法修正案（九）第五十二条: 本修正案自2015年11月1日起施行",
         wid_articles={"art_253-1": "art_253-1"}, wid_base="2009-02-28"),
    dict(seed="网络安全法(2016-11-07).md", original="true", statute=CSL, kind="law",
         title="中华人民共和国网络安全法", short_title="网络安全法", aliases="",
         issuing_body=NPCSC, version_id="2017-06-01", promulgated="2016-11-07",
         effective="2017-06-01", excerpt="false", date_confidence="confirmed-by-text",
         date_source="第七十九条: 本法自2017年6月1日起施行; it ends where the amended text "
                     "begins, a date the corpus does not hold as confirmed"),
    dict(seed="网络安全法(2025-10-28).md", statute=CSL, kind="law",
         title="中华人民共和国网络安全法", short_title="网络安全法", aliases="",
         issuing_body=NPCSC, version_id="2026-01-01", promulgated="2025-10-28",
         effective="2026-01-01", excerpt="false", date_confidence="unconfirmed",
         date_source="2026-01-01 is the commencement secondary reports give for the 2025-10-28 "
                     "amending decision, whose text is not in the corpus; the consolidated text "
                     "keeps the original 第八十一条 (2017年6月1日), and the dataset's metadata "
                     "gives the adoption date 2025-10-28",
         wid_pairs="renumbering-2017-06-01-to-2026-01-01.tsv", wid_base="2017-06-01"),
    dict(seed="反电信网络诈骗法(2022-09-02).md", original="true", statute="anti-telecom-network-fraud", kind="law",
         title="中华人民共和国反电信网络诈骗法", short_title="反电信网络诈骗法", aliases="反电诈法",
         issuing_body=NPCSC, version_id="2022-12-01", promulgated="2022-09-02",
         effective="2022-12-01", excerpt="false", date_confidence="confirmed-by-text",
         date_source="第五十条: 本法自2022年12月1日起施行"),
    dict(seed="数据安全法(2021-06-10).md", original="true", statute="data-security", kind="law",
         title="中华人民共和国数据安全法", short_title="数据安全法", aliases="",
         issuing_body=NPCSC, version_id="2021-09-01", promulgated="2021-06-10",
         effective="2021-09-01", excerpt="false", date_confidence="confirmed-by-text",
         date_source="第五十五条: 本法自2021年9月1日起施行"),
    dict(seed="网络数据安全管理条例(2024-09-24).md", original="true", statute="network-data-security-regulation",
         kind="administrative-regulation", title="网络数据安全管理条例",
         short_title="网络数据安全管理条例", aliases="", issuing_body="国务院",
         version_id="2025-01-01", promulgated="2024-09-24", effective="2025-01-01",
         excerpt="false", date_confidence="confirmed-by-text",
         date_source="第六十四条: 本条例自2025年1月1日起施行; the promulgation date 2024-09-24 is "
                     "from the dataset's file name and metadata only"),
    dict(seed="最高人民法院、最高人民检察院关于办理侵犯公民个人信息刑事案件适用法律若干问题的解释(2017-05-08).md", original="true",
         statute="interpretation-personal-information-crimes", kind="judicial-interpretation",
         title="最高人民法院、最高人民检察院关于办理侵犯公民个人信息刑事案件适用法律若干问题的解释",
         short_title="侵犯公民个人信息刑事案件解释", aliases="",
         issuing_body="最高人民法院、最高人民检察院", version_id="2017-06-01",
         promulgated="2017-05-08", effective="2017-06-01", excerpt="false",
         date_confidence="confirmed-by-text",
         date_source="第十三条: 本解释自2017年6月1日起施行; the promulgation date 2017-05-08 is "
                     "from the dataset's file name and metadata only"),
    dict(seed="最高人民法院关于民事诉讼证据的若干规定(2019-12-25).md",
         statute="provisions-civil-evidence", kind="judicial-interpretation",
         title="最高人民法院关于民事诉讼证据的若干规定", short_title="民事诉讼证据规定",
         aliases="民事证据规定", issuing_body=SPC, version_id="2020-05-01",
         promulgated="2019-12-25", effective="2020-05-01", excerpt="false",
         date_confidence="confirmed-by-text",
         date_source="第一百条: 本规定自2020年5月1日起施行; the promulgation date 2019-12-25 is from "
                     "the dataset's file name and metadata only (the text gives the 2019-10-14 "
                     "amending session)"),
    dict(seed="最高人民法院关于审理利用信息网络侵害人身权益民事纠纷案件适用法律若干问题的规定(2020-12-29).md",
         statute="provisions-online-personal-rights", kind="judicial-interpretation",
         title="最高人民法院关于审理利用信息网络侵害人身权益民事纠纷案件适用法律若干问题的规定",
         short_title="利用信息网络侵害人身权益规定", aliases="", issuing_body=SPC,
         version_id="2021-01-01", promulgated="2020-12-29", effective="2021-01-01",
         excerpt="false", date_confidence="unconfirmed",
         date_source="2021-01-01 is the dataset's metadata (LawRefBook valid_from) only: the text "
                     "does not state a commencement (第十三条 says which pending cases it applies "
                     "to), and no official source was consulted"),
    dict(seed="最高人民法院关于互联网法院审理案件若干问题的规定(2018-09-06).md", original="true",
         statute="provisions-internet-courts", kind="judicial-interpretation",
         title="最高人民法院关于互联网法院审理案件若干问题的规定", short_title="互联网法院规定",
         aliases="", issuing_body=SPC, version_id="2018-09-07", promulgated="2018-09-06",
         effective="2018-09-07", excerpt="false", date_confidence="confirmed-by-text",
         date_source="第二十三条: 本规定自2018年9月7日起施行; the promulgation date 2018-09-06 is "
                     "from the dataset's file name and metadata only"),
]
KEYS = ["statute", "kind", "title", "short_title", "aliases", "issuing_body",
        "version_issuing_body", "version_id", "promulgated", "effective", "ended",
        "date_confidence", "date_source", "document_number", "excerpt", "original", "body_form"]


def version_key(v):
    return (v["statute"], v["version_id"])


def wid_lines(v, seed_dir, folder, by_key, wids):
    """The wid_map and also_continues header lines of a version that
    continues an earlier one, and its provisions' wids (eid → wid)."""
    base = by_key[(v["statute"], v["wid_base"])]
    old = renumbering.parse_articles(
        renumbering.body_of(os.path.join(seed_dir, base["seed"])),
        amendment=base.get("body_form") == "amendment")
    new = renumbering.parse_articles(
        renumbering.body_of(os.path.join(seed_dir, v["seed"])),
        amendment=v.get("body_form") == "amendment")
    base_wids = wids[version_key(base)]
    def old_wid(eid):
        return base_wids.get(eid, f"{base['version_id']}/{eid}")
    if "wid_pairs" in v:
        rows = renumbering.load_map(os.path.join(folder, v["wid_pairs"]))
        problems = renumbering.check_map(rows, set(old), set(new))
        if problems:
            raise SystemExit(f"{v['wid_pairs']}: " + "; ".join(problems))
    else:
        rows = [dict(new=n, old=o, relation="continues") for n, o in v["wid_articles"].items()]
    lines, also, mine = [], [], {}
    used_old = set()
    # Continuations first: an article's parts go with it; what a merge or a
    # split moved elsewhere is matched after, among the parts still free.
    for relations in (("continues",), ("merged", "split")):
        for r in rows:
            if r["relation"] not in relations:
                continue
            entries = [(r["new"], old_wid(r["old"]))] if r["relation"] == "continues" else []
            if r["relation"] != "continues":
                also.append(f"{r['new']}={old_wid(r['old'])}")
            parts = renumbering.match_parts(old[r["old"]], new[r["new"]])
            for n, o in sorted(parts.items(), key=lambda kv: _order(kv[0])):
                if o in used_old or n in mine:
                    continue
                used_old.add(o)
                entries.append((n, old_wid(o)))
            mine.update(entries)
            if entries:
                lines.append("wid_map: " + ", ".join(f"{n}={w}" for n, w in entries))
    if also:
        lines.append("also_continues: " + ", ".join(also))
    lines.append("wid_parts: listed")
    return lines, mine


def _order(eid):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", eid)]


def main():
    seed_dir, content_dir = sys.argv[1], sys.argv[2]
    by_key = {version_key(v): v for v in VERSIONS}
    wids = {}
    for v in VERSIONS:
        with open(os.path.join(seed_dir, v["seed"]), encoding="utf-8") as f:
            raw = f.read()
        head, body = raw.split("\n\n", 1)
        notes = dict(line.split(": ", 1) for line in head.splitlines())
        lines = ["format: counsel-statute/1"]
        lines += [f"{k}: {v[k]}" for k in KEYS if v.get(k)]
        folder = os.path.join(content_dir, "statutes", v["statute"])
        wids[version_key(v)] = {}
        if "wid_base" in v:
            more, wids[version_key(v)] = wid_lines(v, seed_dir, folder, by_key, wids)
            lines += more
        lines.append(f"source: {notes['source']}; a derived copy of the national law database "
                     "(flk.npc.gov.cn) text via the LawRefBook dataset, not the official page")
        lines.append(f"body_sha256: {hashlib.sha256(body.encode()).hexdigest()}")
        lines.append(f"note_seed_file: {v['seed']}")
        for key, value in notes.items():
            if key not in ("title", "source"):
                lines.append(f"note_{key}: {value}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, v["version_id"] + ".md"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n\n" + body)


if __name__ == "__main__":
    main()
