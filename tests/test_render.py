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
def karsl_words(data_dir) -> list[PoseSequence]:
    """Three KArSL word recordings (frames from a 30 fps video, MediaPipe Holistic) of the default lexicon's kind."""
    from syrisign.data.extract import HolisticExtractor
    from syrisign.data.sources import karsl_words as source
    items = source(data_dir / "karsl" / "word_frames")
    extractor = HolisticExtractor()
    try:
        return [extractor.extract_path(it.path) for it in (items[0], items[len(items) // 2], items[-1])]
    finally:
        extractor.close()


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


def hand_pixels(img: np.ndarray, style: RenderStyle = STYLE) -> int:
    """Pixels in a hand colour: either palm, either outline, or a finger."""
    cols = [style.left_palm, style.right_palm, style.left_hand, style.right_hand, *style.fingers]
    return int(sum(near(img, c, 12).sum() for c in cols))


def test_missing_hand_draws_nothing_in_its_colour(clip):
    frames = render_frames(clip, SIZE, insets=False)
    with_hand = sum(near(f, STYLE.right_palm, 12).sum() for f in frames)
    assert with_hand > 50  # the palm is drawn when the hand is tracked
    assert sum(near(f, STYLE.fingers[0], 12).sum() for f in frames) > 50  # and the thumb in its colour
    conf = clip.confidence.copy()
    conf[:, clip.skeleton.slices[RIGHT_HAND]] = 0
    conf[:, clip.skeleton.slices[LEFT_HAND]] = 0
    no_hands = replace(clip, confidence=conf)
    for f in render_frames(no_hands, SIZE):  # never tracked: no close-up either, and no error
        assert hand_pixels(f) < 5  # (a few anti-aliased edge pixels may come near a hand colour)
    # the pose's coarse hand stands in where the tracker lost the hand, in the arm's colour
    assert any(near(f, STYLE.right_arm, 10).sum() > 20 for f in render_frames(no_hands, SIZE))


def test_face_missing_and_face_features(clip):
    img = render_frames(clip, 512, insets=False)[len(clip) // 2]
    for color in (STYLE.brows, STYLE.lips, STYLE.face_fill):
        assert near(img, color, 10).sum() > 10, color
    conf = clip.confidence.copy()
    conf[:, clip.skeleton.slices["face"]] = 0
    no_face = render_frames(replace(clip, confidence=conf), 512, insets=False)[len(clip) // 2]
    assert not near(no_face, STYLE.brows, 10).any()
    assert near(img, STYLE.face_fill, 2).sum() > 200 > near(no_face, STYLE.face_fill, 2).sum()
    assert near(no_face, STYLE.face, 30).sum() > 5  # the pose's head points stand in for the face


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


def test_camera_is_invariant_to_scale_and_position(clip):
    """Same picture whatever the units: a moved and scaled copy renders identically."""
    moved = replace(clip, data=np.where(clip.valid()[..., None], clip.data * 3.0 + np.float32([40, -25, 0]), 0))
    for i in (0, len(clip) - 1):
        assert np.array_equal(render_frames(clip, SIZE)[i], render_frames(moved, SIZE)[i])
        assert np.array_equal(render_frames(clip, SIZE)[i], render_frames(clip.normalize(), SIZE)[i])


def _drawn_units(seq: PoseSequence, fr: Framing) -> tuple[np.ndarray, np.ndarray]:
    from render.draw import camera_joints
    idx = camera_joints(seq.skeleton)
    u = (seq.data[:, idx, :2] - np.float32(fr.centre)) / fr.width
    return u, seq.confidence[:, idx] > 0


@pytest.mark.parametrize("which", ["jos", "karsl"])
def test_camera_holds_every_landmark_of_the_signing_space(which, jos, karsl_words):
    """Every drawn landmark above the waist is inside the camera, on real recordings; the window keeps the
    head and the shoulders, and it is much tighter than the old fixed window."""
    from render.draw import MIN_WINDOW, _waist

    seqs = jos if which == "jos" else karsl_words
    for seq in seqs:
        fr = Framing.signing_space(seq)
        x0, x1, y0, y1 = fr.window
        u, ok = _drawn_units(seq, fr)
        waist = _waist([seq], [(seq.data[..., :2] - np.float32(fr.centre)) / fr.width], STYLE)
        inside = (u[..., 0] >= x0) & (u[..., 0] <= x1) & (u[..., 1] >= y0) & (u[..., 1] <= y1)
        above = ok & (u[..., 1] <= waist)
        # all but the most extreme frame per side and one-frame glitches, which the camera leaves out
        per_frame_out = (above & ~inside).any(1)
        assert per_frame_out.sum() <= 4, (which, per_frame_out.sum(), fr.window)
        assert x0 <= MIN_WINDOW[0] and x1 >= MIN_WINDOW[1] and y0 <= MIN_WINDOW[2]
        assert (x1 - x0) * (y1 - y0) < 0.45 * 5.2 * 5.8  # the old fixed window was 5.2 x 5.8 shoulder widths


def test_a_sign_made_low_is_in_view_and_a_hand_falling_to_rest_is_not(data_dir, clip):
    """The Saudi dictionary's مستشفى is signed with both hands at the belly, below the waist: the camera takes
    them in (they would be under the caption bar). A hand that only falls to rest does not lower the camera."""
    from syrisign.data.extract import HolisticExtractor

    ex = HolisticExtractor()
    try:
        seq = ex.extract_path(data_dir / "esharah" / "words" / "مستشفى.mp4")
    finally:
        ex.close()
    fr = Framing.signing_space(seq)
    u, ok = (seq.data[..., :2] - np.float32(fr.centre)) / fr.width, seq.confidence > 0
    sk = seq.skeleton
    hands = np.r_[sk.slices["left_hand"].start:sk.slices["left_hand"].stop,
                  sk.slices["right_hand"].start:sk.slices["right_hand"].stop]
    low = ok[:, hands] & (u[:, hands, 1] > 1.3)  # hand points below the waist
    assert low.any(1).sum() >= 10
    shown = low & (u[:, hands, 1] <= fr.window[3])
    assert shown.sum() >= 0.85 * low.sum(), fr.window  # all but the few lowest frames
    # a hand that falls out of the signing space for a few frames (e.g. to rest at the end): the camera stays
    base = Framing.signing_space(clip)
    data = clip.data.copy()
    j = np.r_[clip.skeleton.slices["right_hand"].start:clip.skeleton.slices["right_hand"].stop]
    fall = np.linspace(0, 1.5 * base.width, 5, dtype=np.float32)
    data[-5:, j, 1] += fall[:, None]
    assert Framing.signing_space(replace(clip, data=data)).window[3] <= base.window[3] + 1e-6  # not lowered for it


def test_a_stray_landmark_does_not_move_the_camera(clip):
    fr = Framing.signing_space(clip)
    stray = clip.data.copy()
    c, w = fr.centre, fr.width
    j = clip.skeleton.index["right_hand.INDEX_FINGER_TIP"]
    stray[len(clip) // 2, j, :2] = (c[0] + 6 * w, c[1] - 5 * w)  # one landmark, one frame, far away
    conf = clip.confidence.copy()
    conf[len(clip) // 2, j] = 1
    moved = replace(clip, data=stray, confidence=conf)
    assert Framing.signing_space(moved) == fr
    big = clip.data.copy()  # the whole hand far out for many frames: the camera follows, up to its limit
    sl = clip.skeleton.slices[RIGHT_HAND]
    big[:, sl, 0] = c[0] - 9 * w
    far = Framing.signing_space(replace(clip, data=big))
    from render.draw import MAX_WINDOW
    assert far.window[0] == MAX_WINDOW[0]


def test_shared_framing_and_unframeable_sequences(clip):
    shared = Framing.signing_space(clip)
    a = render_frames(clip, SIZE, framing=shared)[2]
    assert np.array_equal(a, render_frames(clip, SIZE)[2])
    old = render_frames(clip, SIZE, framing="shoulders")[2]  # the fixed window is still there on request
    assert not np.array_equal(a, old)
    hand_only = clip.reduce(_hand_only_skeleton(clip))
    with pytest.raises(SyriSignError, match="cannot frame"):
        render_frames(hand_only, SIZE)
    img = render_frames(hand_only, SIZE, framing="fit")[2]
    assert hand_pixels(img) > 20


def test_body_and_hands_are_large_at_512(jos):
    """The camera on the signing space: shoulders over 140 px, a hand over 70 px tall at 512 (it was ~70 and ~20)."""
    from render.draw import _SHIFT

    shoulders, hands = [], []
    for seq in jos[:4]:
        fr = render_frames(seq, 512, captions=[(0, len(seq), "ب", "(fingerspell)")])
        p = fr.painter
        px = p.main.px / (1 << _SHIFT)  # (T, J, 2)
        ls, rs = seq.skeleton.shoulder_idx
        shoulders.append(np.median(np.linalg.norm(px[:, ls] - px[:, rs], axis=-1)))
        sl = seq.skeleton.slices[RIGHT_HAND]
        ok = p.valid[:, sl].all(1)
        hands.append(np.median(px[ok, sl, 1].max(1) - px[ok, sl, 1].min(1)))
    assert np.median(shoulders) >= 140 and np.median(hands) >= 60, (shoulders, hands)


def test_insets_follow_the_hand_and_hide_nothing(clip):
    from render.draw import _SHIFT, camera_joints

    fr = render_frames(clip, 512, captions=[(0, len(clip), "ب")])
    plans = {p.hand: p for p in fr.painter.inset_plans}
    assert RIGHT_HAND in plans and fr.painter.insets
    plan, view = plans[RIGHT_HAND], fr.painter.insets[0]
    x0, y0, x1, y1 = plan.box
    side = x1 - x0
    sl = clip.skeleton.slices[RIGHT_HAND]
    shown = np.flatnonzero(plan.visible & fr.painter.valid[:, sl].all(1))
    assert len(shown) > len(clip) // 3
    # in the close-up the whole hand stays in the box, near the middle, while it moves across the main view
    hand_px = view.px[shown][:, sl] / (1 << _SHIFT)  # (n, 21, 2) inside the box
    assert ((hand_px >= 0) & (hand_px < side)).all()
    assert np.median(np.abs(hand_px.mean(1) - side / 2)) < 0.15 * side
    main_c = (fr.painter.main.px[shown][:, sl] / (1 << _SHIFT)).mean(1)
    assert np.ptp(main_c, axis=0).max() > 0.1 * side
    # the close-up shows the hand large: its height is at least 40 % of the box
    h = (view.px[shown][:, sl, 1].max(1) - view.px[shown][:, sl, 1].min(1)) / (1 << _SHIFT)
    assert np.median(h) >= 0.4 * side
    assert 1.0 < plan.zoom <= STYLE.inset_max_zoom
    # drawn: hand colours inside the box, and no landmark of the signer under it in those frames
    img = fr[int(shown[len(shown) // 2])]
    assert hand_pixels(img[y0:y1, x0:x1]) > 200
    cam = camera_joints(clip.skeleton)
    px = fr.painter.main.px[shown][:, cam] / (1 << _SHIFT)
    ok = fr.painter.valid[shown][:, cam]
    under = ok & (px[..., 0] >= x0) & (px[..., 0] < x1) & (px[..., 1] >= y0) & (px[..., 1] < y1)
    assert not under.any()
    plain = render_frames(clip, 512, captions=[(0, len(clip), "ب")], insets=False)
    assert not plain.painter.insets
    assert not np.array_equal(plain[int(shown[0])][y0:y1, x0:x1], fr[int(shown[0])][y0:y1, x0:x1])


def test_portrait_and_1080_sizes(clip):
    big = render_frames(clip, 1080, captions=[(0, 5, "كبد", "liver")])
    assert big[0].shape == (1080, 1080, 3)
    tall = render_frames(clip, 1080, captions=[(0, 5, "كبد", "liver")], layout="portrait")
    assert tall[0].shape == (1920, 1080, 3)
    lay = tall.layout
    assert len(lay.row) == 2 and all(b[1] >= lay.main[3] for b in lay.row)  # close-ups below the signer
    assert all(p.box in lay.row for p in tall.painter.inset_plans) and tall.painter.inset_plans
    small = render_frames(clip, 288, layout="portrait")
    assert small[0].shape == (512, 288, 3)
    # the caption bar keeps its size on the frame's width: same bar in a square and a portrait frame
    sq = render_frames(clip, 1080, captions=[(0, 5, "كبد", "liver")], insets=False)
    assert sq.layout.caption == lay.caption
    # line widths grow with the frame: the same body is drawn with ~2x thicker lines at 1080 than at 512
    mid = len(clip) // 2
    ink = lambda f: (~near(f, STYLE.background, 0)).sum()
    a = ink(render_frames(clip, 512, insets=False)[mid])
    b = ink(render_frames(clip, 1080, insets=False)[mid])
    assert 3.0 < b / a < 6.0  # area scales with the square of the size
    with pytest.raises(RenderError, match="layout"):
        render_frames(clip, 512, layout="landscape")


def test_method_name_in_the_caption_bar(clip):
    caps = [(0, len(clip), "وزارة", "(fingerspell)")]
    with_tag = render_frames(clip, 512, caps, "retrieval", title_bar=False)
    plain = render_frames(clip, 512, caps)
    assert with_tag.layout.title == 0 and with_tag.layout.main == plain.layout.main
    bar = slice(512 - with_tag.layout.subcaption, 512)
    left = (slice(None), slice(0, 120))
    assert near(with_tag[0][bar][left], STYLE.caption_tag, 40).sum() > 20
    assert not near(plain[0][bar][left], STYLE.caption_tag, 40).any()
    titled = render_frames(clip, 512, caps, "retrieval")  # the default: a title bar on top
    assert titled.layout.title > 0


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
    cameras = [p.painter.framing for p in sbs.panels]
    assert cameras[0] == cameras[1] == cameras[2] == Framing.signing_space([long, short, short])  # one camera
    alone = render_frames(short, (200, 240), [(0, 3, "لا")], "generative (T2M-GPT)", framing=cameras[0])
    assert np.array_equal(sbs[1][:, 201:400], alone[1][:, 1:])  # column 200 is the divider
    own = render_frames(short, (200, 240), [(0, 3, "لا")], "generative (T2M-GPT)")
    assert own.painter.framing != cameras[0]  # alone it would have framed itself closer


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


def test_presets_decode_alike_and_bad_encoders_are_one_line_errors(clip, tmp_path, monkeypatch):
    import imageio.v2 as iio

    from render import video
    drawn = np.stack(list(render_frames(clip[:20], 256))).astype(np.float32)
    error = {}
    for preset in ("ultrafast", "superfast"):
        path = write_video(clip[:20], tmp_path / f"{preset}.mp4", size=256, preset=preset)
        decoded = np.stack([f for f in iio.get_reader(path, "ffmpeg")]).astype(np.float32)
        assert decoded.shape == drawn.shape == (20, 256, 256, 3)
        error[preset] = np.abs(decoded - drawn).mean()
    # the same quality target (crf): the faster preset spends more bytes, not more error
    assert error["ultrafast"] < 1.25 * error["superfast"] + 0.5, error
    with pytest.raises(RenderError, match="unknown x264 preset 'placebo'"):
        write_video(clip[:3], tmp_path / "p.mp4", preset="placebo")
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-such-ffmpeg"))
    video.ffmpeg_exe.cache_clear()
    try:
        with pytest.raises(RenderError, match="cannot run ffmpeg"):
            write_video(clip[:3], tmp_path / "n.mp4")
    finally:
        video.ffmpeg_exe.cache_clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["superfast.mp4", "ultrafast.mp4"]


def test_render_does_not_import_torch():
    code = ("import sys, render; from syrisign.pose import PoseSequence; import numpy as np\n"
            "from syrisign.skeletons import get_skeleton\n"
            "sk = get_skeleton('upper65'); d = np.random.rand(3, sk.num_joints, 3).astype('float32')\n"
            "list(render.render_frames(PoseSequence(d, np.ones(d.shape[:2]), 25, sk), 128, [(0, 2, 'لا')]))\n"
            "assert 'torch' not in sys.modules, 'render imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
