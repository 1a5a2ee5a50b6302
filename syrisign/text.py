"""Arabic text front end: normalization, tokenization, clitics, numbers and fingerspelling units.

Every token keeps two forms (see docs/text-frontend.md):

- ``surface``: what was written, cleaned only of what never changes a letter (tashkeel, tatweel,
  presentation forms, Persian code points of Arabic letters, Eastern digits → Western). Used for
  captions and fingerspelling, so ة, ى and the hamza seats stay as written.
- ``key``: aggressively normalized for lexicon and glossary lookup (alef forms → ا, ى → ي, ة → ه,
  ؤ → و, ئ → ي, lam-alef ligatures decomposed); both sides of a lookup go through :func:`match_key`.

``pyarabic`` does the character-level normalization and ``tashaphyne`` (ArabicLightStemmer) proposes
the prefix/stem/suffix segmentations from which :func:`clitic_candidates` keeps those whose prefix is
a real proclitic chain (و ف + ب ك ل + ال, ل+ال = لل) and whose suffix is a pronoun or a dual/plural ending.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass

from syrisign.errors import SyriSignError

DEFAULT_MAX_CHARS = 5000


class TextError(SyriSignError, ValueError):
    """Text that cannot be processed (too long, nothing to sign); the message says what to do."""


# -- characters ---------------------------------------------------------------------------------
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Persian/Urdu code points of letters that are the same Arabic letter, and alef wasla.
_SAME_LETTER = str.maketrans({"ک": "ك", "ی": "ي", "ي": "ي", "ە": "ه", "ۀ": "ه", "ٱ": "ا", "ٲ": "أ", "ٳ": "إ"})
# Letters that Arabic writes for foreign sounds: kept in the surface form, folded in the key.
_FOREIGN = str.maketrans({"پ": "ب", "چ": "ج", "ڤ": "ف", "ڥ": "ف", "گ": "ك", "ڭ": "ك", "ژ": "ز"})
_KEY_FOLD = str.maketrans({"ى": "ي", "ة": "ه"})

# Arabic, Latin and general punctuation that separates tokens; "pause" marks end a clause.
_PAUSE = set(".!?؟،,؛;:…")

_ARABIC_CHARS = "\u0621-\u063A\u0640-\u065F\u0670-\u06D3\u06D5\u06EE\u06EF\u06FA-\u06FF\uFB50-\uFDFF\uFE70-\uFEFC"
_DIGIT_CHARS = "0-9\u0660-\u0669\u06F0-\u06F9"
_EMOJI = ("\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u20E3\U000E0020-\U000E007F"
          "\U0001F3FB-\U0001F3FF")
_TOKEN_RE = re.compile(
    rf"(?P<number>[{_DIGIT_CHARS}]+(?:[.,\u066B\u066C][{_DIGIT_CHARS}]+)*)"
    rf"|(?P<arabic>[{_ARABIC_CHARS}]+)"
    rf"|(?P<latin>[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F0-9]*(?:['’\-][A-Za-z\u00C0-\u024F0-9]+)*)"
    rf"|(?P<emoji>[{_EMOJI}]+)"
    r"|(?P<other>[^\W\d_]+)"
    r"|(?P<mark>\S)"
)


def surface_form(text: str) -> str:
    """Tashkeel, tatweel and presentation forms removed, Eastern digits → Western; letters kept as written."""
    from pyarabic import araby

    text = unicodedata.normalize("NFKC", text)  # presentation forms (ﻻ, ﺍﻟﺼﺤﺔ) → base letters
    text = araby.strip_diacritics(araby.strip_tatweel(text))
    return text.translate(_DIGITS).translate(_SAME_LETTER)


def match_key(text: str) -> str:
    """The lookup key of a word or phrase (both sides of every lookup use it).

    Surface form, then: lam-alef ligatures decomposed, hamza seats to their carrier (أ إ آ → ا,
    ؤ → و, ئ → ي; pyarabic's "tasheel"), ى → ي, ة → ه, foreign letters folded (ڤ → ف ...), Latin
    lower-cased, punctuation dropped and spaces collapsed. ``match_key("وَزارةُ الصِّحَّة")`` is
    ``"وزاره الصحه"``.
    """
    from pyarabic import araby

    s = araby.normalize_ligature(surface_form(text))
    s = araby.normalize_hamza(s, method="tasheel").translate(_KEY_FOLD).translate(_FOREIGN).lower()
    words = re.findall(rf"[{_ARABIC_CHARS}]+|[{_DIGIT_CHARS}]+(?:[.,][{_DIGIT_CHARS}]+)*|[^\W_]+", s)
    return " ".join(words)


def is_arabic(text: str) -> bool:
    return bool(re.search(rf"[{_ARABIC_CHARS}]", text))


# -- tokens -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """One token of the input. ``kind``: arabic | number | latin | emoji | other | punct | symbol."""

    text: str  # as written
    surface: str
    key: str
    kind: str
    start: int  # character offsets in the input
    end: int
    pause_after: bool = False  # a clause-ending mark (. ، ؟ ...) follows

    @property
    def is_word(self) -> bool:
        return self.kind in ("arabic", "number", "latin", "other")


def check_length(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> None:
    if max_chars and len(text) > max_chars:
        raise TextError(f"the text has {len(text)} characters; the limit is {max_chars} "
                        "(split it into shorter parts or raise max_chars)")


def tokenize(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[Token]:
    """Split ``text`` into tokens; raises :class:`TextError` past ``max_chars`` characters.

    A regular expression over Unicode classes does the split (pyarabic's tokenizer keeps
    punctuation glued to words and splits ``1,500``): digit groups with , . ٫ ٬ stay one number,
    an emoji sequence (ZWJ, skin tones, flags) stays one token, tashkeel and tatweel stay inside words.
    """
    check_length(text, max_chars)
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind, raw = m.lastgroup, m.group()
        if kind == "mark":
            cat = unicodedata.category(raw)
            if cat.startswith("P"):
                kind = "punct"
            elif unicodedata.category(raw) in ("Mn", "Me", "Cf"):  # stray combining marks
                continue
            else:
                kind = "symbol"
            if kind == "punct" and raw in _PAUSE and tokens and tokens[-1].is_word:
                last = tokens[-1]
                tokens[-1] = Token(last.text, last.surface, last.key, last.kind, last.start, last.end, True)
        surface = surface_form(raw) if kind not in ("emoji", "symbol", "punct") else raw
        if kind == "arabic" and not surface:  # a run of tatweel or tashkeel alone
            continue
        tokens.append(Token(raw, surface, match_key(surface) if kind not in ("emoji", "symbol", "punct") else "",
                            kind, m.start(), m.end()))
    return tokens


# -- clitics ------------------------------------------------------------------------------------
def _proclitic_chains() -> frozenset[str]:
    out = set()
    for conj in ("", "و", "ف"):
        for prep in ("", "ب", "ك", "ل"):
            for art in ("", "ال"):
                p = conj + prep + art
                if prep == "ل" and art:
                    p = conj + "لل"  # ل + ال is written لل
                out.add(p)
    out.discard("")
    return frozenset(out)


PROCLITICS = _proclitic_chains()
PRONOUN_SUFFIXES = frozenset({"ه", "ها", "هم", "هما", "هن", "ك", "كم", "كما", "كن", "ي", "نا"})
INFLECTION_SUFFIXES = frozenset({"ة", "ان", "ين", "ون", "ات", "تان", "تين"})  # feminine, dual, plural


@functools.lru_cache(maxsize=1)
def _stemmer():
    from tashaphyne.stemming import ArabicLightStemmer
    return ArabicLightStemmer()


@functools.lru_cache(maxsize=50000)
def clitic_candidates(surface: str) -> tuple[str, ...]:
    """Match keys to try after the whole word, longest first, from tashaphyne's segmentations.

    A segmentation counts when its prefix is a proclitic chain (و ف, ب ك ل, ال, لل ...) or empty
    and its suffix is empty, a pronoun (ه ها هم ك ي نا ...) or a dual/plural ending; the stem's
    dictionary forms are restored where the suffix hid them (الرئتين → رئتان, وزارته → وزارة,
    إصابات → إصابة). A remainder after a proclitic without the article must keep 4 letters
    (وزير is never read as و + زير, at the price of missing وكبد → كبد). The whole word itself is
    not in the list.
    """
    word = surface_form(surface)
    if len(word) < 3 or not is_arabic(word):
        return ()
    st = _stemmer()
    st.segment(word)
    forms: list[str] = []
    for seg in st.get_affix_list():
        prefix, stem, suffix = seg["prefix"], seg["stem"], seg["suffix"]
        if prefix and prefix not in PROCLITICS:
            continue
        if suffix and suffix not in PRONOUN_SUFFIXES and suffix not in INFLECTION_SUFFIXES:
            continue
        if not prefix and not suffix:
            continue
        minimum = 2 if (not prefix or prefix.endswith("ال") or prefix.endswith("لل")) else 4
        cands = [stem + suffix] if prefix else []
        if suffix in PRONOUN_SUFFIXES:
            cands.append(stem)
            if stem.endswith("ت"):  # ta marbuta is written ت before a pronoun: وزارته
                cands.append(stem[:-1] + "ة")
            if stem.endswith("ا"):  # dual construct: رئتاه → رئتان
                cands.append(stem + "ن")
        elif suffix in ("ين", "تين"):
            cands.append(stem + suffix[:-2] + "ان")  # dual oblique → nominative
            cands.append(stem)
        elif suffix == "ات":
            cands += [stem + "ة", stem]
        elif suffix:
            cands.append(stem)
        for c in cands:
            if len(c) >= minimum and c != word:
                forms.append(c)
    keys = []
    for f in sorted(set(forms), key=lambda s: (-len(s), forms.index(s))):
        k = match_key(f)
        if k and k not in keys and k != match_key(word):
            keys.append(k)
    return tuple(keys)


def token_keys(token: Token, strip_clitics: bool = True) -> list[str]:
    """The keys to look ``token`` up by: whole word first, then clitic-stripped forms, longest first."""
    if not token.key:
        return []
    keys = [token.key]
    if strip_clitics and token.kind == "arabic":
        keys += [k for k in clitic_candidates(token.surface) if k not in keys]
    return keys


@dataclass
class Match:
    start: int  # token indices [start, end)
    end: int
    key: str  # the key that matched (words joined by spaces)
    value: object  # what ``lookup`` returned
    stripped: bool  # a clitic-stripped form matched, not the whole word(s)


def longest_match(tokens: Sequence[Token], i: int, lookup: Callable[[str], object], max_words: int = 4,
                  max_variants: int = 3) -> Match | None:
    """The longest run of word tokens starting at ``i`` whose key ``lookup`` knows (a truthy answer).

    Spans of ``max_words`` down to 1 are tried; within a span, the whole words first, then
    combinations of each word's first ``max_variants`` clitic-stripped forms (so الهيكل العظمي finds
    "هيكل عظمي"); a single word tries all its forms. Punctuation ends a span.
    """
    import itertools

    span = []
    for t in tokens[i:i + max_words]:
        if t.kind not in ("arabic", "number"):
            break
        span.append(t)
        if t.pause_after:
            break
    for n in range(len(span), 0, -1):
        # one word: every form; a phrase: each word's whole form and first few stripped forms
        variants = [token_keys(t) if n == 1 else token_keys(t)[:1 + max_variants] for t in span[:n]]
        for combo in itertools.product(*variants):
            key = " ".join(combo)
            value = lookup(key)
            if value:
                stripped = any(c != v[0] for c, v in zip(combo, variants))
                return Match(i, i + n, key, value, stripped)
    return None


# -- words that are not signed ------------------------------------------------------------------
# Kept small on purpose (docs/text-frontend.md): only function words that sign languages express
# without a manual sign (complementizers, the emphatic/perfective particle, relative pronouns) and
# a detached "و". Keys, so أن/إن/إنّ/أنّ all fold to "ان".
NOT_SIGNED: dict[str, str] = {
    **{match_key(w): "complementizer/emphatic particle" for w in ("إن", "أن", "لأن")},
    **{match_key(w): "perfective particle" for w in ("قد", "لقد")},
    **{match_key(w): "relative pronoun" for w in ("الذي", "التي", "الذين", "اللذان", "اللتان", "اللذين",
                                                  "اللتين", "اللواتي", "اللاتي", "اللائي")},
    match_key("و"): "conjunction written apart",
}


def not_signed_reason(token: Token) -> str | None:
    """Why ``token`` is left out of the signing, or None when it is signed."""
    return NOT_SIGNED.get(token.key) if token.kind == "arabic" else None


# -- numbers ------------------------------------------------------------------------------------
def _number_words() -> dict[str, int]:
    units = {
        0: ["صفر"], 1: ["واحد", "واحدة"], 2: ["اثنان", "اثنين", "اثنتان", "اثنتين"], 3: ["ثلاث", "ثلاثة"],
        4: ["أربع", "أربعة"], 5: ["خمس", "خمسة"], 6: ["ست", "ستة"], 7: ["سبع", "سبعة"], 8: ["ثمان", "ثماني", "ثمانية"],
        9: ["تسع", "تسعة"], 10: ["عشر", "عشرة"],
    }
    tens = {20: "عشر", 30: "ثلاث", 40: "أربع", 50: "خمس", 60: "ست", 70: "سبع", 80: "ثمان", 90: "تسع"}
    words: dict[str, int] = {}
    for v, ws in units.items():
        for w in ws:
            words[w] = v
    for v, stem in tens.items():
        words[stem + "ون"] = v
        words[stem + "ين"] = v
    for w in ("مئة", "مائة"):
        words[w] = 100
    for w in ("مئتان", "مئتين", "مائتان", "مائتين"):
        words[w] = 200
    for v, stem in ((3, "ثلاث"), (4, "أربع"), (5, "خمس"), (6, "ست"), (7, "سبع"), (8, "ثمان"), (9, "تسع")):
        words[stem + "مئة"] = words[stem + "مائة"] = v * 100
    words.update({"ألف": 1000, "آلاف": 1000, "ألفان": 2000, "ألفين": 2000, "مليون": 10**6, "ملايين": 10**6,
                  "مليونان": 2 * 10**6, "مليونين": 2 * 10**6, "مليار": 10**9, "مليارات": 10**9})
    return {match_key(w): v for w, v in words.items()}


NUMBER_WORDS = _number_words()


def number_word_value(token: Token) -> int | None:
    """The value of a single-word Arabic number (خمسة, عشرون, مئتان, ألف ...), clitics allowed (وعشرون)."""
    if token.kind != "arabic":
        return None
    for k in token_keys(token):
        if k in NUMBER_WORDS:
            return NUMBER_WORDS[k]
    return None


@dataclass
class NumberReading:
    """A digit token as the number signs to play. ``signs``: values such as 2, 1000, 20, 6."""

    text: str
    signs: list[int]
    digit_by_digit: bool
    note: str = ""


def parse_number(surface: str) -> tuple[str, str | None]:
    """(integer digits, fraction digits or None) of a number token; thousands separators removed."""
    s = surface.translate(_DIGITS).replace("\u066C", ",").replace("\u066B", ".")
    if re.fullmatch(r"\d{1,3}(,\d{3})+", s):
        return s.replace(",", ""), None
    m = re.fullmatch(r"(\d+)[.,](\d+)", s)
    if m:
        return m.group(1), m.group(2)
    return re.sub(r"\D", "", s), None


def compose_number(n: int, available: Container[int]) -> list[int] | None:
    """Place-value reading, largest unit first, with only the signs in ``available``; None if one is missing.

    Below 1000: hundreds sign (100-900), tens sign (10-90), units sign (1-9): 15 → [10, 5],
    245 → [200, 40, 5]. Thousands and millions: count then unit, a count of 1 left out:
    2026 → [2, 1000, 20, 6], 1500000 → [1000000, 500, 1000]; exactly ten million uses its own sign
    when there is one. 0 → [0].
    """
    if n < 0:
        return None
    if n == 0:
        out = [0]
    else:
        out = []
        for unit in (10**9, 10**6, 1000):
            count, n = divmod(n, unit)
            if count:
                if unit == 10**6 and count == 10 and 10**7 in available:
                    out.append(10**7)
                    continue
                if unit == 10**9 and 10**9 not in available:
                    return None
                if count > 1:
                    inner = compose_number(count, available)
                    if inner is None:
                        return None
                    out += inner
                out.append(unit)
        hundreds, rest = divmod(n, 100)
        tens, units = divmod(rest, 10)
        if hundreds:
            out.append(hundreds * 100)
        if tens:
            out.append(tens * 10)
        if units:
            out.append(units)
    return out if all(v in available for v in out) else None


def read_number(surface: str, available: Container[int], max_digits: int = 12) -> NumberReading:
    """The signs for a digit token; digit by digit for codes (leading 0), very long numbers, or when a
    needed sign is missing. Fractions: the integer part, then the fraction's digits (no sign for the point)."""
    whole, frac = parse_number(surface)
    notes = []
    if not whole:
        return NumberReading(surface, [], True, "no digits")
    digits = None
    if len(whole) > 1 and whole.startswith("0"):
        digits, why = whole, "leading zero: read digit by digit"
    elif len(whole) > max_digits:
        digits, why = whole, f"more than {max_digits} digits: read digit by digit"
    else:
        signs = compose_number(int(whole), available)
        if signs is None:
            digits, why = whole, "a place-value sign is missing from the lexicon: read digit by digit"
    if digits is not None:
        signs = [int(d) for d in digits]
        notes.append(why)
    if frac:
        signs = signs + [int(d) for d in frac]
        notes.append("decimal point has no sign: fraction digits follow the integer part")
    return NumberReading(surface, signs, digits is not None or bool(frac), "; ".join(notes))


