"""The metrics of ``docs/METRICS.md`` for produced signs, in one place (numpy and scipy only).

Poses are compared after :func:`pose_arrays`: reduced to an evaluation layout (face-less
``upper65`` for MediaPipe skeletons, ``kinect20`` without the legs for Kinect), resampled to
25 fps along the real timestamps and normalized (shoulder-centred, shoulder width 1); a joint
counts only where it is present (confidence > 0) in both sequences.

- :func:`dtw_mje`: DTW with Euclidean frame distance on the flattened frames, then the mean
  per-joint L2 along the warping path (shoulder widths).
- :func:`mean_pose_sequence` / :func:`nearest_dtw_mje`: the two DTW-MJE baselines.
- :func:`topk_hits`, :func:`wer`: back-translation (recognizer) accuracy and word error rate.
- :func:`fid`: Fréchet distance between Gaussian fits of two feature sets (PCA-reduced and
  Ledoit-Wolf shrunk covariances, because the sets hold tens to hundreds of samples).
- :func:`diversity_distances`: distances between random pairs of features (mean = Diversity).
- :func:`r_precision_hits`: the own text among ``pool - 1`` random other texts, ranked by
  feature distance; hits at top 1/2/3.
- :func:`join_jerk`, :func:`duration_ratio`: stitching quality (the implementations of
  :mod:`syrisign.stitch`).
- :func:`bootstrap_ci`, :func:`bootstrap_stat`: percentile bootstrap intervals, fixed seeds.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from syrisign.pose import PoseSequence
from syrisign.skeletons import get_skeleton

EVAL_FPS = 25.0
Arrays = tuple[np.ndarray, np.ndarray]  # x (T, J, 3) normalized, mask (T, J) bool


# -- pose preparation -----------------------------------------------------------------------------
def eval_layout(skeleton: str) -> str:
    """The layout poses are compared in: face-less upper body and hands for MediaPipe skeletons."""
    if skeleton in ("holistic543", "holistic586", "syrisign193", "signclip203", "upper65"):
        return "upper65"
    return get_skeleton(skeleton).name


_LEG_WORDS = ("KNEE", "ANKLE", "FOOT", "HEEL")


def eval_joints(layout: str) -> np.ndarray:
    """Indices of the joints compared in ``layout``: every joint but the legs (Kinect's knees,
    ankles and feet do not sign and their tracking noise would dominate the error)."""
    sk = get_skeleton(layout)
    return np.asarray([j for j, n in enumerate(sk.joints) if not any(w in n.upper() for w in _LEG_WORDS)])


def pose_arrays(seq: PoseSequence, layout: str | None = None, fps: float | None = EVAL_FPS) -> Arrays:
    """``(x (T, J, 3) float32, mask (T, J) bool)``: reduced, resampled, normalized, legs dropped."""
    s = seq.reduce(layout, missing="zero") if layout else seq
    if fps:
        s = s.resample(fps)
    s = s.normalize()
    keep = eval_joints(s.skeleton.name)
    return s.data[:, keep].astype(np.float32), s.confidence[:, keep] > 0


def _as_arrays(p, layout: str | None, fps: float | None, mask: np.ndarray | None = None) -> Arrays:
    """A PoseSequence (prepared by :func:`pose_arrays`), an ``(x, mask)`` pair, or an ``x (T, J, 3)``
    array with an optional mask (default: every joint present)."""
    if isinstance(p, PoseSequence):
        return pose_arrays(p, layout or eval_layout(p.skeleton.name), fps)
    if isinstance(p, tuple):
        x, mask = p
    else:
        x = p
    x = np.asarray(x, dtype=np.float32)
    m = np.ones(x.shape[:2], bool) if mask is None else np.asarray(mask, dtype=bool)
    return x, m


# -- DTW-MJE --------------------------------------------------------------------------------------
def frame_costs(a: Arrays, b: Arrays) -> np.ndarray:
    """``(..., n, m)`` DTW frame costs: the Euclidean distance of the flattened frames over the joints
    present in both frames, rescaled to all ``J`` joints (``sqrt(J * mean squared distance)``, the
    plain distance when nothing is missing) so that frames with a missing hand are not cheaper.
    NaN where two frames share no joint. ``a``'s arrays may carry leading batch axes
    (``(..., n, J, 3)``, ``(..., n, J)``). Computed with three matrix products.
    """
    (xa, ma), (xb, mb) = a, b
    h, r = np.asarray(xa, np.float64), np.asarray(xb, np.float64)
    mh, mr = np.asarray(ma, np.float64), np.asarray(mb, np.float64)  # (..., n, J), (m, J)
    hh, rr = np.einsum("...k,...k->...", h, h) * mh, np.einsum("...k,...k->...", r, r) * mr
    hm = (h * mh[..., None]).reshape(*h.shape[:-2], -1)  # (..., n, J*3)
    rm = (r * mr[..., None]).reshape(len(r), -1)  # (m, J*3)
    # contiguous right-hand factors: numpy's stacked matmul with a transposed view is ~100x slower
    mr_t, rr_t, rm_t = (np.ascontiguousarray(v.T) for v in (mr, rr, rm))
    sq = hh @ mr_t + mh @ rr_t - 2.0 * hm @ rm_t  # (..., n, m) squared distance over the shared joints
    shared = mh @ mr_t  # (..., n, m) number of shared joints
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.sqrt(np.clip(h.shape[-2] * sq / shared, 0.0, None))
    return np.where(shared > 0, cost, np.nan)


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Classic DTW (steps (1,1), (1,0), (0,1)) over ``cost (n, m)``: ``(rows, cols, total cost)``."""
    n, m = cost.shape
    if n == 0 or m == 0:
        raise ValueError("DTW needs two non-empty sequences")
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for d in range(2, n + m + 1):  # anti-diagonals i + j = d: every cell depends on the two before
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        D[i, j] = cost[i - 1, j - 1] + np.minimum(np.minimum(D[i - 1, j - 1], D[i - 1, j]), D[i, j - 1])
    i, j = n, m
    rows, cols = [n - 1], [m - 1]
    while i > 1 or j > 1:
        steps = ((i - 1, j - 1), (i - 1, j), (i, j - 1))  # diagonal first: preferred on ties
        i, j = min(steps, key=lambda s: D[s])
        rows.append(i - 1)
        cols.append(j - 1)
    return np.asarray(rows[::-1]), np.asarray(cols[::-1]), float(D[n, m])


