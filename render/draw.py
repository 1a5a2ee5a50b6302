"""Skeleton drawing: one camera on the signing space, hands drawn as hands, hand close-ups, face features.

Everything that does not change between frames is computed once per sequence: the camera (from the
sequence itself), pixel coordinates of all frames in one numpy operation per view, the drawing groups
with their index arrays and each hand's line widths (from its size in pixels). Drawing a frame is a
background copy plus a few ``cv2`` calls per group (round line caps turn zero-length segments into
filled joint dots, so all the dots of a group cost one call).

Colours: the signer's right side is blue, the left side orange (arms, palm, hand outline, joint
dots); each finger has its own colour on both hands (thumb crimson, index amber, middle green, ring
teal, little finger violet), so a handshape reads as five fingers and the two hands stay apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from syrisign import _topology as topo
from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.skeletons import FACE, LEFT_HAND, POSE, POSE_WORLD, RIGHT_HAND, Skeleton

RGB = tuple[int, int, int]
HANDS = (LEFT_HAND, RIGHT_HAND)


class RenderError(SyriSignError, ValueError):
    """A sequence or option that cannot be rendered; the message says what to do."""


@dataclass(frozen=True)
class RenderStyle:
    """Colours (RGB), line widths, the camera and the hand close-ups.

    Body and face widths are fractions of the shoulder width in pixels; finger widths are
    fractions of that hand's palm length in pixels (wrist to middle knuckle), so every size and
    every close-up looks alike.
    """

    background: RGB = (255, 255, 255)
    body: RGB = (72, 80, 100)
    left_arm: RGB = (205, 128, 62)  # the signer's left side: warm
    right_arm: RGB = (58, 112, 196)  # the signer's right side: cool
    left_hand: RGB = (226, 104, 16)  # palm outline and joint dots
    right_hand: RGB = (16, 98, 222)
    left_palm: RGB = (255, 221, 190)
    right_palm: RGB = (196, 221, 255)
    left_joint: RGB = (255, 246, 236)  # joints: light beads on the finger lines
    right_joint: RGB = (240, 246, 255)
    # thumb, index, middle, ring, little finger (both hands)
    fingers: tuple[RGB, ...] = ((214, 24, 72), (236, 160, 0), (40, 160, 60), (0, 150, 176), (140, 70, 204))
    face: RGB = (150, 150, 158)  # face oval outline
    face_fill: RGB = (248, 243, 238)
    brows: RGB = (58, 50, 44)
    eyes: RGB = (46, 46, 56)
    nose: RGB = (150, 128, 118)
    lips: RGB = (188, 70, 88)
    body_width: float = 0.055
    face_width: float = 0.012
    feature_width: float = 0.014  # eyes, nose, lips
    brow_width: float = 0.032
    body_joint: float = 0.1  # joint dot diameters (fractions of the shoulder width)
    finger_width: float = 0.11  # fractions of the palm length
    thumb_width: float = 0.14
    palm_width: float = 0.08
    finger_joint: float = 0.065  # (of the palm length: about half a finger's width)
    min_confidence: float = 0.0  # joints with confidence <= this are not drawn
    legs: bool = False  # knees, ankles and feet: below the signing space and guessed by MediaPipe when unseen
    antialias: bool = True
    window: tuple[float, float, float, float] = (-2.6, 2.6, -2.6, 3.2)  # framing="shoulders" (shoulder widths)
    margin: float = 0.1  # around the signing space (shoulder widths)
    caption_background: RGB = (32, 32, 36)
    caption_text: RGB = (255, 255, 255)
    caption_subtext: RGB = (190, 190, 200)
    caption_tag: RGB = (140, 200, 170)  # the method's name in the caption bar
    title_background: RGB = (232, 232, 238)
    divider: RGB = (170, 170, 180)  # between side-by-side panels
    title_text: RGB = (20, 20, 28)
    caption_height: float = 0.09  # fractions of the frame's smaller side
    subcaption_height: float = 0.05
    title_height: float = 0.06
    inset_background: RGB = (250, 250, 252)
    inset_size: float = 0.4  # side of a hand close-up: fraction of the main view's smaller side (square layout)
    inset_fill: float = 0.9  # the hand's large extent (90th percentile) fills this share of the close-up
    inset_max_zoom: float = 3.0  # at most this many times the main view's scale


# -- camera ----------------------------------------------------------------------------------------
# The signing space, in shoulder widths around the shoulder centre (y down): a camera never shows less
# (head to waist, both shoulders with the upper arms) nor more (a stray landmark cannot zoom it out).
MIN_WINDOW = (-1.3, 1.3, -0.95, 0.9)  # wider than the body: room for the close-ups beside the head
MAX_WINDOW = (-2.4, 2.4, -1.9, 2.2)
WAIST = 1.2  # the waist below the shoulder line (shoulder widths) when the hips are not tracked
WAIST_OF_HIPS = 0.85  # ... else this share of the way from the shoulder line down to the hip joints
HAND_MOVING = 0.6  # shoulder widths / s: a hand faster than this is signing (or on its way)
LOW_SIGN_FRAMES = 10  # a moving hand this many frames below the waist is a sign made there


@dataclass(frozen=True)
class Framing:
    """A camera: the body frame (shoulder centre and shoulder width in data units) and the window shown.

    ``window`` is (x_min, x_max, y_min, y_max) in shoulder widths around ``centre`` (y down), or None
    for ``RenderStyle.window``. :meth:`signing_space` chooses it from the sequences themselves; pass
    one ``Framing`` to several renders to give them one camera.
    """

    centre: tuple[float, float]
    width: float
    window: tuple[float, float, float, float] | None = None

    @classmethod
    def of(cls, seq: PoseSequence) -> Framing:
        """The sequence's own shoulders with the fixed window of the style (the body at a fixed place)."""
        c, w = _body_frame(seq)
        return cls(c, w)

    @classmethod
    def signing_space(cls, seqs: PoseSequence | list[PoseSequence], style: RenderStyle | None = None,
                      ignore_frames: int = 1) -> Framing:
        """One camera on the region the signing uses, over every frame of every sequence: from above the
        head down to the waist, and across the reach of both arms.

        The sequences must share their units (e.g. the outputs of one translation, all normalized); the
        body frame is their pooled shoulders. Per frame the extremes of the drawn face, hand and
        upper-body landmarks above the waist are taken (a hand resting at the thigh is below the signing
        space), and below it a hand that signs there: one moving for :data:`LOW_SIGN_FRAMES` frames or
        more (a sign made low, at the belly; a hand only falling to rest or rising from it is not kept). A landmark that jumps away for one frame and back is a tracking glitch and is left out, and
        over frames the ``ignore_frames`` most extreme are left out, so a stray landmark moves nothing;
        then ``style.margin`` is added and the window is kept
        between :data:`MIN_WINDOW` and :data:`MAX_WINDOW`. The waist is :data:`WAIST_OF_HIPS` of the
        way down to the hips where they are tracked, else :data:`WAIST`.
        """
        style = style or RenderStyle()
        seqs = [seqs] if isinstance(seqs, PoseSequence) else list(seqs)
        if not seqs:
            raise RenderError("no sequence to frame")
        frames = [_body_frame(s) for s in seqs]
        centre = np.array([np.mean([c[k] for c, _ in frames]) for k in (0, 1)], dtype=np.float32)
        width = float(np.median([w for _, w in frames]))
        units = [(s.data[..., :2] - centre) / np.float32(width) for s in seqs]  # each (T, J, 2)
        waist = _waist(seqs, units, style)
        ext = []  # per frame x_min, x_max, y_min, y_max in shoulder widths
        for s, u in zip(seqs, units):
            idx = camera_joints(s.skeleton)
            uu = u[:, idx]  # (T, K, 2)
            ok = (s.confidence[:, idx] > style.min_confidence) & (uu[..., 1] <= waist)
            ok[1:-1] &= ~_spikes(uu, s.confidence[:, idx] > style.min_confidence)
            have = ok.any(1)
            if have.any():
                x, y, ok = uu[have, :, 0], uu[have, :, 1], ok[have]
                ext.append(np.stack([np.where(ok, x, np.inf).min(1), np.where(ok, x, -np.inf).max(1),
                                     np.where(ok, y, np.inf).min(1), np.where(ok, y, -np.inf).max(1)], 1))
        if not ext:
            raise RenderError("cannot frame the sequence: no landmark is ever present")
        e = np.concatenate(ext)  # (n, 4)
        k = min(ignore_frames, len(e) - 1)
        lo_x, hi_x = np.sort(e[:, 0])[k], np.sort(e[:, 1])[::-1][k]
        lo_y, hi_y = np.sort(e[:, 2])[k], np.sort(e[:, 3])[::-1][k]
        m = style.margin
        bottom = max(min(hi_y, waist), _low_signing(seqs, units, style))
        win = (min(lo_x - m, MIN_WINDOW[0]), max(hi_x + m, MIN_WINDOW[1]),
               min(lo_y - m, MIN_WINDOW[2]), max(bottom + m, MIN_WINDOW[3]))
        win = (max(win[0], MAX_WINDOW[0]), min(win[1], MAX_WINDOW[1]),
               max(win[2], MAX_WINDOW[2]), min(win[3], MAX_WINDOW[3]))
        return cls((float(centre[0]), float(centre[1])), width, tuple(float(v) for v in win))

    @classmethod
    def fit(cls, seq: PoseSequence, style: RenderStyle | None = None) -> Framing:
        """A camera that shows every drawn landmark of the sequence (for skeletons without shoulders)."""
        style = style or RenderStyle()
        idx = drawable_joints(seq.skeleton)
        ok = seq.confidence[:, idx] > style.min_confidence
        if not ok.any():
            raise RenderError("cannot frame the sequence: no landmark is ever present")
        xy = seq.data[:, idx, :2][ok]  # (n, 2)
        lo, hi = xy.min(0), xy.max(0)
        size = float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-6))
        half = 0.55  # the data box spans 1.0 of 1.1 units: a small margin
        return cls((float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2), size, (-half, half, -half, half))