# -- fingerspelling -----------------------------------------------------------------------------
# A letter with no sign in the lexicon is replaced by the first substitute that has one.
# ة → ه: the Jordanian alphabet has no ta marbuta; at the end of a word (where ة always stands) it
# is read as h or not at all, and it is written as a ه with two dots. ت is the second choice.
SUBSTITUTES: dict[str, tuple[str, ...]] = {
    "ة": ("ه", "ت"),
    "ى": ("ي", "ا"),
    "أ": ("ا",), "إ": ("ا",), "آ": ("ا",), "ٱ": ("ا",),
    "ؤ": ("و",),
    "ئـ": ("ئ", "ي"), "ئ": ("ئـ", "ي"),
    "ء": ("ا",),
    "پ": ("ب",), "چ": ("ج",), "ڤ": ("ف",), "ڥ": ("ف",), "گ": ("ك",), "ڭ": ("ك",), "ژ": ("ز",),
}
# Signs that cover two letters when the lexicon has them.
ARTICLE, LAM_ALEF, YEH_HAMZA_SEAT = "ال", "لا", "ئـ"
LETTERS = frozenset("ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي") | {ARTICLE, LAM_ALEF, YEH_HAMZA_SEAT}


@dataclass
class SpelledLetter:
    written: str  # the letter(s) of the word this unit stands for
    sign: str | None  # the letter sign to play; None = skipped
    note: str = ""

    @property
    def substituted(self) -> bool:
        return self.sign is not None and self.sign != self.written and self.written not in (ARTICLE, LAM_ALEF)


