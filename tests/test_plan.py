"""Gloss plans of real news sentences against a small lexicon built from real KArSL clips and the jos letters."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from syrisign.errors import SyriSignError
from syrisign.lexicon import DefaultLexiconConfig, Lexicon, build_default_lexicon
from syrisign.plan import KINDS, NothingToSignError, make_plan
from syrisign.settings import get_settings
from syrisign.text import TextError, match_key

# KArSL sign ids of the number signs the plans below need, and of ة
NUMBER_IDS = {0: "0001", 2: "0003", 5: "0006", 6: "0007", 10: "0011", 20: "0012", 200: "0021", 500: "0024",
              1000: "0029", 10**6: "0030"}
WORD_IDS = ("0071", "0072", "0077")  # هيكل عظمي, جمجة (skull, misspelt), رئتان
ESHARAH_WORDS = ("مستشفى", "سنة", "حالك", "المدينة")  # Saudi dictionary clips (with synonyms.json)


@pytest.fixture(scope="module")
def small_lexicon(tmp_path_factory) -> Lexicon:
    """The default lexicon's build, run on a copy of the data tree that holds only a few recordings: jos
    letters + KArSL ة and 10 number signs + 3 KArSL words (one recording each) + 4 Saudi dictionary words
    and its ة, with the dictionary's synonyms. MediaPipe runs on them."""
    real = get_settings().data
    clips = real / "karsl" / "letters_digits_mp4"
    frames = real / "karsl" / "word_frames"
    if not clips.is_dir() or not frames.is_dir():
        pytest.skip(f"KArSL data not found under {real}")
    data = tmp_path_factory.mktemp("data")
    (data / "karsl").mkdir()
    (data / "karsl" / "labels").symlink_to(real / "karsl" / "labels", target_is_directory=True)
    mp4 = data / "karsl" / "letters_digits_mp4" / "01-train"
    mp4.mkdir(parents=True)
    for sid in list(NUMBER_IDS.values()) + ["0060"]:
        src = sorted(clips.rglob(f"*_01_{sid}_*.mp4"))[0]
        (mp4 / src.name).symlink_to(src)
    for sid in WORD_IDS:
        src = sorted((frames / "01").glob(f"*/{sid}/*"))[0]
        dst = data / "karsl" / "word_frames" / "01" / src.parent.parent.name / sid / src.name
        dst.parent.mkdir(parents=True)
        dst.symlink_to(src, target_is_directory=True)
    esh = data / "esharah"
    (esh / "words").mkdir(parents=True)
    (esh / "letters").mkdir()
    (esh / "synonyms.json").symlink_to(real / "esharah" / "synonyms.json")
    for w in ESHARAH_WORDS:
        (esh / "words" / f"{w}.mp4").symlink_to(real / "esharah" / "words" / f"{w}.mp4")
    (esh / "letters" / "ة.mp4").symlink_to(real / "esharah" / "letters" / "ة.mp4")
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYRISIGN_DATA", str(data))
        mp.setenv("SYRISIGN_HOME", str(home))
        out = build_default_lexicon(progress=False, config=DefaultLexiconConfig(
            recordings_per_word_signer=1, candidates_per_word_signer=1))
    return Lexicon.load(out)


@pytest.fixture(scope="module")
def jos_lexicon() -> Lexicon:
    from syrisign.data.sources import spoken_to_signed_lexicon
    return Lexicon.load(spoken_to_signed_lexicon())


def item_of(plan, surface):
    found = [it for it in plan.items if surface in it.tokens]
    assert found, f"{surface!r} not in plan: {[it.text for it in plan.items]}"
    return found[0]


def numbers_of(item):
    return [e.number for e in item.entries]


def test_small_lexicon_is_what_the_build_promises(small_lexicon):
    lex = small_lexicon
    assert set(lex.numbers()) == set(NUMBER_IDS)
    assert lex.letters()["ة"][0].signed_language == "sdl"  # KArSL's ة fills the jos gap
    assert lex.letters()["ب"][0].signed_language == "jos"  # jos preferred where it has the letter
    assert lex.lookup("جمجمة")[0].path == lex.lookup("جمجة")[0].path  # alias of the misspelt label
    assert lex.lookup("رئتان")[0].glosses == "karsl:0077" and lex.lookup("رئتان")[0].english == "lungs"
    for e in lex.entries[::7]:
        assert len(lex.pose(e)) > 0


