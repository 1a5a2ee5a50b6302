"""Join per-item clips into one smooth sequence, and measure how smooth the joins are.

The pipeline produces one :class:`~syrisign.pose.PoseSequence` per gloss-plan item: recorded
signs, fingerspelled letters or generated signs, possibly from different people, cameras,
skeletons and frame rates. :func:`stitch` turns them into one sequence:

1. every clip is brought to one layout (``reduce(layout, missing="zero")``), into one body
   frame (``normalize``: shoulder-centred, shoulder width 1, per clip, because recordings come
   from different people and cameras) and to the output fps (``resample``, which follows real
   timestamps);
2. idle frames at both ends of each clip are trimmed (``trim_idle``; a clip is never trimmed
   to nothing; a fingerspelled word, ``meta["spelled"]``, is neither trimmed nor cut, its timing
   and its still hold are meant, but between two of them the hand stays up: the first one's exit
   and the next one's entry, ``meta["exit"]`` and ``meta["entry"]`` frames, are left out);
3. at each join the cut is placed where the poses are closest: among the last ``k`` frames of
   clip A and the first ``k`` frames of clip B, the pair with the smallest mean distance over
   the arms and hands (``k`` = ``cut_window`` seconds, at most ``cut_fraction`` of a clip);
4. ``blend`` seconds of transition frames are inserted between the two cut poses (linear
   interpolation by default, cosine easing or velocity-matching Hermite on request); a
   landmark seen on one side only is held on that side's half of the transition;
5. short gaps where a hand was not detected are filled by linear interpolation (data and
   confidence), longer gaps stay missing;
6. pose and hands are low-pass filtered (zero-phase Butterworth by default) per joint over
   runs of frames where the joint is present; the face is left untouched.

The output stays in normalized units (shoulder widths, centred on the shoulders); its
``meta["normalized"]`` is True. Segments give, in output frames, which item each frame shows:
they are contiguous, ordered and cover the output; a transition is split between the two
items at its middle, and that boundary is the join frame used by :func:`join_jerk`.

Frame accounting, exactly: ``len(output) = sum(kept frames of each clip) + sum(transition
frames of each join)`` where a clip's kept frames are its trimmed frames minus those dropped
at its cuts (``StitchResult.kept``, ``StitchResult.blend_frames``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseError, PoseSequence
from syrisign.skeletons import FACE, HOLISTIC_543, LEFT_HAND, POSE_WORLD, RIGHT_HAND, Skeleton, get_skeleton

EASINGS = ("cosine", "linear", "hermite")
SMOOTHINGS = ("butterworth", "savgol", "none")
# Point names (upper-cased) that make a body joint part of "the arms" for the cut distance.
_ARM_WORDS = ("SHOULDER", "ELBOW", "WRIST", "PINKY", "INDEX", "THUMB", "HAND")


class StitchError(SyriSignError, ValueError):
    """Clips that cannot be stitched; the message says which clip and why."""


@dataclass
class StitchConfig:
    """How :func:`stitch` trims, cuts, blends, fills and smooths.

    Durations are in seconds and converted to output frames (``round(seconds * fps)``);
    ``trim_margin`` and ``max_gap`` are in output frames.
    """

    normalize: bool = True  # per-clip shoulder normalization (output in shoulder widths)
    trim: bool = True
    trim_margin: int = 2  # idle frames kept at each end of a clip
    idle_speed: float = 0.6  # shoulder widths / s above which a wrist counts as moving (trim_idle)
    cut_window: float = 0.3  # seconds searched at the end of A and the start of B for the best cut
    cut_fraction: float = 1 / 3  # ... but at most this share of a clip at each end
    blend: float = 0.2  # seconds of transition frames inserted at each join (0 = none)
    easing: str = "linear"  # "linear" | "cosine" (ease in/out) | "hermite" (matches the end velocities)
    max_gap: int = 5  # hand gaps up to this many frames are interpolated; 0 = no filling
    smoothing: str = "butterworth"  # "butterworth" | "savgol" | "none"; never applied to the face
    cutoff_hz: float = 6.0  # Butterworth cutoff
    butter_order: int = 4
    savgol_window: int = 5  # frames, odd
    savgol_polyorder: int = 2

    def __post_init__(self) -> None:
        if self.easing not in EASINGS:
            raise StitchError(f"unknown easing {self.easing!r}: use one of {', '.join(EASINGS)}")
        if self.smoothing not in SMOOTHINGS:
            raise StitchError(f"unknown smoothing {self.smoothing!r}: use one of {', '.join(SMOOTHINGS)}")
        if min(self.trim_margin, self.max_gap, self.blend, self.cut_window) < 0:
            raise StitchError("trim_margin, max_gap, blend and cut_window must not be negative")
        if not 0 < self.cut_fraction <= 0.5:
            raise StitchError(f"cut_fraction must be in (0, 0.5], got {self.cut_fraction}")
        if self.cutoff_hz <= 0 or self.butter_order < 1:
            raise StitchError("cutoff_hz must be positive and butter_order at least 1")
        if self.savgol_window < 3 or self.savgol_window % 2 == 0 or self.savgol_polyorder >= self.savgol_window:
            raise StitchError("savgol_window must be odd, at least 3 and larger than savgol_polyorder")

    def blend_frames(self, fps: float) -> int:
        return int(round(self.blend * fps))

    def cut_frames(self, fps: float) -> int:
        return max(1, int(round(self.cut_window * fps)))


@dataclass
class Segment:
    """Output frames ``[start_frame, end_frame)`` that show plan item ``index``."""

    start_frame: int
    end_frame: int
    label: str
    index: int
    source: str = ""  # where the clip came from (clip meta "source" or "id"), for captions and debugging

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame


@dataclass
class StitchResult:
    """The stitched sequence, its segments, and how each clip was used."""

    sequence: PoseSequence
    segments: list[Segment]
    trimmed: list[int] = field(default_factory=list)  # frames of each clip after resample + trim
    kept: list[tuple[int, int]] = field(default_factory=list)  # [start, stop) of each trimmed clip kept after cuts
    blend_frames: list[int] = field(default_factory=list)  # transition frames inserted at each join
    filled: int = 0  # landmark-frames filled by gap interpolation
    offsets: list[int] = field(default_factory=list)  # output frame of each clip's frame 0 (resampled to fps)

    def split(self, clip: int, bounds: list[int]) -> list[tuple[int, int]]:
        """Output frame ranges of parts of one clip: ``bounds`` are the clip's own frames (at the output fps)
        where each part starts, and its end. The ranges are clipped to the clip's segment and cover it."""
        seg = self.segments[clip]
        cuts = [min(seg.end_frame, max(seg.start_frame, self.offsets[clip] + b)) for b in bounds[1:-1]]
        edges = [seg.start_frame, *cuts, seg.end_frame]
        return list(zip(edges[:-1], edges[1:]))

    @property
    def joins(self) -> list[int]:
        """Output frame of each join: the first frame of every segment but the first."""
        return [s.start_frame for s in self.segments[1:]]


