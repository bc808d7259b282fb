"""Reads statute texts the way the importer does, and the reviewed
renumbering maps between two versions of a statute.

A map (`renumbering-{old}-to-{new}.tsv`, beside the newer version) has one
row per relation, tab-separated:

    new_eid  old_eid  relation  similarity  basis  note

relation is one of
  continues  the new article continues the old one: it takes its wid
  merged     the old article's content was folded into a new article that
             continues another old article (new 第九十条 continues old
             第七十八条; old 第七十七条 merged into it)
  split      the new article takes over part of an old article whose main
             continuation is another new article
  new        no predecessor
  removed    no successor anywhere in the newer text
An article has at most one `continues` row; `new` and `removed` rows are the
only row of their article; every article of both versions has a row.
basis is `text` (near-identical text, same subject, confirmed by reading) or
`reading` (decided by reading both texts; the note says why).

Within a continued article, paragraphs (款), items (项) and sub-items (目)
continue an old part only when their texts match (match_parts); a part is
never paired by position.
"""
import difflib
import re

ARTICLE = re.compile(r"^第([一二三四五六七八九十百千零〇两]+)条(之[一二三四五六七八九])?(?:[ \u3000](.*))?$")
ITEM = re.compile(r"^[（(]([一二三四五六七八九十]+)[）)]")
POINT = re.compile(r"^([0-9]{1,2})[．.]")
DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
DIGITS["两"] = 2
DIGITS["〇"] = 0
WIDTH = str.maketrans("，；：（）！？", ",;:()!?")
RELATIONS = ("continues", "merged", "split", "new", "removed")
# Below this similarity two parts of a continued article are different
# provisions (取得被侵害人谅解的 is not 出于他人胁迫或者诱骗的).
PART_THRESHOLD = 0.5
CROSS_LEVEL_THRESHOLD = 0.7


def numeral(text):
    total, pending = 0, 0
    for ch in text:
        if ch in DIGITS:
            pending = DIGITS[ch]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (pending or 1) * unit
            pending = 0
    return total + pending


def normal(text):
    return re.sub(r"\s+", "", text.translate(WIDTH))


def ratio(a, b):
    return difflib.SequenceMatcher(None, normal(a), normal(b), autojunk=False).ratio()


def body_of(path):
    """The text after the header block, as the importer reads it."""
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n\n", 1)[1]


def _strip(line):
    return line.strip(" \t\r\u3000\u2002")


def parse_articles(body, amendment=False):
    """eid → {"label", "text", "paras": [{"eid", "text", "items": [...]}]},
    items {"eid", "text", "points": [{"eid", "text"}]}: the importer's tree."""
    articles, order = {}, []
    article = para = item = None
    in_preamble = "<!-- INFO END -->" in body

    def open_article(number, suffix, rest):
        nonlocal article, para, item
        eid = f"art_{number}" + (f"-{suffix}" if suffix else "")
        article = {"eid": eid, "text": rest, "paras": []}
        articles[eid] = article
        order.append(eid)
        para = item = None
        if rest:
            para = {"eid": f"{eid}__para_1", "text": rest, "items": []}
            article["paras"].append(para)

    for raw in body.split("\n"):
        if in_preamble:
            if _strip(raw) == "<!-- INFO END -->":
                in_preamble = False
            continue
        line = _strip(raw)
        if not line:
            continue
        if line.startswith("#") or line.startswith("<!--"):
            article = para = item = None
            continue
        if amendment:
            m = re.search(r"作为第([一二三四五六七八九十百千]+)条(之[一二三四五六七八九])?[：:]“", line)
            if m:
                open_article(numeral(m.group(1)),
                             numeral(m.group(2)[1:]) if m.group(2) else 0, "")
                line = line[m.end():]
            elif article is not None and line.startswith("“"):
                line = line[1:]
            else:
                article = para = item = None
                continue
            closes = line.endswith("”")
            if closes:
                line = line[:-1]
            article["text"] += ("\n" if article["text"] else "") + line
            para = {"eid": f"{article['eid']}__para_{len(article['paras']) + 1}",
                    "text": line, "items": []}
            article["paras"].append(para)
            if closes:
                article = para = item = None
            continue
        m = ARTICLE.match(line)
        if m:
            open_article(numeral(m.group(1)), numeral(m.group(2)[1:]) if m.group(2) else 0,
                         _strip(m.group(3) or ""))
            continue
        if article is None:
            continue
        article["text"] += ("\n" if article["text"] else "") + line
        im = ITEM.match(line)
        if im and para is not None:
            item = {"eid": f"{para['eid']}__item_{numeral(im.group(1))}", "text": line,
                    "points": []}
            para["items"].append(item)
            para["text"] += "\n" + line
            continue
        pm = POINT.match(line)
        if pm and item is not None:
            item["points"].append({"eid": f"{item['eid']}__point_{int(pm.group(1))}",
                                   "text": line})
            item["text"] += "\n" + line
            para["text"] += "\n" + line
            continue
        para = {"eid": f"{article['eid']}__para_{len(article['paras']) + 1}", "text": line,
                "items": []}
        article["paras"].append(para)
        item = None
    return {eid: articles[eid] for eid in order}


