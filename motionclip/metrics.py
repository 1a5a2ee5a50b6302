"""Pose distances of METRICS.md (numpy only): MPJPE and DTW-MJE.

Both take normalized poses (shoulder widths) and compare only the joints present in both
sequences. ``dtw_mje`` has the signature the generative path uses, so the two can be merged.
"""
from __future__ import annotations

import numpy as np


def _as_frames(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:  # (T, J*3)
        x = x.reshape(len(x), -1, 3)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"poses must be (T, J, 3) or (T, J*3), got {x.shape}")
    return x


def _as_mask(mask, x: np.ndarray) -> np.ndarray:
    if mask is None:
        return np.ones(x.shape[:2], dtype=bool)
    m = np.asarray(mask).astype(bool)
    if m.ndim == 1:  # frame mask
        m = np.repeat(m[:, None], x.shape[1], axis=1)
    if m.shape != x.shape[:2]:
        raise ValueError(f"mask {m.shape} does not match poses {x.shape[:2]}")
    return m


def mpjpe(pred: np.ndarray, target: np.ndarray, mask=None) -> tuple[float, int]:
    """(sum of per-joint L2 errors, number of valid joints) of equally long sequences; the mean is
    ``sum / n`` (returned apart so that errors can be pooled over a whole set)."""
    p, t = _as_frames(pred), _as_frames(target)
    m = _as_mask(mask, t)
    if p.shape != t.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {t.shape}")
    err = np.linalg.norm(p - t, axis=-1)
    return float(err[m].sum()), int(m.sum())


def dtw_path(cost: np.ndarray) -> list[tuple[int, int]]:
    """Optimal monotone warping path through a ``(N, M)`` cost matrix (steps: diagonal, down, right)."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    # fill by anti-diagonals (i + j = d) so each step is one vectorized operation
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    i, j = n, m
    path = [(i - 1, j - 1)]
    while i > 1 or j > 1:
        steps = ((acc[i - 1, j - 1], i - 1, j - 1), (acc[i - 1, j], i - 1, j), (acc[i, j - 1], i, j - 1))
        _, i, j = min(steps, key=lambda s: s[0])  # ties prefer the diagonal (listed first)
        path.append((i - 1, j - 1))
    return path[::-1]


def dtw_mje(hyp: np.ndarray, ref: np.ndarray, hyp_mask=None, ref_mask=None) -> float:
    """DTW mean joint error (METRICS.md) of one hypothesis against one reference.

    ``hyp (T1, J, 3)`` / ``ref (T2, J, 3)`` (or flattened ``(T, J*3)``), masks ``(T, J)`` (or
    ``(T,)`` per frame). DTW runs on the Euclidean distance of the flattened frames over the
    joints present in both (scaled to the full joint count, so that frames missing a hand are
    not cheaper); along the path the per-joint L2 distance is averaged over every (step, joint
    present in both) pair. Shoulder widths; NaN when the sequences share no joint.
    """
    h, r = _as_frames(hyp), _as_frames(ref)
    if h.shape[1] != r.shape[1]:
        raise ValueError(f"joint counts differ: {h.shape[1]} vs {r.shape[1]}")
    if not len(h) or not len(r):
        raise ValueError("empty sequence")
    hm, rm = _as_mask(hyp_mask, h), _as_mask(ref_mask, r)
    # summed squared distances over the joints present in both, for every frame pair, as matrix
    # products: sum_j a_ij b_kj |h_ij - r_kj|^2 = (a|h|^2) b^T + a (b|r|^2)^T - 2 (a h)(b r)^T
    a, b = hm.astype(np.float64), rm.astype(np.float64)  # (T1, J), (T2, J)
    hd, rd = h.astype(np.float64), r.astype(np.float64)
    h2, r2 = (hd ** 2).sum(-1), (rd ** 2).sum(-1)  # (T1, J), (T2, J)
    ha = (hd * a[..., None]).reshape(len(h), -1)
    rb = (rd * b[..., None]).reshape(len(r), -1)
    sq = (a * h2) @ b.T + a @ (b * r2).T - 2 * ha @ rb.T  # (T1, T2)
    n = a @ b.T  # (T1, T2) joints in common
    has = n > 0
    if not has.any():
        return float("nan")
    cost = np.sqrt(np.maximum(sq, 0) / np.maximum(n, 1) * h.shape[1])
    # frame pairs without any common joint may still be crossed, at the largest cost seen
    cost = np.where(has, cost, cost[has].max())
    path = np.array(dtw_path(cost))  # (P, 2)
    pi, pj = path[:, 0], path[:, 1]
    both = hm[pi] & rm[pj]  # (P, J)
    err = np.linalg.norm(h[pi] - r[pj], axis=-1)  # (P, J)
    # pooled over every (path step, joint present in both) pair, as t2m_gpt.metrics does
    return float(err[both].mean()) if both.any() else float("nan")
