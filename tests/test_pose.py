"""PoseSequence: file round trips, normalization invariants, resampling on real timestamps, layouts."""
from __future__ import annotations

import numpy as np
import pytest

from syrisign.pose import PoseError, PoseSequence, stack_frames
from syrisign.skeletons import SKELETONS, get_skeleton


def _random_seq(rng, frames=12, skeleton="holistic543", fps=25.0, timestamps=None) -> PoseSequence:
    sk = get_skeleton(skeleton)
    data = rng.normal(size=(frames, sk.num_joints, 3)).astype(np.float32) * 50 + 200
    conf = (rng.random((frames, sk.num_joints)) > 0.2).astype(np.float32)
    li, ri = sk.shoulder_idx
    data[:, li, 0] -= 60  # keep the shoulders apart and visible
    data[:, ri, 0] += 60
    conf[:, [li, ri]] = 1.0
    return PoseSequence(data, conf, fps, sk, timestamps)


def test_pose_file_round_trip_is_lossless(jos_pose_files, tmp_path):
    seq = PoseSequence.load(jos_pose_files[0])
    assert seq.skeleton.name == "holistic586" and seq.data.shape[1:] == (586, 3) and seq.fps == 25.0
    out = seq.save(tmp_path / "a.pose")
    back = PoseSequence.load(out)
    assert back.skeleton == seq.skeleton
    np.testing.assert_array_equal(back.data, seq.data)
    np.testing.assert_array_equal(back.confidence, seq.confidence)
    assert back.fps == seq.fps


@pytest.mark.parametrize("skeleton", sorted(SKELETONS))
def test_npz_and_pose_round_trip_every_layout(skeleton, tmp_path):
    seq = _random_seq(np.random.default_rng(0), skeleton=skeleton, fps=29.97)
    for suffix in (".npz", ".pose"):
        back = PoseSequence.load(seq.save(tmp_path / f"s{suffix}"))
        assert back.skeleton.name == skeleton
        np.testing.assert_array_equal(back.confidence, seq.confidence)
        # missing landmarks are 0, never NaN, in both formats
        np.testing.assert_array_equal(back.data, np.where(seq.confidence[..., None] > 0, seq.data, back.data))
        assert abs(back.fps - seq.fps) < 1e-4


def test_npz_keeps_timestamps_and_meta(tmp_path):
    ts = np.array([0.0, 0.1, 0.15, 0.4])
    seq = _random_seq(np.random.default_rng(1), frames=4, timestamps=ts)
    seq.meta["signer"] = "01"
    back = PoseSequence.load(seq.save(tmp_path / "t.npz"))
    np.testing.assert_allclose(back.timestamps, ts)
    assert back.meta["signer"] == "01"


def test_load_rejects_corrupt_files(tmp_path):
    bad = tmp_path / "bad.pose"
    bad.write_bytes(b"\x00\x01not a pose")
    with pytest.raises(PoseError, match="bad.pose"):
        PoseSequence.load(bad)
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(PoseError, match="bad.npz"):
        PoseSequence.load(bad_npz)
    with pytest.raises(PoseError, match="no such pose file"):
        PoseSequence.load(tmp_path / "missing.npz")


def test_nan_becomes_missing():
    seq = _random_seq(np.random.default_rng(2))
    data = seq.data.copy()
    data[3, 100] = np.nan
    s = PoseSequence(data, np.ones_like(seq.confidence), 25, seq.skeleton)
    assert s.confidence[3, 100] == 0 and np.all(np.isfinite(s.data))


def test_normalize_is_invariant_to_translation_and_scale(jos_pose_files):
    seq = PoseSequence.load(jos_pose_files[5])
    base = seq.normalize()
    moved = PoseSequence(seq.data * 3.7 + np.array([120.0, -40.0, 7.0], dtype=np.float32), seq.confidence,
                         seq.fps, seq.skeleton).normalize()
    np.testing.assert_allclose(moved.data, base.data, atol=1e-4)
    li, ri = base.skeleton.shoulder_idx
    width = np.linalg.norm(base.data[:, li, :2] - base.data[:, ri, :2], axis=-1)
    assert abs(np.median(width) - 1.0) < 1e-5
    centre = (base.data[:, li] + base.data[:, ri]) / 2
    np.testing.assert_allclose(centre.mean(0), 0.0, atol=1e-5)


def test_normalize_without_shoulders_fails_clearly():
    seq = _random_seq(np.random.default_rng(3))
    seq.confidence[:, list(seq.skeleton.shoulder_idx)] = 0
    with pytest.raises(PoseError, match="shoulders"):
        seq.normalize()


