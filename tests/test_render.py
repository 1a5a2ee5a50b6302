"""render/: drawing, framing, captions, writers, side-by-side, on real poses."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest

import render
from render import Framing, RenderError, RenderStyle, render_frames, side_by_side, write_video
from render.captions import font_path, shape_text, text_bar
from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.skeletons import LEFT_HAND, RIGHT_HAND, available_skeletons

STYLE = RenderStyle()
SIZE = 256


def near(img: np.ndarray, color, tol: int = 24) -> np.ndarray:
    """(H, W) bool: pixels within ``tol`` of ``color`` in every channel."""
    return (np.abs(img.astype(np.int16) - np.array(color, dtype=np.int16)) <= tol).all(-1)


@pytest.fixture(scope="module")
def jos(jos_pose_files) -> list[PoseSequence]:
    return [PoseSequence.load(f) for f in jos_pose_files[:6]]


@pytest.fixture(scope="module")
def clip(jos) -> PoseSequence:
    """A real holistic586 sequence with the right hand tracked in most frames."""
    seq = max(jos, key=lambda s: 1 - s.hand_presence()["right_missing"])
    assert seq.hand_presence()["right_missing"] < 0.5
    return seq


@pytest.fixture(scope="module")
def isl_seq(data_dir) -> PoseSequence:
    from syrisign.data.sources import isl_kinect
    return isl_kinect(data_dir / "isl_kinect")[0].loader()


@pytest.fixture(scope="module")
def asl_seq(data_dir) -> PoseSequence:
    from syrisign.data.sources import asl_app
    return asl_app(data_dir / "asl_app")[0].loader()


# -- frames -------------------------------------------------------------------------------
def test_frame_count_size_and_type(clip):
    frames = render_frames(clip, SIZE)
    out = list(frames)
    assert len(frames) == len(out) == len(clip)
    assert all(f.shape == (SIZE, SIZE, 3) and f.dtype == np.uint8 for f in out)
    wide = render_frames(clip, (320, 200), captions=[(0, 3, "لا")], title="x")
    assert wide[0].shape == (200, 320, 3)
    assert np.array_equal(frames[5], out[5])  # indexing and iterating draw the same frame


def test_every_registered_skeleton_draws(clip, isl_seq, asl_seq):
    seqs = {clip.skeleton.name: clip, isl_seq.skeleton.name: isl_seq, asl_seq.skeleton.name: asl_seq}
    for name in available_skeletons():
        if name not in seqs:
            seqs[name] = clip.reduce(name)  # by joint name from the real holistic586 clip
    assert set(seqs) == set(available_skeletons())
    for name, seq in seqs.items():
        img = render_frames(seq, SIZE)[len(seq) // 2]
        drawn = ~near(img, STYLE.background, 0)
        assert drawn.mean() > 0.003, name
        assert near(img, STYLE.body, 10).any() or near(img, STYLE.left_arm, 10).any(), name


def test_world_pose_is_not_drawn(clip):
    sl = clip.skeleton.slices["pose_world"]
    conf = clip.confidence.copy()
    conf[:, sl] = 0
    no_world = replace(clip, confidence=conf)
    assert np.array_equal(render_frames(clip, SIZE)[3], render_frames(no_world, SIZE)[3])


def test_missing_hand_draws_nothing_in_its_colour(clip):
    frames = render_frames(clip, SIZE)
    with_hand = sum(near(f, STYLE.right_hand).sum() for f in frames)
    assert with_hand > 50  # the hand is drawn when tracked
    conf = clip.confidence.copy()
    conf[:, clip.skeleton.slices[RIGHT_HAND]] = 0
    conf[:, clip.skeleton.slices[LEFT_HAND]] = 0
    for f in render_frames(replace(clip, confidence=conf), SIZE):
        assert not near(f, STYLE.right_hand).any()
        assert not near(f, STYLE.left_hand).any()


def test_edges_of_a_missing_joint_are_not_drawn(clip):
    sk = clip.skeleton
    keep = sk.select(["pose.LEFT_SHOULDER", "pose.RIGHT_SHOULDER", "pose.RIGHT_ELBOW"])
    conf = np.zeros_like(clip.confidence)
    conf[:, keep] = clip.confidence[:, keep]
    arm = replace(clip, confidence=conf)
    assert near(render_frames(arm, SIZE)[0], STYLE.right_arm, 10).sum() > 20  # shoulder-elbow segment
    conf[:, sk.index["pose.RIGHT_ELBOW"]] = 0
    img = render_frames(replace(clip, confidence=conf), SIZE)[0]
    assert not near(img, STYLE.right_arm, 10).any()
    assert near(img, STYLE.body, 10).any()  # the shoulder line stays


def test_framing_is_fixed_across_scale_and_position(clip):
    """Same body position and scale whatever the units: a moved and scaled copy renders identically."""
    moved = replace(clip, data=np.where(clip.valid()[..., None], clip.data * 3.0 + np.float32([40, -25, 0]), 0))
    for i in (0, len(clip) - 1):
        assert np.array_equal(render_frames(clip, SIZE)[i], render_frames(moved, SIZE)[i])
        assert np.array_equal(render_frames(clip, SIZE)[i], render_frames(clip.normalize(), SIZE)[i])


def test_shared_framing_and_unframeable_sequences(clip):
    shared = Framing.of(clip)
    a = render_frames(clip, SIZE, framing=shared)[2]
    assert np.array_equal(a, render_frames(clip, SIZE)[2])
    hand_only = clip.reduce(_hand_only_skeleton(clip))
    with pytest.raises(SyriSignError, match="cannot frame"):
        render_frames(hand_only, SIZE)
    img = render_frames(hand_only, SIZE, framing="fit")[2]
    assert near(img, STYLE.right_hand).any()


def _hand_only_skeleton(seq: PoseSequence):
    """An ad-hoc skeleton read from a .pose header that has only a right hand (no shoulders)."""
    pose = seq.to_pose_format().get_components(["RIGHT_HAND_LANDMARKS"])
    return PoseSequence.from_pose_format(pose).skeleton


def test_ad_hoc_skeleton_from_pose_header(clip):
    pose = clip.to_pose_format().get_components(["POSE_LANDMARKS", "RIGHT_HAND_LANDMARKS"])
    seq = PoseSequence.from_pose_format(pose)
    assert seq.skeleton.name.startswith("custom:")
    img = render_frames(seq, SIZE)[len(seq) // 2]
    assert near(img, STYLE.right_hand).any() and near(img, STYLE.body, 10).any()


def test_uneven_timestamps_are_resampled(clip):
    idx = np.array([0, 1, 2, 4, 7, 8, 12, 13, 14, 18])
    idx = idx[idx < len(clip)]
    sub = replace(clip[:], data=clip.data[idx], confidence=clip.confidence[idx], timestamps=idx / clip.fps)
    frames = render_frames(sub, SIZE, captions=[(3, 6, "كبد")])
    assert len(frames) == len(sub.resample(clip.fps)) == idx[-1] + 1


# -- captions -------------------------------------------------------------------------------
def test_arabic_is_shaped_and_reversed():
    word = "مستشفى"
    visual = shape_text(word)
    assert len(visual) == len(word)
    assert all("\ufb50" <= ch <= "\ufeff" for ch in visual)  # presentation forms, not base letters
    import arabic_reshaper
    assert visual == arabic_reshaper.reshape(word)[::-1]  # one RTL run: reversed for a LTR renderer
    assert visual[-1] == "\ufee3"  # first letter (meem) in its initial form is drawn rightmost
    assert shape_text("hello") == "hello"
    assert "\ufefb" in shape_text("لا")  # lam-alef ligature
    mixed = shape_text("وزارة الصحة 2024")
    assert "2024" in mixed  # digits keep their order inside RTL text


def test_font_draws_arabic_glyphs():
    from PIL import ImageFont
    font = ImageFont.truetype(str(font_path()), 40, layout_engine=ImageFont.Layout.BASIC)
    l, t, r, b = font.getbbox(shape_text("طبيب"))
    assert r - l > 20 and b - t > 10
    bar = text_bar("طبيب", None, 300, 60, 0, (0, 0, 0), (255, 255, 255), (255, 255, 255))
    missing = text_bar("\U000F0000" * 4, None, 300, 60, 0, (0, 0, 0), (255, 255, 255), (255, 255, 255))
    assert bar.max() > 200 and not np.array_equal(bar, missing)


def test_caption_bar_shows_text_only_during_its_segment(clip):
    seg = (5, 12, "جمجمة")
    frames = render_frames(clip, SIZE, captions=[seg])
    bar_h = int(round(STYLE.caption_height * SIZE))
    for i, f in enumerate(frames):
        bar = f[SIZE - bar_h:]
        text_pixels = (~near(bar, STYLE.caption_background, 30)).sum()
        if seg[0] <= i < seg[1]:
            assert text_pixels > 100, i
        else:
            assert text_pixels == 0, i


def test_second_caption_line_and_segment_objects(clip):
    from syrisign.stitch import Segment  # what the stitcher hands over: start_frame, end_frame, label

    caps = [Segment(0, 4, "وجه", 0), {"start": 4, "end": 8, "text": "رئتان", "subtext": "lungs"}]
    frames = render_frames(clip, SIZE, captions=caps, title="retrieval")
    sub_h = int(round(STYLE.subcaption_height * SIZE))
    sub_band = lambda f: (~near(f[SIZE - sub_h:], STYLE.caption_background, 30)).sum()
    assert sub_band(frames[5]) > 20 and sub_band(frames[1]) == 0
    main_h = int(round(STYLE.caption_height * SIZE))
    assert (~near(frames[1][SIZE - sub_h - main_h:SIZE - sub_h], STYLE.caption_background, 30)).sum() > 20
    title_h = int(round(STYLE.title_height * SIZE))
    assert (~near(frames[0][:title_h], STYLE.title_background, 30)).sum() > 20


# -- side by side --------------------------------------------------------------------------
def test_side_by_side_width_and_hold_last_frame(jos):
    long, short = sorted(jos[:2], key=len, reverse=True)
    assert len(long) > len(short) + 2
    sbs = side_by_side([("retrieval", long, [(0, len(long), "مرحبا")]),
                        ("generative (T2M-GPT)", short, [(0, 3, "لا")]),
                        ("MotionCLIP", short)], size=(200, 240))
    assert len(sbs) == len(long)
    f_end, f_hold = sbs[len(short) - 1], sbs[len(long) - 1]
    assert f_end.shape == (240, 3 * 200, 3)
    assert np.array_equal(f_end[:, 200:], f_hold[:, 200:])  # short panels hold their last frame
    assert not np.array_equal(sbs[0][:, :200], f_hold[:, :200])  # the long one keeps moving
    alone = render_frames(short, (200, 240), [(0, 3, "لا")], "generative (T2M-GPT)")
    assert np.array_equal(sbs[1][:, 201:400], alone[1][:, 1:])  # column 200 is the divider


# -- writers ---------------------------------------------------------------------------------
def test_mp4_roundtrip(clip, tmp_path):
    import imageio.v2 as iio
    path = write_video(clip, tmp_path / "clip.mp4", size=(202, 160), captions=[(0, 5, "كبد")])
    reader = iio.get_reader(path, "ffmpeg")
    meta = reader.get_meta_data()
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == len(clip)
    assert frames[0].shape == (160, 202, 3)
    assert meta["codec"] == "h264" and abs(meta["fps"] - clip.fps) < 0.01
    import imageio_ffmpeg  # browsers play H.264 only in yuv420p
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                           capture_output=True, text=True).stderr
    assert "h264" in probe and "yuv420p" in probe
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_odd_sized_frames_are_padded_for_yuv420(clip, tmp_path):
    import imageio.v2 as iio
    frames = render_frames(clip[:5], (129, 97))
    path = write_video(frames, tmp_path / "odd.mp4")
    reader = iio.get_reader(path, "ffmpeg")
    assert reader.get_data(0).shape == (98, 130, 3)
    reader.close()


def test_gif_and_contact_sheet(clip, tmp_path):
    from PIL import Image
    gif = write_video(clip, tmp_path / "clip.gif", size=128)
    with Image.open(gif) as im:
        assert im.n_frames == len(clip) and im.size == (128, 128)
    png = write_video(clip, tmp_path / "sheet.png", size=200, sheet_frames=7, sheet_columns=3)
    with Image.open(png) as im:  # 3 x 3 tiles, each under a strip holding its frame number
        assert im.size[0] == 3 * 200 and 3 * 200 < im.size[1] <= 3 * 240
    frames = list(render_frames(clip, 400))
    sheet = render.contact_sheet(frames, frames=4, columns=2, tile_width=100)
    strip = sheet.shape[0] // 2 - 100
    assert sheet.shape[1:] == (200, 3) and 8 <= strip <= 40
    tile = sheet[strip + 1:strip + 99, 1:99].astype(int)  # first tile, inside its border: frame 0 shrunk
    ref = cv2.resize(frames[0], (100, 100), interpolation=cv2.INTER_AREA)[1:99, 1:99].astype(int)
    assert np.abs(tile - ref).mean() < 2
    assert (sheet[2:strip - 2, 2:60] < 128).any()  # the frame number is drawn in the strip


def test_failed_write_leaves_nothing(clip, tmp_path):
    def broken():
        yield from render_frames(clip[:3], 128)
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError):
        write_video(broken(), tmp_path / "x.mp4", fps=25)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RenderError, match="unknown video type"):
        write_video(clip, tmp_path / "x.avi")


def test_render_does_not_import_torch():
    code = ("import sys, render; from syrisign.pose import PoseSequence; import numpy as np\n"
            "from syrisign.skeletons import get_skeleton\n"
            "sk = get_skeleton('upper65'); d = np.random.rand(3, sk.num_joints, 3).astype('float32')\n"
            "list(render.render_frames(PoseSequence(d, np.ones(d.shape[:2]), 25, sk), 128, [(0, 2, 'لا')]))\n"
            "assert 'torch' not in sys.modules, 'render imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
