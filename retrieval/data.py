"""Training and evaluation data of the retrieval model: datasets, protocols, classes, batches.

One model serves one *layout family*: every MediaPipe dataset (KArSL words, KArSL letters and
numbers, Jordanian fingerspelling, ASL-App) is reduced to the SyriSign 193 layout with
``missing="zero"`` (joints a source lacks are masked), the Kinect ISL set keeps its own 20 joints.
Several datasets train together; each sample keeps its language tags (the signed language, ISO
639-3, and the spoken language of its label), which the text tower uses.

A class is ``"<signed language>:<class key>"`` (``"sdl:0077"``, ``"jos:ب"``, ``"ins:rain"``), so the
same Arabic letter signed in two sign languages stays two classes.

Protocols (``--protocol``):

- ``holdout`` (default except ISL): 15 % of every (class, signer) group with at least 3 recordings is
  held out for test and 15 % of the rest for validation; smaller groups (one recording per letter)
  all train. Every word is trained, from every signer that has it: the product model's protocol;
- ``split``: the corpus' own ``split`` column (KArSL: words 0079-0082 and signer 01's 0077-0078 are
  only in its test split, so they are never trained): train rows train (a stratified share is held out for
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


def _stratified_holdout(samples: list[Sample], fraction: float, rng: np.random.Generator, by_signer: bool = False
                        ) -> tuple[list[Sample], list[Sample]]:
    """Hold out ``fraction`` of each class (or class and signer) with at least 3 samples (smaller groups
    all train)."""
    by_cls: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_cls[class_key(s) + ("|" + s.signer if by_signer else "")].append(s)
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
                test_fraction: float = 0.15,
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
        protocol = "signer" if names == ["isl"] else "holdout"
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
        if protocol == "holdout":
            rest, test = _stratified_holdout(samples, test_fraction, rng, by_signer=True)
            train, val = _stratified_holdout(rest, val_fraction, rng, by_signer=True)
        elif protocol == "split":
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
            raise RetrievalDataError(f"unknown protocol {protocol!r}; use holdout, split, signer, all, "
                                     "karsl-01to03, karsl-03to01")
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


def text_vocabulary(n: int, seed: int = 0) -> list[str]:
    """Up to ``n`` Arabic and English glossary terms (JSL glossary in ``$SYRISIGN_DATA``; [] without it):
    the texts of the text tower's geometry term."""
    from retrieval.index import _glossary_rows, _terms
    rows = _glossary_rows()
    terms: list[str] = []
    for r in rows:
        for key in ("arabic", "english"):
            t = _terms(r.get(key, ""))[:1]
            if t and len(t[0].split()) <= 3:
                terms.append(t[0])
    terms = sorted(set(terms))
    rng = np.random.default_rng(seed)
    return [terms[i] for i in rng.permutation(len(terms))[:n]] if terms else []


# -- torch side -------------------------------------------------------------------------------
def rotate3d(x: np.ndarray, m: np.ndarray, yaw_deg: float, pitch_deg: float, rng: np.random.Generator
             ) -> np.ndarray:
    """Rotate about the vertical axis (a signer turned towards or away from the camera) and the
    horizontal one (a camera higher or lower, tilted)."""
    if not yaw_deg and not pitch_deg:
        return x
    a = np.deg2rad(rng.uniform(-yaw_deg, yaw_deg))
    b = np.deg2rad(rng.uniform(-pitch_deg, pitch_deg))
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    out = x @ (rx @ ry).T
    return np.where(m[..., None], out, 0.0).astype(np.float32)


def limb_tree(layout: str) -> list[tuple[int, int]]:
    """``(parent, child)`` limbs in breadth-first order from the shoulders (each component's first
    joint when it is not connected to them), for scaling limbs along the chain."""
    from collections import deque

    from syrisign.skeletons import get_skeleton
    sk = get_skeleton(layout)
    adj: dict[int, list[int]] = defaultdict(list)
    for a, b in sk.limbs:
        adj[a].append(b)
        adj[b].append(a)
    seen: set[int] = set()
    order: list[tuple[int, int]] = []
    roots = list(sk.shoulder_idx) + [sk.slices[c.name].start for c in sk.components]
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        q = deque([root])
        while q:
            a = q.popleft()
            for b in adj[a]:
                if b not in seen:
                    seen.add(b)
                    order.append((a, b))
                    q.append(b)
    return order


def hand_attachments(layout: str) -> list[tuple[int, slice]]:
    """``(body wrist, hand joints)``: a hand component moves with the body's wrist."""
    from syrisign.skeletons import LEFT_HAND, RIGHT_HAND, get_skeleton
    sk = get_skeleton(layout)
    if not (sk.has(LEFT_HAND) and sk.has(RIGHT_HAND)):
        return []
    lw, rw = sk.wrist_idx
    return [(lw, sk.slices[LEFT_HAND]), (rw, sk.slices[RIGHT_HAND])]


