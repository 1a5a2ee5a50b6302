"""Vocabulary: how much of the news the default lexicon signs with recordings, by rule, and whether the English
glosses shown in the plan are the right senses.

    .venv/bin/python benchmarks/vocabulary_bench.py [--sentences benchmarks/news/sentences_ar.txt]
        [--glosses benchmarks/news/glosses_ar.tsv] [--fuzzy]

- Coverage: every sentence planned as ``syrisign translate`` plans it, content tokens counted per rule
  (exact, synonym form, lemma, fuzzy, number; fingerspelled, skipped), with the lexicon as it was before
  the Saudi dictionary (its ``jos/``, ``karsl-letters/`` and ``karsl-words/`` recordings) and with the whole
  default lexicon. ``--fuzzy`` adds the trained retrieval model's fuzzy matcher to both.
- Glosses: each content token's English in the plan (the lexicon entry's own English, else the offline
  glossary) against the hand-written reference of ``glosses_ar.tsv`` (``sentence, token, english`` with
  alternatives split by ``|``); a gloss is right when its words and a reference's words, compared without a
  plural -s, contain one another.
"""
from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
RULE_ORDER = ("exact", "synonym", "lemma", "fuzzy", "number", "fingerspell", "skipped")


def _words(s: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z0-9']+", s.lower()):
        out.add(w[:-1] if len(w) > 3 and w.endswith("s") else w)
    return out - {"the", "a", "an", "to", "of"}


def gloss_right(produced: str, reference: str) -> bool:
    p = _words(produced)
    for alt in reference.split("|"):
        r = _words(alt)
        if p and r and (r <= p or p <= r):
            return True
    return False


def plans(lines, lexicon, translator=None, fuzzy=None):
    from syrisign.plan import NothingToSignError, make_plan
    out = []
    for line in lines:
        try:
            out.append(make_plan(line, lexicon, translator, fuzzy=fuzzy))
        except NothingToSignError as e:
            out.append(e.plan)
    return out


def rule_table(rows: dict[str, Counter], total: dict[str, int]) -> str:
    head = "| lexicon | content tokens | " + " | ".join(RULE_ORDER) + " | signed with recordings |"
    lines = [head, "|" + " --- |" * (len(RULE_ORDER) + 3)]
    for name, c in rows.items():
        signed = sum(c[r] for r in ("exact", "synonym", "lemma", "fuzzy", "number"))
        lines.append(f"| {name} | {total[name]} | " + " | ".join(str(c[r]) for r in RULE_ORDER)
                     + f" | {signed} ({100 * signed / max(total[name], 1):.1f} %) |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", default=str(HERE / "news" / "sentences_ar.txt"))
    ap.add_argument("--glosses", default=str(HERE / "news" / "glosses_ar.tsv"))
    ap.add_argument("--fuzzy", action="store_true", help="with the trained retrieval model's fuzzy matcher")
    ap.add_argument("--show", type=int, default=25, help="wrong glosses to print")
    args = ap.parse_args()

    from syrisign.gaps import read_lines
    from syrisign.lexicon import Lexicon, ensure_default_lexicon
    from syrisign.translator import GlossaryTranslator

    lines = read_lines([args.sentences])
    after = ensure_default_lexicon()
    before = Lexicon(after.root, [e for e in after.entries if e.path.split("/")[0] in ("jos", "karsl-letters",
                                                                                        "karsl-words")])
    rows, total = {}, {}
    for name, lex in ((f"before: KArSL + Jordanian ({len(before)} entries)", before),
                      (f"now: + Saudi dictionary and its written forms ({len(after)} entries)", after)):
        fuzzy = None
        if args.fuzzy:
            from retrieval.producer import make_fuzzy_matcher
            fuzzy = make_fuzzy_matcher(lexicon=lex)
        c = Counter()
        for p in plans(lines, lex, fuzzy=fuzzy):
            for k, v in p.rule_counts().items():
                c[k] += v
        rows[name], total[name] = c, sum(c.values())
    print(f"{len(lines)} sentences from {args.sentences}\n")
    print(rule_table(rows, total))

    ref_path = Path(args.glosses)
    if not ref_path.is_file():
        print(f"\nno reference glosses at {ref_path}: gloss accuracy not measured")
        return
    with open(ref_path, newline="", encoding="utf-8") as f:
        refs = [r for r in csv.DictReader(f, delimiter="\t") if r.get("token")]
    by_sentence: dict[int, list[dict]] = {}
    for r in refs:
        by_sentence.setdefault(int(r["sentence"]), []).append(r)
    translator = GlossaryTranslator.default(lexicon=after)
    right = n = 0
    wrong = []
    for si, plan in enumerate(plans(lines, after, translator), 1):
        from syrisign.text import surface_form
        produced = {}
        for it in plan.items:
            for tok in it.tokens:
                produced.setdefault(tok, it.english)
        for r in by_sentence.get(si, []):
            tok = surface_form(r["token"])
            if tok not in produced:
                continue  # a word the plan does not count as content (not signed)
            n += 1
            if gloss_right(produced[tok], r["english"]):
                right += 1
            else:
                wrong.append((si, r["token"], produced[tok], r["english"]))
    print(f"\nglosses: {right} of {n} content tokens right ({100 * right / max(n, 1):.1f} %) against "
          f"{ref_path.name}")
    for si, tok, got, want in wrong[:args.show]:
        print(f"  {si:3d} {tok}: {got!r} (reference: {want})")


if __name__ == "__main__":
    main()
