"""One signer: retargeting onto one body, one dominant hand, fingerspelling as one movement (real recordings)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from syrisign.pose import PoseSequence
from syrisign.retarget import (HAND_BONES, Body, dominant_hand, measure_body, retarget, steady_other_hand,
                               with_dominant)
from syrisign.skeletons import LEFT_HAND, RIGHT_HAND
from syrisign.spelling import SpellConfig, find_hold, spell_word


@pytest.fixture(scope="module")
def jos_letters(jos_pose_files) -> list[PoseSequence]:
    return [PoseSequence.load(f).reduce("holistic543").normalize() for f in jos_pose_files]


@pytest.fixture(scope="module")
def karsl_letter(data_dir) -> PoseSequence:
    """KArSL's ة (sign 60) by signer 01, signed with the left hand (the Jordanian alphabet has no ة)."""
    from syrisign.data.extract import HolisticExtractor
    path = sorted((data_dir / "karsl" / "letters_digits_mp4").rglob("*_01_0060_*.mp4"))[0]
    ex = HolisticExtractor()
    try:
        return ex.extract_path(path).normalize()
    finally:
        ex.close()


@pytest.fixture(scope="module")
def karsl_two_signers(data_dir) -> dict[str, list[PoseSequence]]:
    """Two recordings each of KArSL signers 01 and 03 signing 0073 and 0075 (one-handed: the right hand
    rests), from the frames through MediaPipe Holistic, normalized."""
    from syrisign.data.extract import HolisticExtractor
    from syrisign.data.sources import karsl_words
    items = karsl_words(data_dir / "karsl" / "word_frames")
    ex = HolisticExtractor()
    try:
        return {sg: [ex.extract_path(next(i for i in items if i.sample.signer == sg and i.sample.class_key == k).path
                                     ).normalize() for k in ("0073", "0075")] for sg in ("01", "03")}
    finally:
        ex.close()


def _body_like(src: Body, factor: float, name: str) -> Body:
    """A body with every measured length ``factor`` times the source's."""
    d = src.to_dict()
    for part in ("upper_arm", "forearm"):
        d[part] = {k: (v * factor if v is not None else None) for k, v in d[part].items()}
    d["hand"] = [v * factor if v is not None else None for v in d["hand"]]
    d["head_size"] = src.head_size * factor if src.head_size else None
    d["name"] = name
    return Body.from_dict(d)


def test_retargeted_bone_lengths_are_the_references(jos_letters):
    clips = jos_letters[:12]
    source = measure_body(clips, "jos")
    for factor in (0.8, 1.25):
        target = _body_like(source, factor, f"x{factor}")
        out = [retarget(c, source, target, arms="kept") for c in clips]
        got = measure_body(out, "retargeted")
        for part in ("upper_arm", "forearm"):
            for side in ("left", "right"):
                want = getattr(target, part)[side]
                if want is not None:
                    assert getattr(got, part)[side] == pytest.approx(want, rel=0.02), (part, side, factor)
        for k in range(len(HAND_BONES)):
            if target.hand[k] is not None:
                assert got.hand[k] == pytest.approx(target.hand[k], rel=0.02), (k, factor)
        assert got.head_size == pytest.approx(target.head_size, rel=0.03)
        # the shoulders stay, and every joint keeps its direction from its parent
        c, r = clips[0], out[0]
        sk = c.skeleton
        for a, b in (("pose.RIGHT_SHOULDER", "pose.RIGHT_ELBOW"), ("right_hand.WRIST", "right_hand.INDEX_FINGER_MCP")):
            ia, ib = sk.index[a], sk.index[b]
            ok = (c.confidence[:, ia] > 0) & (c.confidence[:, ib] > 0)
            u = c.data[ok, ib, :2] - c.data[ok, ia, :2]
            v = r.data[ok, ib, :2] - r.data[ok, ia, :2]
            cos = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1) + 1e-9)
            assert cos.min() > 0.999
        ls, rs = sk.shoulder_idx
        assert np.allclose(c.data[:, [ls, rs]], r.data[:, [ls, rs]])


