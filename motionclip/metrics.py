"""Pose distances of METRICS.md (numpy only): MPJPE and DTW-MJE.

Both take normalized poses (shoulder widths) and compare only the joints present in both
sequences. ``dtw_mje`` is :mod:`syrisign.evaluation.metrics`' with the input conventions of this package.
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


def dtw_mje(hyp: np.ndarray, ref: np.ndarray, hyp_mask=None, ref_mask=None) -> float:
    """DTW mean joint error (METRICS.md) of one hypothesis against one reference:
    :func:`syrisign.evaluation.metrics.dtw_mje` on ``hyp (T1, J, 3)`` / ``ref (T2, J, 3)`` (or flattened
    ``(T, J*3)``) with masks ``(T, J)`` (or ``(T,)`` per frame). Shoulder widths; NaN when the
    sequences share no joint.
    """
    from syrisign.evaluation.metrics import dtw_mje as _dtw_mje

    h, r = _as_frames(hyp), _as_frames(ref)
    if h.shape[1] != r.shape[1]:
        raise ValueError(f"joint counts differ: {h.shape[1]} vs {r.shape[1]}")
    if not len(h) or not len(r):
        raise ValueError("empty sequence")
    return _dtw_mje(h, r, _as_mask(hyp_mask, h), _as_mask(ref_mask, r))