def fingerspell(word: str, available: Container[str], substitutes: dict[str, tuple[str, ...]] | None = None,
                lexicon_name: str = "lexicon") -> list[SpelledLetter]:
    """Letter signs for ``word``: the article sign ال at the start (after و/ف/ب/ك too), the lam-alef sign for
    ل + ا, the seat form ئـ inside a word; missing letters replaced by their substitute; letters with
    neither are skipped with a note. Non-letters (digits, Latin) are skipped."""
    subs = SUBSTITUTES if substitutes is None else substitutes
    w = surface_form(word)
    units: list[SpelledLetter] = []
    i = 0
    while i < len(w):
        ch = w[i]
        nxt = w[i + 1] if i + 1 < len(w) else ""
        at_article = (i == 0 or (i == 1 and w[0] in "وفبك")) and w[i:i + 2] == ARTICLE and len(w) > i + 2
        if at_article and ARTICLE in available:
            units.append(SpelledLetter(ARTICLE, ARTICLE))
            i += 2
            continue
        if ch == "ل" and nxt == "ا" and LAM_ALEF in available:
            units.append(SpelledLetter(LAM_ALEF, LAM_ALEF))
            i += 2
            continue
        letter = YEH_HAMZA_SEAT if ch == "ئ" and nxt else ch
        if letter in available:
            units.append(SpelledLetter(letter, letter))
        elif ch in available:
            units.append(SpelledLetter(ch, ch))
        else:
            sub = next((s for s in subs.get(letter, ()) + subs.get(ch, ()) if s in available), None)
            if sub is not None:
                units.append(SpelledLetter(ch, sub, f"{ch} → {sub} (not in {lexicon_name})"))
            elif ch in LETTERS:
                units.append(SpelledLetter(ch, None, f"{ch} has no sign and no substitute in {lexicon_name}: skipped"))
            else:
                units.append(SpelledLetter(ch, None, f"{ch!r} is not an Arabic letter: skipped"))
        i += 1
    return units


