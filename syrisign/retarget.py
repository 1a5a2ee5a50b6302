"""One signer: every recording mapped onto one reference body and one dominant hand.

A lexicon mixes recordings of several people (KArSL signers 01 and 03, the Jordanian fingerspeller, the
Saudi dictionary's signers, a community's contributors). Shown one after the other they read as several
people, and the hand that signs changes with the source. This module

- measures a signer's :class:`Body` from their recordings: the length of every bone (shoulder width,
  upper arms, forearms, the 20 bones of a hand) as the 95th percentile of its 2-D length over the frames
  (a bone seen at an angle only looks shorter, so the high percentile is its length in the image plane),
  the head's size and place above the shoulders, and its neutral face (:attr:`Body.face`);
- :func:`retarget` moves a recording onto another body keeping every joint's direction: down the
  kinematic tree (shoulder, elbow, wrist, hand; head apart) each bone vector is scaled by the ratio of the
  two bodies' lengths, so the rotations stay and the lengths become the target's; then (by default)
  :func:`planar_arms` draws each arm in the image plane with the target's lengths, the hand where it was
  signed and the elbow placed to match, so that a forearm held towards the camera does not shrink on the
  drawn skeleton (a stick figure has no depth to show foreshortening with), except where the elbow would
  have to fly out like a wing; the face's and the hands' depth, which MediaPipe estimates only relative to
  the face's centre and the wrist, is put at the target's (:func:`_anchor_depth`); and the face at rest
  becomes the target's neutral face, what it does during the sign kept (:func:`_face_shape`);
- :func:`dominant_hand` says which hand signs (the wrist that travels farther) and whether the sign is
  two-handed; :func:`with_dominant` mirrors a recording whose dominant hand is the other one (a
  two-handed sign is mirrored as a whole); :func:`steady_other_hand` holds a one-handed sign's other arm
  still, where the target body rests it (:attr:`Body.rest`).

All of it works in normalized units (shoulder-centred, shoulder width 1): retarget a clip after
``normalize()``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.skeletons import FACE, LEFT_HAND, RIGHT_HAND, Skeleton

SIDES = ("left", "right")
HANDS = {"left": LEFT_HAND, "right": RIGHT_HAND}
# parent -> child along each finger, from the wrist (MediaPipe hand indices)
HAND_BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11),
              (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20))
POSE_HAND = ("PINKY", "INDEX", "THUMB")  # the pose model's coarse hand, children of its wrist
HEAD_POSE = ("NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
             "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT")
FACE_TOP, FACE_CHIN = "10", "152"  # face mesh: top of the forehead and the chin
PERCENTILE = 95
MIN_FRAMES = 8  # fewer valid frames than this: the bone is not measured
POSE_CONFIDENCE = 0.5  # pose joints below this visibility are guesses of the pose model: not measured
RATIO_LIMITS = (0.5, 2.0)
FOREARM_RATIO = 0.85  # forearm / upper arm below which a forearm is taken as foreshortened throughout


class RetargetError(SyriSignError, ValueError):
    """A body or a recording that cannot be retargeted; the message says why."""


@dataclass
class Body:
    """A signer's proportions in shoulder widths (2-D lengths in the image plane); None where unmeasured."""

    name: str = ""
    upper_arm: dict[str, float | None] = field(default_factory=lambda: {"left": None, "right": None})
    forearm: dict[str, float | None] = field(default_factory=lambda: {"left": None, "right": None})
    hand: list[float | None] = field(default_factory=lambda: [None] * len(HAND_BONES))
    head_offset: tuple[float, float] | None = None  # face centre from the shoulder centre
    head_size: float | None = None  # forehead to chin
    recordings: int = 0
    # depth (z) of the face's centre and of each hand's wrist from the shoulder centre (see _anchor_depth)
    face_depth: float | None = None
    hand_depth: float | None = None
    # per side, where each joint of the arm (arm_joints: elbow, wrist, the pose's hand, the tracked hand) rests
    # while the hand is down (x, y, z; None where unseen at rest): a one-handed sign's other arm is held there
    rest: dict[str, list[list[float] | None] | None] = field(default_factory=lambda: {"left": None, "right": None})
    # the neutral face: each face-mesh point's place about the face's centre (x, y, z; keyed by the mesh index)
    # in head sizes, the median over a recording's frames (a signer's: the median of their recordings'), which
    # retargeting gives every recording so that one face signs (see _face_shape)
    face: dict[str, list[float]] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Body:
        return cls(d.get("name", ""), dict(d.get("upper_arm", {})), dict(d.get("forearm", {})),
                   list(d.get("hand", [None] * len(HAND_BONES))),
                   tuple(d["head_offset"]) if d.get("head_offset") is not None else None,
                   d.get("head_size"), int(d.get("recordings", 0)), d.get("face_depth"), d.get("hand_depth"),
                   dict(d.get("rest") or {"left": None, "right": None}), dict(d["face"]) if d.get("face") else None)

    def symmetric(self) -> Body:
        """Both arms given the longer side's lengths (a body's two arms are alike; in the image a bone only
        ever looks shorter than it is, so the longer measure is the better one), and one rest, mirrored."""
        out = Body.from_dict(self.to_dict())
        for part in ("upper_arm", "forearm"):
            vals = [v for v in getattr(self, part).values() if v is not None]
            if vals:
                getattr(out, part).update({s: float(np.max(vals)) for s in SIDES})
        # both arms rest as the one that rests lower does (the signing arm, measured in the frames it passes
        # low on its way up or down, rests higher and farther out than a hand on the lap or at the side)
        low = {s: _rest_wrist_y(self.rest.get(s)) for s in SIDES}
        seen = [s for s in SIDES if low[s] is not None]
        if seen:
            keep = max(seen, key=lambda s: low[s])
            other = "left" if keep == "right" else "right"
            out.rest[other] = [None if p is None else [-p[0], p[1], p[2]] for p in self.rest[keep]]
        out.face = symmetric_face(self.face)
        return out

    def plausible(self) -> Body:
        """A forearm measured shorter than :data:`FOREARM_RATIO` of the upper arm was foreshortened in every
        frame (held towards the camera, as when fingerspelling): it is given that share of the upper arm."""
        out = Body.from_dict(self.to_dict())
        uppers = [v for v in self.upper_arm.values() if v is not None]
        for side in SIDES:
            upper = self.upper_arm[side] if self.upper_arm[side] is not None else (max(uppers) if uppers else None)
            fore = self.forearm[side]
            if upper is not None and (fore is None or fore < FOREARM_RATIO * upper):
                out.forearm[side] = FOREARM_RATIO * upper
        return out

    def describe(self) -> str:
        def f(v):
            return "-" if v is None else f"{v:.2f}"
        hand = [v for v in self.hand if v is not None]
        return (f"{self.name or 'body'}: upper arms {f(self.upper_arm['left'])}/{f(self.upper_arm['right'])}, "
                f"forearms {f(self.forearm['left'])}/{f(self.forearm['right'])}, hand bones "
                f"{f(float(np.sum(hand)) if hand else None)} in all, head {f(self.head_size)} (shoulder widths; "
                f"{self.recordings} recordings)")