def test_planar_arms_keep_the_hand_and_fit_the_lengths(jos_letters):
    """The Jordanian fingerspeller holds the right forearm towards the camera (2-D length 0.42 of a shoulder
    width against 0.95 for the upper arm). Drawn in the image plane, the hand stays where it was signed
    (its shape about the wrist too), the elbow does not flicker, a resting arm hangs with the target's
    lengths, and signed in the fingerspelling space every hold has the target's arm in every frame."""
    from syrisign.retarget import _arm, planar_arms
    clips = jos_letters[:12]
    source = measure_body(clips, "jos")
    target = _body_like(source.plausible(), 1.1, "target")
    sk = clips[0].skeleton
    hand = list(range(sk.slices[RIGHT_HAND].start, sk.slices[RIGHT_HAND].stop))
    lengths = {}
    for side in ("left", "right"):
        s_, e_, w_ = _arm(sk, side)
        lengths[side] = (s_, e_, w_)
    kept_fore, checked, resting = [], 0, 0
    for c in clips:
        kept = retarget(c, source, target, arms="kept")
        flat = retarget(c, source, target)
        assert np.allclose(planar_arms(kept, target).data, flat.data)
        s_, e_, w_ = lengths["right"]
        ok = (c.confidence[:, [s_, e_, w_]] > 0).all(1)
        kept_fore.append(np.linalg.norm(kept.data[ok, w_, :2] - kept.data[ok, e_, :2], axis=-1))
        # a raised wrist within the arm's reach stays where it was signed; the hand keeps its shape about it
        reach = np.linalg.norm(kept.data[:, w_, :2] - kept.data[:, s_, :2], axis=-1)
        u, f = target.upper_arm["right"], target.forearm["right"]
        up = ok & (kept.data[:, w_, 1] < 0.9) & (reach > abs(u - f) + 1e-3) & (reach < u + f - 1e-3)
        checked += int(up.sum())
        assert np.allclose(flat.data[up, w_, :2], kept.data[up, w_, :2], atol=1e-3)
        seen = (c.confidence[:, hand] > 0).all(1) & ok
        rel = lambda q: q.data[seen][:, hand, :2] - q.data[seen][:, [w_], :2]  # noqa: E731
        assert np.allclose(rel(flat), rel(kept), atol=1e-4)
        # no flicker: with the hand away from its shoulder, the elbow moves no more from frame to frame than
        # the kept elbow and the wrist do (passing close in front of the shoulder, a drawn arm of fixed
        # lengths must swing its elbow fast: planar_arms eases back to the recorded arm there)
        away = ok & (reach > 0.6 * (u + f))
        pairs = away[1:] & away[:-1]
        step = lambda q, j: np.linalg.norm(np.diff(q.data[:, j, :2], axis=0), axis=-1)[pairs]  # noqa: E731
        if pairs.sum() > 2:
            assert step(flat, e_).max() <= max(step(kept, e_).max(), step(kept, w_).max()) + 0.15
        # the resting left arm hangs with the target's lengths (wholly below rest[1])
        s_, e_, w_ = lengths["left"]
        hung = planar_arms(kept, target, rest=(1.0, 1.3))
        rest = (c.confidence[:, [s_, e_, w_]] > 0).all(1) & (kept.data[:, w_, 1] > 1.3)
        resting += int(rest.sum())
        for (a, b), want in (((s_, e_), target.upper_arm["left"]), ((e_, w_), target.forearm["left"])):
            got = np.linalg.norm(hung.data[rest, b, :2] - hung.data[rest, a, :2], axis=-1)
            assert np.allclose(got, want, atol=1e-3)
        assert (flat.data[c.confidence == 0] == 0).all()
        assert np.allclose(flat.data[:, sk.shoulder_idx], c.data[:, sk.shoulder_idx])
    kept_fore = np.concatenate(kept_fore)
    assert checked > 50 and resting > 100
    assert np.percentile(kept_fore, 5) < 0.7 * target.forearm["right"]  # the kept forearm does shrink
    # spelled in the fingerspelling space: every hold frame has the target's arm (within 5 %), the wrist
    # above the elbow
    word = spell_word([retarget(c, source, target) for c in clips[:5]], "right", SpellConfig(), body=target)
    s_, e_, w_ = lengths["right"]
    d, cf = word.sequence.data, word.sequence.confidence
    frames = [t for h0, h1 in zip(word.bounds[1:-2], word.bounds[2:-1]) for t in range(h0, h1)]
    frames = [t for t in frames if (cf[t, [s_, e_, w_]] > 0).all()]
    assert len(frames) > 10
    # (the place is close to the shoulder, where the fitted elbow is eased towards the hold's hanging elbow)
    assert np.allclose(np.linalg.norm(d[frames, e_, :2] - d[frames, s_, :2], axis=-1), target.upper_arm["right"], rtol=0.05)
    assert np.allclose(np.linalg.norm(d[frames, w_, :2] - d[frames, e_, :2], axis=-1), target.forearm["right"], rtol=0.05)
    assert (d[frames, w_, 1] < d[frames, e_, 1]).all()
    with pytest.raises(ValueError, match="planar or kept"):
        retarget(clips[0], source, target, arms="bent")


