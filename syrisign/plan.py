"""The gloss plan: how each token of an Arabic text will be signed.

:func:`make_plan` resolves tokens left to right:

1. the longest run of words (up to the lexicon's longest entry) whose match key, whole or with
   clitics stripped, names a lexicon word sign → ``lexicon``; its ``rule`` says how: ``exact`` (the
   word as written), ``synonym`` (another written form the lexicon lists for the recording, such as
   العام for سنة) or ``lemma`` (clitics or an inflection stripped: للمستشفى → مستشفى);
2. a word on the small not-signed list (إن، أن، قد، الذي، التي ...) → ``skipped`` (not content);
3. digits or a number word → ``number``: the lexicon's number signs in place-value order;
4. the ``fuzzy`` callable (the retrieval model), if given and it finds a sign → ``fuzzy``;
5. otherwise fingerspelling with the lexicon's letter signs → ``fingerspell``, or ``substituted``
   when a letter had to be replaced (ة → ه in the Jordanian alphabet);
6. Latin words, other scripts and emoji → ``skipped`` with a note. Punctuation is not an item; it
   marks ``pause_after`` on the item before it.

Coverage (``plan.coverage``, percent) = content tokens signed with a recorded sign (``lexicon``,
``number``, ``fuzzy``) / all content tokens. Content tokens are every word token (Arabic, digits,
Latin, other scripts) except the not-signed words; emoji and punctuation are not content.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from syrisign.errors import SyriSignError
from syrisign.lexicon import Lexicon, LexiconEntry
from syrisign.text import (
    DEFAULT_MAX_CHARS, TextError, Token, fingerspell, longest_match, not_signed_reason, number_word_value,
    read_number, tokenize,
)

KINDS = ("lexicon", "number", "fingerspell", "substituted", "skipped", "fuzzy")
# which rule of the front end found the sign: the word as written, another written form the lexicon lists
# for the recording (a synonym or inflection, e.g. العام → سنة), the word with clitics and inflection
# stripped (للمستشفى → مستشفى), the retrieval model, the number reader, or none (fingerspelled / skipped)
RULES = ("exact", "synonym", "lemma", "fuzzy", "number", "fingerspell", "skipped")
SIGNED_KINDS = ("lexicon", "number", "fuzzy")  # counted as covered

FuzzyMatcher = Callable[[str, str], "tuple[LexiconEntry, float] | None"]


class NothingToSignError(TextError):
    """The text has words, but none that can be signed; ``plan`` holds the skipped items."""

    def __init__(self, message: str, plan: GlossPlan | None = None) -> None:
        super().__init__(message)
        self.plan = plan


@dataclass
class PlanItem:
    """One unit of the plan: a token (or a multi-word lexicon phrase) and the signs that play it."""

    index: int
    tokens: list[str]  # surface forms of the source token(s)
    kind: str  # one of KINDS
    entries: list[LexiconEntry] = field(default_factory=list)  # recordings to play, in order
    signs: list[str] = field(default_factory=list)  # what each entry signs (word, letter, number)
    english: str = ""
    note: str = ""
    score: float | None = None  # fuzzy matches
    alphabet: str = ""  # fingerspelled words: the alphabet the word is spelled with
    rule: str = ""  # one of RULES
    start: int = 0  # character offsets in the input text
    end: int = 0
    pause_after: bool = False
    content: bool = True  # counts in coverage

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entries]

    @property
    def paths(self) -> list[str]:
        return [str(e.file) for e in self.entries]

    @property
    def signed(self) -> bool:
        return bool(self.entries)

    def to_dict(self) -> dict:
        return {"index": self.index, "text": self.text, "tokens": list(self.tokens), "kind": self.kind,
                "signs": list(self.signs), "entries": [e.to_dict() for e in self.entries], "english": self.english,
                "note": self.note, "score": self.score, "start": self.start, "end": self.end,
                "pause_after": self.pause_after, "content": self.content, "alphabet": self.alphabet,
                "rule": self.rule}


@dataclass
class GlossPlan:
    text: str
    items: list[PlanItem]
    lexicon: str = ""  # the lexicon's folder
    translation: str = ""  # the whole text in English, when a translator was given
    notes: list[str] = field(default_factory=list)
    signer: str = ""  # who the video shows: the body every recording is retargeted onto, and the dominant hand

    def rule_counts(self) -> dict[str, int]:
        """Content tokens per rule (:data:`RULES`)."""
        out = {r: 0 for r in RULES}
        for it in self.items:
            if it.content:
                out[it.rule or _rule_of_kind(it.kind)] += len(it.tokens)
        return out

    def counts(self) -> dict[str, int]:
        """Content tokens per kind (a multi-word item counts each of its words)."""
        out = {k: 0 for k in KINDS}
        for it in self.items:
            if it.content:
                out[it.kind] += len(it.tokens)
        return out

    @property
    def content_tokens(self) -> int:
        return sum(len(it.tokens) for it in self.items if it.content)

    @property
    def coverage(self) -> float:
        """Percent of content tokens signed with a recorded sign (lexicon, number, fuzzy)."""
        n = self.content_tokens
        if not n:
            return 0.0
        c = self.counts()
        return 100.0 * sum(c[k] for k in SIGNED_KINDS) / n

    @property
    def signed_items(self) -> list[PlanItem]:
        return [it for it in self.items if it.entries]

    def units(self):
        """One :class:`~syrisign.producers.SignUnit` per recording to play, in order."""
        from syrisign.producers import SignUnit

        out = []
        for it in self.items:
            for j, (e, sign) in enumerate(zip(it.entries, it.signs)):
                out.append(SignUnit(text_ar=sign, text_en=e.english or (it.english if len(it.entries) == 1 else ""),
                                    kind=it.kind, entry=e, item_index=it.index,
                                    meta={"item_text": it.text, "position": j, "of": len(it.entries),
                                          "pause_after": it.pause_after and j == len(it.entries) - 1}))
        return out

    def coverage_line(self) -> str:
        c = self.counts()
        skipped_other = sum(len(it.tokens) for it in self.items if not it.content)
        return (f"coverage: {self.coverage:.1f}% of {self.content_tokens} content token(s) signed with recordings "
                f"(lexicon {c['lexicon']}: {self._lexicon_rules()}, number {c['number']}, fuzzy {c['fuzzy']}; "
                f"fingerspelled "
                f"{c['fingerspell'] + c['substituted']}, skipped {c['skipped']}); not counted: {skipped_other}")

    def _lexicon_rules(self) -> str:
        r = self.rule_counts()
        return f"exact {r['exact']}, synonym form {r['synonym']}, lemma {r['lemma']}"

    def explain(self) -> str:
        """A readable table: each token, how it is signed, from which recording(s); then the coverage."""
        rows = [("#", "token", "kind", "rule", "signs", "recording(s)", "english", "note")]
        for it in self.items:
            if it.kind in ("fingerspell", "substituted"):
                langs: dict[str, int] = {}
                for e in it.entries:
                    langs[e.alphabet] = langs.get(e.alphabet, 0) + 1
                rec = "letters " + ", ".join(f"{k}×{v}" for k, v in langs.items())
                signs = "-".join(it.signs)
            elif it.kind == "number":
                rec = ", ".join(it.ids)
                signs = " ".join(it.signs)
            else:
                rec = ", ".join(f"{e.id} ({e.signed_language})" for e in it.entries[:2])
                if len(it.entries) > 2:
                    rec += f" +{len(it.entries) - 2}"
                signs = " | ".join(it.signs)
            rows.append((str(it.index), it.text, it.kind, it.rule or "-", signs or "-", rec or "-", it.english or "-",
                         (it.note or "") + (f" [score {it.score:.3f}]" if it.score is not None else "")))
        widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate((3, 24, 11, 11, 30, 48, 22, 60))]

        def fmt(r):
            cells = [(c if len(c) <= w else c[:w - 1] + "…").ljust(w) for c, w in zip(r, widths)]
            return "  ".join(cells).rstrip()

        lines = [fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]]
        if self.translation:
            lines.append(f"translation: {self.translation}")
        if self.signer:
            lines.append(f"signer: {self.signer}")
        lines.append(self.coverage_line())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"text": self.text, "lexicon": self.lexicon, "translation": self.translation, "signer": self.signer,
                "coverage": round(self.coverage, 2), "counts": self.counts(), "rules": self.rule_counts(),
                "content_tokens": self.content_tokens,
                "items": [it.to_dict() for it in self.items], "notes": list(self.notes)}


def _rule_of_kind(kind: str) -> str:
    return {"number": "number", "fuzzy": "fuzzy", "fingerspell": "fingerspell", "substituted": "fingerspell",
            "lexicon": "exact"}.get(kind, "skipped")


def _nothing_reason(tokens: list[Token], items: list[PlanItem]) -> str:
    if not tokens:
        return "the text is empty"
    if not items:
        return "the text has only punctuation and symbols"
    notes = sorted({it.note for it in items if it.note})
    return "no Arabic word or number could be signed (" + "; ".join(notes) + ")"


def make_plan(text: str, lexicon: Lexicon, translator=None, fuzzy: FuzzyMatcher | None = None,
              max_chars: int = DEFAULT_MAX_CHARS, substitutes: dict | None = None,
              closest: dict[str, list[str]] | None = None, one_alphabet: bool = True) -> GlossPlan:
    """The gloss plan of ``text`` against ``lexicon``.

    ``translator``: a :class:`~syrisign.translator.Translator` for English glosses and the whole
    translation (lexicon entries' own English is preferred for their items). ``fuzzy(surface, key)``
    returns ``(entry, score)`` or None for words with no exact match. A word is fingerspelled with one
    alphabet: the preferred one of those that have the most of its letters; a letter that alphabet lacks
    comes from the ``closest`` other alphabet that has it (``closest[a]``: the other alphabets, nearest
    first; default the preference order), and the item's note says so. Raises :class:`TextError` past
    ``max_chars``, and "nothing to sign" errors for empty text, only punctuation, or words of which
    none can be signed (:class:`NothingToSignError`, which carries the plan).
    """
    if not isinstance(text, str):
        raise TextError(f"the text must be a string, got {type(text).__name__}")
    tokens = tokenize(text, max_chars=max_chars)
    if not text.strip():
        raise TextError("nothing to sign: the text is empty")
    letters = lexicon.letters()
    alphabets = lexicon.alphabets()
    numbers = lexicon.numbers()
    letter_langs = sorted({v[0].signed_language for v in letters.values()}) or ["lexicon"]
    spell_name = "/".join(letter_langs)
    max_words = max(1, getattr(lexicon, "max_phrase_words", 4))

    def word_lookup(key: str):
        return lexicon.lookup(key, kind="word")

    items: list[PlanItem] = []
    notes: list[str] = []

    def add(tok: list[Token], kind: str, **kw) -> PlanItem:
        kw.setdefault("rule", _rule_of_kind(kind))
        it = PlanItem(len(items) + 1, [t.surface for t in tok], kind, start=tok[0].start, end=tok[-1].end,
                      pause_after=tok[-1].pause_after, **kw)
        items.append(it)
        return it

    def number_item(tok: Token, values: list[int], note: str) -> None:
        if not numbers:
            add([tok], "skipped", note="no number signs in the lexicon")
            return
        missing = [v for v in values if v not in numbers]
        if missing:  # only digit signs can be missing here: compose_number already fell back to digits
            add([tok], "skipped", note=f"no sign for {', '.join(map(str, sorted(set(missing))))} in the lexicon")
            return
        add([tok], "number", entries=[numbers[v][0] for v in values], signs=[str(v) for v in values],
            english=str(tok.surface) if tok.kind == "number" else "", note=note)

    def spell_item(tok: Token) -> None:
        if not letters:
            add([tok], "skipped", note="no fingerspelling letters in the lexicon")
            return
        units = fingerspell(tok.surface, letters, substitutes, spell_name)
        played = [u for u in units if u.sign]
        unit_notes = list(dict.fromkeys(u.note for u in units if u.note))
        if not played:
            add([tok], "skipped", note="; ".join(unit_notes) or "no letter could be signed")
            return
        if not one_alphabet:  # each letter its best sign, whatever the alphabet (as before "one signer")
            add([tok], "substituted" if any(u.substituted for u in units) else "fingerspell",
                entries=[letters[u.sign][0] for u in played], signs=[u.sign for u in played],
                note="; ".join(unit_notes))
            return
        names = list(alphabets)
        # the preferred alphabet among those that have the most of the word's letters
        name = min(names, key=lambda a: (sum(u.sign not in alphabets[a] for u in played), names.index(a)))
        order = [a for a in (closest or {}).get(name, names) if a != name and a in alphabets]
        order += [a for a in names if a != name and a not in order]
        entries = []
        for u in played:
            if u.sign in alphabets[name]:
                entries.append(alphabets[name][u.sign])
                continue
            other = next(a for a in order if u.sign in alphabets[a])
            entries.append(alphabets[other][u.sign])
            unit_notes.append(f"{u.sign} from {other} (not in {name})")
        kind = "substituted" if any(u.substituted for u in units) else "fingerspell"
        add([tok], kind, entries=entries, signs=[u.sign for u in played], note="; ".join(unit_notes),
            alphabet=name)

    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.kind in ("punct",):
            i += 1
            continue
        if t.kind in ("emoji", "symbol"):
            add([t], "skipped", note="emoji skipped" if t.kind == "emoji" else "symbol skipped", content=False)
            i += 1
            continue
        if t.kind == "latin":
            add([t], "skipped", note="Latin text skipped")
            i += 1
            continue
        if t.kind == "other":
            add([t], "skipped", note="non-Arabic script skipped")
            i += 1
            continue
        m = longest_match(tokens, i, word_lookup, max_words=max_words)
        if m is not None:
            span = tokens[m.start:m.end]
            entry = m.value[0]
            rule = "lemma" if m.stripped else "synonym" if entry.is_form else "exact"
            note = f"matched {entry.words!r}" if m.stripped or len(span) > 1 or entry.is_form else ""
            if m.stripped:
                note += " (clitics stripped)"
            if entry.is_form:
                note += f", a written form of {entry.form_of!r}"
            if entry.source == "community":
                note = (note + "; " if note else "") + "community recording" + (
                    f" (added by {entry.signer})" if entry.signer else "")
            add(span, "lexicon", entries=[entry], signs=[entry.form_of or entry.words], english=entry.english,
                note=note.strip(), rule=rule)
            i = m.end
            continue
        reason = not_signed_reason(t)
        if reason:
            add([t], "skipped", note=f"not signed: {reason}", content=False)
            i += 1
            continue
        if t.kind == "number":
            r = read_number(t.surface, numbers)
            number_item(t, r.signs, r.note)
            i += 1
            continue
        value = number_word_value(t)
        if value is not None:
            r = read_number(str(value), numbers)
            number_item(t, r.signs, "number word" + (f"; {r.note}" if r.note else ""))
            i += 1
            continue
        if fuzzy is not None:
            found = fuzzy(t.surface, t.key)
            if found:
                entry, score = found
                add([t], "fuzzy", entries=[entry], signs=[entry.form_of or entry.words], english=entry.english, score=float(score),
                    note=f"nearest sign {entry.words!r}, score {float(score):.3f}")
                i += 1
                continue
        spell_item(t)
        i += 1

    plan = GlossPlan(text, items, str(lexicon.root), notes=notes)
    if translator is not None:
        _translate(plan, translator)
    if not items or not any(it.entries for it in items):
        raise NothingToSignError("nothing to sign: " + _nothing_reason(tokens, items), plan if items else None)
    return plan


def _translate(plan: GlossPlan, translator) -> None:
    todo = [it for it in plan.items if not it.english and it.content and it.kind != "number"]
    try:
        out = translator.translate([plan.text] + [it.text for it in todo])
    except SyriSignError:
        raise
    except Exception as e:  # a model failing must not lose the plan
        plan.notes.append(f"translation failed: {type(e).__name__}: {e}")
        return
    plan.translation = out[0] if out else ""
    for it, en in zip(todo, out[1:]):
        it.english = en


__all__ = ["KINDS", "SIGNED_KINDS", "PlanItem", "GlossPlan", "NothingToSignError", "make_plan", "FuzzyMatcher"]
