"""The Arabic text front end: normalization, tokens, clitics, numbers, fingerspelling units."""
from __future__ import annotations

import pytest

from syrisign.errors import SyriSignError
from syrisign.text import (
    NOT_SIGNED, clitic_candidates, compose_number, fingerspell, longest_match, match_key, not_signed_reason,
    number_word_value, read_number, romanize, surface_form, token_keys, tokenize,
)

# the number signs KArSL has (sign ids 1-31)
KARSL_NUMBERS = set(range(11)) | set(range(20, 100, 10)) | set(range(100, 1000, 100)) | {1000, 10**6, 10**7}


@pytest.fixture(scope="module")
def jos_letters() -> set[str]:
    """The letters of the Jordanian fingerspelling lexicon, read from the installed package's index."""
    import csv

    from syrisign.data.sources import spoken_to_signed_lexicon

    with open(spoken_to_signed_lexicon(), encoding="utf-8") as f:
        return {r["words"] for r in csv.DictReader(f) if r["signed_language"] == "jos"}


def test_surface_keeps_letters_key_folds_them():
    assert surface_form("وَزارةُ الصِّحَّـــة") == "وزارة الصحة"
    assert match_key("وَزارةُ الصِّحَّـــة") == "وزاره الصحه"
    # alef forms, alef maqsura, hamza seats, ligature and presentation forms all meet in the key
    assert match_key("أحمد") == match_key("احمد") == match_key("إحمد") == match_key("آحمد")
    assert match_key("مستشفى") == match_key("مستشفي")
    assert match_key("رئتان") == match_key("ريتان")
    assert match_key("ﻻ") == match_key("لا")
    assert match_key("ﺍﻟﺼﺤﺔ") == match_key("الصحة")
    # surface keeps what fingerspelling needs
    assert surface_form("مدرسةٌ") == "مدرسة"
    assert surface_form("رئتانِ") == "رئتان"
    # Persian code points of Arabic letters become the Arabic ones
    assert surface_form("کتاب یوم") == "كتاب يوم"
    assert match_key("شهيق - زفير") == "شهيق زفير"


def test_tokenize_kinds_digits_and_offsets():
    text = "أعلنت الوزارة، ١٬٥٠٠ إصابة و٣٫٥% hello COVID-19 😀👍🏽 Привет"
    toks = tokenize(text)
    kinds = [(t.text, t.kind) for t in toks]
    assert ("أعلنت", "arabic") in kinds
    assert ("،", "punct") in kinds
    assert ("١٬٥٠٠", "number") in kinds
    assert ("hello", "latin") in kinds and ("COVID-19", "latin") in kinds
    assert ("Привет", "other") in kinds
    emoji = [t for t in toks if t.kind == "emoji"]
    assert len(emoji) == 1 and emoji[0].text == "😀👍🏽"  # one sequence, skin tone included
    for t in toks:
        assert text[t.start:t.end] == t.text
    assert [t for t in toks if t.text == "الوزارة"][0].pause_after  # the comma after it
    num = [t for t in toks if t.kind == "number"]
    assert num[0].surface == "1٬500" and num[1].surface == "3٫5"  # Eastern digits → Western, separators kept


def test_length_limit_is_a_clear_error():
    with pytest.raises(SyriSignError, match="5000"):
        tokenize("ا" * 5001)
    with pytest.raises(SyriSignError, match="limit is 10"):
        tokenize("وزارة الصحة اليوم", max_chars=10)
    assert tokenize("ا" * 5001, max_chars=0)  # 0 = no limit


def test_clitic_candidates():
    assert match_key("رئتان") in clitic_candidates("والرئتان")
    assert match_key("رئتان") in clitic_candidates("الرئتين")  # dual oblique → nominative
    assert match_key("مستشفى") in clitic_candidates("بالمستشفى")
    assert match_key("طبيب") in clitic_candidates("للطبيب")
    assert match_key("كبد") in clitic_candidates("فالكبد")
    assert match_key("وزارة") in clitic_candidates("وزارته")  # ta marbuta before a pronoun
    assert match_key("إصابة") in clitic_candidates("إصابات")
    # a proclitic without the article must leave four letters: وزير is not و + زير
    assert "زير" not in clitic_candidates("وزير")
    # whole word first, then longer candidates before shorter ones
    t = tokenize("والهيكل")[0]
    keys = token_keys(t)
    assert keys[0] == "والهيكل" and keys.index("الهيكل") < keys.index("هيكل")


