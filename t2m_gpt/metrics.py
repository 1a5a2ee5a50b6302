"""DTW-MJE (METRICS.md, "Generated signs against real recordings"); numpy only, no model code.

``dtw_mje(hyp, ref)``: dynamic time warping of the two sequences with the Euclidean distance of
flattened frames as the frame cost, then the mean per-joint L2 distance along the warping path.
Both sequences are expected in normalized units (shoulder-centred, shoulder width 1), so the
result is in shoulder widths. Only joints present in both frames count; the frame cost of a
pair is rescaled to all joints (``sqrt(J * mean over common joints of squared distance)``, which
equals the plain Euclidean distance when nothing is missing) so that frames with missing
landmarks are not preferred by the alignment.
"""
from __future__ import annotations

import numpy as np


def frame_costs(hyp: np.ndarray, ref: np.ndarray, hyp_mask: np.ndarray, ref_mask: np.ndarray) -> np.ndarray:
    """``(T1, T2)`` frame distances over the joints present in both frames, rescaled to all joints.

    Computed with matrix products: sum_j m_ij n_kj |h_ij - r_kj|^2 expands into three products.
    """
    h, r = hyp.astype(np.float64), ref.astype(np.float64)
    mh, mr = hyp_mask.astype(np.float64), ref_mask.astype(np.float64)  # (T, J)
    hh, rr = (h ** 2).sum(-1) * mh, (r ** 2).sum(-1) * mr  # (T, J)
    hm = (h * mh[..., None]).reshape(len(h), -1)  # (T1, J*3)
    rm = (r * mr[..., None]).reshape(len(r), -1)
    sq = hh @ mr.T + mh @ rr.T - 2.0 * hm @ rm.T  # (T1, T2)
    n = mh @ mr.T  # joints present in both
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.sqrt(np.clip(hyp.shape[1] * sq / n, 0.0, None))
    return np.where(n > 0, cost, np.nan)


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Optimal monotone alignment of a ``(T1, T2)`` cost matrix: ``(rows, cols, total cost)``.

    Steps (1, 0), (0, 1) and (1, 1); the first and the last frames are matched. The recursion is
    evaluated one anti-diagonal at a time, vectorized.
    """
    t1, t2 = cost.shape
    acc = np.full((t1 + 1, t2 + 1), np.inf)
    acc[0, 0] = 0.0
    for k in range(2, t1 + t2 + 1):  # k = i + j with 1-based i, j
        i = np.arange(max(1, k - t2), min(t1, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    # backtrack from the end
    i, j = t1, t2
    rows, cols = [i - 1], [j - 1]
    while i > 1 or j > 1:
        cands = ((acc[i - 1, j - 1], i - 1, j - 1), (acc[i - 1, j], i - 1, j), (acc[i, j - 1], i, j - 1))
        _, i, j = min(cands, key=lambda c: c[0])
        rows.append(i - 1)
        cols.append(j - 1)
    return np.array(rows[::-1]), np.array(cols[::-1]), float(acc[t1, t2])


def dtw_mje(hyp: np.ndarray, ref: np.ndarray, hyp_mask: np.ndarray | None = None,
            ref_mask: np.ndarray | None = None) -> float:
    """DTW mean joint error between ``hyp (T1, J, 3)`` and ``ref (T2, J, 3)``; masks ``(T, J)`` bool, True = present.

    Returns NaN when the sequences have no joint present in both at any aligned frame.
    """
    hyp, ref = np.asarray(hyp), np.asarray(ref)
    if hyp.ndim != 3 or ref.ndim != 3 or hyp.shape[1:] != ref.shape[1:]:
        raise ValueError(f"dtw_mje needs (T, J, 3) arrays of the same skeleton, got {hyp.shape} and {ref.shape}")
    if len(hyp) == 0 or len(ref) == 0:
        return float("nan")
    hm = np.ones(hyp.shape[:2], bool) if hyp_mask is None else np.asarray(hyp_mask, bool)
    rm = np.ones(ref.shape[:2], bool) if ref_mask is None else np.asarray(ref_mask, bool)
    cost = frame_costs(hyp, ref, hm, rm)
    finite = np.isfinite(cost)
    if not finite.any():
        return float("nan")
    cost = np.where(finite, cost, cost[finite].max())  # frames with nothing in common: the worst cost
    rows, cols, _ = dtw_path(cost)
    dd = np.linalg.norm(hyp[rows].astype(np.float64) - ref[cols].astype(np.float64), axis=-1)  # (P, J)
    both = hm[rows] & rm[cols]
    return float(dd[both].mean()) if both.any() else float("nan")