def test_a_clip_with_a_missing_hand_or_arm_is_retargeted(jos_letters):
    clip = jos_letters[3]
    source = measure_body(jos_letters[:6])
    target = _body_like(source, 1.2, "bigger")
    sk = clip.skeleton
    for missing in ([*range(sk.slices[RIGHT_HAND].start, sk.slices[RIGHT_HAND].stop)],
                    [sk.index["pose.RIGHT_ELBOW"], sk.index["pose.RIGHT_WRIST"]],
                    list(range(sk.num_joints))):
        conf = clip.confidence.copy()
        conf[:, missing] = 0
        data = np.where(conf[..., None] > 0, clip.data, 0)
        out = retarget(replace(clip, data=data, confidence=conf), source, target)
        assert np.isfinite(out.data).all() and (out.confidence == conf).all()
        assert (out.data[conf == 0] == 0).all()  # nothing invented where nothing was seen
    empty = Body()  # nothing measured: nothing changes
    assert np.allclose(retarget(clip, empty, empty).data, clip.data)


def test_mirroring_twice_is_the_identity(jos_letters, karsl_letter):
    for seq in (jos_letters[0], karsl_letter):
        twice = seq.mirror().mirror()
        ok = seq.confidence > 0
        assert np.allclose(twice.data[ok], seq.data[ok], atol=1e-5) and np.array_equal(twice.confidence, seq.confidence)
    # the face's points swap with their mirror images: the mirrored face lies on the original one
    seq = jos_letters[0]
    m = seq.mirror()
    sl = seq.skeleton.slices["face"]
    a, b = seq.data[:, sl, :2], m.data[:, sl, :2]
    spread = np.linalg.norm(a - a.mean(1, keepdims=True), axis=-1).mean()
    cx = float(seq.normalization_info()[0][0])
    flipped = a.copy()
    flipped[..., 0] = 2 * cx - flipped[..., 0]  # geometric flip without swapping points
    assert np.linalg.norm(b - a, axis=-1).mean() < 0.25 * np.linalg.norm(flipped - a, axis=-1).mean() + 0.05 * spread


def test_dominant_hand_and_mirroring(jos_letters, karsl_letter):
    assert dominant_hand(jos_letters[10]).dominant == "right"  # the Jordanian fingerspeller: right-handed
    assert dominant_hand(karsl_letter).dominant == "left"  # KArSL signer 01 signs this ة with the left hand
    right, mirrored = with_dominant(karsl_letter, "right")
    assert mirrored and dominant_hand(right).dominant == "right"
    same, mirrored = with_dominant(jos_letters[10], "right")
    assert not mirrored and same is jos_letters[10]
    left, _ = with_dominant(jos_letters[10], "left")
    assert dominant_hand(left).dominant == "left"
    # the resting hand of a one-handed sign is held still
    steady = steady_other_hand(right, "right")
    sl = steady.skeleton.slices[LEFT_HAND]
    ok = steady.confidence[:, sl] > 0
    if ok.any():
        assert np.ptp(steady.data[:, sl][ok.all(1)], axis=0).max() < 1e-5