def test_ministry_of_health_headline(small_lexicon):
    plan = make_plan("أعلنت وزارة الصحة اليوم عن 200 إصابة جديدة", small_lexicon)
    assert [it.text for it in plan.items] == ["أعلنت", "وزارة", "الصحة", "اليوم", "عن", "200", "إصابة", "جديدة"]
    n = item_of(plan, "200")
    assert n.kind == "number" and numbers_of(n) == [200] and n.entries[0].glosses == "karsl:0021"
    w = item_of(plan, "وزارة")
    assert w.kind == "fingerspell" and w.signs == ["و", "ز", "ا", "ر", "ة"]
    assert [e.signed_language for e in w.entries] == ["jos"] * 4 + ["sdl"]
    assert item_of(plan, "الصحة").signs[0] == "ال"  # the article sign
    assert plan.content_tokens == 8 and plan.coverage == pytest.approx(100 / 8)


def test_doctor_lungs_headline(small_lexicon):
    plan = make_plan("قال الطبيب إن الرئتين سليمتان", small_lexicon)
    lungs = item_of(plan, "الرئتين")
    assert lungs.kind == "lexicon" and lungs.entries[0].words == "رئتان" and lungs.english == "lungs"
    assert "clitics stripped" in lungs.note
    inn = item_of(plan, "إن")
    assert inn.kind == "skipped" and not inn.content and "not signed" in inn.note and not inn.entries
    assert item_of(plan, "سليمتان").kind == "fingerspell"
    assert plan.content_tokens == 4 and plan.coverage == pytest.approx(25.0)


def test_skeleton_skull_and_numbers_headline(small_lexicon):
    plan = make_plan("كشفت الأشعة كسرا في الجمجمة والهيكل العظمي لدى 15 مصابا بين 0 و٢٥ عاما", small_lexicon)
    skull = item_of(plan, "الجمجمة")
    assert skull.kind == "lexicon" and skull.entries[0].glosses == "karsl:0072"
    skel = item_of(plan, "والهيكل")
    assert skel.kind == "lexicon" and skel.tokens == ["والهيكل", "العظمي"] and skel.entries[0].words == "هيكل عظمي"
    assert numbers_of(item_of(plan, "15")) == [10, 5]
    assert numbers_of(item_of(plan, "0")) == [0]
    # و٢٥: the conjunction is written apart from the digits by the tokenizer; ٢٥ → 20, 5
    assert numbers_of(item_of(plan, "25")) == [20, 5]
    assert item_of(plan, "و").kind == "skipped"
    c = plan.counts()
    assert c["lexicon"] == 3 and c["number"] == 3


def test_big_numbers_and_arabic_indic_digits(small_lexicon):
    plan = make_plan("زار سوريا 1500000 سائح في عام ٢٠٢٦ مقابل 3000 قبل ذلك", small_lexicon)
    assert numbers_of(item_of(plan, "1500000")) == [10**6, 500, 1000]
    y = item_of(plan, "2026")
    assert numbers_of(y) == [2, 1000, 20, 6] and y.kind == "number"
    missing = item_of(plan, "3000")  # no sign for 3 in this small lexicon, not even digit by digit
    assert missing.kind == "skipped" and "3" in missing.note and missing.content
    units = plan.units()
    assert len(units) == sum(len(it.entries) for it in plan.items)
    assert [u.text_ar for u in units if u.item_index == y.index] == ["2", "1000", "20", "6"]


def test_hospital_headline_with_clitics_latin_and_emoji(small_lexicon):
    plan = make_plan("نقل المريض بالمستشفى والرئتان سليمتان، according to WHO 👍", small_lexicon)
    hosp = item_of(plan, "بالمستشفى")  # the Saudi dictionary's sign, found under the preposition and article
    assert hosp.kind == "lexicon" and hosp.rule == "lemma" and hosp.signs == ["مستشفى"]
    assert hosp.entries[0].path.startswith("esharah-words/") and hosp.english == "hospital"
    lungs = item_of(plan, "والرئتان")
    assert lungs.kind == "lexicon" and lungs.entries[0].words == "رئتان"
    assert item_of(plan, "سليمتان").pause_after  # the comma
    latin = item_of(plan, "according")
    assert latin.kind == "skipped" and latin.note == "Latin text skipped" and latin.content
    emoji = item_of(plan, "👍")
    assert emoji.kind == "skipped" and not emoji.content
    # coverage = (lexicon + number + fuzzy) / content tokens; Latin words count as content, emoji not
    assert plan.content_tokens == 8
    assert plan.coverage == pytest.approx(100 * 2 / 8)
    assert plan.rule_counts()["lemma"] == 2 and plan.to_dict()["rules"]["lemma"] == 2