def mean_body(bodies: list[Body], name: str = "mean") -> Body:
    """The mean of several bodies, part by part (what each measured), made symmetric."""
    out = Body(name, recordings=sum(b.recordings for b in bodies))

    def mean(vals):
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    for part in ("upper_arm", "forearm"):
        for s in SIDES:
            getattr(out, part)[s] = mean([getattr(b, part)[s] for b in bodies])
    out.hand = [mean([b.hand[k] for b in bodies]) for k in range(len(HAND_BONES))]
    offsets = [b.head_offset for b in bodies if b.head_offset is not None]
    out.head_offset = tuple(float(v) for v in np.mean(offsets, axis=0)) if offsets else None
    out.head_size = mean([b.head_size for b in bodies])
    out.face_depth = mean([b.face_depth for b in bodies])
    out.hand_depth = mean([b.hand_depth for b in bodies])
    out.rest = {side: combine_rests([b.rest.get(side) for b in bodies], np.mean) for side in SIDES}
    out.face = combine_faces([b.face for b in bodies], np.mean)
    return out.symmetric()


def combine_faces(faces: list, how=np.median) -> dict[str, list[float]] | None:
    """Neutral faces (:attr:`Body.face`) combined point by point (``how`` of the faces that have the point)."""
    faces = [f for f in faces if f]
    if not faces:
        return None
    keys = sorted({k for f in faces for k in f}, key=int)
    return {k: [round(float(v), 4) for v in how([f[k] for f in faces if k in f], axis=0)] for k in keys}


def symmetric_face(face: dict[str, list[float]] | None) -> dict[str, list[float]] | None:
    """A neutral face made left-right symmetric: each point the mean of itself and its mirror point's mirror
    image, so that the face is the same whichever hand the clip is mirrored to."""
    if not face:
        return face
    from syrisign._topology import FACE_MIRROR
    out = {}
    for k, p in face.items():
        i = int(k)
        m = face.get(str(FACE_MIRROR[i])) if i < len(FACE_MIRROR) else None
        out[k] = p if m is None else [round((p[0] - m[0]) / 2, 4), round((p[1] + m[1]) / 2, 4),
                                      round((p[2] + m[2]) / 2, 4)]
    return out


def _rest_wrist_y(rest: list | None) -> float | None:
    """How low the wrist of an arm's rest (:attr:`Body.rest` of a side, in :func:`arm_joints` order) is."""
    if not rest:
        return None
    w = rest[1] if len(rest) > 1 else rest[0]  # the elbow, then the wrist
    return None if w is None else float(w[1])


def combine_rests(rests: list, how=np.median) -> list[list[float] | None] | None:
    """Rest places of one arm (:attr:`Body.rest` of a side) of the most common length, joint by joint (``how``
    of the bodies that saw the joint at rest)."""
    rests = [r for r in rests if r]
    if not rests:
        return None
    n = max({len(r) for r in rests}, key=lambda k: sum(len(r) == k for r in rests))
    out = []
    for k in range(n):
        pts = [r[k] for r in rests if len(r) == n and r[k] is not None]
        out.append([round(float(v), 4) for v in how(np.asarray(pts), axis=0)] if pts else None)
    return out


# -- joints of a layout ---------------------------------------------------------------------------
def _idx(sk: Skeleton, name: str) -> int | None:
    return sk.index.get(name)


def _arm(sk: Skeleton, side: str) -> tuple[int | None, int | None, int | None]:
    """Shoulder, elbow and wrist of one side: MediaPipe's pose names, else Kinect's (``body.ShoulderL``)."""
    s = side.upper()
    if f"pose.{s}_SHOULDER" in sk.index:
        return _idx(sk, f"pose.{s}_SHOULDER"), _idx(sk, f"pose.{s}_ELBOW"), _idx(sk, f"pose.{s}_WRIST")
    k = side[0].upper()
    return _idx(sk, f"body.Shoulder{k}"), _idx(sk, f"body.Elbow{k}"), _idx(sk, f"body.Wrist{k}")


def _wrist_children(sk: Skeleton, side: str) -> list[int]:
    """Joints that hang from the wrist besides the tracked hand: the pose's coarse hand, Kinect's hand."""
    names = [f"pose.{side.upper()}_{p}" for p in POSE_HAND] + [f"body.Hand{side[0].upper()}"]
    return [sk.index[n] for n in names if n in sk.index]