def dtw_mje(hyp, ref, hyp_mask: np.ndarray | None = None, ref_mask: np.ndarray | None = None, *,
            layout: str | None = None, fps: float | None = EVAL_FPS) -> float:
    """DTW-MJE of one hypothesis against one reference (METRICS.md), in shoulder widths.

    ``hyp`` and ``ref``: PoseSequences (prepared with :func:`pose_arrays`; ``layout`` defaults to
    :func:`eval_layout` of each), ``(x, mask)`` pairs, or normalized ``(T, J, 3)`` arrays with
    ``hyp_mask``/``ref_mask`` (default: every joint present), used as they are. The alignment uses
    :func:`frame_costs` (frame pairs sharing no joint get the worst cost); the result is the mean
    L2 distance over every (aligned frame pair, joint present in both). NaN when there is none.
    """
    a, b = _as_arrays(hyp, layout, fps, hyp_mask), _as_arrays(ref, layout, fps, ref_mask)
    if a[0].shape[1:] != b[0].shape[1:]:
        raise ValueError(f"dtw_mje needs sequences of one layout, got {a[0].shape} and {b[0].shape}")
    if len(a[0]) == 0 or len(b[0]) == 0:
        return math.nan
    cost = frame_costs(a, b)
    finite = np.isfinite(cost)
    if not finite.any():
        return math.nan
    cost = np.where(finite, cost, cost[finite].max())
    r, c, _ = dtw_path(cost)
    d = np.linalg.norm(a[0][r].astype(np.float64) - b[0][c].astype(np.float64), axis=-1)  # (P, J)
    both = a[1][r] & b[1][c]
    return float(d[both].mean()) if both.any() else math.nan


def image_plane(a: Arrays) -> Arrays:
    """``a`` with its x and y only. MediaPipe measures the image plane; the depth of a hand or of the face
    it estimates only about the wrist or the face's centre, and the offset from the body that normalization
    leaves differs from signer to signer (KArSL's signer 03 sits 0.3 shoulder widths "behind" signer 01,
    :func:`syrisign.retarget._anchor_depth`), so a depth difference between two people's recordings is in
    part not movement. DTW-MJE on these arrays is the image-plane figure reported beside the 3-D one."""
    x, m = a
    return np.asarray(x)[..., :2], m


def nearest_dtw_mje(ref: Arrays, candidates: Sequence[Arrays]) -> tuple[float, int]:
    """The smallest DTW-MJE of ``ref`` to any candidate, and that candidate's index."""
    scores = [dtw_mje(c, ref) for c in candidates]
    finite = [s if math.isfinite(s) else math.inf for s in scores]
    k = int(np.argmin(finite))
    return scores[k], k