def test_inflected_and_synonym_forms_find_the_saudi_signs(small_lexicon):
    plan = make_plan("افتتاح مستشفى جديد للمستشفى مستشفيات المستشفى العام عام", small_lexicon)
    rules = {it.text: (it.kind, it.rule, it.signs) for it in plan.items}
    assert rules["مستشفى"] == ("lexicon", "exact", ["مستشفى"])
    assert rules["للمستشفى"] == ("lexicon", "lemma", ["مستشفى"])
    assert rules["مستشفيات"] == ("lexicon", "lemma", ["مستشفى"])
    assert rules["المستشفى"][:2] == ("lexicon", "synonym")  # listed by the dictionary as a written form
    year = item_of(plan, "العام")  # the dictionary signs عام / العام with its clip of سنة
    assert year.kind == "lexicon" and year.rule == "synonym" and year.signs == ["سنة"] and year.english == "year"
    assert "a written form of 'سنة'" in year.note
    assert item_of(plan, "عام").signs == ["سنة"]
    assert rules["افتتاح"][0] == "fingerspell" and rules["جديد"][1] == "fingerspell"
    c = plan.rule_counts()
    assert (c["exact"], c["synonym"], c["lemma"], c["fingerspell"]) == (1, 3, 2, 2)


def test_word_senses_the_news_would_misread_are_not_signed_with_the_dictionary_clip(small_lexicon):
    # المدينة is "the city" in the news; the clip is Medina, reached by its full name only
    assert item_of(make_plan("سوق المدينة القديمة", small_lexicon), "المدينة").kind == "fingerspell"
    medina = make_plan("زيارة إلى المدينة المنورة", small_lexicon).items[-1]
    assert medina.kind == "lexicon" and medina.tokens == ["المدينة", "المنورة"]
    # حال ("case", في حال) is one of the app's forms of حالك ("how are you?"), left out
    assert item_of(make_plan("في حال المطر", small_lexicon), "حال").kind == "fingerspell"
    assert item_of(make_plan("حالك", small_lexicon), "حالك").rule == "exact"


def test_ta_marbuta_with_the_jordanian_lexicon_only(jos_lexicon):
    plan = make_plan("مدرسة الصحة", jos_lexicon)
    for it in plan.items:
        assert it.kind == "substituted"
        assert it.signs[-1] == "ه" and it.entries[-1].words == "ه" and it.entries[-1].signed_language == "jos"
        assert "ة → ه (not in jos)" in it.note
    assert plan.coverage == 0.0
    num = make_plan("200 طالب", jos_lexicon).items[0]
    assert num.kind == "skipped" and num.note == "no number signs in the lexicon"


def test_fuzzy_matcher_is_used_only_without_an_exact_match(small_lexicon):
    lungs = small_lexicon.lookup("رئتان")[0]
    calls = []

    def fuzzy(surface, key):
        calls.append((surface, key))
        return (lungs, 0.81) if surface == "الرئة" else None

    plan = make_plan("الرئة والرئتان دمشق", small_lexicon, fuzzy=fuzzy)
    f = item_of(plan, "الرئة")
    assert f.kind == "fuzzy" and f.score == pytest.approx(0.81) and "0.810" in f.note and f.entries == [lungs]
    assert item_of(plan, "والرئتان").kind == "lexicon"
    assert item_of(plan, "دمشق").kind == "fingerspell"
    assert [c[0] for c in calls] == ["الرئة", "دمشق"] and calls[0][1] == match_key("الرئة")
    assert plan.counts()["fuzzy"] == 1


