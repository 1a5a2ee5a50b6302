"""The evaluation split: which real recordings train the judge (and the models) and which are
held out, computed from the manifest by a fixed rule and recorded in full in the report.

``signer`` (default): whole signers are held out. KArSL words: the recognizer and every model
train on signer 01 (all 12 words) and are tested on signer 03, whose 8 words (0071-0078) all
occur in signer 01's recordings; ISL: signers apurve and rajat are held out, the other six
train. ``random``: 20 % of each class, seeded. In both, 10 % of each training class (seeded)
is kept apart for validation (early stopping); validation samples never enter the test set.
"""
from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field

from syrisign.data.dataset import Dataset, Sample
from syrisign.errors import SyriSignError

DEFAULT_TEST_SIGNERS = {"karsl-words": ["03"], "isl": ["apurve", "rajat"]}


class SplitError(SyriSignError):
    pass


@dataclass
class EvalSplit:
    dataset: str
    mode: str
    seed: int
    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    test_signers: list[str] = field(default_factory=list)
    train_signers: list[str] = field(default_factory=list)

    @property
    def train_classes(self) -> list[str]:
        return sorted({s.class_key for s in self.train + self.val})

    @property
    def test_classes(self) -> list[str]:
        return sorted({s.class_key for s in self.test})

    def describe(self, ids: bool = True) -> dict:
        """The split as recorded in the report: rule, counts, id lists and their SHA-256."""
        d = {"dataset": self.dataset, "mode": self.mode, "seed": self.seed,
             "train_signers": self.train_signers, "test_signers": self.test_signers,
             "counts": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
             "train_classes": self.train_classes, "test_classes": self.test_classes}
        for name in ("train", "val", "test"):
            lst = sorted(s.id for s in getattr(self, name))
            d[f"{name}_sha256"] = hashlib.sha256("\n".join(lst).encode()).hexdigest()
            if ids:
                d[f"{name}_ids"] = lst
        return d


def _take(samples: list[Sample], frac: float, rng: random.Random) -> tuple[list[Sample], list[Sample]]:
    """Per class, ``frac`` of the samples (at least one when a class has 3 or more)."""
    by_class: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_class[s.class_key].append(s)
    taken, rest = [], []
    for c in sorted(by_class):
        items = sorted(by_class[c], key=lambda s: s.id)
        rng.shuffle(items)
        n = int(round(len(items) * frac))
        if frac > 0 and n == 0 and len(items) >= 3:
            n = 1
        taken += items[:n]
        rest += items[n:]
    return taken, rest


def evaluation_split(ds: Dataset, name: str | None = None, mode: str = "signer",
                     test_signers: list[str] | None = None, seed: int = 0, val_frac: float = 0.1,
                     test_frac: float = 0.2) -> EvalSplit:
    """The train/val/test split of ``ds`` by the rule in the module docstring."""
    name = name or ds.root.name
    rng = random.Random(seed)
    samples = sorted(ds.samples, key=lambda s: s.id)
    if mode == "signer":
        signers = sorted({s.signer for s in samples})
        held = sorted(test_signers or DEFAULT_TEST_SIGNERS.get(name, []))
        if not held:
            if len(signers) < 2:
                raise SplitError(f"{name} has one signer ({signers}); use --split random")
            held = [signers[-1]]
        unknown = set(held) - set(signers)
        if unknown:
            raise SplitError(f"unknown test signer(s) {sorted(unknown)} in {name}; its signers are {signers}")
        pool = [s for s in samples if s.signer not in held]
        known = {s.class_key for s in pool}
        test = [s for s in samples if s.signer in held and s.class_key in known]
        val, train = _take(pool, val_frac, rng)
        train_signers = sorted({s.signer for s in pool})
    elif mode == "random":
        held, train_signers = [], sorted({s.signer for s in samples})
        test, pool = _take(samples, test_frac, rng)
        val, train = _take(pool, val_frac / max(1e-9, 1 - test_frac), rng)
    else:
        raise SplitError(f"unknown split {mode!r}: use signer or random")
    if not test or not train:
        raise SplitError(f"the {mode} split of {name} leaves no {'test' if not test else 'training'} samples")
    return EvalSplit(name, mode, seed, train, val, test, held, train_signers)
