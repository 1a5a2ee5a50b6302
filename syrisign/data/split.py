"""Dataset splits (written into the manifest) and statistics.

Split modes, all with a fixed seed:

- ``random``: samples shuffled into train/val/test by fraction, stratified by class;
- ``signer``: whole signers held out for test (``--test-signers`` or a seeded choice), the
  validation share taken from the remaining signers' samples;
- ``class``: whole classes held out (zero-shot protocol, 20 % by default): their samples go
  to ``test`` and no text or pose of them is seen in training or validation.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict

import numpy as np

from syrisign.data.dataset import Dataset, DatasetError


def _take_val(ids_by_class: dict[str, list[int]], frac: float, rng: random.Random) -> set[int]:
    val = set()
    for idx in ids_by_class.values():
        idx = sorted(idx)
        rng.shuffle(idx)
        n = int(round(len(idx) * frac))
        if frac > 0 and n == 0 and len(idx) > 2:
            n = 1
        val.update(idx[:n])
    return val


def assign_split(ds: Dataset, mode: str = "random", seed: int = 0, test_frac: float = 0.2, val_frac: float = 0.1,
                 test_signers: list[str] | None = None, heldout_frac: float = 0.2) -> dict:
    """Write ``split`` (train/val/test) into every sample; returns the split's description."""
    rng = random.Random(seed)
    n = len(ds.samples)
    split = ["train"] * n
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(ds.samples):
        by_class[s.class_key].append(i)
    desc: dict = {"mode": mode, "seed": seed}
    if mode == "random":
        # stratify by class; classes too small to split (e.g. one recording per sign) form one pool
        strata = {c: idx for c, idx in by_class.items() if len(idx) >= 3}
        small = [i for c, idx in by_class.items() if len(idx) < 3 for i in idx]
        if small:
            strata["\0small"] = small
        by_class = strata
        test = _take_val(by_class, test_frac, rng)
        rest = {c: [i for i in idx if i not in test] for c, idx in by_class.items()}
        val = _take_val(rest, val_frac / max(1e-9, 1 - test_frac), rng)
        desc.update(test_frac=test_frac, val_frac=val_frac)
    elif mode == "signer":
        signers = sorted({s.signer for s in ds.samples})
        if len(signers) < 2:
            raise DatasetError("a signer-independent split needs at least two signers")
        if test_signers:
            unknown = set(test_signers) - set(signers)
            if unknown:
                raise DatasetError(f"unknown signer(s) {sorted(unknown)}; the dataset has {signers}")
            held = sorted(test_signers)
        else:
            k = max(1, int(round(len(signers) * test_frac)))
            held = sorted(rng.sample(signers, k))
        test = {i for i, s in enumerate(ds.samples) if s.signer in held}
        rest = {c: [i for i in idx if i not in test] for c, idx in by_class.items()}
        val = _take_val(rest, val_frac, rng)
        desc.update(test_signers=held, val_frac=val_frac)
    elif mode == "class":
        classes = sorted(by_class)
        k = max(1, int(round(len(classes) * heldout_frac)))
        held = sorted(rng.sample(classes, k))
        test = {i for c in held for i in by_class[c]}
        rest = {c: idx for c, idx in by_class.items() if c not in held}
        val = _take_val(rest, val_frac, rng)
        desc.update(heldout_classes=held, heldout_frac=heldout_frac, val_frac=val_frac)
    else:
        raise DatasetError(f"unknown split mode {mode!r}: use random, signer or class")
    for i in range(n):
        split[i] = "test" if i in test else "val" if i in val else "train"
    for s, sp in zip(ds.samples, split):
        s.split = sp
    desc["counts"] = dict(Counter(split))
    ds.meta["split"] = desc
    return desc


def dataset_info(ds: Dataset) -> dict:
    """Counts per class, signer, source and split; frames; missing-hand rates."""
    frames = np.array([s.frames for s in ds.samples]) if ds.samples else np.zeros(1)
    with_hands = [s for s in ds.samples if s.missing_hand_rate >= 0]
    info = {
        "samples": len(ds.samples),
        "classes": len({s.class_key for s in ds.samples}),
        "per_class": dict(sorted(Counter(f"{s.class_key} {s.label}".strip() for s in ds.samples).items())),
        "per_signer": dict(sorted(Counter(s.signer for s in ds.samples).items())),
        "per_source": dict(sorted(Counter(s.source for s in ds.samples).items())),
        "per_split": dict(sorted(Counter(s.split or "-" for s in ds.samples).items())),
        "skeletons": sorted({s.skeleton for s in ds.samples}),
        "frames": {"total": int(frames.sum()), "min": int(frames.min()), "median": float(np.median(frames)),
                   "max": int(frames.max())},
    }
    if with_hands:
        f = np.array([s.frames for s in with_hands], dtype=float)
        r = np.array([s.missing_hand_rate for s in with_hands])
        info["missing_hand_rate"] = round(float((r * f).sum() / f.sum()), 4)
        info["samples_without_any_hand"] = int((r >= 1.0).sum())
    if ds.meta.get("split"):
        info["split"] = {k: v for k, v in ds.meta["split"].items() if k != "counts"}
    if ds.meta.get("extraction"):
        info["extraction"] = ds.meta["extraction"]
    return info