# -- unknown words to Latin (captions, English prompts) ----------------------------------------
_ROMAN = {
    "ا": "a", "أ": "a", "إ": "i", "آ": "aa", "ء": "'", "ؤ": "'", "ئ": "'", "ب": "b", "ت": "t", "ث": "th", "ج": "j",
    "ح": "h", "خ": "kh", "د": "d", "ذ": "dh", "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t",
    "ظ": "z", "ع": "'", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "و": "w",
    "ي": "y", "ى": "a", "ة": "a", "پ": "p", "چ": "ch", "ڤ": "v", "گ": "g", "ژ": "zh",
}


def romanize(word: str) -> str:
    """A plain consonantal romanization (no vowels are written, so it is only a readable stand-in)."""
    s = "".join(_ROMAN.get(c, c) for c in surface_form(word))
    s = re.sub(r"^'+|'+$", "", s)
    return s


def words(tokens: Iterable[Token]) -> list[Token]:
    return [t for t in tokens if t.is_word]


__all__ = [
    "DEFAULT_MAX_CHARS", "TextError", "Token", "Match", "NumberReading", "SpelledLetter",
    "surface_form", "match_key", "is_arabic", "tokenize", "check_length", "clitic_candidates", "token_keys",
    "longest_match", "NOT_SIGNED", "not_signed_reason", "NUMBER_WORDS", "number_word_value", "parse_number",
    "compose_number", "read_number", "SUBSTITUTES", "LETTERS", "ARTICLE", "LAM_ALEF", "fingerspell", "romanize",
    "PROCLITICS",
]