# -- preparation ----------------------------------------------------------------------------
def common_layout(clips: list[PoseSequence], skeleton: str | Skeleton | None = None) -> Skeleton:
    """The layout clips are stitched in: ``skeleton``, else theirs when they share one (holistic586 becomes
    holistic543: world landmarks cannot share the image body frame), else holistic543."""
    return _layout(clips, skeleton)


def _layout(clips: list[PoseSequence], skeleton: str | Skeleton | None) -> Skeleton:
    if skeleton is not None:
        return get_skeleton(skeleton)
    names = {c.skeleton.name for c in clips}
    if len(names) == 1:
        sk = clips[0].skeleton
        # world landmarks are metric camera-space points: they cannot share the image body frame
        if sk.has(POSE_WORLD):
            return HOLISTIC_543 if sk.name == "holistic586" else sk
        return sk
    return HOLISTIC_543


def _labels(clips: list[PoseSequence], labels: list[str] | None) -> list[str]:
    if labels is None:
        return [str(c.meta.get("label") or c.meta.get("id") or f"clip{i}") for i, c in enumerate(clips)]
    if len(labels) != len(clips):
        raise StitchError(f"{len(labels)} labels for {len(clips)} clips: give one label per clip")
    return [str(x) for x in labels]


def _prepare(clips: list[PoseSequence], labels: list[str] | None, fps: float,
             skeleton: str | Skeleton | None, normalize: bool) -> tuple[list[PoseSequence], list[str], Skeleton]:
    if not clips:
        raise StitchError("nothing to stitch: the list of clips is empty")
    if not (fps and fps > 0):
        raise StitchError(f"output fps must be positive, got {fps}")
    names = _labels(clips, labels)
    layout = _layout(clips, skeleton)
    out = []
    for i, (clip, name) in enumerate(zip(clips, names)):
        if len(clip) == 0:
            raise StitchError(f"clip {i} ({name}) has no frames")
        try:
            c = clip.reduce(layout, missing="zero")
            if normalize:
                c = c.normalize()
            c = c.resample(fps)
        except PoseError as e:
            raise StitchError(f"clip {i} ({name}): {e}") from None
        out.append(c)
    return out, names, layout