def _spikes(u: np.ndarray, ok: np.ndarray, jump: float = 0.5) -> np.ndarray:
    """(T - 2, K) bool: landmarks of frames 1..T-2 that are ``jump`` shoulder widths away from both neighbours
    while the neighbours agree with each other (out and back in one frame)."""
    if len(u) < 3:
        return np.zeros((max(0, len(u) - 2), u.shape[1]), dtype=bool)
    prev, cur, nxt = u[:-2], u[1:-1], u[2:]
    both = ok[:-2] & ok[1:-1] & ok[2:]
    dp, dn = np.linalg.norm(cur - prev, axis=-1), np.linalg.norm(cur - nxt, axis=-1)
    ds = np.linalg.norm(nxt - prev, axis=-1)
    return both & (dp > jump) & (dn > jump) & (ds < 0.5 * np.minimum(dp, dn))


def _low_signing(seqs: list[PoseSequence], units: list[np.ndarray], style: RenderStyle) -> float:
    """How far down (shoulder widths) hands reach while they sign: per frame the lowest point of each hand
    that moves faster than :data:`HAND_MOVING`, then the :data:`LOW_SIGN_FRAMES`-th lowest over the frames
    (a hand passing on its way to rest is there for fewer frames); -inf when no hand moves that long."""
    lows = []
    for s, u in zip(seqs, units):
        for hand in (LEFT_HAND, RIGHT_HAND):
            if not s.skeleton.has(hand) or len(s) < 2:
                continue
            sl = s.skeleton.slices[hand]
            ok = s.confidence[:, sl] > style.min_confidence  # (T, 21)
            seen = ok.sum(1) >= 5
            c = (u[:, sl] * ok[..., None]).sum(1) / np.maximum(ok.sum(1), 1)[:, None]  # (T, 2) centroid
            speed = np.zeros(len(s))
            both = seen[1:] & seen[:-1]
            speed[1:] = np.where(both, np.linalg.norm(np.diff(c, axis=0), axis=-1) * s.fps, 0.0)
            moving = seen & (speed > HAND_MOVING)
            if moving.any():
                lows.append(np.where(ok[moving], u[moving][:, sl, 1], -np.inf).max(1))
    if not lows:
        return -np.inf
    low = np.sort(np.concatenate(lows))[::-1]
    return float(low[LOW_SIGN_FRAMES - 1]) if len(low) >= LOW_SIGN_FRAMES else -np.inf