def time_normalize(x: np.ndarray, m: np.ndarray, length: int) -> Arrays:
    """Resample ``(T, J, 3)`` to ``length`` frames by linear interpolation of the frame index
    (nearest frame where a joint is missing on one side)."""
    T = len(x)
    t = np.linspace(0, T - 1, length)
    i0 = np.clip(np.floor(t).astype(int), 0, max(0, T - 2))
    i1 = np.minimum(i0 + 1, T - 1)
    w = (t - i0)[:, None]
    both = m[i0] & m[i1]
    near = np.where((w >= 0.5)[..., None], x[i1], x[i0])
    xi = np.where(both[..., None], (1 - w[..., None]) * x[i0] + w[..., None] * x[i1], near)
    mi = np.where(both, True, np.where(w >= 0.5, m[i1], m[i0]))
    return xi.astype(np.float32), mi


def mean_pose_sequence(items: Sequence[Arrays], length: int | None = None) -> Arrays:
    """The mean pose sequence of a set (the DTW-MJE lower-bound baseline): every sequence is
    time-normalized to ``length`` frames (default: the median length), then averaged per frame
    and joint over the sequences where that joint is present."""
    if not items:
        raise ValueError("mean_pose_sequence needs at least one sequence")
    L = int(length or max(2, int(np.median([len(x) for x, _ in items]))))
    s1 = np.zeros((L,) + items[0][0].shape[1:], dtype=np.float64)
    n = np.zeros((L, items[0][0].shape[1]), dtype=np.float64)
    for x, m in items:
        xi, mi = time_normalize(x, m, L)
        s1 += np.where(mi[..., None], xi, 0.0)
        n += mi
    mean = s1 / np.maximum(n, 1)[..., None]
    return mean.astype(np.float32), n > 0


