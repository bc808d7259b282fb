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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from renumbering import body_of, normal, pair_best_first, parse_articles  # noqa: E402


def articles(path):
    return {eid: a["text"] for eid, a in parse_articles(body_of(path)).items()}


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
    pairs = pair_best_first(scored)
    used_old = {oe for oe, _ in pairs.values()}
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