def _waist(seqs: list[PoseSequence], units: list[np.ndarray], style: RenderStyle) -> float:
    """The waist in shoulder widths below the shoulder line: from the hips where they are tracked."""
    ys = []
    for s, u in zip(seqs, units):
        hips = [s.skeleton.index[j] for j in ("pose.LEFT_HIP", "pose.RIGHT_HIP") if j in s.skeleton.index]
        for j in hips:
            ok = s.confidence[:, j] > style.min_confidence
            if ok.mean() >= 0.2:
                ys.append(u[ok, j, 1])
    if not ys:
        return WAIST
    return float(np.clip(WAIST_OF_HIPS * np.median(np.concatenate(ys)), 1.0, 1.5))


def _body_frame(seq: PoseSequence) -> tuple[tuple[float, float], float]:
    try:
        centre, width = seq.normalization_info()
    except (KeyError, SyriSignError) as e:
        reason = f"it has no joint {str(e).strip(chr(39))}" if isinstance(e, KeyError) else str(e)
        raise RenderError(f"cannot frame skeleton {seq.skeleton.name!r} by its shoulders ({reason}); "
                          "pass framing=Framing(centre, width) or framing='fit'") from None
    return (float(centre[0]), float(centre[1])), float(width)


def resolve_framing(seqs: PoseSequence | list[PoseSequence], framing, style: RenderStyle) -> Framing:
    """``None`` or ``"signing"``: the signing space of the sequence(s); ``"shoulders"``: the fixed window
    around the shoulders; ``"fit"``: every landmark; or a :class:`Framing` / ``(centre, width)``."""
    if framing is None or framing == "signing":
        return Framing.signing_space(seqs, style)
    first = seqs if isinstance(seqs, PoseSequence) else seqs[0]
    if framing == "shoulders":
        return Framing.of(first)
    if framing == "fit":
        return Framing.fit(first, style)
    if isinstance(framing, Framing):
        return framing
    if isinstance(framing, tuple) and len(framing) == 2:  # (centre, width)
        c, w = framing
        return Framing((float(c[0]), float(c[1])), float(w))
    raise RenderError(f"framing must be None, 'signing', 'shoulders', 'fit' or Framing(...), got {framing!r}")


def import_cv2():
    try:
        import cv2
    except ImportError:
        raise RenderError("rendering needs OpenCV: pip install opencv-contrib-python "
                          "(the build mediapipe uses; do not add a second OpenCV package)") from None
    return cv2


