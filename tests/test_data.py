"""Dataset building from the real recordings: importers, MediaPipe extraction, errors, resume, splits."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from syrisign.cli import main as cli
from syrisign.data import Dataset
from syrisign.data.build import build_dataset
from syrisign.data.extract import HolisticExtractor, frame_files, read_frame_folder
from syrisign.data.sources import detect_source, list_items
from syrisign.data.split import assign_split, dataset_info


@pytest.fixture(scope="module")
def extractor():
    ex = HolisticExtractor()
    yield ex
    ex.close()


def _letter_videos(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "karsl" / "letters_digits_mp4").rglob("*.mp4"))


def test_karsl_words_layout_is_recognized_with_labels(data_dir):
    root = data_dir / "karsl" / "word_frames"
    assert detect_source(root) == "karsl-words"
    source, items = list_items(root)
    assert len(items) == 642
    samples = [it.sample for it in items]
    assert {s.signer for s in samples} == {"01", "03"}
    assert len({s.sign_id for s in samples}) == 12
    lungs = [s for s in samples if s.sign_id == "0077"]
    assert lungs and lungs[0].label_ar == "رئتان" and lungs[0].label_en.lower() == "lungs"
    assert {s.split for s in samples} == {"train", "test"}
    # repetitions are numbered per signer and word
    reps = sorted(int(s.repetition) for s in samples if s.signer == "01" and s.sign_id == "0071")
    assert reps == list(range(1, 44))


def test_frame_folder_timing_comes_from_original_frame_index(data_dir):
    folder = next(p for p in (data_dir / "karsl" / "word_frames" / "01" / "train" / "0071").iterdir())
    files = frame_files(folder)
    idx = [int(f.stem.rsplit("_", 1)[1]) for f in files]
    assert idx == sorted(idx) and len(files) == 18
    frames, stamps, fps = read_frame_folder(folder)
    assert len(frames) == 18 and frames[0].shape == (256, 256, 3)
    np.testing.assert_allclose(stamps, (np.array(idx) - idx[0]) / 30.0)


def test_extraction_on_a_real_karsl_word(data_dir, extractor):
    folder = sorted((data_dir / "karsl" / "word_frames" / "03" / "test" / "0077").iterdir())[0]
    seq = extractor.extract_path(folder)
    assert seq.skeleton.name == "holistic543" and seq.data.shape == (18, 543, 3)
    assert seq.timestamps is not None and seq.timestamps[-1] > 17 / 30  # frames span more than 18/30 s
    assert (seq.confidence[:, :33] > 0).all(), "the signer's body is found in every frame"
    hp = seq.hand_presence()
    assert hp["both_missing"] < 0.5, "hands are found in most frames of a sign"
    # landmarks are in pixels of the 256x256 frames and the shoulders are level and apart
    li, ri = seq.skeleton.shoulder_idx
    assert 0 < seq.data[0, li, 0] < 256 and seq.data[0, li, 0] > seq.data[0, ri, 0] + 20


def test_extraction_on_a_real_karsl_video(data_dir, extractor):
    video = _letter_videos(data_dir)[40]
    seq = extractor.extract_path(video)
    assert seq.fps > 0 and 10 <= len(seq) <= 60
    assert seq.confidence[:, 501:].max() > 0, "a hand is found in a fingerspelling clip"


def test_corrupt_and_empty_videos_are_logged_and_skipped_then_resume(data_dir, tmp_path):
    src = tmp_path / "videos"
    (src / "واحد").mkdir(parents=True)
    (src / "اثنان").mkdir()
    good = _letter_videos(data_dir)[1]
    shutil.copy(good, src / "واحد" / "a.mp4")
    (src / "اثنان" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    (src / "اثنان" / "empty.mp4").write_bytes(b"")
    assert detect_source(src) == "videos"
    out = tmp_path / "ds"
    report = build_dataset(src, out, workers=2, progress=False)
    assert report.built == 1 and len(report.failed) == 2
    log = (out / "errors.log").read_text(encoding="utf-8")
    assert "broken.mp4" in log and "empty.mp4" in log
    ds = Dataset(out)
    assert len(ds) == 1 and ds.samples[0].label_ar == "واحد" and ds.samples[0].frames > 0
    # rerun: the finished sample is not extracted again
    again = build_dataset(src, out, workers=1, progress=False)
    assert again.done_before == 1 and again.built == 0 and again.frames_extracted == 0
    assert len(Dataset(out)) == 1


def test_gif_clips_are_read_like_videos_and_a_corrupt_gif_is_skipped(data_dir, tmp_path, extractor):
    from conftest import make_gif
    from syrisign.data.extract import read_gif

    letter = data_dir / "esharah" / "letters" / "ب.mp4"  # 10 fps
    src = tmp_path / "dictionary"
    src.mkdir()
    make_gif(letter, src / "ب.gif", frame_ms=100)
    shutil.copy(data_dir / "esharah" / "words" / "يوم.mp4", src / "يوم.mp4")
    (src / "خطأ.gif").write_bytes(b"GIF89a" + bytes(range(256)) * 3)
    frames, stamps, fps = read_gif(src / "ب.gif")
    assert fps == pytest.approx(10.0) and stamps[1] == pytest.approx(0.1) and frames[0].ndim == 3
    assert detect_source(src) == "clips"  # a folder of <label>.<ext> clips: the file name is the label
    out = tmp_path / "ds"
    report = build_dataset(src, out, workers=2, progress=False)
    assert report.built == 2 and [sid for sid, _ in report.failed] == ["clip-خطأ"]
    log = (out / "errors.log").read_text(encoding="utf-8").strip().splitlines()
    assert len(log) == 1 and "خطأ.gif" in log[0] and "GIF" in log[0]
    ds = Dataset(out)
    by_label = {s.label_ar: s for s in ds.samples}
    assert set(by_label) == {"ب", "يوم"} and by_label["ب"].fps == pytest.approx(10.0)
    # the GIF's landmarks are the video's (its frames differ only by the palette)
    gif, mp4 = ds.load(by_label["ب"]), extractor.extract_path(letter)
    assert len(gif) == len(mp4)
    both = (gif.confidence[:, :25] > 0.5) & (mp4.confidence[:, :25] > 0.5)
    assert both.mean() > 0.8
    assert np.median(np.abs(gif.data[:, :25, :2] - mp4.data[:, :25, :2])[both]) < 3.0  # pixels
    # a corrupt GIF given on its own is a one-line error
    with pytest.raises(Exception, match="خطأ.gif: not a readable GIF"):
        extractor.extract_path(src / "خطأ.gif")


def test_esharah_source_and_preset(data_dir, tmp_path, monkeypatch, capsys):
    esh = tmp_path / "data" / "esharah"
    (esh / "words").mkdir(parents=True)
    (esh / "letters").mkdir()
    (esh / "synonyms.json").symlink_to(data_dir / "esharah" / "synonyms.json")
    for w in ("مستشفى", "سنة"):
        (esh / "words" / f"{w}.mp4").symlink_to(data_dir / "esharah" / "words" / f"{w}.mp4")
    (esh / "letters" / "ة.mp4").symlink_to(data_dir / "esharah" / "letters" / "ة.mp4")
    assert detect_source(esh) == "esharah"
    _, items = list_items(esh)
    samples = {it.sample.id: it.sample for it in items}
    assert set(samples) == {"esharah-words-مستشفى", "esharah-words-سنة", "esharah-letters-ة"}
    assert {s.signed_language for s in samples.values()} == {"sdl"}
    # the words' signers are not named: each clip is its own; the letters have one signer
    assert samples["esharah-words-سنة"].signer != samples["esharah-words-مستشفى"].signer
    assert samples["esharah-letters-ة"].signer == "esharah-letters"
    from syrisign.data.sources import esharah_synonyms
    assert "العام" in esharah_synonyms(esh)["سنة"]
    monkeypatch.setenv("SYRISIGN_DATA", str(tmp_path / "data"))
    assert cli(["data", "build", "esharah"]) == 0
    out = capsys.readouterr().out
    assert "3 samples, 3 classes" in out and "missing-hand rate" in out
    assert cli(["data", "info", "esharah"]) == 0
    assert "missing-hand rate" in capsys.readouterr().out


def test_interrupted_build_resumes_without_redoing(data_dir, tmp_path):
    src = tmp_path / "v"
    for i, video in enumerate(_letter_videos(data_dir)[:3]):
        (src / f"w{i}").mkdir(parents=True)
        shutil.copy(video, src / f"w{i}" / video.name)
    out = tmp_path / "ds"
    first = build_dataset(src, out, workers=1, progress=False, limit=2)  # stands for a run stopped after 2
    assert first.built == 2
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "poses").iterdir()}
    second = build_dataset(src, out, workers=1, progress=False)
    assert second.done_before == 2 and second.built == 1
    for p in (out / "poses").iterdir():
        if p.name in mtimes:
            assert p.stat().st_mtime_ns == mtimes[p.name], "finished samples are not rewritten"
    assert not list((out / "poses").glob("*.tmp"))


def test_landmark_dump_importers(data_dir, tmp_path):
    isl = build_dataset(data_dir / "isl_kinect", tmp_path / "isl", progress=False, limit=40)
    ds = Dataset(tmp_path / "isl")
    assert isl.source == "isl-kinect" and len(ds) == 40 and ds.samples[0].skeleton == "kinect20"
    seq = ds.load(0)
    li, ri = seq.skeleton.shoulder_idx
    head = seq.skeleton.index["body.Head"]
    # converted to image-like axes: the signer's left shoulder on the right, the head above (smaller y)
    assert (seq.data[:, li, 0] > seq.data[:, ri, 0]).all() and (seq.data[:, head, 1] < seq.data[:, li, 1]).all()

    build_dataset(data_dir / "asl_app", tmp_path / "asl", progress=False)
    asl = Dataset(tmp_path / "asl")
    assert len(asl) == 100 and {s.skeleton for s in asl} == {"aslapp108"}
    assert "thank you" in {s.label_en for s in asl}

    build_dataset("jos", tmp_path / "jos", progress=False)
    jos = Dataset(tmp_path / "jos")
    assert len(jos) == 38 and {s.signed_language for s in jos} == {"jos"} and "ال" in {s.label_ar for s in jos}


def test_splits_are_disjoint_and_reproducible(data_dir, tmp_path):
    build_dataset(data_dir / "isl_kinect", tmp_path / "isl", progress=False)
    ds = Dataset(tmp_path / "isl")
    assert len(ds) == 2160
    desc = assign_split(ds, "signer", seed=3, test_signers=["apurve", "rajat"])
    test_signers = {s.signer for s in ds if s.split == "test"}
    assert test_signers == {"apurve", "rajat"}
    assert not test_signers & {s.signer for s in ds if s.split in ("train", "val")}
    assert desc["counts"]["test"] == 540
    ds.save()
    assert [s.split for s in Dataset(tmp_path / "isl")] == [s.split for s in ds]

    held = assign_split(ds, "class", seed=1)["heldout_classes"]
    assert len(held) == 6
    assert not set(held) & {s.class_key for s in ds if s.split != "test"}
    first = [s.split for s in ds]
    assign_split(ds, "random", seed=7)
    a = [s.split for s in ds]
    assign_split(ds, "random", seed=7)
    assert a == [s.split for s in ds] and a != first


def test_data_cli_build_info_split(data_dir, tmp_path, capsys):
    out = tmp_path / "asl"
    assert cli(["data", "build", str(data_dir / "asl_app"), str(out)]) == 0
    assert "100 samples" in capsys.readouterr().out
    assert cli(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "missing-hand rate" in text and "per class" in text
    assert cli(["data", "split", str(out), "--mode", "random", "--seed", "1"]) == 0
    info = dataset_info(Dataset(out))
    assert set(info["per_split"]) == {"train", "val", "test"}
    # a clear one-line error, no traceback, for an input that does not exist
    assert cli(["data", "build", str(tmp_path / "nope"), str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "input not found" in err and "Traceback" not in err


def _raw_kinect(data_dir: Path, stem: str) -> np.ndarray:
    """A Kinect recording as the corpus ships it: (frames, 20, 3) metres, camera space."""
    from syrisign.data.sources import _tar_texts
    tar = next((data_dir / "isl_kinect").glob("*.tar.gz"))
    name = next(n for n in _tar_texts(tar) if Path(n).stem == stem)
    text = _tar_texts(tar)[name].decode()
    return np.array([[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]).reshape(-1, 20, 3)


def test_isl_recordings_filmed_from_an_angle_are_turned_to_face_the_camera(data_dir):
    from syrisign.data.sources import _kinect_to_sequence
    from syrisign.ml.features import FeatureConfig, prepare
    from syrisign.pose import PoseSequence
    from syrisign.skeletons import KINECT_20
    from t2m_gpt.metrics import dtw_mje_many

    feats = FeatureConfig(layout="kinect20", fps=25.0, max_frames=256)
    raw, turned = {}, {}
    for rep in (1, 7):  # repetitions 1-3 were filmed from the front, 7-9 from 50-75 degrees to the side
        rows = _raw_kinect(data_dir, f"afternoon_gautam_{rep}")
        seq = _kinect_to_sequence(rows.reshape(len(rows), 60), 30.0)
        flipped = rows.astype(np.float32) * np.array([-1, -1, 1], dtype=np.float32)  # image axes, not turned
        raw[rep] = prepare(PoseSequence(flipped, np.ones(flipped.shape[:2], np.float32), 30.0, KINECT_20), feats)
        turned[rep] = prepare(seq, feats)
        li, ri = seq.skeleton.shoulder_idx
        across = np.median(seq.data[:, li] - seq.data[:, ri], axis=0)
        spine = np.median(seq.data[:, seq.skeleton.index["body.SpineBase"]] - seq.data[:, seq.skeleton.index["body.Neck"]], axis=0)
        assert across[0] > 0 and abs(across[1]) + abs(across[2]) < 0.01 * np.linalg.norm(across)
        assert spine[1] > 0 and abs(spine[2]) < 0.01 * np.linalg.norm(spine)
        # one rigid rotation: every distance between joints is what the camera measured
        for a, b in [(0, 1), (4, 6), (5, 7), (2, 11)]:
            np.testing.assert_allclose(np.linalg.norm(seq.data[:, a] - seq.data[:, b], axis=-1),
                                       np.linalg.norm(flipped[:, a] - flipped[:, b], axis=-1), rtol=1e-4, atol=1e-5)
    before = dtw_mje_many([raw[7][0]], raw[1][0], [raw[7][1]], raw[1][1])[0]
    after = dtw_mje_many([turned[7][0]], turned[1][0], [turned[7][1]], turned[1][1])[0]
    # the same signer's same sign from two angles: the angle no longer dominates the difference
    assert after < 0.5 * before, (before, after)


def test_a_dataset_of_an_older_converter_is_converted_again(data_dir, tmp_path):
    import json
    out = tmp_path / "isl"
    assert build_dataset(data_dir / "isl_kinect", out, progress=False, limit=3).built == 3
    assert build_dataset(data_dir / "isl_kinect", out, progress=False, limit=3).done_before == 3
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["conversion"] == "facing-camera-1"
    del meta["conversion"]  # as built before the recordings were turned to the camera
    (out / "dataset.json").write_text(json.dumps(meta))
    again = build_dataset(data_dir / "isl_kinect", out, progress=False, limit=3)
    assert again.built == 3 and again.done_before == 0
    assert json.loads((out / "dataset.json").read_text())["conversion"] == "facing-camera-1"
