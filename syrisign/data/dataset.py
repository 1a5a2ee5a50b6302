"""A dataset directory: ``manifest.csv`` (one row per sample), ``dataset.json`` and ``poses/<id>.npz``.

The manifest is plain CSV so that it can be read and edited with any tool. Every write
is atomic (temporary file, then rename), so an interrupted command never leaves a
half-written manifest.
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence, atomic_write_bytes

MANIFEST = "manifest.csv"
META = "dataset.json"
ERRORS = "errors.log"
POSES = "poses"


class DatasetError(SyriSignError, RuntimeError):
    """A dataset directory that is missing or unusable; the message says what to do."""


@dataclass
class Sample:
    """One manifest row."""

    id: str
    label_ar: str = ""
    label_en: str = ""
    sign_id: str = ""
    signed_language: str = ""  # ISO 639-3 sign language code: sdl (KArSL), jos, ins, ase ...
    spoken_language: str = ""  # language of the labels' primary text: ar / en
    signer: str = ""
    repetition: str = ""
    source: str = ""
    split: str = ""
    frames: int = 0
    fps: float = 0.0
    file: str = ""  # relative to the dataset root
    skeleton: str = ""
    missing_hand_rate: float = -1.0  # share of frames with neither hand detected; -1 = no hands in layout

    @property
    def label(self) -> str:
        """The label used as class: Arabic when present, else English."""
        return self.label_ar or self.label_en

    @property
    def class_key(self) -> str:
        return self.sign_id or self.label


MANIFEST_FIELDS = [f.name for f in fields(Sample)]


def _coerce(row: dict) -> Sample:
    kw = {k: row.get(k, "") for k in MANIFEST_FIELDS}
    kw["frames"] = int(float(kw["frames"] or 0))
    kw["fps"] = float(kw["fps"] or 0.0)
    kw["missing_hand_rate"] = float(kw["missing_hand_rate"] if kw["missing_hand_rate"] not in ("", None) else -1)
    return Sample(**kw)


def write_manifest(path: str | os.PathLike, samples: Iterable[Sample]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    for s in samples:
        row = asdict(s)
        row["fps"] = f"{s.fps:.6g}"
        row["missing_hand_rate"] = f"{s.missing_hand_rate:.4f}"
        writer.writerow(row)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def read_manifest(path: str | os.PathLike) -> list[Sample]:
    with open(path, newline="", encoding="utf-8") as f:
        return [_coerce(row) for row in csv.DictReader(f)]


def write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


class Dataset:
    """A built dataset: samples from the manifest, poses loaded on demand."""

    def __init__(self, root: str | os.PathLike, samples: list[Sample] | None = None, meta: dict | None = None):
        self.root = Path(root)
        if samples is None:
            if not (self.root / MANIFEST).is_file():
                raise DatasetError(f"{self.root} is not a SyriSign dataset (no {MANIFEST}); "
                                   f"build one with `syrisign data build INPUT {self.root}`")
            samples = read_manifest(self.root / MANIFEST)
        if meta is None:
            meta_path = self.root / META
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        self.samples, self.meta = samples, meta
        self.is_subset = False

    @classmethod
    def open(cls, name_or_path: str | os.PathLike) -> Dataset:
        """A dataset by path, or by name under ``$SYRISIGN_HOME/datasets``."""
        from syrisign.settings import get_settings
        p = Path(name_or_path)
        if not (p / MANIFEST).is_file():
            named = get_settings().dataset(str(name_or_path))
            if (named / MANIFEST).is_file():
                p = named
        return cls(p)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def load(self, sample: Sample | int) -> PoseSequence:
        s = self.samples[sample] if isinstance(sample, int) else sample
        return PoseSequence.load(self.root / s.file)

    def subset(self, split: str | Iterable[str] | None = None, signers: Iterable[str] | None = None,
               classes: Iterable[str] | None = None) -> Dataset:
        """Samples of the given split(s), signers and class keys (None = all)."""
        splits = {split} if isinstance(split, str) else (set(split) if split is not None else None)
        signers = set(signers) if signers is not None else None
        classes = set(classes) if classes is not None else None
        keep = [s for s in self.samples
                if (splits is None or s.split in splits) and (signers is None or s.signer in signers)
                and (classes is None or s.class_key in classes)]
        sub = Dataset(self.root, keep, self.meta)
        sub.is_subset = True
        return sub

    def classes(self) -> list[str]:
        return sorted({s.class_key for s in self.samples})

    def signers(self) -> list[str]:
        return sorted({s.signer for s in self.samples})

    def label_of(self) -> dict[str, tuple[str, str]]:
        """class key -> (Arabic label, English label)."""
        return {s.class_key: (s.label_ar, s.label_en) for s in self.samples}

    def save(self) -> None:
        """Write the manifest and metadata back (atomically)."""
        if self.is_subset:
            raise DatasetError("refusing to overwrite the manifest with a subset of its samples")
        write_manifest(self.root / MANIFEST, self.samples)
        write_json(self.root / META, self.meta)