# -- joints --------------------------------------------------------------------------------------
_ARM_WORDS = ("ELBOW", "WRIST", "PINKY", "INDEX", "THUMB", "Elbow", "Wrist", "Hand")
_HAND_POSE_WORDS = ("PINKY", "INDEX", "THUMB")  # pose joints that are a coarse hand
_FINGERS = (("thumb", (0, 1, 2, 3, 4)), ("index", (5, 6, 7, 8)), ("middle", (9, 10, 11, 12)),
            ("ring", (13, 14, 15, 16)), ("pinky", (17, 18, 19, 20)))
_PALM = (0, 5, 9, 13, 17)  # wrist and the four knuckles
_MIDDLE_MCP = 9


def _side(point: str) -> str | None:
    if "LEFT" in point or (point.endswith("L") and point[:-1].isalpha() and point[-2:-1].islower()):
        return "left"
    if "RIGHT" in point or (point.endswith("R") and point[:-1].isalpha() and point[-2:-1].islower()):
        return "right"
    return None


def _is_leg(point: str) -> bool:
    return any(w in point.upper() for w in ("KNEE", "ANKLE", "HEEL", "FOOT"))


def _is_head(component: str, point: str) -> bool:
    if component == POSE:
        return any(w in point for w in ("NOSE", "EYE", "EAR", "MOUTH"))
    return point in ("Head",)


def drawable_components(skeleton: Skeleton) -> list[str]:
    """Components that are drawn: everything but world coordinates."""
    return [c.name for c in skeleton.components if c.name != POSE_WORLD and "world" not in c.name.lower()]


def drawable_joints(skeleton: Skeleton) -> np.ndarray:
    return np.concatenate([np.arange(skeleton.slices[c].start, skeleton.slices[c].stop)
                           for c in drawable_components(skeleton)]).astype(np.int64)


@lru_cache(maxsize=64)
def camera_joints(skeleton: Skeleton) -> np.ndarray:
    """The joints the camera keeps in view: face, hands and the upper body (not hips, legs or feet)."""
    out = []
    for c in skeleton.components:
        if c.name not in drawable_components(skeleton):
            continue
        off = skeleton.slices[c.name].start
        for i, p in enumerate(c.points):
            up = p.upper()
            if c.name in (FACE, LEFT_HAND, RIGHT_HAND) or not (_is_leg(p) or "HIP" in up or "SPINEBASE" in up):
                out.append(off + i)
    return np.asarray(out, dtype=np.int64)