def scale_limbs(x: np.ndarray, m: np.ndarray, tree: list[tuple[int, int]], amount: float,
                rng: np.random.Generator, attach: list[tuple[int, slice]] = ()) -> np.ndarray:
    """Every limb lengthened or shortened by a random factor in ``[1 - amount, 1 + amount]``, children
    moving with their parents (another body: longer forearms, shorter fingers)."""
    if not amount or not tree:
        return x
    out = x.copy()
    f = rng.uniform(1 - amount, 1 + amount, size=len(tree)).astype(np.float32)
    for k, (a, b) in enumerate(tree):
        ok = (m[:, a] & m[:, b])[:, None]
        out[:, b] = np.where(ok, out[:, a] + f[k] * (x[:, b] - x[:, a]), out[:, b])
    for w, hand in attach:  # the hand follows the moved body wrist
        shift = np.where(m[:, w, None], out[:, w] - x[:, w], 0.0)  # (T, 3)
        out[:, hand] = out[:, hand] + shift[:, None]
    return np.where(m[..., None], out, 0.0).astype(np.float32)


def arm_joints(layout: str) -> tuple[list[int], list[int]]:
    """``(elbows, hands)``: the layout's elbow joints, and the joints that move with the wrists (wrists,
    pose hand points, hand landmarks)."""
    from syrisign.skeletons import LEFT_HAND, RIGHT_HAND, get_skeleton
    sk = get_skeleton(layout)
    names = list(sk.index)
    elbows = [i for i, n in enumerate(names) if "ELBOW" in n.upper()]
    hand_words = ("WRIST", "PINKY", "INDEX", "THUMB", "HANDL", "HANDR")
    hands = [i for i, n in enumerate(names) if any(w in n.upper() for w in hand_words)]
    for comp in (LEFT_HAND, RIGHT_HAND):
        if sk.has(comp):
            hands += list(range(sk.slices[comp].start, sk.slices[comp].stop))
    return elbows, sorted(set(hands))


def shift_signing_space(x: np.ndarray, m: np.ndarray, arms: tuple[list[int], list[int]], amount: float,
                        rng: np.random.Generator) -> np.ndarray:
    """Both hands moved by one random offset in the image plane (up to ``amount`` shoulder widths up or
    down, half that sideways), the elbows by half of it: another signer signs higher, lower or wider."""
    elbows, hands = arms
    if not amount or not hands:
        return x
    d = np.array([rng.uniform(-amount / 2, amount / 2), rng.uniform(-amount, amount), 0.0], dtype=np.float32)
    out = x.copy()
    out[:, hands] += d
    out[:, elbows] += d / 2
    return np.where(m[..., None], out, 0.0).astype(np.float32)


class TrainSet:
    """Map-style dataset of augmented items: ``(x (T, J, 3), mask (T, J), class index)``."""

    def __init__(self, items: list[Item], class_index: dict[str, int], layout: str,
                 aug: AugmentConfig | None, yaw_deg: float = 0.0, seed: int = 0, max_frames: int = 0,
                 crop: float = 0.0, pitch_deg: float = 0.0, limb_scale: float = 0.0, jitter: float = 0.0,
                 arm_shift: float = 0.0):
        self.items, self.class_index, self.layout, self.max_frames = items, class_index, layout, max_frames
        self.crop = crop
        self.aug, self.yaw_deg, self.pitch_deg = aug, yaw_deg, pitch_deg
        self.limb_scale, self.jitter = limb_scale, jitter
        self.tree = limb_tree(layout) if limb_scale else []
        self.attach = hand_attachments(layout) if limb_scale else []
        self.arm_shift = arm_shift
        self.arms = arm_joints(layout) if arm_shift else ([], [])
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        it = self.items[i]
        x, m = it.x, it.mask
        if self.aug is not None:
            if self.crop and len(x) > 8:  # the sign starts and ends a little earlier or later
                a = int(self.rng.integers(0, int(self.crop * len(x)) + 1))
                b = int(self.rng.integers(0, int(self.crop * len(x)) + 1))
                x, m = x[a:len(x) - b], m[a:len(x) - b]
            x, m = augment(x, m, self.layout, self.aug, self.rng)
            x = rotate3d(x, m, self.yaw_deg, self.pitch_deg, self.rng)
            x = scale_limbs(x, m, self.tree, self.limb_scale, self.rng, self.attach)
            x = shift_signing_space(x, m, self.arms, self.arm_shift, self.rng)
            if self.jitter:
                x = np.where(m[..., None], x + self.rng.normal(0, self.jitter, x.shape), 0.0).astype(np.float32)
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