def test_fingerspelling_timing_follows_the_rate(jos_letters):
    word = jos_letters[5:10]  # five letters of one alphabet, one signer
    for rate in (2.5, 4.0):
        cfg = SpellConfig(rate=rate)
        out = spell_word(word, "right", cfg)
        moving = [h for h in out.holds if h.moving]
        seconds = len(out.sequence) / out.sequence.fps
        if not moving:
            assert seconds == pytest.approx(len(word) / rate, abs=1.5 / out.sequence.fps), rate
        assert out.bounds[0] == 0 and out.bounds[-1] == len(out.sequence) and len(out.bounds) == len(word) + 1
        assert all(b > a for a, b in zip(out.bounds, out.bounds[1:]))
    slow = spell_word(word, "right", SpellConfig(rate=2.0)).sequence
    fast = spell_word(word, "right", SpellConfig(rate=5.0)).sequence
    assert len(slow) > 2 * len(fast) * 0.9
    # the hand stays up between the letters: the wrist above the elbow from the first hold to the last
    seq = spell_word(word, "right").sequence
    sk = seq.skeleton
    w, e = sk.index["right_hand.WRIST"], sk.index["pose.RIGHT_ELBOW"]
    mid = slice(len(seq) // 5, len(seq) - len(seq) // 5)
    ok = (seq.confidence[mid, w] > 0) & (seq.confidence[mid, e] > 0)
    assert ok.any() and (seq.data[mid, w, 1][ok] < seq.data[mid, e, 1][ok]).all()
    with pytest.raises(Exception, match="rate"):
        SpellConfig(rate=50)


def test_spelled_words_keep_their_time_and_the_hand_stays_up_between_them(jos_letters, karsl_letter):
    """Stitched between other signs, a fingerspelled word keeps n / rate seconds (neither trimmed nor cut:
    it holds the hand still on purpose); between two spelled words the hand does not come down."""
    from syrisign.stitch import stitch
    body = measure_body(jos_letters[:12]).plausible()
    rate = 2.5
    a = spell_word(jos_letters[0:2], "right", SpellConfig(rate=rate), body=body)  # a two-letter word
    b = spell_word(jos_letters[2:5], "right", SpellConfig(rate=rate), body=body)
    sign = with_dominant(karsl_letter, "right")[0]
    res = stitch([sign, a.sequence, b.sequence, sign], ["sign", "a", "b", "sign"], fps=a.sequence.fps)
    fps = res.sequence.fps
    for k, n in ((1, 2), (2, 3)):
        seg = res.segments[k]
        assert (seg.end_frame - seg.start_frame) / fps == pytest.approx(n / rate, rel=0.2)
    assert res.kept[1][0] == 0 and res.kept[2][1] == res.trimmed[2]  # nothing cut at the signs' side
    seq = res.sequence
    sk = seq.skeleton
    w, e = sk.index["pose.RIGHT_WRIST"], sk.index["pose.RIGHT_ELBOW"]
    between = range(res.segments[1].end_frame - 3, res.segments[2].start_frame + 3)
    assert all(seq.data[t, w, 1] < seq.data[t, e, 1] for t in between)


def test_a_hold_is_the_steady_raised_handshape(jos_letters):
    for clip in jos_letters[:8]:
        h = find_hold(clip, "right", 5)
        assert 0 <= h.start < h.stop <= len(clip)
        if not h.moving and h.raised:
            sl = clip.skeleton.slices[RIGHT_HAND]
            hold = clip.data[h.start:h.stop, sl, :2]
            whole = clip.data[:, sl, :2]
            assert np.abs(np.diff(hold, axis=0)).mean() <= np.abs(np.diff(whole, axis=0)).mean() + 1e-6


def test_one_signer_in_the_pipeline(tmp_path, jos_pose_files, karsl_letter):
    """A word spelled with letters of two signers (the Jordanian one and KArSL's left-handed signer 01): one
    dominant hand throughout, one body, the plan naming the signer, the alphabet and the borrowed letter."""
    from syrisign.lexicon import DefaultLexiconConfig, Lexicon, build_default_lexicon
    from syrisign.pipeline import Pipeline
    from syrisign.retarget import active_hands, bone_variation

    lex_dir = build_default_lexicon(tmp_path / "lex", progress=False, config=DefaultLexiconConfig(parts=("jos",)))
    lex = Lexicon.load(lex_dir)
    lex.add("ة", karsl_letter, signed_language="sdl", priority=1, source="KArSL", signer="01", folder="karsl-letters")
    assert lex.entries[-1].dominant == "left"  # measured on the recording and stored in meta.csv
    assert Lexicon.load(lex_dir).entries[-1].dominant == "left"
    pipe = Pipeline(lexicon=Lexicon.load(lex_dir), fuzzy=False, progress=False)
    res = pipe.translate("وزارة")
    item = res.plan.items[0]
    assert item.alphabet == "jos" and [e.alphabet for e in item.entries][-1] == "karsl-letters"
    assert "ة from karsl-letters (not in jos)" in item.note
    assert "dominant hand: right" in res.plan.signer and "signer:" in res.plan.explain()
    out = res.outputs["retrieval"]
    segs = [(s.start_frame, s.end_frame) for s in out.segments]
    assert len(segs) == 5 and set(active_hands(out.sequence, segs[1:])) == {"right"}
    assert len(out.sequence) / out.sequence.fps == pytest.approx(5 / 2.5, rel=0.2)
    before = Pipeline(lexicon=Lexicon.load(lex_dir), fuzzy=False, progress=False, as_recorded=True).translate("وزارة")
    b = before.outputs["retrieval"]
    from syrisign.retarget import raised
    s0, s1 = b.segments[-1].start_frame, b.segments[-1].end_frame  # as recorded: ة with the left hand up
    n0, n1 = out.segments[-1].start_frame, out.segments[-1].end_frame
    assert raised(b.sequence[s0:s1], "left") > 0.5 and raised(out.sequence[n0:n1], "left") == 0
    assert raised(out.sequence[n0:n1], "right") > 0.5
    assert len(b.sequence) > 1.5 * len(out.sequence)
    cv_now = bone_variation(out.sequence, segs)
    assert cv_now["shoulder width"] < 0.03
    # one torso: the hips stay where they are while two signers' letters follow each other
    sk = out.sequence.skeleton
    for hip in ("pose.LEFT_HIP", "pose.RIGHT_HIP"):
        j = sk.index[hip]
        seen = out.sequence.confidence[:, j] > 0
        assert np.ptp(out.sequence.data[seen, j, :2], axis=0).max() < 1e-6
    lefty = Pipeline(lexicon=Lexicon.load(lex_dir), fuzzy=False, progress=False, hand="left").translate("وزارة")
    lo = lefty.outputs["retrieval"]
    assert set(active_hands(lo.sequence, [(s.start_frame, s.end_frame) for s in lo.segments][1:])) == {"left"}


def test_retargeting_puts_depth_face_and_resting_arm_on_the_reference(karsl_two_signers):
    """MediaPipe's face and hand depths are relative (to the face's centre, to the wrist); normalized they sit at
    minus the pose model's shoulder depth, which differs from signer to signer. Retargeted, a face's centre and
    a hand's wrist are at the reference's depth in every frame, the relief kept; the other arm of a one-handed
    sign rests where the reference rests it."""
    from syrisign.retarget import _face_points, _seen_mean, arm_joints
    from syrisign.signers import signer_body
    ref = signer_body([measure_body([c]) for c in karsl_two_signers["01"]], "01").symmetric()
    src = signer_body([measure_body([c]) for c in karsl_two_signers["03"]], "03")
    assert abs(ref.face_depth - src.face_depth) > 0.02 and ref.rest["right"]
    # one rest for both arms, mirrored: the lower one (signer 01's right hand lies on the lap)
    (el, wl), (er, wr) = ref.rest["left"][:2], ref.rest["right"][:2]
    assert np.allclose([-wl[0], wl[1], wl[2]], wr) and np.allclose([-el[0], el[1], el[2]], er) and wr[1] > 1.0
    assert Body.from_dict(ref.to_dict()) == ref
    assert Body.from_dict({"name": "old"}).rest == {"left": None, "right": None}
    outs = []
    for clip in karsl_two_signers["03"]:
        out = retarget(clip, src, ref, arms="kept")
        c3, ok = _seen_mean(out.data, out.confidence, _face_points(out.skeleton))
        assert ok.any() and np.allclose(c3[ok, 2], ref.face_depth, atol=1e-4)
        sk = out.skeleton
        for side in ("left", "right"):
            h = sk.slices[f"{side}_hand"].start
            seen = out.confidence[:, h] > 0
            assert np.allclose(out.data[seen, h, 2], ref.hand_depth, atol=1e-5)
            # the fingers' depth about the wrist is the recording's (scaled with the hand)
            rel_in = clip.data[seen, h + 8, 2] - clip.data[seen, h, 2]
            rel_out = out.data[seen, h + 8, 2] - out.data[seen, h, 2]
            if seen.sum() > 8:
                assert np.corrcoef(rel_in, rel_out)[0, 1] > 0.95
        # the left hand signs, the right one rests: at the reference's rest, joint for joint
        steady = steady_other_hand(out, "left", body=ref)
        joints = arm_joints(sk, "right")
        for k, j in enumerate(joints[:2]):  # elbow and wrist
            seen = steady.confidence[:, j] > 0
            assert seen.any() and np.allclose(steady.data[seen, j], ref.rest["right"][k], atol=1e-4)
        outs.append(steady)
    # two recordings (of two words) of the other signer: the same resting arm
    w = [o.data[o.confidence[:, joints[1]] > 0, joints[1]][0] for o in outs]
    assert np.allclose(w[0], w[1], atol=1e-4)


def test_retargeting_gives_every_recording_the_references_face(karsl_two_signers):
    """One face: a recording's neutral face (each point's median place about the face's centre) becomes the
    reference's, which is left-right symmetric; what the face does during the sign is kept."""
    from syrisign._topology import FACE_MIRROR
    from syrisign.retarget import _face_points, _face_shape_of, _seen_mean
    from syrisign.signers import signer_body
    ref = signer_body([measure_body([c]) for c in karsl_two_signers["01"]], "01").symmetric()
    src = signer_body([measure_body([c]) for c in karsl_two_signers["03"]], "03")
    assert ref.face and len(ref.face) == len(_face_points(karsl_two_signers["01"][0].skeleton))
    for k, p in ref.face.items():
        m = ref.face[str(FACE_MIRROR[int(k)])]
        assert np.allclose([-m[0], m[1], m[2]], p, atol=1e-3)
    names = sorted(ref.face, key=int)
    want = np.array([ref.face[k] for k in names]) * ref.head_size
    for clip in karsl_two_signers["03"]:
        sk = clip.skeleton
        pts = _face_points(sk)
        neutral = {}
        for name, seq in (("in", clip), ("out", retarget(clip, src, ref, arms="kept"))):
            c3, ok = _seen_mean(seq.data, seq.confidence, pts)
            neutral[name] = _face_shape_of(seq.data, seq.confidence > 0, sk, c3, ok)[1], seq, c3, ok
        before, after = neutral["in"][0], neutral["out"][0]
        # the two signers' faces differ; retargeted, the recording's neutral face is the reference's
        assert np.abs(before - want).mean() > 3 * np.abs(after - want).mean()
        assert np.abs(after - want).max() < 0.01
        # the face's own movement about its neutral is the recording's, scaled to the reference's head
        (_, a, ca, ok), (_, b, cb, _) = neutral["in"], neutral["out"]
        dev_in = (a.data[ok][:, pts] - ca[ok][:, None])[..., :2] - before[None, :, :2]
        dev_out = (b.data[ok][:, pts] - cb[ok][:, None])[..., :2] - after[None, :, :2]
        assert np.corrcoef(dev_in.ravel(), dev_out.ravel())[0, 1] > 0.95
    # bodies without a neutral face (measured before it existed) leave the face's shape as it is
    old = Body.from_dict({k: v for k, v in ref.to_dict().items() if k != "face"})
    assert old.face is None and Body.from_dict(ref.to_dict()) == ref
