"""``syrisign lexicon gaps``: the words of a text or corpus that have no recorded sign, as a list to record.

Every line of the input (``#`` comment lines left out) is planned against the lexicon as ``translate``
plans it. A content token that is fingerspelled or skipped is a gap (a fuzzy match counts as a gap too
unless ``with_fuzzy``: it is a guess, a recording is the answer). Gaps are grouped by lemma (of the
clitic- and inflection-stripped forms the text front end finds for a word, the one most gaps share, so
وزارة، الوزارة، وزارات count together), ranked by how many tokens they cover, and each row says what share of all content tokens a
recording of that lemma would add, and the cumulative share down the list.
"""
from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from syrisign.errors import SyriSignError
from syrisign.text import clitic_candidates, match_key

@dataclass
class Gap:
    lemma: str  # match key of the lemma
    count: int  # content tokens it covers
    forms: Counter = field(default_factory=Counter)  # surface forms seen, with counts
    share: float = 0.0  # percent of all content tokens
    cumulative: float = 0.0  # percent covered once this and every gap above it are recorded

    @property
    def word(self) -> str:
        """The form to record under: the most frequent surface form."""
        return self.forms.most_common(1)[0][0]


@dataclass
class GapReport:
    lines: int
    content_tokens: int
    signed_tokens: int
    rules: dict[str, int]
    gaps: list[Gap]

    @property
    def coverage(self) -> float:
        return 100.0 * self.signed_tokens / self.content_tokens if self.content_tokens else 0.0

    def table(self, top: int | None = None) -> str:
        rows = [("rank", "word", "tokens", "share %", "cumulative %", "forms")]
        for i, g in enumerate(self.gaps[:top] if top else self.gaps, 1):
            forms = "، ".join(f for f, _ in g.forms.most_common(4))
            rows.append((str(i), g.word, str(g.count), f"{g.share:.1f}", f"{g.cumulative:.1f}", forms))
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        out.insert(1, "  ".join("-" * w for w in widths))
        head = (f"{self.lines} line(s), {self.content_tokens} content tokens, {self.signed_tokens} signed with "
                f"recordings ({self.coverage:.1f}%: " + ", ".join(f"{k} {v}" for k, v in self.rules.items() if v)
                + f"); {len(self.gaps)} lemmas have no sign")
        return head + "\n" + "\n".join(out)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["rank", "word", "lemma_key", "tokens", "share_percent", "cumulative_percent", "forms"])
        for i, g in enumerate(self.gaps, 1):
            w.writerow([i, g.word, g.lemma, g.count, f"{g.share:.2f}", f"{g.cumulative:.2f}",
                        " ".join(f"{f}:{n}" for f, n in g.forms.most_common())])
        return buf.getvalue()


def lemma_candidates(surface: str) -> list[str]:
    """The word's match key and the clitic- and inflection-stripped forms the text front end proposes
    (at least 3 letters), as match keys."""
    return [match_key(surface)] + [f for f in clitic_candidates(surface) if len(f.replace(" ", "")) >= 3]


def group_by_lemma(tokens: list[str]) -> dict[str, str]:
    """Surface token -> its lemma key: of the token's candidate forms, the one most tokens of the text share
    (so وزارة، الوزارة، وزارات meet at وزاره), ties to a form without the article, then to the longest."""
    cands = {t: lemma_candidates(t) for t in set(tokens)}
    count: Counter = Counter()
    for t in tokens:
        count.update(set(cands[t]))
    return {t: max(cs, key=lambda k: (count[k], not k.startswith(("ال", "لل")), len(k))) for t, cs in cands.items()}


def read_lines(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The non-empty, non-comment lines of text files ("-" is standard input)."""
    import sys

    lines = []
    for p in paths:
        if str(p) == "-":
            text = sys.stdin.read()
        else:
            f = Path(p).expanduser()
            if not f.is_file():
                raise SyriSignError(f"{f}: no such file")
            try:
                text = f.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                raise SyriSignError(f"{f}: not UTF-8 text ({e})") from None
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return lines


def find_gaps(lines: Iterable[str], lexicon, fuzzy=None, with_fuzzy: bool = False) -> GapReport:
    from syrisign.plan import SIGNED_KINDS, NothingToSignError, make_plan

    lines = list(lines)
    content = signed = 0
    rules: Counter = Counter()
    gap_tokens: list[str] = []
    for line in lines:
        try:
            plan = make_plan(line, lexicon, fuzzy=fuzzy)
        except NothingToSignError as e:
            if e.plan is None:
                continue
            plan = e.plan
        for it in plan.items:
            if not it.content:
                continue
            n = len(it.tokens)
            content += n
            rules[it.rule] += n
            if it.kind in SIGNED_KINDS and (it.kind != "fuzzy" or with_fuzzy):
                signed += n
            else:
                gap_tokens += it.tokens
    lemma = group_by_lemma(gap_tokens)
    counts: dict[str, Gap] = {}
    for tok in gap_tokens:
        g = counts.setdefault(lemma[tok], Gap(lemma[tok], 0))
        g.count += 1
        g.forms[tok] += 1
    gaps = sorted(counts.values(), key=lambda g: (-g.count, g.lemma))
    total = 0
    for g in gaps:
        total += g.count
        g.share = 100.0 * g.count / content if content else 0.0
        g.cumulative = 100.0 * (signed + total) / content if content else 0.0
    return GapReport(len(lines), content, signed, dict(rules), gaps)


__all__ = ["Gap", "GapReport", "find_gaps", "group_by_lemma", "lemma_candidates", "read_lines"]
