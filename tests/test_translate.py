"""`syrisign translate` end to end through the CLI, on the Jordanian fingerspelling lexicon that the
`spoken-to-signed` package installs (real recordings, no MediaPipe run needed): the video's frames match the
plan's segments, every output format is readable, and bad input ends in one line on stderr, exit code 2."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from syrisign.cli import main
from syrisign.pose import PoseSequence

TEXT = "مستشفى دمشق"  # two words the Jordanian lexicon fingerspells: 6 + 4 letters


@pytest.fixture(scope="module")
def jos() -> str:
    from syrisign.data.sources import spoken_to_signed_lexicon

    return str(spoken_to_signed_lexicon())


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["translate", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_mp4_frames_match_the_plan_segments(jos, tmp_path, capsys):
    import imageio_ffmpeg

    rc, out, _ = run(capsys, TEXT, "--lexicon", jos, "-o", str(tmp_path / "t.mp4"), "--json", "-q", "--size", "256")
    assert rc == 0
    d = json.loads(out)
    items = d["plan"]["items"]
    assert [it["kind"] for it in items] == ["fingerspell", "fingerspell"]
    assert [it["signs"] for it in items] == [list("مستشفى"), list("دمشق")]
    res = d["outputs"]["retrieval"]
    segs = res["segments"]
    # one segment per letter, in the plan's order, contiguous from frame 0 to the last frame
    assert [s["label"] for s in segs] == list("مستشفى") + list("دمشق")
    assert [s["item"] for s in segs] == [1] * 6 + [2] * 4
    assert segs[0]["start"] == 0 and segs[-1]["end"] == res["frames"]
    assert all(a["end"] == b["start"] for a, b in zip(segs, segs[1:]))
    assert all(s["end"] - s["start"] >= 5 for s in segs)  # every letter is on screen for at least 0.2 s
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "t.mp4"))
    meta = next(reader)
    frames = list(reader)
    assert len(frames) == res["frames"] and meta["size"][0] >= 256 and abs(meta["fps"] - 25) < 1e-6


@pytest.mark.parametrize("fmt", ["pose", "npz"])
def test_landmark_outputs_hold_the_stitched_sequence(jos, tmp_path, capsys, fmt):
    rc, out, _ = run(capsys, TEXT, "--lexicon", jos, "-o", str(tmp_path / f"t.{fmt}"), "--json", "-q", "--fps", "30")
    assert rc == 0
    res = json.loads(out)["outputs"]["retrieval"]
    seq = PoseSequence.load(tmp_path / f"t.{fmt}")
    assert len(seq) == res["frames"] and seq.fps == pytest.approx(30)
    assert seq.data.shape[1:] == (543, 3) and np.isfinite(seq.data[seq.confidence > 0]).all()
    moving = np.abs(np.diff(seq.data[:, 522:543], axis=0)).sum()  # the right hand signs the letters
    assert moving > 0


def test_explain_names_every_token_and_the_recordings(jos, tmp_path, capsys):
    rc, out, _ = run(capsys, "وزارة الصحة", "--lexicon", jos, "-o", str(tmp_path / "t.gif"), "--explain", "--size", "128")
    assert rc == 0 and (tmp_path / "t.gif").stat().st_size > 0
    assert "وزارة" in out and "الصحة" in out and "fingerspell" in out and "coverage" in out
    assert "jos" in out  # which recordings were used


def test_portrait_1080_and_no_insets(jos, tmp_path, capsys):
    import imageio_ffmpeg

    rc, _, _ = run(capsys, "باب", "--lexicon", jos, "-o", str(tmp_path / "p.mp4"), "-q", "--size", "1080",
                   "--layout", "portrait")
    assert rc == 0
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "p.mp4"))
    assert next(reader)["size"] == (1080, 1920)
    first = next(reader)
    reader.close()
    assert len(first) == 1080 * 1920 * 3
    rc, _, _ = run(capsys, "باب", "--lexicon", jos, "-o", str(tmp_path / "a.png"), "-q", "--size", "256")
    rc2, _, _ = run(capsys, "باب", "--lexicon", jos, "-o", str(tmp_path / "b.png"), "-q", "--size", "256",
                    "--no-insets")
    assert rc == rc2 == 0 and (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    for bad in (["--size", "2000"], ["--size", "40"]):
        rc, _, err = run(capsys, "باب", "--lexicon", jos, "-o", str(tmp_path / "x.mp4"), *bad)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "out of range" in err
        assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("text,why", [
    ("", "empty"),
    ("  ،؟!...  ", "punctuation"),
    ("Breaking news from Damascus", "Latin"),
    ("😀🎉", "emoji"),
    ("كلمة " * 2000, "limit"),
])
def test_bad_text_gives_one_line_and_exit_code_2(jos, tmp_path, capsys, text, why):
    out_file = tmp_path / "t.mp4"
    rc, out, err = run(capsys, text, "--lexicon", jos, "-o", str(out_file))
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("syrisign: error:") and why in lines[0], err
    assert "Traceback" not in err and not out_file.exists()


def test_missing_lexicon_and_missing_file(tmp_path, capsys):
    rc, _, err = run(capsys, "وزارة", "--lexicon", str(tmp_path / "nowhere"), "-o", str(tmp_path / "t.mp4"))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "no lexicon" in err
    rc, _, err = run(capsys, "-f", str(tmp_path / "missing.txt"))
    assert rc == 2 and "no such text file" in err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    rc, _, err = run(capsys, "-f", str(bad))
    assert rc == 2 and "not UTF-8" in err


def test_an_existing_output_survives_a_failed_run(jos, tmp_path, capsys):
    out_file = tmp_path / "keep.mp4"
    out_file.write_bytes(b"previous result")
    rc, _, _ = run(capsys, "hello", "--lexicon", jos, "-o", str(out_file))
    assert rc == 2 and out_file.read_bytes() == b"previous result"
