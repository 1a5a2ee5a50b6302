"""The one place that picks a device: CUDA, then Apple MPS, then CPU."""
from __future__ import annotations

import os

import torch


def pick_device(preference: str | None = None) -> torch.device:
    """``preference``: "auto" (default, or $SYRISIGN_DEVICE), "cuda", "cuda:1", "mps" or "cpu"."""
    pref = (preference or os.environ.get("SYRISIGN_DEVICE") or "auto").lower()
    if pref != "auto":
        dev = torch.device(pref)
        if dev.type == "cuda" and not torch.cuda.is_available():
            from syrisign.errors import SyriSignError
            raise SyriSignError("CUDA was requested but no CUDA device is available; use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