def _hand_start(sk: Skeleton, side: str) -> int | None:
    h = HANDS[side]
    if not sk.has(h) or sk.slices[h].stop - sk.slices[h].start != 21:
        return None
    return sk.slices[h].start


def _head(sk: Skeleton) -> np.ndarray:
    """Face and pose head joints: they move together with the head."""
    idx = [sk.index[f"pose.{p}"] for p in HEAD_POSE if f"pose.{p}" in sk.index]
    idx += [sk.index[n] for n in ("body.Head",) if n in sk.index]
    if sk.has(FACE):
        idx += list(range(sk.slices[FACE].start, sk.slices[FACE].stop))
    return np.asarray(idx, dtype=np.int64)


def _lengths(seq: PoseSequence, a: int, b: int, pose: bool) -> np.ndarray:
    """2-D lengths of bone a-b in the frames where both ends are seen (pose joints: visible enough)."""
    th = POSE_CONFIDENCE if pose else 0.0
    ok = (seq.confidence[:, a] > th) & (seq.confidence[:, b] > th)
    return np.linalg.norm(seq.data[ok, b, :2] - seq.data[ok, a, :2], axis=-1)


def _pct(values: list[np.ndarray]) -> float | None:
    v = np.concatenate(values) if values else np.zeros(0)
    return float(np.percentile(v, PERCENTILE)) if len(v) >= MIN_FRAMES else None


def _seen_mean(data: np.ndarray, conf: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) mean of the seen points ``pts`` per frame, (T,) whether enough of them (half, at least 3) were seen."""
    if not len(pts):
        return np.zeros((len(data), 3)), np.zeros(len(data), dtype=bool)
    ok = conf[:, pts] > 0  # (T, K)
    n = ok.sum(1)
    return (data[:, pts] * ok[..., None]).sum(1) / np.maximum(n, 1)[:, None], n >= max(3, 0.5 * len(pts))


def _face_points(sk: Skeleton) -> np.ndarray:
    return np.arange(sk.slices[FACE].start, sk.slices[FACE].stop) if sk.has(FACE) else np.zeros(0, dtype=np.int64)


def _face_names(sk: Skeleton) -> list[str]:
    """The face-mesh index of each of :func:`_face_points` (the keys of :attr:`Body.face`)."""
    return [sk.joints[j].split(".", 1)[1] for j in _face_points(sk)]


def _face_centre(seq: PoseSequence, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) centre of the face (mean of the seen face points, else of the pose head points), (T,) seen."""
    pts = _face_points(seq.skeleton) if seq.skeleton.has(FACE) else head
    c, ok = _seen_mean(seq.data, seq.confidence, pts)
    return c[:, :2], ok


REST_BELOW = 1.0  # a wrist this far under the shoulder line (shoulder widths) or lower is resting


def _rest(seqs: list[PoseSequence], side: str) -> list[list[float] | None] | None:
    """Each arm joint's median place over the frames in which the wrist rests (None: seen too rarely)."""
    joints = arm_joints(seqs[0].skeleton, side)
    if not len(joints):
        return None
    pts: list[list[np.ndarray]] = [[] for _ in joints]
    for q in seqs:
        w = wrist_path(q, side)[:, 1]
        low = ~np.isnan(w) & (w >= REST_BELOW)
        for k, j in enumerate(joints):
            pts[k].append(q.data[low & (q.confidence[:, j] > 0), j])
    out = []
    for p in pts:
        p = np.concatenate(p)
        out.append([round(float(v), 4) for v in np.median(p, axis=0)] if len(p) >= MIN_FRAMES else None)
    return out if any(p is not None for p in out) else None


def measure_body(seqs: list[PoseSequence], name: str = "") -> Body:
    """A signer's body from their recordings (normalized first: shoulder width 1)."""
    if not seqs:
        raise RetargetError("no recording to measure a body from")
    norm = [s if s.meta.get("normalized") else s.normalize() for s in seqs]
    if len({q.skeleton.name for q in norm}) > 1:
        raise RetargetError("measure a body on recordings of one layout (reduce them first)")
    sk = norm[0].skeleton
    body = Body(name, recordings=len(norm))
    for side in SIDES:
        s_, e_, w_ = _arm(sk, side)
        if s_ is not None and e_ is not None:
            body.upper_arm[side] = _pct([_lengths(q, s_, e_, True) for q in norm])
        if e_ is not None and w_ is not None:
            body.forearm[side] = _pct([_lengths(q, e_, w_, True) for q in norm])
    for k, (a, b) in enumerate(HAND_BONES):
        vals = []
        for q in norm:
            for side in SIDES:
                h = _hand_start(q.skeleton, side)
                if h is not None:
                    vals.append(_lengths(q, h + a, h + b, False))
        body.hand[k] = _pct(vals)
    offsets, sizes, face_z, hand_z, shapes = [], [], [], [], []
    for q in norm:
        c3, ok = _seen_mean(q.data, q.confidence, _face_points(q.skeleton))
        face_z.append(c3[ok, 2])
        shapes.append(_face_shape_of(q.data, q.confidence > 0, q.skeleton, c3, ok))
        for side in SIDES:
            h = _hand_start(q.skeleton, side)
            if h is not None:
                hand_z.append(q.data[q.confidence[:, h] > 0, h, 2])
        head = _head(q.skeleton)
        c, ok = _face_centre(q, head)
        if ok.any():
            offsets.append(np.median(c[ok], axis=0))
        top, chin = _idx(q.skeleton, f"face.{FACE_TOP}"), _idx(q.skeleton, f"face.{FACE_CHIN}")
        if top is not None and chin is not None:
            ln = _lengths(q, top, chin, False)
            if len(ln):
                sizes.append(np.median(ln))
    if offsets:
        body.head_offset = tuple(float(v) for v in np.median(offsets, axis=0))
    if sizes:
        body.head_size = float(np.median(sizes))
    frames = [int(n) for n, _ in shapes if n]
    if sum(frames) >= MIN_FRAMES and sizes:  # the clips' shapes weighted by their frames, in head sizes
        shape = np.average([m for n, m in shapes if n], axis=0, weights=frames) / float(np.median(sizes))
        body.face = {n: [round(float(v), 4) for v in p] for n, p in zip(_face_names(sk), shape)
                     if np.isfinite(p).all()}
    for attr, vals in (("face_depth", face_z), ("hand_depth", hand_z)):
        v = np.concatenate(vals) if vals else np.zeros(0)
        if len(v) >= MIN_FRAMES:
            setattr(body, attr, float(np.median(v)))
    # where the arms rest, measured on the clips with their depth anchored as retargeting anchors it
    anchored = []
    for q in norm:
        data = q.data.copy()
        _anchor_depth(q, data, q.confidence > 0, body)
        anchored.append(PoseSequence(data, q.confidence, q.fps, q.skeleton, q.timestamps, q.meta))
    for side in SIDES:
        body.rest[side] = _rest(anchored, side)
    return body


