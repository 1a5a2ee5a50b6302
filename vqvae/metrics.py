"""Codebook statistics (METRICS.md, reconstruction section); numpy only."""
from __future__ import annotations

import numpy as np


def code_counts(indices, codebook_size: int) -> np.ndarray:
    """How often each code occurs among ``indices`` (any shape; negative values are padding)."""
    idx = np.asarray(indices).reshape(-1)
    idx = idx[idx >= 0]
    return np.bincount(idx, minlength=codebook_size)[:codebook_size]


def perplexity(counts: np.ndarray) -> float:
    """exp(entropy) of the code usage distribution (natural log)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def usage(counts: np.ndarray) -> float:
    """Share of codes used at least once."""
    counts = np.asarray(counts)
    return float((counts > 0).mean()) if counts.size else 0.0