def test_longest_match_prefers_phrases_and_whole_words():
    vocab = {match_key(w) for w in ("هيكل عظمي", "هيكل", "وجه", "وزارة الصحة", "وزارة")}
    toks = tokenize("والهيكل العظمي وجه وزارة الصحة")
    m = longest_match(toks, 0, lambda k: k in vocab)
    assert (m.start, m.end, m.key, m.stripped) == (0, 2, match_key("هيكل عظمي"), True)
    m = longest_match(toks, 2, lambda k: k in vocab)
    assert (m.end, m.key, m.stripped) == (3, "وجه", False)  # وجه is never read as و + جه
    m = longest_match(toks, 3, lambda k: k in vocab)
    assert m.end == 5 and m.key == match_key("وزارة الصحة")


@pytest.mark.parametrize("text,signs", [
    ("200", [200]),
    ("2026", [2, 1000, 20, 6]),
    ("1500000", [10**6, 500, 1000]),
    ("1,500,000", [10**6, 500, 1000]),
    ("15", [10, 5]),
    ("0", [0]),
    ("١٥", [10, 5]),
    ("٢٠٢٦", [2, 1000, 20, 6]),
    ("۲۰۰", [200]),
    ("999", [900, 90, 9]),
    ("1000", [1000]),
    ("11000", [10, 1, 1000]),
    ("10000000", [10**7]),
    ("25000000", [20, 5, 10**6]),
])
def test_number_composition(text, signs):
    r = read_number(text, KARSL_NUMBERS)
    assert r.signs == signs and not r.digit_by_digit
    assert all(s in KARSL_NUMBERS for s in r.signs)


def test_number_fallbacks():
    r = read_number("2026", set(range(10)))  # no place-value signs: digit by digit
    assert r.signs == [2, 0, 2, 6] and r.digit_by_digit and "missing" in r.note
    r = read_number("0096", KARSL_NUMBERS)
    assert r.signs == [0, 0, 9, 6] and "leading zero" in r.note
    r = read_number("3.5", KARSL_NUMBERS)
    assert r.signs == [3, 5] and "decimal" in r.note
    assert compose_number(1200, {1000, 200}) == [1000, 200]
    assert compose_number(1250, {1000, 200}) is None


def test_number_words():
    def value(w):
        return number_word_value(tokenize(w)[0])

    assert value("مئتان") == 200 and value("مائتين") == 200
    assert value("خمسة") == 5 and value("عشرون") == 20 and value("وعشرون") == 20
    assert value("ثلاثمائة") == 300 and value("ألف") == 1000 and value("آلاف") == 1000
    assert value("وزارة") is None


def test_not_signed_list_is_small_and_matches_hamza_forms():
    assert len(NOT_SIGNED) <= 20
    for w in ("إن", "أن", "إنّ", "قد", "الذي", "التي"):
        assert not_signed_reason(tokenize(w)[0]), w
    for w in ("وزارة", "في", "لا"):
        assert not_signed_reason(tokenize(w)[0]) is None, w


def test_fingerspell_with_jordanian_letters(jos_letters):
    assert "ة" not in jos_letters and {"ال", "لا", "ئـ"} <= jos_letters
    units = fingerspell("الصحة", jos_letters, lexicon_name="jos")
    assert [u.sign for u in units] == ["ال", "ص", "ح", "ه"]
    assert units[-1].substituted and units[-1].note == "ة → ه (not in jos)"
    assert [u.sign for u in fingerspell("سلام", jos_letters)] == ["س", "لا", "م"]
    assert [u.sign for u in fingerspell("فائدة", jos_letters)][:3] == ["ف", "ا", "ئـ"]
    assert [u.sign for u in fingerspell("بالبيت", jos_letters)][:2] == ["ب", "ال"]
    assert fingerspell("ڤيينا", jos_letters)[0].sign == "ف"
    # a letter with neither a sign nor a substitute is skipped with a note, never a crash
    units = fingerspell("بة", {"ب"}, lexicon_name="tiny")
    assert units[1].sign is None and "no sign and no substitute" in units[1].note


def test_romanize():
    assert romanize("دمشق") == "dmshq"
    assert romanize("شجرة") == "shjra"