# -- retargeting ----------------------------------------------------------------------------------------
def _ratio(target: float | None, source: float | None) -> float:
    if target is None or source is None or not source > 1e-6:
        return 1.0
    return float(np.clip(target / source, *RATIO_LIMITS))


def retarget(seq: PoseSequence, source: Body, target: Body, arms: str = "planar") -> PoseSequence:
    """``seq`` (normalized) moved from the ``source`` body onto the ``target`` body.

    Each joint's new place is its parent's new place plus the original bone vector (x, y and z) scaled
    by ``target length / source length``; a joint whose parent is missing in a frame moves with its
    nearest seen ancestor. The shoulders and everything below them stay (shoulder width is 1 for both
    bodies); the face and the pose's head points are moved so that the face centre sits where the
    target's does above the shoulders (the head's own motion is kept) and scaled about it to the
    target's head size.

    ``arms="planar"`` (the default) then draws each arm in the image plane with the target's lengths
    (:func:`planar_arms`): the hand stays where it was signed and the elbow is placed so that upper arm and
    forearm have the target's 2-D lengths, wherever that leaves the elbow in a natural place.
    ``arms="kept"`` keeps every joint's direction, and with it the foreshortening of a forearm held
    towards the camera, which a drawn skeleton shows as a forearm that shrinks.
    """
    if arms not in ("planar", "kept"):
        raise RetargetError(f"arms must be planar or kept, got {arms!r}")
    sk = seq.skeleton
    data = seq.data.copy()
    conf = seq.confidence
    valid = conf > 0
    T = len(seq)
    for side in SIDES:
        s_, e_, w_ = _arm(sk, side)
        if s_ is None:
            continue
        delta = np.zeros((T, 3), dtype=np.float32)  # how far the current joint moved (its subtree follows)

        def place(j: int | None, parent: int | None, r: float, parent_delta: np.ndarray) -> np.ndarray:
            if j is None:
                return parent_delta
            both = valid[:, j] & valid[:, parent] if parent is not None else np.zeros(T, dtype=bool)
            d = parent_delta.copy()
            if parent is not None:
                moved = data[:, parent] + r * (seq.data[:, j] - seq.data[:, parent])  # parent already moved
                d[both] = (moved - seq.data[:, j])[both]
            data[valid[:, j], j] = (seq.data[:, j] + d)[valid[:, j]]
            return d

        d_elbow = place(e_, s_, _ratio(target.upper_arm[side], source.upper_arm[side]), delta)
        d_wrist = place(w_, e_, _ratio(target.forearm[side], source.forearm[side]), d_elbow)
        # the pose's coarse hand and the tracked hand hang from the wrist
        r_hand = _hand_ratio(source, target)
        if w_ is not None:
            for j in _wrist_children(sk, side):
                place(j, w_, r_hand, d_wrist)
        h = _hand_start(sk, side)
        if h is not None:
            # the hand's wrist follows the pose wrist (its small offset from it kept), then every finger bone
            root = place(h, w_, 1.0, d_wrist) if w_ is not None else _follow(data, seq, valid, h, d_wrist)
            deltas = {0: root}
            for k, (a, b) in enumerate(HAND_BONES):
                deltas[b] = place(h + b, h + a, _ratio(target.hand[k], source.hand[k]), deltas[a])
    _retarget_head(seq, data, valid, source, target)
    _face_shape(seq, data, valid, target)
    _anchor_depth(seq, data, valid, target)
    out = PoseSequence(data, conf, seq.fps, sk, seq.timestamps, dict(seq.meta, retargeted=target.name or True))
    return planar_arms(out, target) if arms == "planar" else out