def test_translator_glosses_explain_and_json(small_lexicon):
    from syrisign.translator import GlossaryTranslator
    tr = GlossaryTranslator.default(lexicon=small_lexicon)
    plan = make_plan("أعلنت وزارة الصحة اليوم عن 200 إصابة في الرئتين", small_lexicon, translator=tr)
    assert "ministry of health" in plan.translation and "lungs" in plan.translation
    assert item_of(plan, "اليوم").english == "today"
    assert item_of(plan, "الرئتين").english == "lungs"
    text = plan.explain()
    for it in plan.items:
        assert it.text in text
    assert "coverage:" in text and "karsl-words/0077" in text
    d = json.loads(json.dumps(plan.to_dict(), ensure_ascii=False))
    assert d["coverage"] == round(plan.coverage, 2) and len(d["items"]) == len(plan.items)
    assert {i["kind"] for i in d["items"]} <= set(KINDS)
    assert all(Path(e["file"]).is_file() for i in d["items"] for e in i["entries"])


def test_arabsign_sentences_all_plan(small_lexicon):
    path = get_settings().data / "text" / "arabsign_sentences.txt"
    if not path.is_file():
        pytest.skip("arabsign_sentences.txt not found")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(lines) == 50
    for line in lines:
        plan = make_plan(line, small_lexicon)
        assert plan.items and all(it.kind in KINDS for it in plan.items)
        assert sum(len(it.tokens) for it in plan.items) == len(line.replace("-", " ").split())
        for it in plan.items:
            assert (it.kind == "skipped") == (not it.entries)
            assert len(it.signs) == len(it.entries)
    plan = make_plan(lines[9], small_lexicon)  # "الله اكبر"
    assert [it.kind for it in plan.items] == ["fingerspell", "fingerspell"]
    assert plan.items[0].signs == ["ال", "ل", "ه"]


def test_nothing_to_sign(small_lexicon):
    for text in ("", "   \n"):
        with pytest.raises(TextError, match="nothing to sign: the text is empty"):
            make_plan(text, small_lexicon)
    with pytest.raises(TextError, match="only punctuation"):
        make_plan("!!! ؟ ...", small_lexicon)
    with pytest.raises(NothingToSignError, match="Latin text skipped") as e:
        make_plan("hello world 😀", small_lexicon)
    assert isinstance(e.value, SyriSignError) and [it.kind for it in e.value.plan.items] == ["skipped"] * 3
    with pytest.raises(NothingToSignError, match="not signed"):
        make_plan("إن قد", small_lexicon)
    with pytest.raises(TextError, match="limit is 5000"):
        make_plan("ا " * 3000, small_lexicon)
    assert make_plan("ب " * 30, small_lexicon, max_chars=100).items


def test_lexicon_gaps_counts_groups_and_ranks(small_lexicon, tmp_path, capsys):
    from syrisign.cli import main
    from syrisign.gaps import find_gaps
    lines = ["وزارة الصحة تعلن", "الوزارة في المستشفى", "وزارات الصحة 200"]
    report = find_gaps(lines, small_lexicon)
    # 9 content tokens: المستشفى (a written form of مستشفى) and 200 are signed, 7 are not
    assert (report.content_tokens, report.signed_tokens) == (9, 2)
    top = report.gaps[0]
    assert top.lemma == match_key("وزارة") and top.count == 3
    assert set(top.forms) == {"وزارة", "الوزارة", "وزارات"} and top.word == "وزارة"
    second = report.gaps[1]
    assert second.lemma == match_key("صحة") and second.count == 2 and second.forms["الصحة"] == 2
    assert [g.count for g in report.gaps] == [3, 2, 1, 1]
    assert top.share == pytest.approx(100 * 3 / 9) and top.cumulative == pytest.approx(100 * 5 / 9)
    assert report.gaps[-1].cumulative == pytest.approx(100.0)
    # the command: a table and a CSV, comments in the file left out
    f = tmp_path / "news.txt"
    f.write_text("# a comment\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert main(["lexicon", "gaps", str(f), "--lexicon", str(small_lexicon.root), "--csv",
                 str(tmp_path / "gaps.csv")]) == 0
    out = capsys.readouterr().out
    assert "3 line(s), 9 content tokens, 2 signed" in out and "4 lemmas have no sign" in out
    rows = (tmp_path / "gaps.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("rank,word") and rows[1].split(",")[:4] == ["1", "وزارة", match_key("وزارة"), "3"]
