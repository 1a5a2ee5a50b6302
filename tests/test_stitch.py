"""Stitching on real clips: two KArSL words (MediaPipe run here on the shared frames: 30 fps
with real timestamps, holistic543, two signers) and Jordanian fingerspelled letters from the
spoken-to-signed package (25 fps, holistic586)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.settings import get_settings
from syrisign.skeletons import FACE, RIGHT_HAND, get_skeleton
from syrisign.stitch import (
    StitchConfig, StitchError, butter_lowpass, concatenate_naive, duration_ratio, fill_gaps, filtfilt, join_jerk,
    signing_frames, stitch,
)

LAYOUT = "holistic543"


def _jos_letters(letters: str) -> list[PoseSequence]:
    spoken_to_signed = pytest.importorskip("spoken_to_signed")
    lex = Path(spoken_to_signed.__file__).parent / "assets" / "fingerspelling_lexicon"
    with open(lex / "index.csv", newline="", encoding="utf-8") as f:
        paths = {r["words"]: r["path"] for r in csv.DictReader(f) if r["signed_language"] == "jos"}
    out = []
    for ch in letters:
        seq = PoseSequence.load(lex / paths[ch])
        seq.meta["label"] = ch
        out.append(seq)
    return out


@pytest.fixture(scope="module")
def letters() -> list[PoseSequence]:
    return _jos_letters("سامر")


@pytest.fixture(scope="module")
def words() -> list[PoseSequence]:
    root = get_settings().data / "karsl" / "word_frames"
    folders = [root / "01" / "train" / "0071", root / "03" / "train" / "0075"]
    if not all(f.is_dir() for f in folders):
        pytest.skip(f"KArSL frames not found under {root} (set SYRISIGN_DATA)")
    from syrisign.data.extract import HolisticExtractor

    ex = HolisticExtractor()
    try:
        seqs = [ex.extract_path(sorted(f.iterdir())[0]) for f in folders]
    finally:
        ex.close()
    for s, label in zip(seqs, ["هيكل عظمي", "جهاز تنفسي"]):
        s.meta["label"] = label
    return seqs


@pytest.fixture(scope="module")
def mixed(words, letters) -> list[PoseSequence]:
    return [words[0], letters[0], words[1], letters[1], letters[2], letters[3]]


def _prepared(clip: PoseSequence, fps: float, cfg: StitchConfig) -> PoseSequence:
    """What stitch should do to one clip before cutting, written with PoseSequence methods."""
    c = clip.reduce(LAYOUT, missing="zero").normalize().resample(fps)
    return c.trim_idle(margin=cfg.trim_margin, speed_threshold=cfg.idle_speed) if cfg.trim else c


def test_segments_are_contiguous_and_cover_the_output(mixed):
    res = stitch(mixed, fps=25.0)
    segs = res.segments
    assert len(segs) == len(mixed)
    assert [s.index for s in segs] == list(range(len(mixed)))
    assert [s.label for s in segs] == [c.meta["label"] for c in mixed]
    assert segs[0].start_frame == 0 and segs[-1].end_frame == len(res.sequence)
    for a, b in zip(segs, segs[1:]):
        assert a.end_frame == b.start_frame
    assert all(s.num_frames > 0 for s in segs)
    assert res.joins == [s.start_frame for s in segs[1:]]


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_output_has_the_requested_fps_and_layout(mixed, fps):
    res = stitch(mixed, fps=fps)
    assert res.sequence.fps == fps
    assert res.sequence.timestamps is None
    assert res.sequence.skeleton.name == LAYOUT  # holistic543 and holistic586 clips: the common layout
    assert res.sequence.meta["normalized"] is True


def test_frame_accounting_is_exact(mixed):
    fps, cfg = 25.0, StitchConfig()
    res = stitch(mixed, fps=fps, config=cfg)
    trimmed = [len(_prepared(c, fps, cfg)) for c in mixed]
    assert res.trimmed == trimmed
    k, blend = cfg.cut_frames(fps), cfg.blend_frames(fps)
    assert res.blend_frames == [blend] * (len(mixed) - 1)
    kept = [e - s for s, e in res.kept]
    assert all(n >= 1 for n in kept)
    # cuts only remove frames inside the search windows at the two ends of each clip
    for i, ((s, e), n) in enumerate(zip(res.kept, trimmed)):
        assert 0 <= s <= (k - 1 if i > 0 else 0)
        assert n - (k - 1 if i < len(mixed) - 1 else 0) <= e <= n
    dropped = sum(trimmed) - sum(kept)
    assert len(res.sequence) == sum(trimmed) - dropped + sum(res.blend_frames)
    # each segment holds its clip's kept frames plus half of each neighbouring transition
    for i, seg in enumerate(res.segments):
        before = blend - blend // 2 if i > 0 else 0
        after = blend // 2 if i < len(mixed) - 1 else 0
        assert seg.num_frames == kept[i] + before + after


def test_stitch_lowers_join_jerk_against_naive_concatenation(mixed):
    res = stitch(mixed, fps=25.0)
    naive = concatenate_naive(mixed, 25.0, LAYOUT)
    assert len(naive.sequence) == sum(len(c.reduce(LAYOUT, missing="zero").resample(25.0)) for c in mixed)
    assert naive.joins == list(np.cumsum([s.num_frames for s in naive.segments])[:-1])
    stitched, plain = join_jerk(res.sequence, res.joins), join_jerk(naive.sequence, naive.joins)
    assert np.isfinite(stitched) and np.isfinite(plain)
    assert stitched < plain
    # the smoothing is part of that: without it the joins are rougher
    rough = stitch(mixed, fps=25.0, config=StitchConfig(smoothing="none"))
    assert stitched < join_jerk(rough.sequence, rough.joins)


def test_duration_ratio_uses_the_signing_frames(mixed):
    res = stitch(mixed, fps=25.0)
    signing = signing_frames(mixed, 25.0)
    assert signing == sum(len(_prepared(c, 25.0, StitchConfig(trim_margin=0))) for c in mixed)
    assert duration_ratio(res.sequence, mixed) == pytest.approx(len(res.sequence) / signing)


def test_face_is_not_smoothed(mixed):
    fps = 25.0
    smooth = stitch(mixed, fps=fps)
    raw = stitch(mixed, fps=fps, config=StitchConfig(smoothing="none"))
    face = smooth.sequence.skeleton.slices[FACE]
    present = smooth.sequence.confidence[:, face] > 0
    assert present.any()
    np.testing.assert_array_equal(smooth.sequence.data[:, face][present], raw.sequence.data[:, face][present])
    body = ~np.isin(np.arange(smooth.sequence.skeleton.num_joints), np.arange(face.start, face.stop))
    assert np.abs(smooth.sequence.data[:, body] - raw.sequence.data[:, body]).max() > 1e-3
    # and the face of a kept frame is the source clip's face, unchanged
    first = _prepared(mixed[0], fps, StitchConfig())
    s, _ = smooth.kept[0]
    np.testing.assert_allclose(smooth.sequence.data[0, face], first.data[s, face], atol=1e-6)


def test_short_hand_gaps_are_filled_and_long_ones_are_not(letters):
    clip = letters[2]  # "م", 28 frames: the right hand is detected in every frame
    sl = clip.skeleton.slices[RIGHT_HAND]
    assert (clip.confidence[:, sl] > 0).all()
    conf = clip.confidence.copy()
    conf[4:7, sl] = 0  # 3 frames: short
    conf[9:, sl][: len(clip) - 10] = 0  # frames 9 .. T-2: long, closed by the last frame
    holed = PoseSequence(clip.data, conf, clip.fps, clip.skeleton, meta=dict(clip.meta))
    long_gap = len(clip) - 10
    assert long_gap > 5

    cfg = StitchConfig(trim=False, smoothing="none", max_gap=5)
    out = stitch([holed], fps=clip.fps, config=cfg).sequence
    sl_out = out.skeleton.slices[RIGHT_HAND]
    assert (out.confidence[4:7, sl_out] > 0).all()
    assert (out.confidence[9:len(clip) - 1, sl_out] == 0).all()
    assert (out.confidence[-1, sl_out] > 0).all()
    ref = holed.reduce(LAYOUT, missing="zero").normalize()
    w = np.array([1, 2, 3], dtype=np.float32)[:, None, None] / 4
    expected = (1 - w) * ref.data[3, sl_out] + w * ref.data[7, sl_out]
    np.testing.assert_allclose(out.data[4:7, sl_out], expected, atol=1e-5)

    # the public helper, with smoothing on in stitch: filled frames stay present
    filled, n = fill_gaps(ref, 5)
    assert n == 3 * 21
    expected_c = (1 - w[..., 0]) * ref.confidence[3, sl_out] + w[..., 0] * ref.confidence[7, sl_out]
    np.testing.assert_allclose(filled.confidence[4:7, sl_out], expected_c, atol=1e-6)
    smoothed = stitch([holed], fps=clip.fps, config=StitchConfig(trim=False)).sequence
    assert (smoothed.confidence[4:7, sl_out] > 0).all() and (smoothed.confidence[9:len(clip) - 1, sl_out] == 0).all()


def test_single_clip_round_trips(words):
    clip = words[0]  # uneven timestamps at 30 fps
    cfg = StitchConfig(trim=False, smoothing="none", max_gap=0)
    res = stitch([clip], fps=25.0, config=cfg)
    ref = clip.reduce(LAYOUT, missing="zero").normalize().resample(25.0)
    np.testing.assert_array_equal(res.sequence.data, ref.data)
    np.testing.assert_array_equal(res.sequence.confidence, ref.confidence)
    assert [(s.start_frame, s.end_frame) for s in res.segments] == [(0, len(ref))]
    assert res.joins == [] and res.blend_frames == []
    full = stitch([clip], fps=25.0)
    assert len(full.sequence) == len(_prepared(clip, 25.0, StitchConfig())) == full.segments[0].end_frame


def test_bad_inputs_raise_syrisign_errors(letters):
    with pytest.raises(SyriSignError, match="empty"):
        stitch([])
    with pytest.raises(StitchError, match="labels"):
        stitch(letters[:2], labels=["one"])
    with pytest.raises(StitchError, match="no frames"):
        stitch([letters[0], letters[1][0:0]])
    with pytest.raises(StitchError, match="easing"):
        StitchConfig(easing="bouncy")
    no_shoulders = letters[0].reduce(LAYOUT)
    no_shoulders.confidence[:, list(no_shoulders.skeleton.shoulder_idx)] = 0
    with pytest.raises(StitchError, match="clip 1"):
        stitch([letters[1], no_shoulders])


# -- join jerk on synthetic wrists --------------------------------------------------------------
def _wrist_sequence(x: np.ndarray, fps: float, hand: bool = True) -> PoseSequence:
    """holistic543 in normalized units: shoulders fixed, right wrist moving along x as given."""
    sk = get_skeleton(LAYOUT)
    T = len(x)
    data = np.zeros((T, sk.num_joints, 3), np.float32)
    conf = np.zeros((T, sk.num_joints), np.float32)
    li, ri = sk.shoulder_idx
    data[:, li, 0], data[:, ri, 0] = 0.5, -0.5
    lw, rw = sk.wrist_idx
    data[:, lw] = (0.6, 1.5, 0.0)
    data[:, rw, 0], data[:, rw, 1] = x, 0.5
    conf[:, [li, ri, lw, rw]] = 1
    if hand:
        hw = sk.index["right_hand.WRIST"]
        data[:, hw] = data[:, rw] + (0.02, 0.0, 0.0)
        conf[:, hw] = 1
    return PoseSequence(data, conf, fps, sk, meta={"normalized": True})


@pytest.mark.parametrize("hand", [True, False])
def test_join_jerk_is_zero_at_constant_velocity(hand):
    fps = 25.0
    t = np.arange(40) / fps
    seq = _wrist_sequence(0.3 + 1.7 * t, fps, hand)
    assert join_jerk(seq, [10, 20, 30]) == pytest.approx(0.0, abs=1e-2)


@pytest.mark.parametrize("a", [0.5, -2.0])
def test_join_jerk_of_a_cubic_is_six_a(a):
    fps = 25.0
    t = np.arange(30) / fps - 0.6  # centred on 0 so the positions stay small
    seq = _wrist_sequence(a * t**3, fps)
    assert join_jerk(seq, [8, 15, 22]) == pytest.approx(6 * abs(a), rel=1e-2)
    # frames where the wrist is missing are skipped, not read as zeros
    seq.confidence[15] = 0
    seq.data[15] = 0
    assert join_jerk(seq, [15]) == pytest.approx(6 * abs(a), rel=1e-2)
    seq.confidence[:, :] = np.where(np.arange(30)[:, None] % 3 == 0, 0, seq.confidence)
    assert np.isnan(join_jerk(seq, [15]))


def test_join_jerk_picks_the_wrist_that_moves_most():
    fps = 25.0
    t = np.arange(30) / fps
    seq = _wrist_sequence(0.3 + 0.1 * np.sin(2 * np.pi * 3 * t), fps, hand=False)
    lw = seq.skeleton.wrist_idx[0]
    seq.data[:, lw, 0] = 0.6 + 0.01 * t**3  # the other wrist barely moves, with a small jerk
    j = join_jerk(seq, [15])
    right_only = _wrist_sequence(0.3 + 0.1 * np.sin(2 * np.pi * 3 * t), fps, hand=False)
    assert j == pytest.approx(join_jerk(right_only, [15]))
    assert j > 1.0



@pytest.mark.parametrize("order,wn,padlen", [(4, 0.48, 15), (2, 0.2, 0), (3, 0.9, 4), (4, 0.05, 15)])
def test_numpy_butterworth_matches_scipy(order, wn, padlen):
    """The numpy Butterworth design and zero-phase filter used by smooth() give scipy.signal's numbers."""
    import scipy.signal

    b, a = butter_lowpass(order, wn)
    b_ref, a_ref = scipy.signal.butter(order, wn, btype="low")
    np.testing.assert_allclose(b, b_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(a, a_ref, rtol=1e-10, atol=1e-14)
    x = np.random.default_rng(order).normal(size=(60, 5, 3)).cumsum(0)
    np.testing.assert_allclose(filtfilt(b, a, x, padlen), scipy.signal.filtfilt(b_ref, a_ref, x, axis=0, padlen=padlen),
                               rtol=1e-9, atol=1e-9)
    with pytest.raises(SyriSignError):
        butter_lowpass(order, 1.0)