def _elbow_choices(s: np.ndarray, w: np.ndarray, upper: float, fore: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2, 2): the two places of an elbow at ``upper`` from the shoulder ``s`` and ``fore`` from the
    wrist ``w`` (T, 2), where the wrist is within reach; and (T, 2) the wrist moved within reach."""
    v = w - s
    d = np.linalg.norm(v, axis=-1)
    u = np.where(d[:, None] > 1e-6, v / np.maximum(d, 1e-6)[:, None], np.array([0.0, 1.0]))
    dc = np.clip(d, abs(upper - fore) + 1e-4, upper + fore - 1e-4)
    w2 = s + u * dc[:, None]
    a = (upper ** 2 - fore ** 2 + dc ** 2) / (2 * dc)
    h = np.sqrt(np.maximum(upper ** 2 - a ** 2, 0.0))
    n = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    mid = s + u * a[:, None]
    return np.stack([mid + n * h[:, None], mid - n * h[:, None]], axis=1), w2


def _sides(cost: np.ndarray, keep: float) -> np.ndarray:
    """(n,) which of the two elbow places (cost (n, 2)) each frame takes: the cheaper, but the side of the
    frame before until the other is cheaper by ``keep``."""
    pick = np.empty(len(cost), dtype=np.int64)
    prev = -1
    for k in range(len(cost)):
        best = int(np.argmin(cost[k]))
        if prev >= 0 and best != prev and cost[k, prev] - cost[k, best] < keep:
            best = prev
        pick[k] = prev = best
    return pick


def _slow(w: np.ndarray, t: np.ndarray, fps: float, seconds: float = 0.2) -> np.ndarray:
    """A per-frame weight (frames ``t``) that changes no faster than from 0 to 1 in ``seconds``, taking the
    lower value first: the arm eases out of its fitted lengths in time, before a frame that needs it."""
    step = 1.0 / max(1.0, seconds * fps)
    out = w.astype(np.float64).copy()
    gap = np.diff(t)
    for k in range(1, len(out)):  # forward, then backward: each value at most the neighbour's plus a step
        out[k] = min(out[k], out[k - 1] + step * gap[k - 1])
    for k in range(len(out) - 2, -1, -1):
        out[k] = min(out[k], out[k + 1] + step * gap[k])
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)


def planar_arms(seq: PoseSequence, body: Body, keep_side: float = 0.1, hang: float = 1.0,
                turn: tuple[float, float] = (45.0, 75.0), lift: tuple[float, float] = (0.2, 0.4),
                near: tuple[float, float] = (0.05, 0.3),
                rest: tuple[float, float] = (0.9, 1.6), hang_sides: tuple[str, ...] = SIDES) -> PoseSequence:
    """Each arm of ``seq`` drawn in the image plane with ``body``'s 2-D upper arm and forearm.

    The wrist stays where it is (the hand's place is the sign's location), and the elbow goes to one of
    its two possible places. Where the recorded elbow is clearly on one side of the shoulder-wrist line
    (an arm bent in the image plane) that is the side; where it is not (a forearm held towards the
    camera, its elbow right behind the hand) the elbow hangs: the place lower and farther out from the
    body wins (``hang`` weighs that against the distance to the recorded elbow, in shoulder widths). The
    elbow keeps its side until the other is better by ``keep_side`` upper arms (no flicker). A wrist out
    of the arm's reach is brought within it along its direction from the shoulder, and the hand moves
    with it.

    A hand held close in front of its own shoulder cannot be drawn that way: the only elbows with both
    lengths point away from the body or up. So the upper arm may turn from its recorded direction by
    ``turn[0]`` degrees, and the elbow may rise above its recorded place by ``lift[0]`` shoulder widths;
    between those and ``turn[1]``, ``lift[1]`` the elbow eases back to its recorded place, and beyond them
    the arm stays as recorded (its forearm foreshortened): a hand held at the chest or just below the
    shoulder with the forearm pointing at the camera would otherwise get an elbow flung out like a wing.

    A resting hand (its wrist more than ``rest[1]`` shoulder widths below the shoulders, easing in from
    ``rest[0]``) has no place to keep: its arm keeps the recorded directions of upper arm and forearm in
    the image and takes the body's lengths, so it hangs instead of bending out at the elbow (on the
    ``hang_sides`` only: a signing hand passing through would get a jolt). Frames in
    which the shoulder, the elbow or the wrist is not seen are left as they are; depth (z) is left as it is."""
    sk = seq.skeleton
    data = seq.data.copy()
    valid = seq.confidence > 0
    for side in SIDES:
        s_, e_, w_ = _arm(sk, side)
        upper, fore = body.upper_arm[side], body.forearm[side]
        if None in (s_, e_, w_) or not upper or not fore:
            continue
        ok = valid[:, s_] & valid[:, e_] & valid[:, w_]
        if not ok.any():
            continue
        t = np.flatnonzero(ok)
        sh, el = data[t, s_, :2], data[t, e_, :2]
        choices, wrist = _elbow_choices(sh, data[t, w_, :2], upper, fore)
        out = np.sign(sh[:, None, 0]) * choices[..., 0]  # (n, 2) how far out from the body's midline
        cost = np.linalg.norm(choices - el[:, None], axis=-1) - hang * (choices[..., 1] + 0.5 * out)
        cost += 4.0 * np.maximum(0.0, -out)  # an elbow across the body's midline: hardly ever
        planar = choices[np.arange(len(t)), _sides(cost, keep_side * upper)]
        a, b = planar - sh, el - sh
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-9)
        angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        w = np.clip((turn[1] - angle) / max(turn[1] - turn[0], 1e-6), 0, 1)  # 1: planar, 0: as recorded
        # nor may the elbow fly up: an elbow raised above where it was recorded is a wing, not a sign
        rise = el[:, 1] - planar[:, 1]
        w = np.minimum(w, np.clip((lift[1] - rise) / max(lift[1] - lift[0], 1e-6), 0, 1))[:, None]
        w = w * w * (3 - 2 * w)  # smooth
        # a wrist too close to its shoulder for the two lengths (a hand in front of its own shoulder): as
        # recorded; one out of reach is brought within it whatever the elbow does (no jolt as w changes)
        # near it the fitted elbow swings round the shoulder with every small move of the hand: ease back
        reach = np.linalg.norm(data[t, w_, :2] - sh, axis=-1)
        lo = abs(upper - fore) + near[0]
        n = np.clip((reach - lo) / max(near[1] - near[0], 1e-6), 0, 1)
        w = _slow(w[:, 0] * n * n * (3 - 2 * n), t, seq.fps)[:, None]
        close = reach < abs(upper - fore) + 1e-3
        elbow = el + w * (planar - el)
        wrist = np.where(close[:, None], data[t, w_, :2], wrist)
        # a resting arm hangs: recorded directions, the body's lengths
        r = np.clip((data[t, w_, 1] - rest[0]) / max(rest[1] - rest[0], 1e-6), 0, 1)[:, None] * (side in hang_sides)
        r = r * r * (3 - 2 * r)
        hang_e = sh + upper * _unit(el - sh)
        hang_w = hang_e + fore * _unit(data[t, w_, :2] - el)
        data[t, e_, :2] = elbow + r * (hang_e - elbow)
        shift = wrist + r * (hang_w - wrist) - data[t, w_, :2]  # (n, 2): the hand moves with its wrist
        moved = [w_, *_wrist_children(sk, side)]
        h = _hand_start(sk, side)
        if h is not None:
            moved += list(range(h, h + 21))
        for j in moved:
            seen = valid[t, j]
            data[t[seen], j, :2] += shift[seen]
    return PoseSequence(data, seq.confidence, seq.fps, sk, seq.timestamps, dict(seq.meta, planar_arms=True))


def _follow(data: np.ndarray, seq: PoseSequence, valid: np.ndarray, j: int, d: np.ndarray) -> np.ndarray:
    data[valid[:, j], j] = (seq.data[:, j] + d)[valid[:, j]]
    return d


def _anchor_depth(seq: PoseSequence, data: np.ndarray, valid: np.ndarray, target: Body) -> None:
    """The face's and the hands' depth put at the target's.

    MediaPipe estimates the face mesh's depth about the face's own centre and a hand's about its own wrist;
    neither knows how far the face or the hand is from the body. After the shoulder-centred normalization
    their z is that relative depth minus the pose model's depth of the shoulders, which differs from signer to
    signer (KArSL's signer 03 sits 0.3 shoulder widths "behind" signer 01) and jitters from frame to frame.
    Here each frame's face is moved in depth so that its centre is at ``target.face_depth``, and each hand so
    that its wrist is at ``target.hand_depth``: the relative depths (the face's relief, the fingers' bend
    towards the camera) are kept, the offsets that only tell which recording it was are not. Bodies measured
    before these fields existed (``None``) leave the depth as it is."""
    sk = seq.skeleton
    if target.face_depth is not None and sk.has(FACE):
        sl = sk.slices[FACE]
        c3, ok = _seen_mean(data, seq.confidence, _face_points(sk))
        m = valid[:, sl] & ok[:, None]
        data[:, sl, 2] = np.where(m, data[:, sl, 2] - c3[:, 2:] + target.face_depth, data[:, sl, 2])
    if target.hand_depth is not None:
        for side in SIDES:
            h = _hand_start(sk, side)
            if h is None:
                continue
            m = valid[:, h:h + 21] & valid[:, h:h + 1]
            data[:, h:h + 21, 2] = np.where(m, data[:, h:h + 21, 2] - data[:, h:h + 1, 2] + target.hand_depth,
                                            data[:, h:h + 21, 2])


def _face_shape_of(data: np.ndarray, valid: np.ndarray, sk: Skeleton, c3: np.ndarray, ok: np.ndarray
                   ) -> tuple[int, np.ndarray]:
    """(frames, (K, 3)) a recording's neutral face: each face point's median place about the face's centre
    over the frames in which the face was seen (NaN for a point never seen); (0, empty) without a face."""
    pts = _face_points(sk)
    if not len(pts) or not ok.any():
        return 0, np.zeros((len(pts), 3))
    rel = np.where((valid[:, pts] & ok[:, None])[..., None], data[:, pts] - c3[:, None], np.nan)  # (T, K, 3)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point never seen: NaN, said by the docstring
        return int(ok.sum()), np.nanmedian(rel, axis=0)


def _face_shape(seq: PoseSequence, data: np.ndarray, valid: np.ndarray, target: Body) -> None:
    """The recording's face given the target's neutral face (:attr:`Body.face`), its movement kept.

    Each face point is moved by the target's neutral place minus the recording's own (both about the face's
    centre): what differs from one recording to the next while the face is at rest (the face's shape, the
    head turned a little to one side for the whole clip) becomes the one signer's, what the face does during
    the sign (mouth, brows, a nod) is kept as it was. The neutral is the recording's median, so a mouth held
    in one shape for the whole clip is taken for the recording's rest and not kept."""
    sk = seq.skeleton
    if not target.face or not target.head_size or not sk.has(FACE):
        return
    pts = _face_points(sk)
    c3, ok = _seen_mean(data, seq.confidence, pts)
    n, own = _face_shape_of(data, valid, sk, c3, ok)
    if not n:
        return
    want = np.array([target.face.get(nm, [np.nan] * 3) for nm in _face_names(sk)], dtype=np.float64)
    want *= target.head_size
    move = want - own
    use = np.isfinite(move).all(-1)
    m = valid[:, pts] & use[None]
    data[:, pts] = np.where(m[..., None], data[:, pts] + np.nan_to_num(move)[None], data[:, pts])


def _hand_ratio(source: Body, target: Body) -> float:
    """The hand's overall scale: the median ratio of the bones both bodies have measured."""
    r = [t / s for t, s in zip(target.hand, source.hand) if t is not None and s is not None and s > 1e-6]
    return float(np.clip(np.median(r), *RATIO_LIMITS)) if r else 1.0


def _retarget_head(seq: PoseSequence, data: np.ndarray, valid: np.ndarray, source: Body, target: Body) -> None:
    head = _head(seq.skeleton)
    if not len(head) or target.head_offset is None or source.head_offset is None:
        return
    scale = _ratio(target.head_size, source.head_size)
    c, ok = _face_centre(seq, head)  # (T, 2)
    # frames without a face: the head's place from the recording's median face centre
    centre = np.where(ok[:, None], c, np.median(c[ok], axis=0) if ok.any() else np.asarray(source.head_offset))
    shift = np.asarray(target.head_offset) - np.asarray(source.head_offset)  # (2,)
    pts = data[:, head, :2]  # (T, K, 2)
    new = (pts - centre[:, None]) * scale + centre[:, None] + shift
    m = valid[:, head]
    data[:, head, :2] = np.where(m[..., None], new, pts)
    data[:, head, 2] = np.where(m, data[:, head, 2] * scale, data[:, head, 2])


# -- the dominant hand ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Handedness:
    dominant: str  # "left" | "right"
    two_handed: bool
    travel: tuple[float, float]  # (left, right) wrist paths in shoulder widths

    def to_meta(self) -> dict:
        return {"dominant": self.dominant, "two_handed": "1" if self.two_handed else "0"}


def wrist_path(seq: PoseSequence, side: str) -> np.ndarray:
    """(T, 2) the wrist in the image (the tracked hand's wrist where seen, else the pose wrist), NaN unseen."""
    sk = seq.skeleton
    out = np.full((len(seq), 2), np.nan, dtype=np.float64)
    _, _, w_ = _arm(sk, side)
    if w_ is not None:
        ok = seq.confidence[:, w_] > POSE_CONFIDENCE
        out[ok] = seq.data[ok, w_, :2]
    h = _hand_start(sk, side)
    if h is not None:
        ok = seq.confidence[:, h] > 0
        out[ok] = seq.data[ok, h, :2]
    return out


def travel(seq: PoseSequence, side: str, raised_only: bool = False, below: float = 1.1) -> float:
    """Path length of the wrist in shoulder widths (steps between consecutive seen frames). With
    ``raised_only`` the path is smoothed (3-frame median: tracking jitter is not motion) and only steps
    with the wrist above ``below`` count (a hand resting at the hip does not sign)."""
    p = wrist_path(seq if seq.meta.get("normalized") else seq.normalize(), side)
    ok = ~np.isnan(p[:, 0])
    if raised_only:
        ok &= p[:, 1] < below
    q = p[ok]
    if raised_only and len(q) >= 3:
        q = np.stack([q[:-2], q[1:-1], q[2:]]).transpose(1, 0, 2)  # (n - 2, 3, 2)
        q = np.median(q, axis=1)
    return float(np.linalg.norm(np.diff(q, axis=0), axis=-1).sum()) if len(q) > 1 else 0.0


def raised(seq: PoseSequence, side: str, below: float = 1.0) -> float:
    """Share of frames in which the wrist is above ``below`` shoulder widths under the shoulder line."""
    p = wrist_path(seq if seq.meta.get("normalized") else seq.normalize(), side)
    return float(np.nanmean(np.where(np.isnan(p[:, 1]), 0.0, p[:, 1] < below))) if len(p) else 0.0


def dominant_hand(seq: PoseSequence, two_handed_share: float = 0.5) -> Handedness:
    """The hand that signs and whether the other one takes part.

    The dominant hand is the one whose wrist travels farther while raised into the signing space (the
    METRICS.md active hand, with jitter and a hand resting at the hip left out), ties broken by how long
    each is raised; the sign is two-handed when the other hand is raised in half of the frames, or
    travels at least ``two_handed_share`` as far and is raised in a third of them."""
    norm = seq if seq.meta.get("normalized") else seq.normalize()
    lt, rt = travel(norm, "left", True), travel(norm, "right", True)
    lr, rr = raised(norm, "left"), raised(norm, "right")
    dom = "right" if (rt, rr) >= (lt, lr) else "left"
    big, small = (rt, lt) if dom == "right" else (lt, rt)
    other_raised = lr if dom == "right" else rr
    two = big > 0 and (other_raised >= 0.5 or (small >= two_handed_share * big and other_raised >= 1 / 3))
    return Handedness(dom, bool(two), (lt, rt))


def with_dominant(seq: PoseSequence, want: str, measured: str | None = None) -> tuple[PoseSequence, bool]:
    """``seq`` signed with the ``want`` hand: mirrored (as a whole) when its dominant hand is the other one.
    Returns the sequence and whether it was mirrored."""
    if want not in SIDES:
        raise RetargetError(f"dominant hand must be left or right, got {want!r}")
    dom = measured or dominant_hand(seq).dominant
    if dom == want:
        return seq, False
    out = seq.mirror()
    out.meta = dict(out.meta, mirrored=True)
    return out, True


def arm_joints(sk: Skeleton, side: str) -> np.ndarray:
    """Elbow, wrist, the pose's coarse hand and the tracked hand of one side (what moves when the arm moves)."""
    _, e_, w_ = _arm(sk, side)
    idx = [j for j in (e_, w_) if j is not None] + _wrist_children(sk, side)
    h = HANDS[side]
    if sk.has(h):
        idx += list(range(sk.slices[h].start, sk.slices[h].stop))
    return np.asarray(idx, dtype=np.int64)


def steady_other_hand(seq: PoseSequence, dominant: str, below: float = REST_BELOW, body: Body | None = None
                      ) -> PoseSequence:
    """A one-handed sign's other arm held still where it rests: MediaPipe's landmarks of a hand hanging at the
    side jitter, which reads as a second hand signing. Left as it is when that hand is raised into the
    signing space for half of the frames or more.

    Each joint rests at its median place in the recording, or, given the ``body`` the clip was retargeted
    onto, where that body rests it (:attr:`Body.rest`): the other arm is no part of the sign, and one signer
    rests it in one place, so it does not move from one sign to the next. A joint that body was not seen
    resting keeps the recording's own rest, moved with the wrist."""
    other = "left" if dominant == "right" else "right"
    if raised(seq, other, below) >= 0.5:
        return seq
    joints = arm_joints(seq.skeleton, other)
    if not len(joints):
        return seq
    ref = body.rest.get(other) if body is not None else None
    ref = ref if ref and len(ref) == len(joints) else None
    data, conf = seq.data.copy(), seq.confidence.copy()
    seen = conf[:, joints] > 0  # (T, K)
    # where it rests: the frames in which its wrist is low (a hand tracked only while it was up, at the
    # face, would otherwise be held up there, away from its wrist); seen only while up, it is hidden
    w = wrist_path(seq, other)[:, 1]
    low = ~(w < below)  # unseen wrists count as low
    own = [np.median(seq.data[seen[:, k] & low, j], axis=0) if (seen[:, k] & low).any() else None
           for k, j in enumerate(joints)]
    _, _, w_ = _arm(seq.skeleton, other)
    wk = int(np.flatnonzero(joints == w_)[0]) if w_ is not None and (joints == w_).any() else None
    shift = np.zeros(3)
    if ref is not None and wk is not None and ref[wk] is not None and own[wk] is not None:
        shift = np.asarray(ref[wk]) - own[wk]
    for k, j in enumerate(joints):
        if own[k] is None:  # seen only while up (or never): hidden
            data[:, j], conf[:, j] = 0.0, 0.0
        else:
            data[seen[:, k], j] = np.asarray(ref[k]) if ref is not None and ref[k] is not None else own[k] + shift
    return PoseSequence(data, conf, seq.fps, seq.skeleton, seq.timestamps, dict(seq.meta, steadied=other))


LOWER_BODY = ("HIP", "KNEE", "ANKLE", "HEEL", "FOOT")


def steady_lower_body(seq: PoseSequence) -> PoseSequence:
    """Hips and legs held at their median place over the whole sequence (where seen): each recording puts
    them a little elsewhere (the camera, the chair, the pose model's guess under the table), so a stitched
    sentence's torso would jump from sign to sign; isolated signs do not move them."""
    sk = seq.skeleton
    joints = [j for j, name in enumerate(sk.joints)
              if name.split(".", 1)[0] == "pose" and any(w in name.split(".", 1)[1] for w in LOWER_BODY)]
    if not joints:
        return seq
    data = seq.data.copy()
    for j in joints:
        seen = seq.confidence[:, j] > 0
        if seen.any():
            data[seen, j] = np.median(seq.data[seen, j], axis=0)
    return PoseSequence(data, seq.confidence, seq.fps, sk, seq.timestamps, dict(seq.meta))


# -- measures (METRICS.md, legibility and one signer) --------------------------------------------------
ARM_BONES = {"shoulder width": ("pose.LEFT_SHOULDER", "pose.RIGHT_SHOULDER"),
             "left upper arm": ("pose.LEFT_SHOULDER", "pose.LEFT_ELBOW"),
             "right upper arm": ("pose.RIGHT_SHOULDER", "pose.RIGHT_ELBOW"),
             "left forearm": ("pose.LEFT_ELBOW", "pose.LEFT_WRIST"),
             "right forearm": ("pose.RIGHT_ELBOW", "pose.RIGHT_WRIST")}


def bone_variation(seq: PoseSequence, segments: list[tuple[int, int]]) -> dict[str, float]:
    """Per arm bone: the coefficient of variation across ``segments`` (frame ranges) of each segment's
    95th-percentile 2-D bone length (METRICS.md "Bone-length variation")."""
    sk = seq.skeleton
    out = {}
    for name, (a, b) in ARM_BONES.items():
        ia, ib = sk.index.get(a), sk.index.get(b)
        if ia is None or ib is None:
            continue
        per = []
        for s, e in segments:
            part = seq[s:e]
            ln = _lengths(part, ia, ib, True)
            if len(ln) >= 2:
                per.append(float(np.percentile(ln, PERCENTILE)))
        if len(per) >= 2:
            out[name] = float(np.std(per) / np.mean(per)) if np.mean(per) > 0 else math.nan
    return out


def active_hands(seq: PoseSequence, segments: list[tuple[int, int]], still: float = 0.0,
                 raised_only: bool = False) -> list[str | None]:
    """Per segment, the wrist that travels farther in the image (METRICS.md "Active-hand switches"); None
    for a segment in which neither wrist travels ``still`` shoulder widths (a handshape held still: which
    hand "moves more" is then tracking noise). ``raised_only``: only travel in the signing space counts
    (a resting hand settling at the waist is not signing)."""
    norm = seq if seq.meta.get("normalized") else seq.normalize()
    out: list[str | None] = []
    for s, e in segments:
        part = norm[s:e]
        lt, rt = travel(part, "left", raised_only), travel(part, "right", raised_only)
        out.append(None if max(lt, rt) < still else ("right" if rt >= lt else "left"))
    return out


__all__ = ["Body", "Handedness", "RetargetError", "measure_body", "mean_body", "retarget", "planar_arms", "dominant_hand",
           "with_dominant", "steady_other_hand", "steady_lower_body", "arm_joints", "bone_variation", "active_hands", "travel", "raised", "wrist_path", "HAND_BONES"]
