"""Skeleton drawing: fixed camera framing, per-skeleton limb tables, fast per-frame drawing.

Everything that does not change between frames is computed once per sequence: pixel
coordinates for all frames in one numpy operation, and for every drawing group (body,
arms, face, each hand) the limb index arrays. Drawing a frame is then a background copy
plus one ``cv2.polylines`` call per group (round line caps make zero-length segments into
filled joint dots, so joints cost one call per group as well).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.skeletons import FACE, LEFT_HAND, POSE, POSE_WORLD, RIGHT_HAND, Skeleton

RGB = tuple[int, int, int]


class RenderError(SyriSignError, ValueError):
    """A sequence or option that cannot be rendered; the message says what to do."""


@dataclass(frozen=True)
class RenderStyle:
    """Colours (RGB), line widths and the camera window.

    Widths are fractions of the shoulder width in pixels, so every output size looks alike.
    ``window`` is (x_min, x_max, y_min, y_max) in shoulder widths around the shoulder centre
    (y down): the same window is used for every frame and every clip.
    """

    background: RGB = (255, 255, 255)
    body: RGB = (64, 72, 92)
    left_arm: RGB = (176, 112, 72)
    right_arm: RGB = (72, 112, 168)
    left_hand: RGB = (235, 100, 20)
    right_hand: RGB = (20, 120, 235)
    face: RGB = (150, 150, 150)
    body_width: float = 0.07
    hand_width: float = 0.028
    face_width: float = 0.012
    body_joint: float = 0.11  # joint dot diameters
    hand_joint: float = 0.05
    min_confidence: float = 0.0  # joints with confidence <= this are not drawn
    legs: bool = False  # knees, ankles and feet: below the window and guessed by MediaPipe when unseen
    antialias: bool = True
    window: tuple[float, float, float, float] = (-2.6, 2.6, -2.6, 3.2)
    caption_background: RGB = (32, 32, 36)
    caption_text: RGB = (255, 255, 255)
    caption_subtext: RGB = (190, 190, 200)
    title_background: RGB = (232, 232, 238)
    divider: RGB = (170, 170, 180)  # between side-by-side panels
    title_text: RGB = (20, 20, 28)
    caption_height: float = 0.11  # fractions of the frame height
    subcaption_height: float = 0.06
    title_height: float = 0.07


@dataclass(frozen=True)
class Framing:
    """Where the body is in data units: shoulder centre (x, y) and shoulder width.

    ``Framing.of(seq)`` takes it from the sequence (``PoseSequence.normalization_info``);
    pass one ``Framing`` to several renders to give them one shared camera.
    """

    centre: tuple[float, float]
    width: float

    @classmethod
    def of(cls, seq: PoseSequence) -> Framing:
        try:
            centre, width = seq.normalization_info()
        except (KeyError, SyriSignError) as e:
            reason = f"it has no joint {str(e).strip(chr(39))}" if isinstance(e, KeyError) else str(e)
            raise RenderError(f"cannot frame skeleton {seq.skeleton.name!r} by its shoulders ({reason}); "
                              "pass framing=Framing(centre, width) or framing='fit'") from None
        return cls((float(centre[0]), float(centre[1])), float(width))

    @classmethod
    def fit(cls, seq: PoseSequence, style: RenderStyle | None = None) -> Framing:
        """A framing that fits every drawn landmark of the sequence into the window."""
        style = style or RenderStyle()
        idx = drawable_joints(seq.skeleton)
        ok = seq.confidence[:, idx] > style.min_confidence
        if not ok.any():
            raise RenderError("cannot frame the sequence: no landmark is ever present")
        xy = seq.data[:, idx, :2][ok]  # (n, 2)
        lo, hi = xy.min(0), xy.max(0)
        x0, x1, y0, y1 = style.window
        # Data box -> window box: width chosen so the data fits both directions.
        width = max((hi[0] - lo[0]) / (x1 - x0), (hi[1] - lo[1]) / (y1 - y0), 1e-6) * 1.05
        cx = (lo[0] + hi[0]) / 2 - width * (x0 + x1) / 2
        cy = (lo[1] + hi[1]) / 2 - width * (y0 + y1) / 2
        return cls((float(cx), float(cy)), float(width))


def resolve_framing(seq: PoseSequence, framing, style: RenderStyle) -> Framing:
    if framing is None or framing == "shoulders":
        return Framing.of(seq)
    if framing == "fit":
        return Framing.fit(seq, style)
    if isinstance(framing, Framing):
        return framing
    if isinstance(framing, tuple) and len(framing) == 2:  # (centre, width)
        c, w = framing
        return Framing((float(c[0]), float(c[1])), float(w))
    raise RenderError(f"framing must be None, 'fit', 'shoulders' or Framing(centre, width), got {framing!r}")


def import_cv2():
    try:
        import cv2
    except ImportError:
        raise RenderError("rendering needs OpenCV: pip install opencv-contrib-python "
                          "(the build mediapipe uses; do not add a second OpenCV package)") from None
    return cv2


# -- limb tables ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """One colour and width: segments ``(a, b)`` and joint dots, global joint indices."""

    name: str
    color: RGB
    width: float  # fraction of the shoulder width
    edges: np.ndarray  # (E, 2) int
    joints: np.ndarray  # (K,) int: dots
    joint_size: float


_ARM_WORDS = ("ELBOW", "WRIST", "PINKY", "INDEX", "THUMB", "Elbow", "Wrist", "Hand")
_HAND_POSE_WORDS = ("PINKY", "INDEX", "THUMB")  # pose joints that are a coarse hand


def _side(point: str) -> str | None:
    if "LEFT" in point or (point.endswith("L") and point[:-1].isalpha() and point[-2:-1].islower()):
        return "left"
    if "RIGHT" in point or (point.endswith("R") and point[:-1].isalpha() and point[-2:-1].islower()):
        return "right"
    return None


def drawable_components(skeleton: Skeleton) -> list[str]:
    """Components that are drawn: everything but world coordinates."""
    return [c.name for c in skeleton.components if c.name != POSE_WORLD and "world" not in c.name.lower()]


def drawable_joints(skeleton: Skeleton) -> np.ndarray:
    return np.concatenate([np.arange(skeleton.slices[c].start, skeleton.slices[c].stop)
                           for c in drawable_components(skeleton)]).astype(np.int64)


@lru_cache(maxsize=64)
def limb_groups(skeleton: Skeleton, style: RenderStyle) -> tuple[Group, ...]:
    """Drawing groups in painting order: face, body, arms, then hands on top.

    Pose edges between head points (eyes, ears, mouth) are drawn thin like the face; pose
    edges of the coarse pose hand (wrist, pinky, index, thumb) thinner in that arm's colour, so
    the hand colours appear only where the hand tracker found the hand. Legs are left out
    unless ``style.legs``. Body joints get dots, hands get small dots on every joint.
    """
    buckets: dict[str, dict] = {}

    def bucket(name, color, width, joint_size):
        return buckets.setdefault(name, {"color": color, "width": width, "joint_size": joint_size,
                                         "edges": [], "joints": []})

    face = bucket("face", style.face, style.face_width, style.hand_joint * 0.6)
    body = bucket("body", style.body, style.body_width, style.body_joint)
    arms = {"left": bucket("left_arm", style.left_arm, style.body_width, style.body_joint),
            "right": bucket("right_arm", style.right_arm, style.body_width, style.body_joint)}
    # The pose's coarse hand is part of the arm: hand colours mean "the hand tracker saw this hand".
    pose_hands = {"left": bucket("left_pose_hand", style.left_arm, style.hand_width * 1.5, 0.0),
                  "right": bucket("right_pose_hand", style.right_arm, style.hand_width * 1.5, 0.0)}
    hands = {LEFT_HAND: bucket(LEFT_HAND, style.left_hand, style.hand_width, style.hand_joint),
             RIGHT_HAND: bucket(RIGHT_HAND, style.right_hand, style.hand_width, style.hand_joint)}

    for comp in skeleton.components:
        if comp.name not in drawable_components(skeleton):
            continue
        off = skeleton.slices[comp.name].start
        if comp.name in (LEFT_HAND, RIGHT_HAND):
            b = hands[comp.name]
            b["edges"] += [(a + off, c + off) for a, c in comp.edges]
            b["joints"] += list(range(off, off + len(comp.points)))
            continue
        if comp.name == FACE:
            face["edges"] += [(a + off, c + off) for a, c in comp.edges]
            # Small face subsets (ASL-App's 33 points) keep few contour edges: their other points get dots.
            # A full mesh (468/478) draws its contours only.
            if len(comp.points) <= 64:
                on_edge = {i for e in comp.edges for i in e}
                face["joints"] += [i + off for i in range(len(comp.points)) if i not in on_edge]
            continue
        # pose, Kinect body, or any unknown component of an ad-hoc skeleton: body style
        head = {i for i, p in enumerate(comp.points) if _is_head(comp.name, p)}
        legs = set() if style.legs else {i for i, p in enumerate(comp.points) if _is_leg(p)}
        for a, c in comp.edges:
            if a in legs or c in legs:
                continue
            pa, pc = comp.points[a], comp.points[c]
            sa, sc = _side(pa), _side(pc)
            if a in head and c in head:
                face["edges"].append((a + off, c + off))
            elif sa and sa == sc and any(w in pa or w in pc for w in _HAND_POSE_WORDS) and comp.name == POSE:
                pose_hands[sa]["edges"].append((a + off, c + off))
            elif sa and sa == sc and any(w in pa or w in pc for w in _ARM_WORDS):
                arms[sa]["edges"].append((a + off, c + off))
            else:
                body["edges"].append((a + off, c + off))
        for i, p in enumerate(comp.points):
            if i in head or i in legs or (comp.name == POSE and any(w in p for w in _HAND_POSE_WORDS)):
                continue
            s = _side(p)
            target = arms[s] if s and any(w in p for w in _ARM_WORDS) else body
            target["joints"].append(i + off)

    order = ["face", "body", "left_arm", "right_arm", "left_pose_hand", "right_pose_hand", LEFT_HAND, RIGHT_HAND]
    out = []
    for name in order:
        b = buckets[name]
        if not b["edges"] and not b["joints"]:
            continue
        out.append(Group(name, tuple(int(v) for v in b["color"]), b["width"],
                         np.asarray(b["edges"], dtype=np.int64).reshape(-1, 2),
                         np.asarray(b["joints"], dtype=np.int64), b["joint_size"]))
    return tuple(out)


def _is_leg(point: str) -> bool:
    return any(w in point.upper() for w in ("KNEE", "ANKLE", "HEEL", "FOOT"))


def _is_head(component: str, point: str) -> bool:
    if component == POSE:
        return any(w in point for w in ("NOSE", "EYE", "EAR", "MOUTH"))
    return point in ("Head",)


# -- layout --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Canvas:
    """Where the skeleton goes inside a frame: a pixel box and its scale (pixels per shoulder width)."""

    width: int
    height: int
    top: int  # skeleton area rows [top, bottom)
    bottom: int
    scale: float
    origin: tuple[float, float]  # pixel position of the shoulder centre


def make_canvas(width: int, height: int, top: int, bottom: int, style: RenderStyle) -> Canvas:
    x0, x1, y0, y1 = style.window
    area_h = bottom - top
    if width < 16 or area_h < 16:
        raise RenderError(f"frame {width}x{height} is too small for a skeleton; use at least 64 pixels")
    scale = min(width / (x1 - x0), area_h / (y1 - y0))
    # Centre the window in the area (keeps aspect ratio; letterbox on the longer side).
    ox = width / 2 - scale * (x0 + x1) / 2
    oy = top + area_h / 2 - scale * (y0 + y1) / 2
    return Canvas(width, height, top, bottom, float(scale), (float(ox), float(oy)))


_SHIFT = 4  # cv2 fixed-point bits: sub-pixel precision for anti-aliased lines


class SkeletonPainter:
    """Precomputed drawing of one sequence into frames of one canvas.

    ``paint(img, t)`` draws frame ``t`` into ``img`` (H, W, 3) uint8 RGB in place.
    """

    def __init__(self, seq: PoseSequence, canvas: Canvas, framing: Framing, style: RenderStyle):
        cv2 = import_cv2()
        self._cv2 = cv2
        self.canvas, self.style = canvas, style
        (cx, cy), w = framing.centre, framing.width
        if not w > 0:
            raise RenderError(f"framing width must be positive, got {w}")
        k = canvas.scale / w * (1 << _SHIFT)
        # (T, J, 2) fixed-point pixel coordinates of every frame, in one operation
        xy = seq.data[..., :2].astype(np.float64)
        px = np.empty(xy.shape, dtype=np.float64)
        px[..., 0] = (xy[..., 0] - cx) * k + canvas.origin[0] * (1 << _SHIFT)
        # rows relative to the skeleton area: painting goes into that view, so nothing spills into bars
        px[..., 1] = (xy[..., 1] - cy) * k + (canvas.origin[1] - canvas.top) * (1 << _SHIFT)
        # Far off-canvas points are clamped so int32 cannot overflow; cv2 clips the lines.
        lim = 8 * max(canvas.width, canvas.height) * (1 << _SHIFT)
        self.px = np.clip(np.rint(px), -lim, lim).astype(np.int32)  # (T, J, 2)
        self.valid = seq.confidence > style.min_confidence  # (T, J)
        self.line_type = cv2.LINE_AA if style.antialias else cv2.LINE_8
        self.groups = []
        for g in limb_groups(seq.skeleton, style):
            thick = max(1, int(round(g.width * canvas.scale)))
            dot = int(round(g.joint_size * canvas.scale)) if len(g.joints) else 0
            if dot <= thick:  # dots no bigger than the line would be invisible
                dot = 0
            self.groups.append((g, thick, dot))
        lw, rw = seq.skeleton.wrist_idx if _has_joints(seq.skeleton, "wrist_idx") else (None, None)
        # Hand painting order per frame: the hand further from the camera first (pose z, larger = further).
        self.swap_hands = np.zeros(len(seq), dtype=bool)
        if lw is not None:
            z = seq.data[:, [lw, rw], 2]
            both = self.valid[:, lw] & self.valid[:, rw]
            self.swap_hands = both & (z[:, 0] < z[:, 1])  # left nearer: draw right first

    def paint(self, img: np.ndarray, t: int) -> None:
        cv2, lt = self._cv2, self.line_type
        img = img[self.canvas.top:self.canvas.bottom]  # a view: drawing is clipped to the skeleton area
        pts, ok = self.px[t], self.valid[t]  # (J, 2), (J,)
        groups = self.groups
        if self.swap_hands[t]:
            groups = [g for g in groups if g[0].name not in (LEFT_HAND, RIGHT_HAND)] + \
                     [g for g in groups if g[0].name == RIGHT_HAND] + [g for g in groups if g[0].name == LEFT_HAND]
        for g, thick, dot in groups:
            e = g.edges
            if len(e):
                keep = ok[e[:, 0]] & ok[e[:, 1]]
                if keep.any():
                    segs = pts[e[keep]]  # (n, 2, 2)
                    cv2.polylines(img, segs, False, g.color, thick, lt, _SHIFT)
            if dot and len(g.joints):
                j = g.joints[ok[g.joints]]
                if len(j):
                    p = pts[j][:, None, :]  # (n, 1, 2)
                    # zero-length segments with round caps: filled dots, one call for all joints
                    cv2.polylines(img, np.concatenate([p, p], axis=1), False, g.color, dot, lt, _SHIFT)


def _has_joints(skeleton: Skeleton, attr: str) -> bool:
    try:
        getattr(skeleton, attr)
        return True
    except KeyError:
        return False