# -- drawing groups ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """One colour and width: segments ``(a, b)``, filled polygons and joint dots (global joint indices).

    ``hand`` names the hand whose palm sets the widths (and which hand-order swaps apply);
    ``fallback_for`` names a component: the group is drawn only in frames where that component is
    missing (the coarse pose hand where the hand tracker lost the hand, the pose head without a face).
    """

    name: str
    color: RGB
    width: float  # fraction of the shoulder width (or of the palm length for hand groups)
    edges: np.ndarray  # (E, 2) int
    joints: np.ndarray  # (K,) int: dots
    joint_size: float
    hand: str | None = None
    fallback_for: str | None = None
    polygons: tuple[np.ndarray, ...] = ()  # each (P,) int, filled with ``fill`` (drawn first)
    fill: RGB | None = None  # default: ``color``
    joint_color: RGB | None = None  # default: ``color``
    inset: bool = True  # drawn in the hand close-ups too


def _face_groups(skeleton: Skeleton, style: RenderStyle) -> list[Group]:
    """Face oval (filled), eyebrows, eyes, irises, nose and lips from the mesh, for the mesh points present."""
    comp = next(c for c in skeleton.components if c.name == FACE)
    off = skeleton.slices[FACE].start
    where = {p: off + i for i, p in enumerate(comp.points)}

    def edges(name):
        return np.asarray([(where[str(a)], where[str(b)]) for a, b in topo.FACE_FEATURE_EDGES[name]
                           if str(a) in where and str(b) in where], dtype=np.int64).reshape(-1, 2)

    def loops(name):
        return tuple(np.asarray([where[str(p)] for p in loop], dtype=np.int64) for loop in topo.FACE_FEATURE_LOOPS[name]
                     if all(str(p) in where for p in loop))

    def outline(name):
        """A closed feature drawn through every other point of its loop: the same shape at this size, half
        the segments (drawing cost is per segment). Falls back to the mesh edges when a loop is incomplete."""
        found = loops(name)
        if not found or len(found) != len(topo.FACE_FEATURE_LOOPS[name]):
            return edges(name)
        out = []
        for loop in found:
            pts = loop[::2] if len(loop) >= 12 else loop
            out.append(np.stack([pts, np.roll(pts, -1)], 1))
        return np.concatenate(out)

    none = np.zeros(0, dtype=np.int64)
    groups = [Group("face_oval", style.face, style.face_width, outline("face_oval"), none, 0.0,
                    polygons=tuple(lp[::2] for lp in loops("face_oval")), fill=style.face_fill),
              _lips(loops("lips"), outline("lips"), style)]
    groups.append(Group("face_nose", style.nose, style.feature_width, edges("nose"), none, 0.0))
    groups.append(Group("face_eyes", style.eyes, style.feature_width,
                        np.concatenate([outline("left_eye"), outline("right_eye")]), none, 0.0,
                        polygons=loops("left_iris") + loops("right_iris")))
    groups.append(Group("face_brows", style.brows, style.brow_width,
                        np.concatenate([edges("left_eyebrow"), edges("right_eyebrow")]), none, 0.0))
    return [g for g in groups if len(g.edges) or g.polygons]


def _lips(loops: tuple[np.ndarray, ...], outline: np.ndarray, style: RenderStyle) -> Group:
    """The lips filled, and the line between them (the inner loop) in a darker shade: an open mouth shows."""
    none = np.zeros(0, dtype=np.int64)
    if len(loops) != 2:
        return Group("face_lips", style.lips, style.feature_width, outline, none, 0.0)
    outer, inner = sorted(loops, key=len, reverse=True) if len(loops[0]) != len(loops[1]) else loops
    inner = inner[::2]
    dark = tuple(int(c * 0.6) for c in style.lips)
    return Group("face_lips", dark, style.feature_width, np.stack([inner, np.roll(inner, -1)], 1), none, 0.0,
                 polygons=(outer[::2],), fill=style.lips)


def _hand_groups(skeleton: Skeleton, hand: str, style: RenderStyle) -> list[Group]:
    off = skeleton.slices[hand].start
    left = hand == LEFT_HAND
    none = np.zeros(0, dtype=np.int64)
    palm = np.asarray(_PALM, dtype=np.int64) + off
    outline = np.stack([palm, np.roll(palm, -1)], 1)
    groups = [Group(f"{hand}_palm", style.left_hand if left else style.right_hand, style.palm_width, outline, none,
                    0.0, hand=hand, polygons=(palm,), fill=style.left_palm if left else style.right_palm)]
    for (name, chain), color in zip(_FINGERS, style.fingers):
        e = np.asarray([(a + off, b + off) for a, b in zip(chain, chain[1:])], dtype=np.int64)
        groups.append(Group(f"{hand}_{name}", color, style.thumb_width if name == "thumb" else style.finger_width,
                            e, none, 0.0, hand=hand))
    # the joints: light beads on the lines, one call for the whole hand
    groups.append(Group(f"{hand}_joints", style.left_joint if left else style.right_joint, 0.0,
                        np.zeros((0, 2), dtype=np.int64), np.arange(21, dtype=np.int64) + off, style.finger_joint,
                        hand=hand))
    return groups


@lru_cache(maxsize=64)
def limb_groups(skeleton: Skeleton, style: RenderStyle) -> tuple[Group, ...]:
    """Drawing groups in painting order: face, body, arms, then the hands on top.

    A full face mesh (or its contour subset) is drawn as features: a filled oval, eyebrows, eyes
    (with irises when present), nose and lips. The pose's own head points (eyes, ears, mouth) are
    drawn only in frames without a face; the pose's coarse hand (wrist, pinky, index, thumb) only in
    frames where that hand was not tracked. Hands: a filled palm (wrist and the four knuckles), each
    finger in its colour, the joints as dots. Legs are left out unless ``style.legs``.
    """
    buckets: dict[str, dict] = {}

    def bucket(name, color, width, joint_size, **kw):
        return buckets.setdefault(name, {"color": color, "width": width, "joint_size": joint_size,
                                         "edges": [], "joints": [], **kw})

    face_features: list[Group] = []
    face = bucket("face", style.face, style.face_width, 0.025)
    head = bucket("head", style.face, style.feature_width, 0.0, fallback_for=FACE)
    body = bucket("body", style.body, style.body_width, style.body_joint)
    arms = {"left": bucket("left_arm", style.left_arm, style.body_width, style.body_joint),
            "right": bucket("right_arm", style.right_arm, style.body_width, style.body_joint)}
    pose_hands = {"left": bucket("left_pose_hand", style.left_arm, style.body_width * 0.6, 0.0, fallback_for=LEFT_HAND),
                  "right": bucket("right_pose_hand", style.right_arm, style.body_width * 0.6, 0.0,
                                  fallback_for=RIGHT_HAND)}
    hands: dict[str, list[Group]] = {}
    has_face = skeleton.has(FACE)

    for comp in skeleton.components:
        if comp.name not in drawable_components(skeleton):
            continue
        off = skeleton.slices[comp.name].start
        if comp.name in HANDS:
            if len(comp.points) == 21:
                hands[comp.name] = _hand_groups(skeleton, comp.name, style)
            else:  # a hand of another layout: plain lines
                b = bucket(comp.name, style.left_hand if comp.name == LEFT_HAND else style.right_hand,
                           style.body_width * 0.5, style.body_joint * 0.5)
                b["edges"] += [(a + off, c + off) for a, c in comp.edges]
                b["joints"] += list(range(off, off + len(comp.points)))
            continue
        if comp.name == FACE:
            face_features = _face_groups(skeleton, style)
            mesh = {str(p) for edges in topo.FACE_FEATURE_EDGES.values() for e in edges for p in e}
            covered = {off + i for i, p in enumerate(comp.points) if p in mesh}  # drawn by the features
            # points of small face subsets (ASL-App's 33) that no feature draws: their own edges, then dots
            face["edges"] += [(a + off, c + off) for a, c in comp.edges
                              if a + off not in covered or c + off not in covered]
            if len(comp.points) <= 64:
                on_edge = covered | {i for e in face["edges"] for i in e}
                face["joints"] += [i + off for i in range(len(comp.points)) if i + off not in on_edge]
            continue
        # pose, Kinect body, or any unknown component of an ad-hoc skeleton: body style
        heads = {i for i, p in enumerate(comp.points) if _is_head(comp.name, p)}
        legs = set() if style.legs else {i for i, p in enumerate(comp.points) if _is_leg(p)}
        for a, c in comp.edges:
            if a in legs or c in legs:
                continue
            pa, pc = comp.points[a], comp.points[c]
            sa, sc = _side(pa), _side(pc)
            if a in heads and c in heads:
                (head if has_face and comp.name == POSE else face)["edges"].append((a + off, c + off))
            elif sa and sa == sc and any(w in pa or w in pc for w in _HAND_POSE_WORDS) and comp.name == POSE:
                pose_hands[sa]["edges"].append((a + off, c + off))
            elif sa and sa == sc and any(w in pa or w in pc for w in _ARM_WORDS):
                arms[sa]["edges"].append((a + off, c + off))
            else:
                body["edges"].append((a + off, c + off))
        for i, p in enumerate(comp.points):
            if i in heads or i in legs or (comp.name == POSE and any(w in p for w in _HAND_POSE_WORDS)):
                continue
            if comp.name == POSE and "HIP" in p:
                continue  # below the signing space: the torso lines run out of the picture
            s = _side(p)
            target = arms[s] if s and any(w in p for w in _ARM_WORDS) else body
            target["joints"].append(i + off)

    def made(name: str) -> Group | None:
        b = buckets[name]
        if not b["edges"] and not b["joints"]:
            return None
        return Group(name, tuple(int(v) for v in b["color"]), b["width"],
                     np.asarray(b["edges"], dtype=np.int64).reshape(-1, 2),
                     np.asarray(b["joints"], dtype=np.int64), b["joint_size"], fallback_for=b.get("fallback_for"))

    out: list[Group | None] = [*face_features, made("face"), made("head"), made("body"), made("left_arm"),
                               made("right_arm"), made("left_pose_hand"), made("right_pose_hand")]
    for h in HANDS:
        out += hands.get(h, [made(h)] if h in buckets else [])
    return tuple(g for g in out if g is not None)


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Canvas:
    """Where a view goes inside a frame: a pixel box and its scale (pixels per shoulder width)."""

    width: int
    height: int
    top: int  # view rows [top, bottom), columns [left, right)
    bottom: int
    scale: float
    origin: tuple[float, float]  # pixel position (in the frame) of the framing's centre
    left: int = 0
    right: int = -1

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in frame pixels."""
        return self.left, self.top, self.width if self.right < 0 else self.right, self.bottom