def _source(clip: PoseSequence) -> str:
    return str(clip.meta.get("source") or clip.meta.get("id") or "")


def signing_frames(clips: list[PoseSequence], fps: float, skeleton: str | Skeleton | None = None,
                   idle_speed: float = 0.6) -> int:
    """Frames of signing in the clips at ``fps``: each clip's active span (``trim_idle``, no margin)."""
    prepared, _, _ = _prepare(clips, None, fps, skeleton, normalize=True)
    return sum(len(c.trim_idle(margin=0, speed_threshold=idle_speed)) for c in prepared)


def duration_ratio(output: PoseSequence | int, clips: list[PoseSequence], fps: float | None = None,
                   skeleton: str | Skeleton | None = None) -> float:
    """Output frames / the source clips' signing frames (:func:`signing_frames`) at the output fps."""
    if isinstance(output, PoseSequence):
        fps = output.fps if fps is None else fps
        output = len(output)
    if fps is None:
        raise StitchError("duration_ratio needs the output fps when given a frame count")
    return float(output) / max(1, signing_frames(clips, fps, skeleton))


# -- cuts -----------------------------------------------------------------------------------
def _motion_joints(sk: Skeleton) -> np.ndarray:
    """Indices of arm and hand joints (the cut distance); every non-face joint when none match."""
    idx = []
    for j, name in enumerate(sk.joints):
        comp, point = name.split(".", 1)
        if comp in (LEFT_HAND, RIGHT_HAND) or (comp not in (FACE, POSE_WORLD)
                                               and any(w in point.upper() for w in _ARM_WORDS)):
            idx.append(j)
    if not idx:
        idx = [j for j, name in enumerate(sk.joints) if name.split(".", 1)[0] not in (FACE, POSE_WORLD)]
    return np.asarray(idx, dtype=int)


