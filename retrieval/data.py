"""Training and evaluation data of the retrieval model: datasets, protocols, classes, batches.

One model serves one *layout family*: every MediaPipe dataset (KArSL words, KArSL letters and
numbers, Jordanian fingerspelling, ASL-App) is reduced to the SyriSign 193 layout with
``missing="zero"`` (joints a source lacks are masked), the Kinect ISL set keeps its own 20 joints.
Several datasets train together; each sample keeps its language tags (the signed language, ISO
639-3, and the spoken language of its label), which the text tower uses.

A class is ``"<signed language>:<class key>"`` (``"sdl:0077"``, ``"jos:ب"``, ``"ins:rain"``), so the
same Arabic letter signed in two sign languages stays two classes.

Protocols (``--protocol``):

- ``split``: the corpus' own ``split`` column: train rows train (a stratified share is held out for
  validation), test rows test;
- ``signer``: signer-independent: ``test_signers`` test, ``val_signers`` (or a share of the rest)
  validate, the rest train; ISL's default holds out apurve and rajat (the lead's smoke test);
- ``karsl-01to03`` / ``karsl-03to01``: train on one KArSL signer, test on the other, on the words both
  signers have (0071-0078);
- ``all``: every sample trains (a share validates); no test set.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from syrisign.data import Dataset, Sample
from syrisign.errors import SyriSignError
from syrisign.ml.features import AugmentConfig, FeatureConfig, augment, prepare

# language tags: ISO 639-3 of the spoken language of a label (SignCLIP writes "<eng> <ase> house")
SPOKEN3 = {"ar": "ara", "en": "eng", "de": "deu", "fr": "fra"}

# named protocols: dataset defaults and signer choices
ISL_TEST_SIGNERS = ("apurve", "rajat")
KARSL_SHARED = tuple(f"{i:04d}" for i in range(71, 79))

# product default: the Arabic lexicon's recordings
PRODUCT_DATASETS = ("karsl-words", "karsl-letters", "jos")


class RetrievalDataError(SyriSignError):
    pass


@dataclass
class ClassInfo:
    key: str  # "sdl:0077"
    label_ar: str
    label_en: str
    signed_language: str  # ISO 639-3 sign language: sdl, jos, ins, ase
    spoken_language: str  # "ar" / "en": language of the primary label

    @property
    def label(self) -> str:
        return self.label_ar or self.label_en

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Item:
    x: np.ndarray  # (T, J, 3) normalized (shoulder-centred, width 1), 0 where missing
    mask: np.ndarray  # (T, J) bool
    cls: str  # ClassInfo.key
    sample: Sample
    dataset: str


@dataclass
class Splits:
    train: list[Item]
    val: list[Item]
    test: list[Item]
    classes: dict[str, ClassInfo]  # every class seen in any split
    protocol: str
    datasets: list[str]
    notes: list[str] = field(default_factory=list)

    def class_keys(self, items: list[Item]) -> list[str]:
        return sorted({it.cls for it in items})

    def describe(self) -> str:
        def part(name, items):
            return f"{name} {len(items)} samples / {len(self.class_keys(items))} classes / " \
                   f"signers {','.join(sorted({i.sample.signer for i in items})) or '-'}"
        return "; ".join([part("train", self.train), part("val", self.val), part("test", self.test)])


def class_key(sample: Sample) -> str:
    return f"{sample.signed_language or 'sgn'}:{sample.class_key}"


def class_info(sample: Sample) -> ClassInfo:
    return ClassInfo(class_key(sample), sample.label_ar, sample.label_en, sample.signed_language or "sgn",
                     sample.spoken_language or ("ar" if sample.label_ar else "en"))


def fill_english(classes: dict[str, ClassInfo]) -> list[str]:
    """Give classes without an English label one from another class with the same Arabic label
    (Jordanian letters borrow KArSL's letter names); returns the labels still missing."""
    by_ar = {c.label_ar: c.label_en for c in classes.values() if c.label_ar and c.label_en}
    missing = []
    for c in classes.values():
        if not c.label_en:
            c.label_en = by_ar.get(c.label_ar, "")
            if not c.label_en:
                missing.append(c.key)
    return missing


def open_dataset(name: str) -> Dataset:
    from syrisign.data import ensure_dataset
    return ensure_dataset(name)


def load_items(ds: Dataset, samples: list[Sample], feat: FeatureConfig, dataset_name: str,
               progress: bool = False) -> list[Item]:
    """Prepare each sample; one unreadable sample is logged and skipped."""
    from tqdm import tqdm
    out = []
    for s in tqdm(samples, desc=f"loading {dataset_name}", disable=not progress, leave=False):
        try:
            x, m = prepare(ds.load(s), feat)
        except Exception as e:  # noqa: BLE001 - a bad file must not end the run
            print(f"retrieval: skipping {s.id}: {e}")
            continue
        if len(x) == 0:
            continue
        out.append(Item(x, m, class_key(s), s, dataset_name))
    return out


def _stratified_holdout(samples: list[Sample], fraction: float, rng: np.random.Generator
                        ) -> tuple[list[Sample], list[Sample]]:
    """Hold out ``fraction`` of each class with at least 3 samples (classes with fewer all train)."""
    by_cls: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_cls[class_key(s)].append(s)
    train, val = [], []
    for key in sorted(by_cls):
        group = by_cls[key]
        if len(group) < 3 or fraction <= 0:
            train += group
            continue
        idx = rng.permutation(len(group))
        n_val = max(1, int(round(fraction * len(group))))
        val += [group[i] for i in idx[:n_val]]
        train += [group[i] for i in idx[n_val:]]
    return train, val


def make_splits(datasets: list[str] | str, protocol: str = "auto", feat: FeatureConfig | None = None,
                test_signers: list[str] | None = None, val_signers: list[str] | None = None,
                train_signers: list[str] | None = None, val_fraction: float = 0.15, seed: int = 0,
                classes: list[str] | None = None, max_per_class: int = 0, progress: bool = False,
                opened: dict[str, Dataset] | None = None) -> Splits:
    """Load the datasets and cut them by ``protocol`` (see the module docstring).

    ``classes`` restricts to these class keys (``"sdl:0071"`` or the bare ``"0071"``);
    ``max_per_class`` caps samples per class and split (tiny runs, tests); ``opened`` gives
    already opened datasets by name (tests use tiny datasets in a temporary directory).
    """
    names = [d for d in (datasets.split(",") if isinstance(datasets, str) else datasets) if d]
    if not names:
        raise RetrievalDataError("no dataset given; e.g. --dataset karsl-words or --dataset isl")
    feat = feat or FeatureConfig()
    rng = np.random.default_rng(seed)
    if protocol == "auto":
        protocol = "signer" if names == ["isl"] else "split"
    notes: list[str] = []
    if protocol in ("karsl-01to03", "karsl-03to01"):
        if "karsl-words" not in names:
            raise RetrievalDataError(f"protocol {protocol} needs --dataset karsl-words")
        a, b = ("01", "03") if protocol == "karsl-01to03" else ("03", "01")
        train_signers, test_signers = [a], [b]
        classes = list(classes or KARSL_SHARED)
        notes.append(f"train signer {a}, test signer {b}, words both signers have: {', '.join(classes)}")
    if protocol == "signer" and not test_signers:
        if names == ["isl"]:
            test_signers = list(ISL_TEST_SIGNERS)
        else:
            raise RetrievalDataError("protocol 'signer' needs --test-signers")
    want = None if not classes else {c.split(":")[-1] for c in classes}

    tr_s: list[tuple[str, Dataset, Sample]] = []
    va_s: list[tuple[str, Dataset, Sample]] = []
    te_s: list[tuple[str, Dataset, Sample]] = []
    for name in names:
        ds = (opened or {}).get(name) or open_dataset(name)
        samples = [s for s in ds.samples if want is None or s.class_key in want]
        if max_per_class:
            count: Counter = Counter()
            kept = []
            for s in samples:
                k = (class_key(s), s.split, s.signer)
                if count[k] < max_per_class:
                    count[k] += 1
                    kept.append(s)
            samples = kept
        if protocol == "split":
            train = [s for s in samples if s.split != "test"]
            test = [s for s in samples if s.split == "test"]
            train, val = _stratified_holdout(train, val_fraction, rng)
        elif protocol in ("signer", "karsl-01to03", "karsl-03to01"):
            tsig = set(test_signers or [])
            vsig = set(val_signers or [])
            pool = [s for s in samples if s.signer not in tsig and s.signer not in vsig
                    and (not train_signers or s.signer in train_signers)]
            test = [s for s in samples if s.signer in tsig]
            if vsig:
                val = [s for s in samples if s.signer in vsig]
                train = pool
            else:
                train, val = _stratified_holdout(pool, val_fraction, rng)
            # datasets without the test signers (letters, fingerspelling) only train
        elif protocol == "all":
            train, val = _stratified_holdout(samples, val_fraction, rng)
            test = []
        else:
            raise RetrievalDataError(f"unknown protocol {protocol!r}; use split, signer, all, karsl-01to03, "
                                     "karsl-03to01")
        tr_s += [(name, ds, s) for s in train]
        va_s += [(name, ds, s) for s in val]
        te_s += [(name, ds, s) for s in test]

    def load(parts):
        out: list[Item] = []
        by_ds: dict[str, tuple[Dataset, list[Sample]]] = {}
        for name, ds, s in parts:
            by_ds.setdefault(name, (ds, []))[1].append(s)
        for name, (ds, ss) in by_ds.items():
            out += load_items(ds, ss, feat, name, progress)
        return out

    train_items, val_items, test_items = load(tr_s), load(va_s), load(te_s)
    if not train_items:
        raise RetrievalDataError(f"protocol {protocol} left no training samples in {', '.join(names)}")
    cls: dict[str, ClassInfo] = {}
    for it in train_items + val_items + test_items:
        cls.setdefault(it.cls, class_info(it.sample))
    missing = fill_english(cls)
    if missing:
        notes.append(f"{len(missing)} classes have no English label (e.g. {missing[0]})")
    return Splits(train_items, val_items, test_items, cls, protocol, names, notes)


# -- torch side -------------------------------------------------------------------------------
def yaw(x: np.ndarray, m: np.ndarray, deg: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate about the vertical axis (a signer turned towards or away from the camera)."""
    if not deg:
        return x
    th = np.deg2rad(rng.uniform(-deg, deg))
    c, s = np.cos(th), np.sin(th)
    out = x.copy()
    out[..., 0], out[..., 2] = c * x[..., 0] + s * x[..., 2], -s * x[..., 0] + c * x[..., 2]
    return np.where(m[..., None], out, 0.0).astype(np.float32)


class TrainSet:
    """Map-style dataset of augmented items: ``(x (T, J, 3), mask (T, J), class index)``."""

    def __init__(self, items: list[Item], class_index: dict[str, int], layout: str,
                 aug: AugmentConfig | None, yaw_deg: float = 0.0, seed: int = 0, max_frames: int = 0):
        self.items, self.class_index, self.layout, self.max_frames = items, class_index, layout, max_frames
        self.aug, self.yaw_deg = aug, yaw_deg
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        it = self.items[i]
        x, m = it.x, it.mask
        if self.aug is not None:
            x, m = augment(x, m, self.layout, self.aug, self.rng)
            x = yaw(x, m, self.yaw_deg, self.rng)
        if self.max_frames and len(x) > self.max_frames:  # a slowed-down copy: subsample evenly
            keep = np.round(np.linspace(0, len(x) - 1, self.max_frames)).astype(int)
            x, m = x[keep], m[keep]
        return x, m, self.class_index[it.cls]


def collate_items(batch):
    """``(x (B, T, J, 3), joint mask (B, T, J), frame mask (B, T), labels (B,))``."""
    import torch

    from syrisign.ml.features import collate
    x, jm, fm = collate([(b[0], b[1]) for b in batch])
    return x, jm, fm, torch.tensor([b[2] for b in batch], dtype=torch.long)