def make_canvas(width: int, height: int, top: int, bottom: int, window: tuple[float, float, float, float],
                left: int = 0, right: int | None = None) -> Canvas:
    """Fit ``window`` (shoulder widths) into the frame box, keeping the aspect ratio, centred."""
    x0, x1, y0, y1 = window
    right = width if right is None else right
    area_w, area_h = right - left, bottom - top
    if area_w < 16 or area_h < 16:
        raise RenderError(f"frame {width}x{height} is too small for a skeleton; use at least 64 pixels")
    scale = min(area_w / (x1 - x0), area_h / (y1 - y0))
    ox = left + area_w / 2 - scale * (x0 + x1) / 2
    oy = top + area_h / 2 - scale * (y0 + y1) / 2
    return Canvas(width, height, top, bottom, float(scale), (float(ox), float(oy)), left, right)


_SHIFT = 4  # cv2 fixed-point bits: sub-pixel precision for anti-aliased lines
_ONE = 1 << _SHIFT


@dataclass
class _Op:
    """One cv2 call per frame: a group's polygons, lines or dots, with everything per frame precomputed."""

    kind: str  # "poly" | "lines" | "dots"
    color: RGB
    thick: int
    shapes: np.ndarray  # (T, n, P, 2) int32 fixed point: n polygons, segments (P=2) or dots (P=2, same point)
    ok: np.ndarray  # (T, n) bool: shape drawable
    full: np.ndarray  # (T,) bool: all n drawable (no masking needed)
    shown: np.ndarray  # (T,) bool: the group is drawn in this frame at all
    hand: str | None