# -- recognition ------------------------------------------------------------------------------
def topk_hits(logits: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` bool: the true class is among the ``k`` highest scores (ties broken by index)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return (top == labels[:, None]).any(axis=1)


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Levenshtein distance between two token sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(refs: Sequence[Sequence], hyps: Sequence[Sequence]) -> float:
    """Word error rate: total edit distance / total reference length."""
    errors = sum(edit_distance(r, h) for r, h in zip(refs, hyps, strict=True))
    return errors / max(1, sum(len(r) for r in refs))


# -- feature-space metrics ------------------------------------------------------------------------
@dataclass
class FeatureBasis:
    """A PCA basis fitted on reference features, shared by every set compared to them."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D)

    @classmethod
    def fit(cls, feats: np.ndarray, dims: int) -> FeatureBasis:
        feats = np.asarray(feats, dtype=np.float64)
        mean = feats.mean(0)
        _, _, vt = np.linalg.svd(feats - mean, full_matrices=False)
        k = max(1, min(dims, vt.shape[0]))
        return cls(mean, vt[:k])

    def project(self, feats: np.ndarray) -> np.ndarray:
        return (np.asarray(feats, dtype=np.float64) - self.mean) @ self.components.T


def _cov(x: np.ndarray, shrinkage: bool) -> np.ndarray:
    if len(x) < 2:
        return np.zeros((x.shape[1], x.shape[1]))
    if shrinkage:
        from sklearn.covariance import LedoitWolf
        return LedoitWolf().fit(x).covariance_
    return np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))`` (the FID formula)."""
    import warnings

    from scipy.linalg import sqrtm

    with warnings.catch_warnings():  # a singular product (e.g. a constant set) is handled below
        warnings.simplefilter("ignore")
        covmean = sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():  # nearly singular product: regularize as pytorch-fid does
            eps = np.eye(len(s1)) * 1e-6
            covmean = sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)))


def fid(gen: np.ndarray, real: np.ndarray, dims: int | None = 16, basis: FeatureBasis | None = None,
        shrinkage: bool = True) -> float:
    """Fréchet distance between Gaussian fits of ``gen (N, D)`` and ``real (M, D)`` features.

    With few samples the full covariance is singular, so by default both sets are projected on
    the first ``dims`` principal axes of ``real`` (or on ``basis``) and covariances are
    Ledoit-Wolf shrunk. ``dims=None`` and ``shrinkage=False`` give the textbook FID.
    """
    gen, real = np.asarray(gen, dtype=np.float64), np.asarray(real, dtype=np.float64)
    if basis is None and dims:
        basis = FeatureBasis.fit(real, dims)
    if basis is not None:
        gen, real = basis.project(gen), basis.project(real)
    return frechet_distance(gen.mean(0), _cov(gen, shrinkage), real.mean(0), _cov(real, shrinkage))


def diversity_pairs(n: int, pairs: int = 300, seed: int = 0) -> np.ndarray:
    """``(P, 2)`` random index pairs ``i != j`` among ``n`` items; ``P = min(pairs, n(n-1)/2)``,
    without repeating a pair."""
    if n < 2:
        return np.zeros((0, 2), dtype=int)
    rng = np.random.default_rng(seed)
    total = n * (n - 1) // 2
    p = min(pairs, total)
    flat = rng.choice(total, size=p, replace=False)  # index into the upper triangle
    iu = np.triu_indices(n, 1)
    return np.stack([iu[0][flat], iu[1][flat]], axis=1)


def diversity_distances(feats: np.ndarray, pairs: int = 300, seed: int = 0) -> np.ndarray:
    """Euclidean distances between random pairs of feature vectors; their mean is Diversity."""
    feats = np.asarray(feats, dtype=np.float64)
    idx = diversity_pairs(len(feats), pairs, seed)
    return np.linalg.norm(feats[idx[:, 0]] - feats[idx[:, 1]], axis=1)


def r_precision_hits(motion: np.ndarray, texts: np.ndarray, labels: np.ndarray, pool: int = 32,
                     top: Sequence[int] = (1, 2, 3), seed: int = 0) -> tuple[np.ndarray, int]:
    """R-precision: for each motion feature ``motion[n]`` rank its own text ``texts[labels[n]]``
    among ``pool - 1`` random other texts by Euclidean distance.

    ``texts (C, D)`` holds one feature per class text. Returns ``(hits (N, len(top)) bool,
    pool used)``: the pool shrinks to ``C`` when there are fewer classes. Ties count against
    the own text.
    """
    motion, texts, labels = np.asarray(motion, float), np.asarray(texts, float), np.asarray(labels)
    C = len(texts)
    k = min(pool, C)
    rng = np.random.default_rng(seed)
    dist = np.linalg.norm(motion[:, None] - texts[None], axis=-1)  # (N, C)
    hits = np.zeros((len(motion), len(top)), dtype=bool)
    for n, y in enumerate(labels):
        others = np.delete(np.arange(C), y)
        cand = rng.choice(others, size=k - 1, replace=False) if k > 1 else others[:0]
        rank = int((dist[n, cand] <= dist[n, y]).sum())  # 0 = own text nearest
        hits[n] = [rank < t for t in top]
    return hits, k


# -- stitching quality ------------------------------------------------------------------------
def join_jerk(sequence: PoseSequence, join_frames: list[int], fps: float | None = None, window: int = 5) -> float:
    """Mean dominant-wrist jerk within ±``window`` frames of the joins (:func:`syrisign.stitch.join_jerk`)."""
    from syrisign.stitch import join_jerk as _join_jerk
    return _join_jerk(sequence, join_frames, fps=fps, window=window)


def duration_ratio(output: PoseSequence, clips: list[PoseSequence]) -> float:
    """Output frames / sum of the source clips' signing frames (:func:`syrisign.stitch.duration_ratio`)."""
    from syrisign.stitch import duration_ratio as _duration_ratio
    return _duration_ratio(output, clips)


# -- confidence intervals ---------------------------------------------------------------------
def bootstrap_stat(fn: Callable[..., float], sizes: Sequence[int], n: int = 1000, level: float = 0.95,
                   seed: int = 0) -> tuple[float, float, float]:
    """``(estimate, low, high)``: ``fn(*index_arrays)`` on the full sets and the percentile
    interval over ``n`` resamples (each set resampled with replacement, independently)."""
    est = float(fn(*[np.arange(s) for s in sizes]))
    if any(s == 0 for s in sizes) or not math.isfinite(est):
        return est, math.nan, math.nan
    rng = np.random.default_rng(seed)
    stats = np.array([fn(*[rng.integers(0, s, size=s) for s in sizes]) for _ in range(n)], dtype=float)
    stats = stats[np.isfinite(stats)]
    if not len(stats):
        return est, math.nan, math.nan
    a = (1 - level) / 2
    return est, float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a))


def bootstrap_ci(values: Sequence[float] | np.ndarray, n: int = 1000, level: float = 0.95, seed: int = 0
                 ) -> tuple[float, float, float]:
    """Mean of per-item values (NaNs dropped) with a percentile bootstrap interval."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n, len(v)))].mean(1)
    a = (1 - level) / 2
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))
