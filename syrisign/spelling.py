"""Fingerspelling as one movement: the holds of a word's letters, signed in sequence with the hand held up.

A letter's lexicon recording is an isolated citation form: the hand rises, shows the handshape, falls.
Played one after the other they make a hand that keeps dropping, about one letter a second. A fluent
fingerspeller holds the hand in the fingerspelling space and changes the handshape from letter to
letter, several letters a second. :func:`spell_word` builds that from the recordings:

1. each letter's :class:`Hold`: the steadiest stretch of the dominant hand while it is raised (the
   handshape), or, for a letter whose citation form moves (the hand travels while raised), the whole
   raised stretch, so the motion is kept;
2. the word's timeline at ``rate`` letters per second: every letter gets ``1 / rate`` seconds, a share
   ``hold`` of it on its hold (played at its own speed where it is long enough, stretched where not) and
   the rest on the transition to the next letter (eased interpolation between the two holds, every
   landmark, so the fingers change shape while the hand moves); a moving letter keeps its motion, up to
   ``max_motion`` slots;
3. the entry before the first hold and the exit after the last come from the first and the last
   letter's own recording (the hand rising and falling), each half a transition long, so the word lasts
   ``n / rate`` seconds plus what the moving letters add;
4. the other hand stays where it rests (its median place over the holds) unless a letter raises it;
5. given the signer's :class:`~syrisign.retarget.Body`, every hold is moved (the hand as a whole, its shape
   and any motion kept) to one place of the fingerspelling space, the hand in front of the shoulder
   with the forearm upright, and the arms are drawn with that body's lengths
   (:func:`~syrisign.retarget.planar_arms`): the recordings hold the hand in different places, often
   with the forearm pointing at the camera, which a drawn skeleton shows as a forearm that shrinks.

The clips must share a layout and fps, be normalized, and be signed with one dominant hand (see
:mod:`syrisign.retarget`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.retarget import HANDS, Body, _arm, _wrist_children, planar_arms, raised, wrist_path

DEFAULT_RATE = 2.5  # letters per second


class SpellingError(SyriSignError, ValueError):
    """Letters that cannot be joined into one movement; the message says why."""


@dataclass(frozen=True)
class SpellConfig:
    rate: float = DEFAULT_RATE  # letters per second
    hold: float = 0.45  # share of a letter's time on its hold
    moving: float = 0.45  # wrist path (shoulder widths) while raised above which a letter keeps its motion ...
    moving_reach: float = 0.3  # ... if the hand also ends that far from where it started (a motion, not a wobble)
    max_motion: float = 2.0  # a moving letter takes at most this many letter slots
    raised_below: float = 1.0  # the hand is in the signing space when its wrist is above this (shoulder widths)
    upper_arm_out: float = 20.0  # fingerspelling place: the upper arm this many degrees out from hanging down ...
    forearm_in: float = 10.0  # ... and the forearm this many degrees in from upright

    def __post_init__(self) -> None:
        if not 0.5 <= self.rate <= 8:
            raise SpellingError(f"fingerspelling rate must be 0.5 to 8 letters per second, got {self.rate:g}")
        if not 0.1 <= self.hold <= 0.9:
            raise SpellingError(f"hold share must be between 0.1 and 0.9, got {self.hold:g}")


@dataclass(frozen=True)
class Hold:
    """Frames ``[start, stop)`` of a letter clip that show its handshape; ``moving`` letters keep their motion."""

    start: int
    stop: int
    moving: bool = False
    raised: bool = True  # False: the hand is never raised in the clip (the middle frame is used)

    @property
    def frames(self) -> int:
        return self.stop - self.start


def fingerspelling_place(body: Body, side: str, config: SpellConfig | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(elbow, wrist), each (2,), where the ``side`` arm is held to fingerspell (normalized units: shoulder
    centre at the origin, shoulder width 1, y down): upper arm ``upper_arm_out`` degrees out from hanging,
    forearm ``forearm_in`` degrees in from upright, with ``body``'s lengths; None when the body has no such arm."""
    config = config or SpellConfig()
    upper, fore = body.upper_arm.get(side), body.forearm.get(side)
    if not upper or not fore:
        return None
    out = -1.0 if side == "right" else 1.0  # the signer's right shoulder is on the image's left
    a, b = np.radians(config.upper_arm_out), np.radians(config.forearm_in)
    shoulder = np.array([0.5 * out, 0.0])
    elbow = shoulder + upper * np.array([out * np.sin(a), np.cos(a)])
    return elbow, elbow + fore * np.array([-out * np.sin(b), -np.cos(b)])