def test_resample_uses_real_timestamps():
    # a joint moving at constant velocity, sampled at uneven times (like KArSL's picked frames)
    ts = np.array([1, 5, 9, 10, 12, 14, 15, 16, 17, 21, 31, 42]) / 30.0
    sk = get_skeleton("kinect20")
    data = np.zeros((len(ts), 20, 3), np.float32)
    data[:, :, 0] = (10 * ts)[:, None]  # x = 10 t
    data[:, 3, 0] += 1  # shoulders apart
    seq = PoseSequence(data, np.ones((len(ts), 20), np.float32), 30, sk, ts)
    out = seq.resample(25)
    assert out.timestamps is None and out.fps == 25
    assert len(out) == int(np.floor((ts[-1] - ts[0]) * 25)) + 1
    t_out = ts[0] + np.arange(len(out)) / 25
    np.testing.assert_allclose(out.data[:, 0, 0], 10 * t_out, atol=1e-4)
    # duration is preserved (the 12 frames cover 41/30 s, not 12/30 s)
    assert abs(out.duration - (ts[-1] - ts[0] + 1 / 25)) < 1 / 25


def test_resample_does_not_invent_landmarks_across_gaps():
    sk = get_skeleton("kinect20")
    data = np.zeros((3, 20, 3), np.float32)
    data[:, 3, 0] = 1
    conf = np.ones((3, 20), np.float32)
    conf[1, 7] = 0  # wrist missing in the middle frame
    data[:, 7, 1] = [0.0, 0.0, 2.0]
    out = PoseSequence(data, conf, 10, sk).resample(20)
    # between frame 0 and the gap: nearest valid frame is used, value stays 0 (no blend with the missing 0)
    assert out.confidence[1, 7] == 0 or out.data[1, 7, 1] == 0.0
    # between the gap and frame 2: taken from the nearer frame, never a blend with a missing point
    assert set(np.round(out.data[out.confidence[:, 7] > 0, 7, 1], 4)) <= {0.0, 2.0}


def test_reduce_layouts_pick_joints_by_name(jos_pose_files):
    seq = PoseSequence.load(jos_pose_files[2])
    for name, n in (("syrisign193", 193), ("signclip203", 203), ("holistic543", 543), ("upper65", 65)):
        r = seq.reduce(name)
        assert r.data.shape[1] == n
        j = r.skeleton.index["right_hand.INDEX_FINGER_TIP"]
        np.testing.assert_array_equal(r.data[:, j], seq.data[:, seq.skeleton.index["right_hand.INDEX_FINGER_TIP"]])
        if r.skeleton.has("face"):
            j = r.skeleton.index["face.61"]
            np.testing.assert_array_equal(r.data[:, j], seq.data[:, seq.skeleton.index["face.61"]])
        else:
            assert name == "upper65"
    assert "pose.LEFT_HIP" not in get_skeleton("syrisign193").index
    with pytest.raises(PoseError, match="missing"):
        seq.reduce("kinect20")
    partial = seq.reduce("kinect20", missing="zero")
    assert partial.confidence.sum() == 0


def test_mirror_swaps_hands_and_is_an_involution(jos_pose_files):
    seq = PoseSequence.load(jos_pose_files[7])
    m = seq.mirror()
    sk = seq.skeleton
    rh, lh = sk.slices["right_hand"], sk.slices["left_hand"]
    np.testing.assert_array_equal(m.confidence[:, lh], seq.confidence[:, rh])
    back = m.mirror()
    np.testing.assert_allclose(back.data, seq.data, atol=1e-3)
    # the right shoulder of the mirror is where the left one was, reflected about the shoulder centre
    li, ri = sk.shoulder_idx
    cx = (seq.data[:, li, 0] + seq.data[:, ri, 0]).mean() / 2
    np.testing.assert_allclose(m.data[:, ri, 0], 2 * seq.normalization_info()[0][0] - seq.data[:, li, 0], atol=1e-3)
    assert abs(cx - seq.normalization_info()[0][0]) < 1.0


def test_trim_idle_and_slicing():
    seq = _random_seq(np.random.default_rng(4), frames=30, skeleton="kinect20", fps=30)
    sk = seq.skeleton
    seq.confidence[:] = 1
    norm_c, width = seq.normalization_info()
    # hands down and still for 8 frames, then a raised, moving wrist for 10, then rest again
    lw, rw = sk.wrist_idx
    seq.data[:, :, :] = seq.data[0]
    seq.data[:, [lw, rw], 1] = norm_c[1] + 3 * width
    seq.data[8:18, lw, 1] = norm_c[1] + np.linspace(0, 1, 10) * width
    seq.data[8:18, lw, 0] += np.linspace(0, 80, 10)
    trimmed = seq.trim_idle(margin=1)
    assert 10 <= len(trimmed) <= 14
    assert len(seq[5:9]) == 4 and seq[5:9].fps == 30


def test_stack_frames_requires_one_layout(jos_pose_files):
    a, b = PoseSequence.load(jos_pose_files[0]), PoseSequence.load(jos_pose_files[1])
    assert len(stack_frames([a, b])) == len(a) + len(b)
    with pytest.raises(PoseError):
        stack_frames([a, b.reduce("syrisign193")])