def _own_text(part):
    """A part's text without its own number: （三）… → …, 1．… → …."""
    return POINT.sub("", ITEM.sub("", part["text"], count=1), count=1)


def _kind(eid):
    return eid.rsplit("__", 1)[-1].split("_")[0]  # para, item or point


def match_parts(old_article, new_article):
    """new part eid → old part eid, matched by text within the pair, one to
    one, best first. Parts of the same level pair from PART_THRESHOLD; a
    paragraph that became an item (or the reverse) pairs from
    CROSS_LEVEL_THRESHOLD, so that a restructured article keeps its
    provisions (网络安全法 old 第七十条 is new 第七十一条第一款第一项)."""
    def parts(article):
        out = []
        for p in article["paras"]:
            out.append(p)
            for i in p["items"]:
                out.append(i)
                out.extend(i["points"])
        return out

    scored = []
    for o in parts(old_article):
        for n in parts(new_article):
            same = _kind(o["eid"]) == _kind(n["eid"])
            r = ratio(_own_text(o), _own_text(n))
            if r >= (PART_THRESHOLD if same else CROSS_LEVEL_THRESHOLD):
                scored.append((r, n["eid"], o["eid"]))
    scored.sort(key=lambda x: (-x[0], x[1], x[2]))
    return {n: o for n, (o, _) in pair_best_first(scored).items()}


def pair_best_first(scored):
    """One to one, in the order given (best first): (ratio, new, old)
    triples → {new: (old, ratio)}; a later triple naming a side already
    paired is skipped."""
    used_old, pairs = set(), {}
    for r, new, old in scored:
        if new in pairs or old in used_old:
            continue
        used_old.add(old)
        pairs[new] = (old, r)
    return pairs


def load_map(path):
    """The rows of a map file: dicts new, old, relation, similarity, basis, note."""
    rows = []
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for lineno, line in enumerate(lines, 1):
        if line.startswith("#") or not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) != 6:
            raise ValueError(f"{path}:{lineno}: expected 6 tab-separated columns, got {len(cols)}")
        new, old, relation, similarity, basis, note = cols
        if relation not in RELATIONS:
            raise ValueError(f"{path}:{lineno}: unknown relation {relation!r}")
        if basis not in ("text", "reading"):
            raise ValueError(f"{path}:{lineno}: basis must be text or reading")
        if (basis == "reading" or relation != "continues") and not note.strip():
            raise ValueError(f"{path}:{lineno}: a {relation} row decided by {basis} needs a note")
        rows.append(dict(new=new, old=old, relation=relation, similarity=similarity,
                         basis=basis, note=note, line=lineno))
    return rows


def check_map(rows, old_eids, new_eids):
    """Problems with a map against the two versions' articles; [] when none."""
    problems = []
    by_new, by_old = {}, {}
    for r in rows:
        if r["new"] != "-":
            by_new.setdefault(r["new"], []).append(r)
        if r["old"] != "-":
            by_old.setdefault(r["old"], []).append(r)
        if r["new"] != "-" and r["new"] not in new_eids:
            problems.append(f"line {r['line']}: {r['new']} is not an article of the newer text")
        if r["old"] != "-" and r["old"] not in old_eids:
            problems.append(f"line {r['line']}: {r['old']} is not an article of the older text")
        needs_both = r["relation"] in ("continues", "merged", "split")
        if needs_both and "-" in (r["new"], r["old"]):
            problems.append(f"line {r['line']}: {r['relation']} needs both articles")
        if r["relation"] == "new" and r["old"] != "-":
            problems.append(f"line {r['line']}: a new article has no old one")
        if r["relation"] == "removed" and r["new"] != "-":
            problems.append(f"line {r['line']}: a removed article has no new one")
    for eid in new_eids:
        mine = by_new.get(eid, [])
        if not mine:
            problems.append(f"new {eid} is neither mapped nor declared new")
        if sum(r["relation"] == "continues" for r in mine) > 1:
            problems.append(f"new {eid} continues two old articles")
        if any(r["relation"] == "new" for r in mine) and len(mine) > 1:
            problems.append(f"new {eid} is declared new but also mapped")
    for eid in old_eids:
        mine = by_old.get(eid, [])
        if not mine:
            problems.append(f"old {eid} is neither mapped nor declared removed")
        if sum(r["relation"] == "continues" for r in mine) > 1:
            problems.append(f"old {eid} continues into two new articles")
        if any(r["relation"] == "removed" for r in mine) and len(mine) > 1:
            problems.append(f"old {eid} is declared removed but also mapped")
        if any(r["relation"] == "merged" for r in mine) and any(
                r["relation"] == "continues" for r in mine):
            problems.append(f"old {eid} is both continued and merged")
    for r in rows:
        if r["relation"] == "merged":
            host = [x for x in by_new.get(r["new"], []) if x["relation"] == "continues"]
            if not host:
                problems.append(f"line {r['line']}: {r['new']} takes a merge but continues nothing")
        if r["relation"] == "split":
            main = [x for x in by_old.get(r["old"], []) if x["relation"] == "continues"]
            if not main:
                problems.append(f"line {r['line']}: {r['old']} is split but continues nowhere")
    return problems