def _arm_and_hand(seq: PoseSequence, side: str) -> np.ndarray:
    """The wrist, the pose's coarse hand and the tracked hand of one side: what moves with the hand."""
    _, _, w = _arm(seq.skeleton, side)
    return np.asarray(([w] if w is not None else []) + _wrist_children(seq.skeleton, side)
                      + [int(j) for j in _hand_joints(seq, side) if j != w], dtype=np.int64)


def _shift(frames: tuple[np.ndarray, np.ndarray], joints: np.ndarray, offset: np.ndarray) -> None:
    """Move ``joints`` of (T, J, 3) frames by ``offset`` (2,) or (T, 2) in x-y where seen, in place."""
    d, c = frames
    off = np.broadcast_to(offset, (len(d), 2))
    seen = c[:, joints] > 0
    d[:, joints, :2] += np.where(seen[..., None], off[:, None], 0.0)


def _hand_joints(seq: PoseSequence, side: str) -> np.ndarray:
    sk = seq.skeleton
    h = HANDS[side]
    idx = list(range(sk.slices[h].start, sk.slices[h].stop)) if sk.has(h) else []
    w = sk.index.get(f"pose.{side.upper()}_WRIST")
    return np.asarray(idx or ([w] if w is not None else []), dtype=np.int64)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e)) for s, e in edges.reshape(-1, 2)]