@dataclass
class _View:
    """One drawing of the skeleton into a rectangle: the main view or a hand close-up."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
    px: np.ndarray  # (T, J, 2) int32 fixed point, relative to the box
    ops: list  # _Op in painting order
    swapped: list  # the same ops with the two hands in the other order
    visible: np.ndarray | None = None  # (T,) bool, close-ups only
    border: RGB | None = None
    background: RGB | None = None
    scale: float = 0.0  # px per shoulder width


def _fixed(xy: np.ndarray, centre: np.ndarray, k: np.ndarray | float, origin: np.ndarray, limit: int) -> np.ndarray:
    """(T, J, 2) data → int32 fixed-point pixels: (xy - centre) * k + origin, clamped so int32 cannot overflow."""
    px = (xy.astype(np.float64) - centre) * k + origin
    return np.clip(np.rint(px * _ONE), -limit, limit).astype(np.int32)


def _thicknesses(groups, shoulder_px: float, palm_px: dict[str, float]) -> list:
    out = []
    for g in groups:
        ref = palm_px.get(g.hand, shoulder_px * 0.22) if g.hand else shoulder_px
        thick = max(1, int(round(g.width * ref))) if g.width > 0 else 0
        dot = int(round(g.joint_size * ref)) if len(g.joints) else 0
        if g.hand is None and dot <= thick:  # body dots no bigger than the line would be invisible
            dot = 0
        out.append((g, thick, max(dot, 0)))
    return out


def _ops(groups, px: np.ndarray, valid: np.ndarray, present: dict, side: int | None = None) -> list[_Op]:
    """The drawing operations of a view. ``side``: a close-up's box size, to leave out groups that are
    wholly outside it in a frame (in a close-up most of the body is)."""
    T = len(px)
    out = []
    c = np.ascontiguousarray  # cv2 wants each frame's points contiguous
    for g, thick, dot in groups:
        shown = np.ones(T, dtype=bool)
        if g.fallback_for is not None and g.fallback_for in present:
            shown &= ~present[g.fallback_for]
        if side is not None:
            pts = np.unique(np.concatenate([g.edges.reshape(-1), g.joints, *g.polygons]))
            if len(pts):
                q = px[:, pts] >> _SHIFT  # (T, n, 2)
                m = 0.1 * side  # thick lines reach a little beyond their points
                inside = ((q >= -m) & (q < side + m)).all(-1) & valid[:, pts]
                shown &= inside.any(1)
        color = g.color
        for poly in g.polygons:
            ok = valid[:, poly].all(1, keepdims=True)  # (T, 1)
            out.append(_Op("poly", g.fill or color, 0, c(px[:, poly][:, None]), ok, ok[:, 0], shown, g.hand))
        if thick and len(g.edges):
            ok = valid[:, g.edges[:, 0]] & valid[:, g.edges[:, 1]]  # (T, E)
            out.append(_Op("lines", color, thick, c(px[:, g.edges]), ok, ok.all(1), shown & ok.any(1), g.hand))
        if dot and len(g.joints):
            ok = valid[:, g.joints]
            d = px[:, g.joints][:, :, None]  # (T, K, 1, 2): zero-length segments with round caps are dots
            out.append(_Op("dots", g.joint_color or color, dot, c(np.concatenate([d, d], 2)), ok, ok.all(1),
                           shown & ok.any(1), g.hand))
    return out


def _hands_swapped(ops: list[_Op]) -> list[_Op]:
    rest = [o for o in ops if o.hand is None]
    return rest + [o for o in ops if o.hand == RIGHT_HAND] + [o for o in ops if o.hand == LEFT_HAND]


class SkeletonPainter:
    """Precomputed drawing of one sequence into frames: the main view and the hand close-ups.

    ``paint(img, t)`` draws frame ``t`` into ``img`` (H, W, 3) uint8 RGB in place (views of a larger
    image work). ``insets`` is ``"overlay"`` (close-ups in the main view's corners), ``"row"`` (in
    ``row_boxes``, two boxes of their own) or None; :attr:`inset_plans` says what was placed where.
    """

    def __init__(self, seq: PoseSequence, canvas: Canvas, framing: Framing, style: RenderStyle,
                 insets: str | None = None, row_boxes: list | None = None):
        cv2 = import_cv2()
        self._cv2 = cv2
        self.canvas, self.style, self.framing = canvas, style, framing
        (cx, cy), w = framing.centre, framing.width
        if not w > 0:
            raise RenderError(f"framing width must be positive, got {w}")
        self.seq = seq
        valid = seq.confidence > style.min_confidence  # (T, J)
        self.valid = valid
        sk = seq.skeleton
        # per frame: is the face / each hand there? (fallback groups are drawn only where it is not)
        self.present = {c: valid[:, sk.slices[c]].any(1) for c in (FACE, *HANDS) if sk.has(c)}
        self.groups = limb_groups(seq.skeleton, style)
        self.line_type = cv2.LINE_AA if style.antialias else cv2.LINE_8
        x0, y0, x1, y1 = canvas.box
        limit = 8 * max(canvas.width, canvas.height) * _ONE
        u = (seq.data[..., :2] - np.float32([cx, cy])) / np.float32(w)  # (T, J, 2) shoulder widths
        u = _arms_to_hands(sk, u, valid)
        self.units = u
        origin = np.array([canvas.origin[0] - x0, canvas.origin[1] - y0])
        main_px = _fixed(u, 0.0, canvas.scale, origin, limit)
        self.palm = palm_lengths(seq, u, valid)  # shoulder widths, per hand
        main_groups = _thicknesses(self.groups, canvas.scale, {h: p * canvas.scale for h, p in self.palm.items()})
        ops = _ops(main_groups, main_px, valid, self.present)
        self.main = _View((x0, y0, x1, y1), main_px, ops, _hands_swapped(ops), scale=canvas.scale)
        self.inset_plans = []
        if insets:
            from render.insets import plan_insets  # (imports this module)

            self.inset_plans = plan_insets(seq, u, valid, canvas.scale, canvas.origin, canvas.box, style,
                                           insets, row_boxes)
        self.insets = []
        for plan in self.inset_plans:
            bx0, by0, bx1, by1 = plan.box
            side = bx1 - bx0
            k = side / plan.crop  # px per shoulder width in the close-up
            origin = np.array([side / 2, (by1 - by0) / 2])
            px = _fixed(u, plan.centres[:, None, :], k, origin, limit)
            groups = _thicknesses([g if g.hand else _faded(g, style.inset_background) for g in self.groups if g.inset],
                                  k, {h: p * k for h, p in self.palm.items()})
            ops = _ops(groups, px, valid, self.present, side)
            self.insets.append(_View(plan.box, px, ops, _hands_swapped(ops), plan.visible, plan.border,
                                     style.inset_background, k))
        lw, rw = seq.skeleton.wrist_idx if _has_joints(seq.skeleton, "wrist_idx") else (None, None)
        # Hand painting order per frame: the hand further from the camera first (pose z, larger = further).
        self.swap_hands = np.zeros(len(seq), dtype=bool)
        if lw is not None:
            z = seq.data[:, [lw, rw], 2]
            both = valid[:, lw] & valid[:, rw]
            self.swap_hands = both & (z[:, 0] < z[:, 1])  # left nearer: draw right first

    def _paint_view(self, img: np.ndarray, view: _View, t: int) -> None:
        cv2, lt = self._cv2, self.line_type
        x0, y0, x1, y1 = view.box
        sub = img[y0:y1, x0:x1]  # a view: drawing is clipped to the box
        for op in (view.swapped if self.swap_hands[t] else view.ops):
            if not op.shown[t]:
                continue
            shapes = op.shapes[t] if op.full[t] else op.shapes[t][op.ok[t]]
            if op.kind == "poly":
                if len(shapes):
                    cv2.fillPoly(sub, list(shapes), op.color, lt, _SHIFT)
            else:
                cv2.polylines(sub, shapes, False, op.color, op.thick, lt, _SHIFT)

    def paint(self, img: np.ndarray, t: int) -> None:
        self._paint_view(img, self.main, t)
        for view in self.insets:
            if not view.visible[t]:
                continue
            x0, y0, x1, y1 = view.box
            img[y0:y1, x0:x1] = view.background
            self._paint_view(img, view, t)
            self._cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), view.border, max(2, (x1 - x0) // 60))


def _arms_to_hands(sk: Skeleton, units: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Forearms end at the tracked hand: where a hand is tracked its wrist replaces the pose's wrist (the
    pose model's own wrist estimate is often a little off, which would draw a forearm beside the hand)."""
    out = units
    for h, w in ((LEFT_HAND, "pose.LEFT_WRIST"), (RIGHT_HAND, "pose.RIGHT_WRIST")):
        hw = f"{h}.WRIST"
        if hw in sk.index and w in sk.index:
            a, b = sk.index[w], sk.index[hw]
            ok = valid[:, a] & valid[:, b]
            if ok.any():
                out = out.copy() if out is units else out
                out[ok, a] = units[ok, b]
    return out