def _pair_distances(a: np.ndarray, ca: np.ndarray, b: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """(ka, kb) mean per-joint x-y distance over joints present in both frames; inf when none are."""
    # a (ka, J, 3), ca (ka, J); b (kb, J, 3), cb (kb, J)
    d = np.linalg.norm(a[:, None, :, :2] - b[None, :, :, :2], axis=-1)  # (ka, kb, J)
    w = ((ca > 0)[:, None] & (cb > 0)[None]).astype(np.float32)  # (ka, kb, J)
    n = w.sum(-1)
    return np.where(n > 0, (d * w).sum(-1) / np.maximum(n, 1), np.inf)


def best_cut(a: PoseSequence, b: PoseSequence, k: int, fraction: float = 1 / 3,
             joints: np.ndarray | None = None) -> tuple[int, int, float]:
    """(frame of ``a`` to end on, frame of ``b`` to start from, distance) of the closest pair.

    Searches the last ``k`` frames of ``a`` and the first ``k`` of ``b`` (each at most
    ``fraction`` of its clip, at least one frame). Ties keep more frames.
    """
    joints = _motion_joints(a.skeleton) if joints is None else joints
    ka = max(1, min(k, int(len(a) * fraction)))
    kb = max(1, min(k, int(len(b) * fraction)))
    # reversed A window so that argmin's first hit is the latest A frame (keeps more of A)
    wa = a.data[len(a) - ka:][::-1][:, joints]
    ca = a.confidence[len(a) - ka:][::-1][:, joints]
    dist = _pair_distances(wa, ca, b.data[:kb, joints], b.confidence[:kb, joints])
    if not np.isfinite(dist).any():
        return len(a) - 1, 0, float("inf")
    ia, ib = np.unravel_index(int(np.argmin(dist)), dist.shape)
    return len(a) - 1 - int(ia), int(ib), float(dist[ia, ib])


# -- transition -----------------------------------------------------------------------------
def _transition(a: PoseSequence, b: PoseSequence, n: int, easing: str) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames from the last frame of ``a`` to the first of ``b``: (data (n, J, 3), conf (n, J))."""
    J = a.data.shape[1]
    if n <= 0:
        return np.zeros((0, J, 3), np.float32), np.zeros((0, J), np.float32)
    p0, p1 = a.data[-1], b.data[0]  # (J, 3)
    c0, c1 = a.confidence[-1], b.confidence[0]  # (J,)
    u = np.arange(1, n + 1, dtype=np.float64) / (n + 1)  # (n,) strictly inside (0, 1)
    w = (1 - np.cos(np.pi * u)) / 2 if easing in ("cosine", "hermite") else u
    w3 = w[:, None, None]
    data = (1 - w3) * p0 + w3 * p1  # (n, J, 3)
    if easing == "hermite" and len(a) > 1 and len(b) > 1:
        # cubic Hermite with the end velocities (per frame, scaled to the n + 1 intervals)
        va, vb = a.data[-1] - a.data[-2], b.data[1] - b.data[0]
        has_v = (a.confidence[-2] > 0) & (c0 > 0) & (c1 > 0) & (b.confidence[1] > 0)  # (J,)
        h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
        h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
        herm = (h00[:, None, None] * p0 + h10[:, None, None] * (n + 1) * va
                + h01[:, None, None] * p1 + h11[:, None, None] * (n + 1) * vb)
        data = np.where(has_v[None, :, None], herm, data)
    both = (c0 > 0) & (c1 > 0)  # (J,)
    conf = (1 - w[:, None]) * c0 + w[:, None] * c1  # (n, J)
    # a landmark seen on one side only is held on that side's half, missing on the other
    a_side = (u < 0.5)[:, None]  # (n, 1)
    held = np.where(a_side[..., None], p0, p1)
    held_c = np.where(a_side, c0, c1)
    data = np.where(both[None, :, None], data, held)
    conf = np.where(both[None], conf, held_c)
    data = np.where(conf[..., None] > 0, data, 0.0)
    return data.astype(np.float32), conf.astype(np.float32)


# -- gaps and smoothing ----------------------------------------------------------------------
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e)) for s, e in edges.reshape(-1, 2)]


def _joint_groups(valid: np.ndarray, joints: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group joints with identical presence over time: [(joint indices, presence (T,))]."""
    if len(joints) == 0:
        return []
    cols = valid[:, joints].T  # (n, T)
    patterns, inverse = np.unique(cols, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    return [(joints[inverse == g], patterns[g]) for g in range(len(patterns))]


def _component_joints(sk: Skeleton, names: tuple[str, ...]) -> np.ndarray:
    idx = [np.arange(sk.slices[n].start, sk.slices[n].stop) for n in names if sk.has(n)]
    return np.concatenate(idx) if idx else np.zeros(0, dtype=int)


def fill_gaps(seq: PoseSequence, max_gap: int, components: tuple[str, ...] = (LEFT_HAND, RIGHT_HAND)
              ) -> tuple[PoseSequence, int]:
    """Interpolate gaps of at most ``max_gap`` frames in the given components.

    A gap is filled only when the landmark is present on both sides; data and confidence are
    interpolated linearly. Returns the new sequence and the number of landmark-frames filled.
    """
    joints = _component_joints(seq.skeleton, components)
    if max_gap <= 0 or len(joints) == 0 or len(seq) < 3:
        return seq, 0
    data, conf = seq.data.copy(), seq.confidence.copy()
    filled = 0
    for group, present in _joint_groups(seq.valid(), joints):
        for s, e in _runs(~present):
            if s == 0 or e == len(seq) or e - s > max_gap:
                continue  # open-ended or long gap: stays missing
            w = (np.arange(1, e - s + 1, dtype=np.float32) / (e - s + 1))  # (g,)
            d0, d1 = data[s - 1, group], data[e, group]  # (j, 3)
            data[s:e, group] = (1 - w[:, None, None]) * d0 + w[:, None, None] * d1
            c0, c1 = conf[s - 1, group], conf[e, group]
            conf[s:e, group] = (1 - w[:, None]) * c0 + w[:, None] * c1
            filled += (e - s) * len(group)
    out = PoseSequence(data, conf, seq.fps, seq.skeleton, seq.timestamps, dict(seq.meta))
    return out, filled

# -- zero-phase Butterworth in numpy ---------------------------------------------------------------------
# scipy.signal takes about a second to import, more than the rest of a `syrisign translate` run; these
# follow scipy.signal.butter / lfilter_zi / filtfilt (padtype "odd") step by step, and tests/test_stitch.py
# checks them against scipy.


def butter_lowpass(order: int, wn: float) -> tuple[np.ndarray, np.ndarray]:
    """Digital Butterworth low-pass ``(b, a)``; ``wn`` is the cutoff as a fraction of Nyquist (0..1)."""
    if not 0 < wn < 1:
        raise StitchError(f"Butterworth cutoff must lie between 0 and Nyquist, got {wn}")
    warped = 4.0 * math.tan(math.pi * wn / 2)  # pre-warped analog cutoff (sampling rate 2)
    m = np.arange(-order + 1, order, 2)
    poles = warped * -np.exp(1j * np.pi * m / (2 * order))  # analog prototype scaled to the cutoff
    zp = (4.0 + poles) / (4.0 - poles)  # bilinear transform
    gain = warped ** order / np.real(np.prod(4.0 - poles))
    b = gain * np.real(np.poly(-np.ones(order)))
    a = np.real(np.poly(zp))
    return b, a


def _lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """IIR filter along axis 0 (direct form II transposed) from state ``zi (order, ...)``."""
    z = zi.copy()
    y = np.empty_like(x)
    n = len(z)
    for t in range(len(x)):
        y[t] = b[0] * x[t] + z[0]
        for i in range(n - 1):
            z[i] = b[i + 1] * x[t] + z[i + 1] - a[i + 1] * y[t]
        z[n - 1] = b[n] * x[t] - a[n] * y[t]
    return y


def filtfilt(b: np.ndarray, a: np.ndarray, x: np.ndarray, padlen: int) -> np.ndarray:
    """Forward-backward (zero-phase) filtering along axis 0 with odd extension by ``padlen`` frames and the
    steady-state initial conditions, as ``scipy.signal.filtfilt(b, a, x, axis=0, padlen=padlen)``."""
    b, a = np.asarray(b, float) / a[0], np.asarray(a, float) / a[0]
    order = len(a) - 1
    companion = np.zeros((order, order))
    companion[0] = -a[1:]
    companion[np.arange(1, order), np.arange(order - 1)] = 1.0
    zi = np.linalg.solve(np.eye(order) - companion.T, b[1:] - a[1:] * b[0])
    zi = zi.reshape((order,) + (1,) * (x.ndim - 1))
    if padlen > 0:
        x = np.concatenate([2 * x[:1] - x[padlen:0:-1], x, 2 * x[-1:] - x[-2:-padlen - 2:-1]])
    y = _lfilter(b, a, x, zi * x[0])
    y = _lfilter(b, a, y[::-1], zi * y[-1])[::-1]
    return y[padlen:len(y) - padlen] if padlen > 0 else y


def smooth(seq: PoseSequence, config: StitchConfig | None = None) -> PoseSequence:
    """Low-pass filter every joint but the face, over runs of frames where it is present."""
    config = config or StitchConfig()
    if config.smoothing == "none" or len(seq) < 3:
        return seq
    sk = seq.skeleton
    joints = np.asarray([j for j, name in enumerate(sk.joints) if name.split(".", 1)[0] != FACE], dtype=int)
    data = seq.data.copy()
    if config.smoothing == "butterworth":
        wn = min(max(config.cutoff_hz / (seq.fps / 2), 1e-3), 0.99)
        b, a = butter_lowpass(config.butter_order, wn)
        pad = 3 * max(len(a), len(b))
    for group, present in _joint_groups(seq.valid(), joints):
        for s, e in _runs(present):
            n = e - s
            if n < 3:
                continue
            x = data[s:e][:, group].astype(np.float64)  # (n, j, 3)
            if config.smoothing == "butterworth":
                y = filtfilt(b, a, x, padlen=min(pad, n - 1))
            else:
                win = min(config.savgol_window, n if n % 2 else n - 1)
                if win <= config.savgol_polyorder:
                    continue
                import scipy.signal  # ~1 s to import: only for this non-default filter

                y = scipy.signal.savgol_filter(x, win, config.savgol_polyorder, axis=0)
            data[s:e, group] = y.astype(np.float32)
    return PoseSequence(data, seq.confidence, seq.fps, sk, seq.timestamps, dict(seq.meta))


# -- stitching --------------------------------------------------------------------------------
def stitch(clips: list[PoseSequence], labels: list[str] | None = None, fps: float = 25.0,
           skeleton: str | Skeleton | None = None, config: StitchConfig | None = None) -> StitchResult:
    """Join clips into one smooth sequence at ``fps`` with one :class:`Segment` per clip.

    ``skeleton`` defaults to the clips' common layout (holistic586 becomes holistic543: world
    landmarks cannot share the image body frame), or holistic543 when they differ. Labels
    default to each clip's ``meta["label"]`` / ``meta["id"]``. The output is in normalized
    units (shoulder widths) unless ``config.normalize`` is False.
    """
    config = config or StitchConfig()
    prepared, names, layout = _prepare(clips, labels, fps, skeleton, config.normalize)
    trim_starts = [0] * len(prepared)
    if config.trim:
        # a fingerspelled word (syrisign.spelling) is timed to its rate and holds the hand still on purpose
        spans = [(0, len(c)) if c.meta.get("spelled") else
                 c.active_span(margin=config.trim_margin, speed_threshold=config.idle_speed) for c in prepared]
        trim_starts = [a for a, _ in spans]
        prepared = [c[a:b] if (a, b) != (0, len(c)) else c for c, (a, b) in zip(prepared, spans)]
    trimmed = [len(c) for c in prepared]

    # cut points: each clip keeps [start, stop)
    k, joints = config.cut_frames(fps), _motion_joints(layout)
    starts, stops = [0] * len(prepared), [len(c) for c in prepared]
    for i in range(len(prepared) - 1):
        a, b = prepared[i][starts[i]:], prepared[i + 1]
        # a fingerspelled word keeps every frame: its entry and exit are part of its timing, and two words
        # spelled at the one fingerspelling place look alike mid-hold, where a cut would eat letters
        spelled_a, spelled_b = bool(a.meta.get("spelled")), bool(b.meta.get("spelled"))
        if spelled_a and spelled_b:  # the hand stays up: the exit of one and the entry of the next make way
            stops[i] = starts[i] + max(1, len(a) - int(a.meta.get("exit", 0)))
            starts[i + 1] = min(len(b) - 1, int(b.meta.get("entry", 0)))
            continue
        ia, ib, _ = best_cut(a[len(a) - 1:] if spelled_a else a, b[:1] if spelled_b else b, k, config.cut_fraction, joints)
        stops[i], starts[i + 1] = starts[i] + (len(a) - 1 if spelled_a else ia) + 1, ib
    kept = [c[s:e] for c, s, e in zip(prepared, starts, stops)]

    blends = [config.blend_frames(fps)] * (len(kept) - 1)
    data, conf, segments, offsets = [], [], [], []
    pos = 0
    for i, c in enumerate(kept):
        seg_start = pos
        if i > 0:
            n = blends[i - 1]
            td, tc = _transition(kept[i - 1], c, n, config.easing)
            data.append(td)
            conf.append(tc)
            seg_start = pos + n // 2  # the transition's first half shows the previous item
            spelled_prev, spelled_here = bool(kept[i - 1].meta.get("spelled")), bool(c.meta.get("spelled"))
            if spelled_here != spelled_prev:  # a fingerspelled word's time is its own frames (its rate)
                seg_start = pos + n if spelled_here else pos
            segments[-1].end_frame = seg_start
            pos += n
        data.append(c.data)
        conf.append(c.confidence)
        offsets.append(pos - trim_starts[i] - starts[i])  # output frame of the clip's own frame 0 (at fps)
        pos += len(c)
        segments.append(Segment(seg_start, pos, names[i], i, _source(clips[i])))

    meta = {"normalized": bool(config.normalize), "stitched": len(clips), "labels": names}
    seq = PoseSequence(np.concatenate(data), np.concatenate(conf), fps, layout, meta=meta)
    seq, filled = fill_gaps(seq, config.max_gap)
    seq = smooth(seq, config)
    return StitchResult(seq, segments, trimmed, list(zip(starts, stops)), blends, filled, offsets)


def concatenate_naive(clips: list[PoseSequence], fps: float = 25.0, layout: str | Skeleton | None = None,
                      labels: list[str] | None = None, normalize: bool = True) -> StitchResult:
    """Plain concatenation after the same layout, fps and normalization as :func:`stitch`.

    No trimming, cutting, blending, gap filling or smoothing: the "unsmoothed concatenation"
    baseline. Joins are the first frame of every clip but the first.
    """
    prepared, names, sk = _prepare(clips, labels, fps, layout, normalize)
    segments, pos = [], 0
    for i, c in enumerate(prepared):
        segments.append(Segment(pos, pos + len(c), names[i], i, _source(clips[i])))
        pos += len(c)
    meta = {"normalized": bool(normalize), "stitched": len(clips), "labels": names}
    seq = PoseSequence(np.concatenate([c.data for c in prepared]),
                       np.concatenate([c.confidence for c in prepared]), fps, sk, meta=meta)
    return StitchResult(seq, segments, [len(c) for c in prepared], [(0, len(c)) for c in prepared],
                        [0] * (len(prepared) - 1), 0)


# -- join jerk --------------------------------------------------------------------------------
def wrist_tracks(seq: PoseSequence, side: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(positions (T, 3), present (T,)), ...] of one wrist (``"left"`` / ``"right"``), preferred first.

    The hand-wrist landmark (when the layout has that hand), then the pose wrist.
    """
    sk = seq.skeleton
    k = 0 if side == "left" else 1
    out = []
    for j in (sk.index.get(f"{(LEFT_HAND, RIGHT_HAND)[k]}.WRIST"), sk.wrist_idx[k]):
        if j is not None:
            out.append((seq.data[:, j], seq.confidence[:, j] > 0))
    return out


def _differences(tracks: list[tuple[np.ndarray, np.ndarray]], order: int, dims: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(T - order, dims) finite differences of the given order and whether each exists.

    Each stencil uses the first track present on all its ``order + 1`` frames, so the hand
    wrist is used when present and the pose wrist otherwise, never mixed inside one stencil
    (the two landmarks sit a little apart: mixing them would read as motion).
    """
    T = len(tracks[0][0])
    n = max(0, T - order)
    diff, have = np.zeros((n, dims)), np.zeros(n, dtype=bool)
    for pos, ok in reversed(tracks):  # preferred track last, so it overwrites
        d = np.diff(pos[:, :dims].astype(np.float64), n=order, axis=0)  # (n, dims)
        full = np.lib.stride_tricks.sliding_window_view(ok, order + 1).all(axis=1) if n else have
        diff[full], have = d[full], have | full
    return diff, have


def dominant_wrist(seq: PoseSequence, dims: int = 2) -> str:
    """``"left"`` or ``"right"``: the wrist with the longer path over the whole sequence."""
    lengths = {}
    for side in ("left", "right"):
        d, ok = _differences(wrist_tracks(seq, side), 1, dims)
        lengths[side] = float(np.linalg.norm(d[ok], axis=-1).sum())
    return max(lengths, key=lambda s: (lengths[s], s == "right"))


def join_jerk(sequence: PoseSequence, join_frames: list[int], fps: float | None = None, window: int = 5,
              dims: int = 2, normalize: bool = True, side: str | None = None) -> float:
    """Mean magnitude of the dominant wrist's third derivative within ±``window`` frames of each join.

    METRICS.md: the third finite difference ``x[t+3] - 3x[t+2] + 3x[t+1] - x[t]`` times
    ``fps**3`` for every 4-frame stencil inside ``[join - window, join + window]`` where the
    wrist is present on all four frames (hand-wrist landmark when present, else the pose
    wrist); magnitudes are averaged per join, then over the joins that have at least one
    stencil (NaN when none has). The dominant wrist moves the longest path over the whole
    sequence. Units: shoulder widths / s^3 (the sequence is normalized first unless its
    ``meta["normalized"]`` says it already is, or ``normalize`` is False). ``dims=2`` uses x
    and y: MediaPipe's z is a rough depth estimate. ``side``: the dominant hand where it is known
    (one signer's output), instead of the longer path.
    """
    fps = sequence.fps if fps is None else float(fps)
    seq = sequence
    if normalize and not sequence.meta.get("normalized"):
        seq = sequence.normalize()
    d3, ok = _differences(wrist_tracks(seq, side or dominant_wrist(seq, dims)), 3, dims)  # stencil t = frames t..t+3
    mag = np.linalg.norm(d3, axis=-1) * fps**3
    T = len(seq)
    per_join = []
    for j in join_frames:
        lo, hi = max(0, j - window), min(T - 1, j + window)
        t = np.arange(lo, max(lo, hi - 2))  # stencils wholly inside [lo, hi]
        t = t[ok[t]] if len(t) else t
        if len(t):
            per_join.append(float(mag[t].mean()))
    return float(np.mean(per_join)) if per_join else math.nan
