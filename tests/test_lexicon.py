"""Lexicons: the spoken-to-signed index schema both ways, lookup order, poses, `lexicon add`, the default build."""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
import pytest

from syrisign.cli import main
from syrisign.errors import SyriSignError
from syrisign.lexicon import (
    INDEX_COLUMNS, DefaultLexiconConfig, Lexicon, LexiconError, build_default_lexicon, ensure_default_lexicon,
)
from syrisign.pose import PoseSequence
from syrisign.settings import get_settings


def _karsl_clip(sign_id: str) -> Path:
    folder = get_settings().data / "karsl" / "letters_digits_mp4"
    found = sorted(folder.rglob(f"*_{sign_id}_*.mp4"))
    if not found:
        pytest.skip(f"KArSL clip {sign_id} not found under {folder}")
    return found[0]


def test_loads_the_spoken_to_signed_index_unchanged(package_index):
    before = package_index.read_bytes()
    lex = Lexicon.load(package_index)
    assert package_index.read_bytes() == before
    with open(package_index, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(lex) == len(rows) - lex.missing_files
    letters = lex.letters()
    assert len(letters) == 38 and "ة" not in letters and {"ال", "لا", "ئـ"} <= set(letters)
    assert {e[0].signed_language for e in letters.values()} == {"jos"}
    assert lex.numbers() == {}
    # the same frames as the package's own lookup (start/end in milliseconds honoured)
    from spoken_to_signed.gloss_to_pose.lookup.csv_lookup import CSVPoseLookup
    theirs = CSVPoseLookup(str(package_index.parent)).lookup("ب", "ب", "ar", "jos").pose
    ours = lex.pose(lex.lookup("ب", kind="letter")[0])
    assert len(ours) == theirs.body.data.shape[0] and ours.skeleton.name == "holistic586"
    assert lex.pose(lex.lookup("ب")[0]) is ours  # cached


def _tiny_lexicon(root: Path, package_index: Path) -> Lexicon:
    src = Lexicon.load(package_index)
    seq = src.pose(src.lookup("ب", kind="letter")[0])
    lex = Lexicon.create(root)
    lex.add("رئتان", seq, english="lungs", signed_language="sdl", priority=1, glosses="karsl:0077")
    lex.add("رئتان", seq[:5], english="lungs", signed_language="jos", priority=1)
    lex.add("رئتان", seq[:7], english="lungs", signed_language="sdl", priority=0)
    lex.add("هيكل عظمي", seq, english="skeleton", signed_language="sdl", glosses="karsl:0071")
    lex.add("5", seq, signed_language="sdl")
    lex.add("ب", seq, signed_language="jos")
    return lex


def test_index_round_trip_and_lookup_order(tmp_path, package_index):
    lex = _tiny_lexicon(tmp_path / "lex", package_index)
    with open(tmp_path / "lex" / "index.csv", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == INDEX_COLUMNS
        rows = list(reader)
    assert len(rows) == 6 and all(not Path(r["path"]).is_absolute() for r in rows)
    again = Lexicon.load(tmp_path / "lex" / "index.csv")
    assert [e.row() for e in again.entries] == [e.row() for e in lex.entries]
    assert [(e.id, e.english) for e in again.entries] == [(e.id, e.english) for e in lex.entries]
    best = again.lookup("رئتان")
    # priority first, then the signed-language preference (jos before sdl)
    assert [(e.priority, e.signed_language) for e in best] == [(0, "sdl"), (1, "jos"), (1, "sdl")]
    assert again.lookup("الرئتان") == []  # lookup is by exact key; clitics are the plan's business
    assert again.lookup("ريتان") == best  # keys fold hamza seats
    assert [e.kind for e in again.lookup("هيكل عظمي")] == ["word"] and again.max_phrase_words == 2
    assert set(again.numbers()) == {5} and set(again.letters()) == {"ب"}
    assert len(again.pose(best[0])) == 7
    assert [e.words for e in again.search("lung")] == ["رئتان"] * 3
    # spoken-to-signed reads our index too
    from spoken_to_signed.gloss_to_pose.lookup.csv_lookup import CSVPoseLookup
    res = CSVPoseLookup(str(tmp_path / "lex")).lookup("هيكل عظمي", "هيكل عظمي", "ar", "sdl")
    # (its end=0 slice is body[0:-1], one frame short of the whole file)
    assert res.pose.body.data.shape[0] == len(again.pose(again.lookup("هيكل عظمي")[0])) - 1


def test_start_end_are_milliseconds(tmp_path, package_index):
    src = Lexicon.load(package_index)
    seq = src.pose(src.lookup("م", kind="letter")[0])
    seq.save(tmp_path / "m.pose")
    with open(tmp_path / "index.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(INDEX_COLUMNS)
        w.writerow(["m.pose", "ar", "jos", 0, 0, "م", "م", 0])
        w.writerow(["m.pose", "ar", "jos", 200, 600, "ميم", "ميم", 0])
    lex = Lexicon.load(tmp_path)
    whole, part = lex.pose(lex.lookup("م")[0]), lex.pose(lex.lookup("ميم")[0])
    assert len(whole) == len(seq)
    assert len(part) == round(0.4 * seq.fps)  # 200-600 ms at 25 fps = frames 5..15
    assert len({e.id for e in lex.entries}) == 2


def test_missing_lexicon_and_bad_index_are_clear_errors(tmp_path, capsys):
    with pytest.raises(LexiconError, match="no lexicon at"):
        Lexicon.load(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="missing column"):
        Lexicon.load(tmp_path / "bad")
    assert main(["lexicon", "list", "--lexicon", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no lexicon at" in err and "Traceback" not in err


def test_default_build_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("SYRISIGN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYRISIGN_DATA", str(tmp_path / "no-data"))
    with pytest.raises(LexiconError) as e:
        ensure_default_lexicon(progress=False)
    msg = str(e.value)
    assert "KArSL" in msg and str(tmp_path / "no-data") in msg and "SYRISIGN_DATA" in msg and "\n" not in msg
    assert not (tmp_path / "home" / "lexicons" / "default" / "index.csv").exists()
    # the Jordanian letters alone need no data; a sign added before the build is kept by it
    from syrisign.data.sources import spoken_to_signed_lexicon
    from syrisign.lexicon import default_lexicon_dir
    src = Lexicon.load(spoken_to_signed_lexicon())
    Lexicon.create(default_lexicon_dir()).add("سوريا", src.pose(src.lookup("س")[0]), english="syria")
    out = build_default_lexicon(config=DefaultLexiconConfig(parts=("jos",)), progress=False)
    lex = Lexicon.load(out)
    assert len(lex) == 39 and set(lex.signed_languages) == {"jos", ""}
    assert lex.lookup("سوريا")[0].english == "syria" and lex.lookup("سوريا")[0].path.startswith("added/")


def test_lexicon_add_from_a_karsl_video_and_a_corrupt_one(tmp_path, capsys):
    clip = _karsl_clip("0033")  # ب
    folder = tmp_path / "community"
    rc = main(["lexicon", "add", "--word", "باء", "--english", "letter b", "--signed-language", "sdl",
               "--lexicon", str(folder), str(clip)])
    assert rc == 0, capsys.readouterr().err
    lex = Lexicon.load(folder)
    (entry,) = lex.entries
    assert entry.words == "باء" and entry.english == "letter b" and entry.path.endswith(".pose")
    seq = lex.pose(entry)
    assert seq.skeleton.name == "holistic543" and 0 < len(seq)
    assert (seq.confidence[:, :33] > 0).mean() > 0.9  # MediaPipe found the signer
    index_before = (folder / "index.csv").read_bytes()
    files_before = sorted(p.name for p in folder.rglob("*"))

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    capsys.readouterr()
    rc = main(["lexicon", "add", "--word", "خطأ", "--lexicon", str(folder), str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "broken.mp4" in err and "Traceback" not in err and err.count("\n") == 1
    assert (folder / "index.csv").read_bytes() == index_before
    assert sorted(p.name for p in folder.rglob("*")) == files_before


def test_lexicon_add_from_a_gif(tmp_path, capsys):
    from conftest import make_gif
    gif = make_gif(_karsl_clip("0033"), tmp_path / "baa.gif", max_frames=40)
    folder = tmp_path / "community"
    assert main(["lexicon", "add", "--word", "باء", "--lexicon", str(folder), str(gif)]) == 0, capsys.readouterr().err
    (entry,) = Lexicon.load(folder).entries
    seq = Lexicon.load(folder).pose(entry)
    assert entry.source == "added from baa.gif" and 0 < len(seq) <= 40 and (seq.confidence[:, :33] > 0).mean() > 0.9
    (tmp_path / "broken.gif").write_bytes(b"GIF89a\x10\x00")
    capsys.readouterr()
    assert main(["lexicon", "add", "--word", "خطأ", "--lexicon", str(folder), str(tmp_path / "broken.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken.gif" in err and "Traceback" not in err
    assert len(Lexicon.load(folder)) == 1


def test_the_most_typical_recording_of_a_word_comes_first(tmp_path, package_index):
    """Of several recordings of one word, the medoid (least mean distance to the others) is ranked first."""
    from syrisign.data.dataset import Sample
    from syrisign.lexicon import _typical_first

    src = Lexicon.load(package_index)
    base = src.pose(src.lookup("ب", kind="letter")[0])
    rng = np.random.default_rng(0)
    shoulder = float(np.linalg.norm(base.data[0, 11, :2] - base.data[0, 12, :2])) or 1.0

    def moved(scale):  # the same sign, its hand displaced by `scale` shoulder widths, plus noise
        data = base.data + scale * shoulder * np.array([1.0, 0.5, 0.0], dtype=np.float32)
        data[:, :33] = base.data[:, :33]  # the body stays
        data += rng.normal(0, 0.005 * shoulder, data.shape).astype(np.float32)
        return PoseSequence(data, base.confidence.copy(), base.fps, base.skeleton)

    seqs = {"far": moved(0.9), "a": moved(0.05), "mid": moved(0.0), "b": moved(-0.05), "farther": moved(-1.2)}

    class FakeDataset:
        def load(self, s):
            return seqs[s.id]

    samples = [Sample(k, "ب", missing_hand_rate=0.0) for k in seqs]
    order = [s.id for s in _typical_first(FakeDataset(), samples)]
    assert order[0] == "mid" and set(order[-2:]) == {"far", "farther"}
    # a recording without hands in most frames goes last whatever its distance
    samples[2].missing_hand_rate = 0.9
    assert _typical_first(FakeDataset(), samples)[-1].id == "mid"


def test_add_a_pose_file_appends_atomically(tmp_path, package_index):
    lex = _tiny_lexicon(tmp_path / "lex", package_index)
    n = len(lex)
    src = Lexicon.load(package_index)
    src.pose(src.lookup("ك", kind="letter")[0]).save(tmp_path / "k.pose")
    assert main(["lexicon", "add", "--word", "كاف", "--no-trim", "--lexicon", str(tmp_path / "lex"),
                 str(tmp_path / "k.pose")]) == 0
    lex2 = Lexicon.load(tmp_path / "lex")
    assert len(lex2) == n + 1 and lex2.lookup("كاف")[0].source == "added from k.pose"
    assert not list((tmp_path / "lex").rglob("*.tmp"))
    with pytest.raises(SyriSignError):
        lex2.add("  ", PoseSequence.load(tmp_path / "k.pose"))


@pytest.mark.slow
def test_full_default_lexicon_build(tmp_path, monkeypatch):
    """The whole default lexicon on a clean SYRISIGN_HOME (MediaPipe on ~130 KArSL and 145 Saudi dictionary clips)."""
    data = get_settings().data
    if not (data / "karsl" / "word_frames").is_dir():
        pytest.skip("KArSL data not found")
    monkeypatch.setenv("SYRISIGN_HOME", str(tmp_path / "home"))
    t0 = time.perf_counter()
    lex = ensure_default_lexicon(progress=False)
    seconds = time.perf_counter() - t0
    print(f"default lexicon: {len(lex)} entries in {seconds:.1f} s")
    # the goal is under 5 minutes on 2 free cores (about 100 s measured); the bound here leaves room for a
    # machine shared with other jobs (400 s were seen with a load average of 10 on 2 cores)
    assert seconds < 900
    words = {e.words for e in lex.entries if e.kind == "word"}
    assert {"رئتان", "هيكل عظمي", "جمجمة", "جمجة", "كبد"} <= words
    assert set(lex.numbers()) >= {0, 5, 10, 20, 100, 1000, 10**6, 10**7}
    letters = lex.letters()
    assert letters["ب"][0].signed_language == "jos" and letters["ة"][0].signed_language == "sdl"
    # the Saudi dictionary: 107 words (one recording each, with their written forms) and a third alphabet
    saudi = [e for e in lex.entries if e.path.startswith("esharah-words/") and not e.is_form]
    assert len({e.path for e in saudi}) == 107 and lex.lookup("مستشفى")[0].english == "hospital"
    assert lex.lookup("العام")[0].form_of == "سنة"
    assert len(lex.alphabets()["esharah-letters"]) == 38
    per = {}
    for e in lex.entries:
        if e.kind == "word" and not e.is_form and e.path.startswith("karsl-words/"):
            per[(e.glosses, e.signer)] = per.get((e.glosses, e.signer), 0) + 1
    assert max(per.values()) == 2
    t1 = time.perf_counter()
    assert len(ensure_default_lexicon(progress=False)) == len(lex)  # built once, then loaded
    assert time.perf_counter() - t1 < 5