def _faded(g: Group, background: RGB, keep: float = 0.45, width: float = 0.35) -> Group:
    """A body or face group as seen in a hand close-up: thinner and paler, so the hand stands out."""
    def mix(c):
        return None if c is None else tuple(int(round(keep * a + (1 - keep) * b)) for a, b in zip(c, background))
    return replace(g, color=mix(g.color), fill=mix(g.fill), joint_color=mix(g.joint_color), width=g.width * width,
                   joint_size=g.joint_size * width)


def _has_joints(skeleton: Skeleton, attr: str) -> bool:
    try:
        getattr(skeleton, attr)
        return True
    except KeyError:
        return False


# -- hands ---------------------------------------------------------------------------------------
def palm_lengths(seq: PoseSequence, units: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """Median palm length (wrist to middle knuckle, 2-D) of each tracked 21-point hand, in shoulder widths."""
    out = {}
    for h in HANDS:
        if not seq.skeleton.has(h) or seq.skeleton.slices[h].stop - seq.skeleton.slices[h].start != 21:
            continue
        a = seq.skeleton.slices[h].start
        ok = valid[:, a] & valid[:, a + _MIDDLE_MCP]
        if ok.any():
            d = np.linalg.norm(units[ok, a] - units[ok, a + _MIDDLE_MCP], axis=-1)
            out[h] = float(np.clip(np.median(d), 0.08, 0.5))
        else:
            out[h] = 0.22
    return out


__all__ = ["Canvas", "Framing", "Group", "RenderError", "RenderStyle", "SkeletonPainter", "camera_joints",
           "drawable_joints", "import_cv2", "limb_groups", "make_canvas", "palm_lengths", "resolve_framing",
           "MIN_WINDOW", "MAX_WINDOW"]
