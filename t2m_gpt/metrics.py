"""DTW-MJE (METRICS.md, "Generated signs against real recordings"); numpy only, no model code.

``dtw_mje(hyp, ref)``: dynamic time warping of the two sequences with the Euclidean distance of
flattened frames as the frame cost, then the mean per-joint L2 distance along the warping path.
Both sequences are expected in normalized units (shoulder-centred, shoulder width 1), so the
result is in shoulder widths. Only joints present in both frames count; the frame cost of a
pair is rescaled to all joints (``sqrt(J * mean over common joints of squared distance)``, which
equals the plain Euclidean distance when nothing is missing) so that frames with missing
landmarks are not preferred by the alignment.

The definitions (frame costs, the DTW recursion) are :mod:`syrisign.evaluation.metrics`'; this module
adds :func:`dtw_mje_many`, which aligns many hypotheses against one reference in one vectorized pass
(the same values as ``syrisign.evaluation.metrics.dtw_mje``, checked in the tests).
"""
from __future__ import annotations

import numpy as np

from syrisign.evaluation.metrics import dtw_path, frame_costs  # noqa: F401  (dtw_path: the one-pair recursion)


def _batch_dtw(cost: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DTW of a batch of cost matrices ``(B, T1max, T2)`` whose rows past ``lengths[b]`` are padding.

    Returns warping paths as ``rows, cols (B, S)`` and a step mask ``(B, S)``; the same recursion,
    step order and tie-breaking as :func:`dtw_path`.
    """
    b, t1, t2 = cost.shape
    acc = np.full((b, t1 + 1, t2 + 1), np.inf)
    acc[:, 0, 0] = 0.0
    for k in range(2, t1 + t2 + 1):
        i = np.arange(max(1, k - t2), min(t1, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[:, i - 1, j - 1], acc[:, i - 1, j]), acc[:, i, j - 1])
        acc[:, i, j] = cost[:, i - 1, j - 1] + best
    # backtrack all paths together from (length, T2)
    bi = np.arange(b)
    i = lengths.astype(np.int64).copy()
    j = np.full(b, t2, dtype=np.int64)
    rows, cols, live = [i - 1], [j - 1], [np.ones(b, bool)]
    active = (i > 1) | (j > 1)
    while active.any():
        cand = np.stack([acc[bi, i - 1, j - 1], acc[bi, i - 1, j], acc[bi, i, j - 1]], axis=1)  # (B, 3)
        step = np.argmin(cand, axis=1)  # first minimum: diagonal, then up, then left
        ni = np.where(step == 2, i, i - 1)
        nj = np.where(step == 1, j, j - 1)
        i, j = np.where(active, ni, i), np.where(active, nj, j)
        rows.append(i - 1)
        cols.append(j - 1)
        live.append(active.copy())
        active = (i > 1) | (j > 1)
    return np.stack(rows[::-1], 1), np.stack(cols[::-1], 1), np.stack(live[::-1], 1)


def _align_many(hyps: list[np.ndarray], ref: np.ndarray, hyp_masks: list[np.ndarray | None] | None,
                ref_mask: np.ndarray | None):
    """Every non-empty hypothesis aligned to ``ref`` in one batched DTW: ``(keep, hp, hm, rm, rows, cols, live,
    usable)`` with ``keep`` the hypotheses' indices, ``hp, hm`` their padded poses and masks, ``rm`` the
    reference's mask, the paths as in :func:`_batch_dtw` and ``usable[n]`` False where hypothesis ``keep[n]``
    shares no joint with the reference; None when no hypothesis has frames."""
    hyps = [np.asarray(h) for h in hyps]
    for h in hyps:
        if h.ndim != 3 or h.shape[1:] != ref.shape[1:]:
            raise ValueError(f"dtw_mje needs (T, J, 3) arrays of the same skeleton, got {h.shape} and {ref.shape}")
    hyp_masks = hyp_masks if hyp_masks is not None else [None] * len(hyps)
    keep = [k for k, h in enumerate(hyps) if len(h)]
    if not keep:
        return None
    j_ = ref.shape[1]
    t1 = max(len(hyps[k]) for k in keep)
    hp = np.zeros((len(keep), t1, j_, 3))
    hm = np.zeros((len(keep), t1, j_), bool)
    lengths = np.array([len(hyps[k]) for k in keep])
    for n, k in enumerate(keep):
        hp[n, :lengths[n]] = hyps[k]
        hm[n, :lengths[n]] = True if hyp_masks[k] is None else np.asarray(hyp_masks[k], bool)
    rm = np.ones(ref.shape[:2], bool) if ref_mask is None else np.asarray(ref_mask, bool)
    cost = frame_costs((hp, hm), (ref, rm))  # (B, T1, T2)
    usable = np.ones(len(keep), bool)
    for n in range(len(keep)):
        real = cost[n, :lengths[n]]
        finite = np.isfinite(real)
        if not finite.any():
            usable[n] = False
            continue
        cost[n, :lengths[n]] = np.where(finite, real, real[finite].max())  # nothing in common: the worst cost
        cost[n, lengths[n]:] = np.inf  # padding rows are never on a path
    rows, cols, live = _batch_dtw(cost, lengths)
    return keep, hp, hm, rm, rows, cols, live, usable


def dtw_mje_many(hyps: list[np.ndarray], ref: np.ndarray, hyp_masks: list[np.ndarray | None] | None = None,
                 ref_mask: np.ndarray | None = None) -> np.ndarray:
    """:func:`dtw_mje` of several hypotheses ``(T_i, J, 3)`` against one reference, computed together."""
    ref = np.asarray(ref)
    if ref.ndim != 3:
        raise ValueError(f"dtw_mje needs (T, J, 3) arrays, got {ref.shape}")
    out = np.full(len(hyps), np.nan)
    if not len(hyps) or len(ref) == 0:
        return out
    aligned = _align_many(hyps, ref, hyp_masks, ref_mask)
    if aligned is None:
        return out
    keep, hp, hm, rm, rows, cols, live, usable = aligned
    bi = np.arange(len(keep))[:, None]
    diff = hp[bi, rows] - ref[cols].astype(np.float64)  # (B, S, J, 3)
    dd = np.sqrt(np.einsum("...k,...k->...", diff, diff))  # (B, S, J)
    both = hm[bi, rows] & rm[cols] & live[..., None]
    for n, k in enumerate(keep):
        if usable[n] and both[n].any():
            out[k] = float(dd[n][both[n]].mean())
    return out


def medoid(recs: list[tuple[np.ndarray, np.ndarray | None]]) -> int:
    """Position in ``recs`` (each ``(x (T, J, 3), mask (T, J) or None)``) of the recording with the least mean
    DTW-MJE to the others (the one whose movement the others are, on average, closest to); the first on ties and
    with fewer than three recordings. Each recording against the others in one batched DTW."""
    if not recs:
        raise ValueError("the medoid of no recording")
    mean = []
    for a, (x, m) in enumerate(recs):
        others = [b for b in range(len(recs)) if b != a]
        d = dtw_mje_many([recs[b][0] for b in others], x, [recs[b][1] for b in others], m)
        mean.append(float(np.nanmean(d)) if np.isfinite(d).any() else np.inf)
    return int(np.argmin(mean))


def dtw_average(seqs: list[np.ndarray], ref: np.ndarray) -> np.ndarray:
    """``(T, J, 3)``: each frame of ``ref`` replaced by the mean of the frames of ``seqs`` (every joint present)
    that DTW aligns to it, all sequences aligned together; one step of DTW barycentre averaging."""
    ref = np.asarray(ref, dtype=np.float64)
    aligned = _align_many(seqs, ref, None, None)
    if aligned is None:
        raise ValueError("nothing to average: every sequence is empty")
    keep, hp, _, _, rows, cols, live, _ = aligned
    total, count = np.zeros_like(ref), np.zeros(len(ref))
    for n in range(len(keep)):
        np.add.at(total, cols[n][live[n]], hp[n, rows[n][live[n]]])
        np.add.at(count, cols[n][live[n]], 1.0)
    return total / count[:, None, None]  # every frame of ref is on every path


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
    return float(dtw_mje_many([hyp], ref, [hyp_mask], ref_mask)[0])
