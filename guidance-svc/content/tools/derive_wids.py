#!/usr/bin/python3
"""Derives the wId map between two versions of a statute by matching article
text, for review before it is written into the newer version's header.

    derive_wids.py OLD.md NEW.md > pairs.tsv

Each article of the newer version is paired with the article of the older
version whose text is most similar (difflib ratio over the text with
punctuation width and whitespace normalised), one to one, best pairs first,
when the ratio is at least --threshold. Unpaired articles are new (or
removed). The output lists every pair with its ratio, so that a person can
review it; the pairs that survive review are the wid_map of the newer file.
"""
import argparse
import difflib
import re

ARTICLE = re.compile(r"^第([一二三四五六七八九十百千零两]+)条(之[一二三四五六七八九])?[ \u3000](.*)$")
DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
DIGITS["两"] = 2
WIDTH = str.maketrans("，；：（）！？", ",;:()!?")


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


def articles(path):
    body = open(path, encoding="utf-8").read().split("\n\n", 1)[1]
    out, current = {}, None
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("<!--"):
            continue
        m = ARTICLE.match(line)
        if m:
            n = numeral(m.group(1))
            current = f"art_{n}" + (f"-{numeral(m.group(2)[1:])}" if m.group(2) else "")
            out[current] = m.group(3)
        elif current:
            out[current] += "\n" + line
    return out


def normal(text):
    return re.sub(r"\s+", "", text.translate(WIDTH))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--threshold", type=float, default=0.6)
    args = p.parse_args()
    old, new = articles(args.old), articles(args.new)
    scored = []
    for ne, nt in new.items():
        for oe, ot in old.items():
            sm = difflib.SequenceMatcher(None, normal(ot), normal(nt), autojunk=False)
            if sm.real_quick_ratio() < args.threshold or sm.quick_ratio() < args.threshold:
                continue
            r = sm.ratio()
            if r >= args.threshold:
                scored.append((r, ne, oe))
    scored.sort(reverse=True)
    used_old, used_new, pairs = set(), set(), {}
    for r, ne, oe in scored:
        if ne in used_new or oe in used_old:
            continue
        used_new.add(ne)
        used_old.add(oe)
        pairs[ne] = (oe, r)
    for ne in new:
        if ne in pairs:
            oe, r = pairs[ne]
            print(f"{ne}\t{oe}\t{r:.3f}")
        else:
            print(f"{ne}\t-\t-")
    for oe in old:
        if oe not in used_old:
            print(f"-\t{oe}\t-")


if __name__ == "__main__":
    main()
