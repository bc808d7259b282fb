#!/usr/bin/python3
"""Writes the statute files of guidance-svc/content/ from the verified seed
texts (../shared/seed/law/), in the import format of docs/content-format.md.

The statute text (everything after the seed file's first empty line) is
copied byte for byte and pinned with body_sha256; the header records where it
comes from. The wId map of a later version is taken from a reviewed pairs
file made by derive_wids.py.

    make_statute_files.py SEED_LAW_DIR CONTENT_DIR
"""
import hashlib
import os
import sys

PSAP = "public-security-administration-punishments"
VERSIONS = [
    dict(seed="治安管理处罚法(2012-10-26).md", statute=PSAP,
         title="中华人民共和国治安管理处罚法", short_title="治安管理处罚法", aliases="治安处罚法",
         issuing_body="全国人民代表大会常务委员会", version_id="2013-01-01",
         promulgated="2012-10-26", effective="2013-01-01", ended="2025-12-31",
         document_number="主席令第67号", excerpt="false"),
    dict(seed="治安管理处罚法(2025-06-27).md", statute=PSAP,
         title="中华人民共和国治安管理处罚法", short_title="治安管理处罚法", aliases="治安处罚法",
         issuing_body="全国人民代表大会常务委员会", version_id="2026-01-01",
         promulgated="2025-06-27", effective="2026-01-01", excerpt="false",
         wid_pairs="renumbering-2013-01-01-to-2026-01-01.tsv", wid_base="2013-01-01"),
    dict(seed="个人信息保护法(2021-08-20).md", statute="personal-information-protection",
         title="中华人民共和国个人信息保护法", short_title="个人信息保护法",
         aliases="个保法,PIPL", issuing_body="全国人民代表大会常务委员会",
         version_id="2021-11-01", promulgated="2021-08-20", effective="2021-11-01",
         document_number="主席令第91号", excerpt="false"),
    dict(seed="民法典(2020-05-28)_总则_人格权编_侵权责任编.md", statute="civil-code", title="中华人民共和国民法典",
         short_title="民法典", aliases="", issuing_body="全国人民代表大会",
         version_id="2021-01-01", promulgated="2020-05-28", effective="2021-01-01",
         excerpt="true"),
    dict(seed="刑法第二百五十三条之一(2009-02-28).md", statute="criminal-law",
         title="中华人民共和国刑法", short_title="刑法", aliases="",
         issuing_body="全国人民代表大会", version_issuing_body="全国人民代表大会常务委员会",
         version_id="2009-02-28", promulgated="2009-02-28", effective="2009-02-28",
         ended="2015-10-31", excerpt="true", body_form="amendment"),
    dict(seed="刑法第二百五十三条之一(2015-08-29).md", statute="criminal-law",
         title="中华人民共和国刑法", short_title="刑法", aliases="",
         issuing_body="全国人民代表大会", version_issuing_body="全国人民代表大会常务委员会",
         version_id="2015-11-01", promulgated="2015-08-29", effective="2015-11-01",
         excerpt="true", wid_map="art_253-1=2009-02-28/art_253-1"),
]
KEYS = ["statute", "title", "short_title", "aliases", "issuing_body", "version_issuing_body",
        "version_id", "promulgated", "effective", "ended", "document_number", "excerpt",
        "body_form"]


def main():
    seed_dir, content_dir = sys.argv[1], sys.argv[2]
    for v in VERSIONS:
        raw = open(os.path.join(seed_dir, v["seed"]), encoding="utf-8").read()
        head, body = raw.split("\n\n", 1)
        notes = dict(line.split(": ", 1) for line in head.splitlines())
        lines = ["format: counsel-statute/1"]
        lines += [f"{k}: {v[k]}" for k in KEYS if v.get(k)]
        folder = os.path.join(content_dir, "statutes", v["statute"])
        wid_map = v.get("wid_map", "")
        if "wid_pairs" in v:
            pairs = []
            for row in open(os.path.join(folder, v["wid_pairs"]), encoding="utf-8"):
                if row.startswith("#"):
                    continue
                new, old, _ = row.rstrip("\n").split("\t")
                if new != "-" and old != "-":
                    pairs.append(f"{new}={v['wid_base']}/{old}")
            wid_map = ",".join(pairs)
        if wid_map:
            lines.append(f"wid_map: {wid_map}")
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