def find_hold(seq: PoseSequence, side: str, frames: int, config: SpellConfig | None = None) -> Hold:
    """The ``frames`` steadiest frames of the ``side`` hand while raised (see the module docstring)."""
    config = config or SpellConfig()
    n = len(seq)
    if n == 0:
        raise SpellingError("an empty letter clip")
    wrist = wrist_path(seq, side)  # (T, 2) NaN unseen
    up = ~np.isnan(wrist[:, 1]) & (wrist[:, 1] < config.raised_below)
    runs = _runs(up)
    # bridge one- and two-frame drops (tracking), then take the longest raised stretch
    merged: list[list[int]] = []
    for s, e in runs:
        if merged and s - merged[-1][1] <= 2:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    if not merged:
        mid = n // 2
        half = max(1, frames) // 2
        return Hold(max(0, mid - half), min(n, mid - half + max(1, frames)), False, False)
    s, e = max(merged, key=lambda r: r[1] - r[0])
    # motion while raised, leaving out the rise and the fall (the outer fifths of the stretch)
    core = slice(s + (e - s) // 5, e - (e - s) // 5)
    q = wrist[core]
    q = q[~np.isnan(q[:, 0])]
    if len(q) >= 3:  # a 3-frame median: tracking jitter is not motion
        q = np.median(np.stack([q[:-2], q[1:-1], q[2:]]), axis=0)
    path = float(np.linalg.norm(np.diff(q, axis=0), axis=-1).sum()) if len(q) > 1 else 0.0
    reach = float(np.linalg.norm(q[-1] - q[0])) if len(q) > 1 else 0.0
    if path > config.moving and reach > config.moving_reach:
        return Hold(core.start, max(core.start + 1, core.stop), True)
    joints = _hand_joints(seq, side)
    pts = seq.data[:, joints, :2]  # (T, K, 2)
    ok = seq.confidence[:, joints] > 0
    step = np.linalg.norm(np.diff(pts, axis=0), axis=-1)  # (T - 1, K)
    both = ok[1:] & ok[:-1]
    speed = np.where(both.any(1), (step * both).sum(1) / np.maximum(both.sum(1), 1), np.inf)
    speed = np.concatenate([speed[:1], speed])  # (T,) per frame
    k = max(1, min(frames, e - s))
    window = np.convolve(np.where(np.isfinite(speed[s:e]), speed[s:e], 1e3), np.ones(k) / k, mode="valid")
    a = s + int(np.argmin(window))
    return Hold(a, a + k, False)


def _resample_frames(data: np.ndarray, conf: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames spread evenly over the given ones (linear interpolation where both sides are seen)."""
    m = len(data)
    if m == n:
        return data, conf
    if m == 1:
        return np.repeat(data, n, 0), np.repeat(conf, n, 0)
    t = np.linspace(0, m - 1, n)
    i0 = np.clip(np.floor(t).astype(int), 0, m - 2)
    w = (t - i0)[:, None]
    c0, c1 = conf[i0], conf[i0 + 1]
    both = (c0 > 0) & (c1 > 0)
    lerp = data[i0] * (1 - w[..., None]) + data[i0 + 1] * w[..., None]
    near = np.where((w >= 0.5)[..., None], data[i0 + 1], data[i0])
    out = np.where(both[..., None], lerp, near)
    oc = np.where(both, (1 - w) * c0 + w * c1, np.where(w >= 0.5, c1, c0))
    return out.astype(np.float32), oc.astype(np.float32)


def _ease(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames from pose a to pose b (cosine easing); a landmark seen on one side only is held there."""
    (pa, ca), (pb, cb) = a, b
    if n <= 0:
        return np.zeros((0,) + pa.shape, np.float32), np.zeros((0,) + ca.shape, np.float32)
    u = np.arange(1, n + 1) / (n + 1)
    w = ((1 - np.cos(np.pi * u)) / 2)[:, None, None]
    both = (ca > 0) & (cb > 0)
    data = (1 - w) * pa + w * pb
    first = (u < 0.5)[:, None]
    held = np.where(first[..., None], pa, pb)
    held_c = np.where(first, ca, cb)
    data = np.where(both[None, :, None], data, held)
    conf = np.where(both[None], (1 - w[..., 0]) * ca + w[..., 0] * cb, held_c)
    return data.astype(np.float32), conf.astype(np.float32)


def _rest_other_hand(parts: list[tuple[np.ndarray, np.ndarray]], clips: list[PoseSequence], side: str,
                     config: SpellConfig) -> None:
    """The non-dominant arm and hand held at one place (their median over the holds) in every one-handed
    letter (``meta["two_handed"]``, else: its recording does not raise that hand)."""
    seq0 = clips[0]
    other = "left" if side == "right" else "right"
    sk = seq0.skeleton
    o = other.upper()
    joints = [sk.index[j] for j in (f"pose.{o}_ELBOW", f"pose.{o}_WRIST", f"pose.{o}_PINKY", f"pose.{o}_INDEX",
                                    f"pose.{o}_THUMB") if j in sk.index]
    joints += list(_hand_joints(seq0, other)) if sk.has(HANDS[other]) else []
    joints = np.asarray(sorted(set(joints)), dtype=np.int64)
    if not len(joints):
        return None
    resting = []
    for (data, conf), clip in zip(parts, clips):
        if "two_handed" in clip.meta:
            resting.append(not clip.meta["two_handed"])
            continue
        seq = PoseSequence(data, conf, seq0.fps, sk, meta={"normalized": True})
        resting.append(raised(seq, other, config.raised_below) < 0.5)
    pool_d = np.concatenate([d[:, joints] for (d, _), r in zip(parts, resting) if r] or [np.zeros((0, len(joints), 3))])
    pool_c = np.concatenate([c[:, joints] for (_, c), r in zip(parts, resting) if r] or [np.zeros((0, len(joints)))])
    if not len(pool_d):
        return None
    seen = pool_c > 0
    rest = np.array([np.median(pool_d[seen[:, k], k], axis=0) if seen[:, k].any() else np.zeros(3)
                     for k in range(len(joints))], dtype=np.float32)  # (K, 3)
    rest_c = (seen.mean(0) > 0.5).astype(np.float32)  # a joint mostly unseen stays unseen
    for (data, conf), r in zip(parts, resting):
        if r:
            data[:, joints] = rest
            conf[:, joints] = rest_c
    return joints, rest, rest_c, resting


def _with_rest(frames: tuple[np.ndarray, np.ndarray], rest) -> tuple[np.ndarray, np.ndarray]:
    joints, pose, conf = rest[:3]
    d, c = frames[0].copy(), frames[1].copy()
    d[:, joints], c[:, joints] = pose, conf
    return d, c


@dataclass
class SpelledWord:
    sequence: PoseSequence
    bounds: list[int]  # frame where each letter's time starts, and the end: len(letters) + 1 values
    holds: list[Hold]


def spell_word(clips: list[PoseSequence], side: str, config: SpellConfig | None = None,
               body: Body | None = None) -> SpelledWord:
    """One movement for a fingerspelled word from its letters' clips (see the module docstring); with
    ``body`` the holds are signed at one place of the fingerspelling space and the arms have its lengths."""
    config = config or SpellConfig()
    if not clips:
        raise SpellingError("no letters to spell")
    fps = clips[0].fps
    sk = clips[0].skeleton
    for c in clips:
        if c.skeleton.name != sk.name or abs(c.fps - fps) > 1e-6 or c.timestamps is not None:
            raise SpellingError("letter clips must share one layout and fps, evenly timed (resample first)")
    slot = fps / config.rate  # frames per letter
    hold_n = max(1, int(round(config.hold * slot)))
    trans_n = max(1, int(round(slot - hold_n)))
    edge_n = trans_n // 2  # entry and exit: half a transition each
    holds = [find_hold(c, side, hold_n, config) for c in clips]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for c, h in zip(clips, holds):
        d, cf = c.data[h.start:h.stop], c.confidence[h.start:h.stop]
        want = hold_n
        if h.moving:  # keep the motion at its own speed, within max_motion slots (counting its transition)
            want = int(np.clip(h.frames, hold_n, max(hold_n, config.max_motion * slot - trans_n)))
        d, cf = _resample_frames(d, cf, want)
        parts.append((d.copy(), cf.copy()))  # changed in place below: never a view of the clip
    place = fingerspelling_place(body, side, config) if body is not None else None
    offsets = [np.zeros(2)] * len(parts)
    if place is not None:
        elbow_at, place = place
        hand = _arm_and_hand(clips[0], side)
        _, e, w = _arm(sk, side)
        for k, (d, cf) in enumerate(parts):
            seen = cf[:, w] > 0 if w is not None else np.zeros(len(d), dtype=bool)
            if seen.any():
                offsets[k] = place - np.median(d[seen, w, :2], axis=0)
                _shift((d, cf), hand, offsets[k])
                if e is not None:  # the elbow hangs below the hand, following it (planar_arms fits the lengths)
                    both = seen & (cf[:, e] > 0)
                    d[both, e, :2] = elbow_at + d[both, w, :2] - place
    rest = _rest_other_hand(parts, clips, side, config)
    data, conf, bounds = [], [], []
    first, last = clips[0], clips[-1]
    # entry: the first letter's own rise into its hold
    a = holds[0].start
    entry = _resample_frames(first.data[max(0, a - 2 * edge_n):a], first.confidence[max(0, a - 2 * edge_n):a],
                             edge_n) if a > 0 and edge_n else None
    if entry is not None and rest is not None and rest[3][0]:  # the other hand rests there too
        entry = _with_rest(entry, rest)
    if entry is not None and place is not None:  # rising into the first hold's new place
        entry = (entry[0].copy(), entry[1])
        _shift(entry, hand, np.linspace(0, 1, len(entry[0]) + 1)[1:, None] * offsets[0])
    bounds.append(0)
    if entry is not None:
        data.append(entry[0])
        conf.append(entry[1])
    for i, (d, cf) in enumerate(parts):
        data.append(d)
        conf.append(cf)
        if i + 1 < len(parts):
            td, tc = _ease((d[-1], cf[-1]), (parts[i + 1][0][0], parts[i + 1][1][0]), trans_n)
            # the letter's time ends in the middle of the transition to the next
            data.append(td[:trans_n // 2])
            conf.append(tc[:trans_n // 2])
            bounds.append(sum(len(x) for x in data))
            data.append(td[trans_n // 2:])
            conf.append(tc[trans_n // 2:])
    b = holds[-1].stop
    exit_frames = 0
    if b < len(last) and edge_n:
        ex = _resample_frames(last.data[b:b + 2 * edge_n], last.confidence[b:b + 2 * edge_n], edge_n)
        if rest is not None and rest[3][-1]:
            ex = _with_rest(ex, rest)
        if place is not None:  # falling from the last hold's new place
            ex = (ex[0].copy(), ex[1])
            _shift(ex, hand, np.linspace(1, 0, len(ex[0]) + 1)[:-1, None] * offsets[-1])
        data.append(ex[0])
        conf.append(ex[1])
        exit_frames = len(ex[0])
    d, c = np.concatenate(data), np.concatenate(conf)
    built = len(d)
    bounds.append(len(d))
    # whole frames per letter add up to a little off n / rate: spread the word evenly over exactly that
    # (plus what its moving letters take beyond their slot)
    extra = sum(len(p[0]) - hold_n for p in parts)
    want = max(1, int(round(len(clips) * slot)) + extra - (0 if entry is not None else edge_n))
    if want != len(d) and len(d) > 1:
        k = (want - 1) / (len(d) - 1)
        d, c = _resample_frames(d, c, want)
        bounds = [int(round(b * k)) if 0 < b < bounds[-1] else (0 if b == 0 else want) for b in bounds]
    scale = len(d) / max(built, 1)  # the entry's and the exit's frames after the even spread
    entry_n = int(round(len(entry[0]) * scale)) if entry is not None else 0
    exit_n = int(round(exit_frames * scale))
    out = PoseSequence(d, c, fps, sk, meta={"normalized": True, "spelled": len(clips), "rate": config.rate,
                                            "entry": entry_n, "exit": exit_n})
    if body is not None:
        out = planar_arms(out, body)
    return SpelledWord(out, bounds, holds)


__all__ = ["DEFAULT_RATE", "Hold", "SpellConfig", "SpelledWord", "SpellingError", "find_hold", "fingerspelling_place",
           "spell_word"]
