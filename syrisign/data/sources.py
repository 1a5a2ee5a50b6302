"""Importers: each turns one corpus layout into a list of :class:`Item` (a manifest row plus how to get its poses).

Layouts recognized by :func:`detect_source` when ``--source`` is not given:

========================  ===================================================================
``pose-lexicon``          ``index.csv`` of .pose files (spoken-to-signed schema); the name
                          ``spoken-to-signed`` or ``jos`` means the Jordanian fingerspelling
                          lexicon installed by that package
``asl-app``               ``signs/<sign>.json`` (+ ``metadata.json``)
``isl-kinect``            ``RawDataset.tar.gz`` or ``<word>_<signer>_<rep>.txt`` Kinect files
``karsl-words``           ``<signer>/<train|test>/<sign id>/<sample>/*_c_<frame>.jpg``
``karsl-videos``          ``<chapter>_<signer>_<sign id>_(<time>)_c.mp4``
``syrisign``              ``<word>/<signer>/<repetition>.<video>`` (the SyriSign paper's layout)
``esharah``               the Saudi sign dictionary's ``words/`` and ``letters/`` folders of
                          ``<label>.<video or gif>`` clips, with ``synonyms.json``
``clips``                 one folder of ``<label>.<video or gif>`` clips, the label being the file name
``videos``                any folder of videos or frame folders, labelled by ``labels.csv``
                          (``file,label_ar,label_en,signer,...``) or by the parent folder name
========================  ===================================================================
"""
from __future__ import annotations

import csv
import functools
import json
import re
import tarfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.data.dataset import Sample
from syrisign.data.extract import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from syrisign.pose import PoseError, PoseSequence
from syrisign.skeletons import ASL_APP_108, KINECT_20
from syrisign.settings import get_settings


class SourceError(SyriSignError, ValueError):
    """An input that no importer understands, or that an importer cannot read."""


@dataclass
class Item:
    sample: Sample
    path: Path  # what MediaPipe reads (video or frame folder), or the file a loader reads
    loader: Callable[[], PoseSequence] | None = None  # None = run MediaPipe Holistic on ``path``

    @property
    def needs_extraction(self) -> bool:
        return self.loader is None


def _slug(text: str) -> str:
    s = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_")
    return s or "x"


# -- KArSL ------------------------------------------------------------------------------------
def find_karsl_labels(start: Path) -> Path | None:
    """KARSL-502_Labels.json near the input (its parents' ``labels/``) or under SYRISIGN_DATA."""
    for base in [start, *start.parents][:5]:
        for cand in (base / "labels" / "KARSL-502_Labels.json", base / "KARSL-502_Labels.json"):
            if cand.is_file():
                return cand
    cand = get_settings().data / "karsl" / "labels" / "KARSL-502_Labels.json"
    return cand if cand.is_file() else None


@functools.lru_cache(maxsize=4)
def karsl_labels(path: Path | None) -> dict[str, tuple[str, str]]:
    """Sign id ("0071") -> (Arabic, English); empty when no label file was found."""
    if path is None:
        return {}
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    return {f"{i + 1:04d}": (str(ar).strip(), str(en).strip())
            for i, (ar, en) in enumerate(zip(d["AR_WORDS"], d["EN_WORDS"]))}


_KARSL_SAMPLE = re.compile(r"^(\d+)_(\d+)_(\d{4})_\((.*)\)")


def _karsl_word_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*/[0-9][0-9][0-9][0-9]/*") if p.is_dir())


def karsl_words(root: Path) -> list[Item]:
    labels = karsl_labels(find_karsl_labels(root))
    reps: dict[tuple[str, str], int] = defaultdict(int)
    items = []
    for d in _karsl_word_dirs(root):
        sign_id, split, signer = d.parent.name, d.parent.parent.name, d.parent.parent.parent.name
        m = _KARSL_SAMPLE.match(d.name)
        stamp = m.group(4) if m else d.name
        reps[(signer, sign_id)] += 1
        ar, en = labels.get(sign_id, ("", ""))
        sid = f"karsl-{signer}-{sign_id}-{_slug(stamp)}"
        items.append(Item(Sample(sid, ar, en, sign_id, "sdl", "ar", signer, str(reps[(signer, sign_id)]),
                                 "karsl-words", "test" if split == "test" else "train"), d))
    return items


_KARSL_VIDEO = re.compile(r"^(\d+)_(\d+)_(\d{4})_\((.*)\)_c$")


def karsl_videos(root: Path) -> list[Item]:
    labels = karsl_labels(find_karsl_labels(root))
    items, reps = [], defaultdict(int)
    for f in sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
        m = _KARSL_VIDEO.match(f.stem)
        if not m:
            continue
        _, signer, sign_id, stamp = m.groups()
        reps[(signer, sign_id)] += 1
        ar, en = labels.get(sign_id, ("", ""))
        split = "test" if "test" in f.parent.name.lower() else "train"
        items.append(Item(Sample(f"karsl-{signer}-{sign_id}-{_slug(stamp)}", ar, en, sign_id, "sdl", "ar", signer,
                                 str(reps[(signer, sign_id)]), "karsl-videos", split), f))
    return items


# -- ISL Kinect -------------------------------------------------------------------------------
_ISL_NAME = re.compile(r"^(?P<word>[a-z]+)_+(?P<signer>[a-z]+)_(?P<rep>\d+)$", re.I)


def _kinect_to_sequence(rows: np.ndarray, fps: float) -> PoseSequence:
    pts = rows.reshape(len(rows), 20, 3).astype(np.float32)
    # Kinect camera space is x left, y up (metres); SyriSign is image-like: x right, y down.
    pts[..., 0] *= -1
    pts[..., 1] *= -1
    conf = (np.abs(pts).sum(-1) > 0).astype(np.float32)
    seq = PoseSequence(pts, conf, fps, KINECT_20, meta={"units": "metres"})
    # the corpus was filmed from three angles per signer: repetitions 1-3 from the front, 4-6 and 7-9 from
    # 35-60 and 50-75 degrees to the side. Turned to face the camera, a movement has one shape whichever
    # angle filmed it (before, two recordings of one sign by one signer differed more than two signs)
    try:
        return seq.face_camera()
    except PoseError:
        return seq


def _load_kinect_text(text: str, name: str, fps: float) -> PoseSequence:
    try:
        rows = np.array([[float(v) for v in line.split()] for line in text.splitlines() if line.strip()])
    except ValueError as e:
        raise SourceError(f"{name}: not a Kinect text file ({e})") from None
    if rows.ndim != 2 or rows.shape[1] != 60 or len(rows) == 0:
        raise SourceError(f"{name}: expected lines of 60 numbers (20 joints x 3), got shape {rows.shape}")
    return _kinect_to_sequence(rows, fps)


def _kinect_from_file(path: Path, fps: float) -> PoseSequence:
    return _load_kinect_text(path.read_text(), path.name, fps)


@functools.lru_cache(maxsize=1)
def _tar_texts(tar_path: Path) -> dict[str, bytes]:
    """All .txt members of a tar.gz, read in one pass (a gzip stream cannot seek)."""
    out = {}
    with tarfile.open(tar_path) as tf:
        for m in tf:
            if m.isfile() and m.name.endswith(".txt"):
                out[m.name] = tf.extractfile(m).read()
    return out


def _kinect_from_tar(tar_path: Path, member: str, fps: float) -> PoseSequence:
    return _load_kinect_text(_tar_texts(tar_path)[member].decode("utf-8", "replace"), member, fps)


# The version of a converter's output, per source, where it changed after datasets had been built: a
# dataset built by another version is converted again (``syrisign data build`` compares dataset.json's).
CONVERSIONS = {"isl-kinect": "facing-camera-1"}


def converted_by_another_version(meta: dict, source: str) -> bool:
    """Whether a dataset whose dataset.json is ``meta`` was converted from ``source`` by another converter."""
    return meta.get("conversion") != CONVERSIONS.get(source)


def isl_kinect(root: Path, fps: float = 30.0) -> list[Item]:
    """Kinect v1 recordings (fps not stated by the corpus; Kinect v1 records at 30)."""
    entries: list[tuple[str, Callable[[], PoseSequence], Path]] = []
    tars = [root] if root.is_file() else sorted(root.glob("*.tar.gz"))
    for tar_path in tars:
        for name in _tar_texts(tar_path):
            entries.append((Path(name).stem, functools.partial(_kinect_from_tar, tar_path, name, fps), tar_path))
    if not tars:
        for f in sorted(root.rglob("*.txt")):
            entries.append((f.stem, functools.partial(_kinect_from_file, f, fps), f))
    items = []
    for stem, loader, path in sorted(entries, key=lambda e: e[0]):
        m = _ISL_NAME.match(stem)
        if not m:
            continue
        word, signer, rep = m.group("word").lower(), m.group("signer").lower(), m.group("rep")
        label = {"thankyou": "thank you"}.get(word, word)
        items.append(Item(Sample(f"isl-{word}-{signer}-{rep}", "", label, word, "ins", "en", signer, rep,
                                 "isl-kinect", "train"), path, loader))
    return items


# -- ASL-App JSON -----------------------------------------------------------------------------
def _asl_app_load(path: Path) -> PoseSequence:
    d = json.loads(path.read_text(encoding="utf-8"))
    frames = d.get("frames") or []
    if not frames:
        raise SourceError(f"{path.name}: no frames")
    pts = np.zeros((len(frames), 108, 3), dtype=np.float32)
    conf = np.zeros((len(frames), 108), dtype=np.float32)
    for t, fr in enumerate(frames):
        for key, start, n in (("pose", 0, 33), ("face", 33, 33), ("left_hand", 66, 21), ("right_hand", 87, 21)):
            for j, p in enumerate((fr.get(key) or [])[:n]):  # a missing hand is null or 21 nulls
                if isinstance(p, (list, tuple)) and len(p) >= 3 and None not in p[:3]:
                    pts[t, start + j] = p[:3]
                    conf[t, start + j] = 1.0
    return PoseSequence(pts, conf, float(d.get("fps") or 30.0), ASL_APP_108, meta={"units": "normalized image"})


def asl_app(root: Path) -> list[Item]:
    signs = root / "signs" if (root / "signs").is_dir() else root
    items = []
    for f in sorted(signs.glob("*.json")):
        word = f.stem
        items.append(Item(Sample(f"aslapp-{_slug(word)}", "", word.replace("_", " "), word, "ase", "en", "aslapp", "1",
                                 "asl-app", "train"), f, functools.partial(_asl_app_load, f)))
    return items


# -- .pose lexicons (spoken-to-signed index.csv) ------------------------------------------------
def spoken_to_signed_lexicon() -> Path:
    """index.csv of the fingerspelling lexicon installed by the ``spoken-to-signed`` package."""
    try:
        import spoken_to_signed
    except ImportError:
        raise SourceError("the spoken-to-signed package is not installed (pip install spoken-to-signed)") from None
    path = Path(spoken_to_signed.__file__).parent / "assets" / "fingerspelling_lexicon" / "index.csv"
    if not path.is_file():
        raise SourceError(f"spoken-to-signed is installed but has no fingerspelling lexicon at {path}")
    return path


def _pose_slice(path: Path, start_ms: float, end_ms: float) -> PoseSequence:
    seq = PoseSequence.load(path)
    if end_ms > 0:
        a = int(round(start_ms / 1000 * seq.fps))
        b = int(round(end_ms / 1000 * seq.fps))
        if b > a:
            seq = seq[a:min(b, len(seq))]
    return seq


def pose_lexicon(index_csv: Path, signed_language: str | None = None) -> list[Item]:
    """Rows of a spoken-to-signed ``index.csv`` (path, spoken_language, signed_language, start, end, words, glosses, priority)."""
    base = index_csv.parent
    items, seen = [], defaultdict(int)
    with open(index_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            lang = row.get("signed_language", "")
            if signed_language and lang != signed_language:
                continue
            spoken = row.get("spoken_language", "")
            words = row.get("words", "") or row.get("glosses", "")
            path = base / row["path"]
            key = f"{lang}-{_slug(words)}"
            seen[key] += 1
            sid = f"lex-{key}" + (f"-{seen[key]}" if seen[key] > 1 else "")
            ar, en = (words, "") if spoken == "ar" else ("", words)
            start, end = float(row.get("start") or 0), float(row.get("end") or 0)
            items.append(Item(Sample(sid, ar, en, row.get("glosses", "") or words, lang, spoken, "lexicon",
                                     str(seen[key]), f"pose-lexicon:{index_csv.parent.name}", "train"),
                              path, functools.partial(_pose_slice, path, start, end)))
    return items


# -- the SyriSign paper's layout and generic video folders ------------------------------------------
def _is_media(p: Path) -> bool:
    return (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) or (
        p.is_dir() and any(c.suffix.lower() in IMAGE_SUFFIXES for c in p.iterdir()))


def _read_label_csv(root: Path) -> dict[str, dict]:
    for name in ("labels.csv", "manifest.csv"):
        f = root / name
        if f.is_file():
            with open(f, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            if rows and "file" not in rows[0] and "word" not in rows[0]:
                raise SourceError(f"{f}: needs a 'file' column (or 'word' for the SyriSign layout)")
            return {r.get("file") or r.get("word"): r for r in rows}
    return {}


def _arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def syrisign_layout(root: Path) -> list[Item]:
    """``<word>/<signer>/<repetition>.<video>``; an optional ``labels.csv`` (word, label_en, sign_id) adds English."""
    extra = _read_label_csv(root)
    items = []
    for word_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        word = word_dir.name
        info = extra.get(word, {})
        for signer_dir in sorted(p for p in word_dir.iterdir() if p.is_dir()):
            for rep in sorted(p for p in signer_dir.iterdir() if _is_media(p)):
                ar = info.get("label_ar") or (word if _arabic(word) else "")
                en = info.get("label_en") or ("" if _arabic(word) else word)
                items.append(Item(Sample(f"syrisign-{_slug(word)}-{_slug(signer_dir.name)}-{_slug(rep.stem)}", ar, en,
                                         info.get("sign_id") or word, info.get("signed_language") or "jos", "ar",
                                         signer_dir.name, rep.stem, "syrisign", ""), rep))
    return items


def video_folder(root: Path) -> list[Item]:
    """Videos or frame folders anywhere under ``root``, labelled by labels.csv or by their parent folder."""
    labels = _read_label_csv(root)
    media = []
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            media.append(p)
        elif p.is_dir() and any(c.suffix.lower() in IMAGE_SUFFIXES for c in p.iterdir()):
            media.append(p)
    items = []
    for p in media:
        rel = str(p.relative_to(root))
        row = labels.get(rel) or labels.get(p.name) or {}
        if labels and not row:
            continue  # a label file lists what belongs to the dataset
        label = row.get("label") or row.get("label_ar") or row.get("label_en") or (
            p.parent.name if p.parent != root else p.stem)
        ar = row.get("label_ar") or (label if _arabic(label) else "")
        en = row.get("label_en") or ("" if _arabic(label) else label)
        items.append(Item(Sample(f"vid-{_slug(rel.rsplit('.', 1)[0])}", ar, en, row.get("sign_id") or label,
                                 row.get("signed_language", ""), "ar" if ar else "en", row.get("signer", ""),
                                 row.get("repetition", ""), "videos", row.get("split", "")), p))
    return items


# -- sign dictionaries: a folder of <label>.<ext> clips ------------------------------------------
def clip_folder(root: Path, prefix: str = "clip", signed_language: str = "", signer: str = "",
                source: str = "clips") -> list[Item]:
    """Every video or GIF directly in ``root``, labelled by its file name (``مستشفى.mp4`` → مستشفى).

    ``signer`` names the person in every clip; empty means unknown, and each clip is then its own
    signer (``<prefix>-<label>``), so a body measured for retargeting is never a mix of people."""
    items = []
    for f in sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
        label = " ".join(f.stem.replace("_", " ").split())
        ar, en = (label, "") if _arabic(label) else ("", label)
        slug = _slug(label)
        items.append(Item(Sample(f"{prefix}-{slug}", ar, en, label, signed_language, "ar" if ar else "en",
                                 signer or f"{prefix}-{slug}", "1", source, "train"), f))
    return items


ESHARAH_PARTS = ("words", "letters")


def esharah(root: Path) -> list[Item]:
    """The Saudi dictionary clips (``$SYRISIGN_DATA/esharah``): ``words/`` (one recording per word, by at
    least two signers who are not named, so each clip is measured as its own signer) and ``letters/``
    (one signer), Saudi Arabic Sign Language (``sdl``, like KArSL)."""
    items = []
    for part in ESHARAH_PARTS:
        if (root / part).is_dir():
            items += clip_folder(root / part, f"esharah-{part}", "sdl",
                                 "esharah-letters" if part == "letters" else "", "esharah")
    return items


def esharah_synonyms(root: Path | None = None) -> dict[str, list[str]]:
    """``synonyms.json``: clip label -> the other written forms the dictionary signs with that clip;
    empty when there is none. A malformed file is an error naming it."""
    root = Path(root) if root is not None else get_settings().data / "esharah"
    f = root / "synonyms.json"
    if not f.is_file():
        return {}
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise SourceError(f"{f}: not a JSON file of synonyms ({e})") from None
    if not isinstance(d, dict):
        raise SourceError(f"{f}: expected {{\"<clip label>\": [\"<form>\", ...]}}")
    return {str(k): [str(v) for v in vs if str(v).strip()] for k, vs in d.items() if isinstance(vs, list)}


# -- detection --------------------------------------------------------------------------------
SOURCES: dict[str, Callable[..., list[Item]]] = {
    "pose-lexicon": lambda p, signed_language=None: pose_lexicon(p if p.is_file() else p / "index.csv",
                                                                 signed_language),
    "asl-app": asl_app,
    "isl-kinect": isl_kinect,
    "karsl-words": karsl_words,
    "karsl-videos": karsl_videos,
    "syrisign": syrisign_layout,
    "esharah": esharah,
    "clips": clip_folder,
    "videos": video_folder,
}


def resolve_input(name: str) -> tuple[Path, str | None]:
    """(path, signed-language filter). ``spoken-to-signed`` is the package's whole fingerspelling
    lexicon, ``jos`` its Jordanian part; anything else is a path."""
    if name == "spoken-to-signed":
        return spoken_to_signed_lexicon(), None
    if name in ("jos", "jos-fingerspelling"):
        return spoken_to_signed_lexicon(), "jos"
    return Path(name).expanduser(), None


def detect_source(path: Path) -> str:
    """Name of the importer for ``path``; raises SourceError saying which layouts exist."""
    if not path.exists():
        raise SourceError(f"input not found: {path}")
    if path.is_file():
        if path.name == "index.csv":
            return "pose-lexicon"
        if path.name.endswith(".tar.gz"):
            return "isl-kinect"
        raise SourceError(f"{path.name}: give a folder, an index.csv or a RawDataset.tar.gz")
    if (path / "index.csv").is_file():
        return "pose-lexicon"
    if (path / "signs").is_dir() and any((path / "signs").glob("*.json")):
        return "asl-app"
    if (path / "synonyms.json").is_file() and any((path / p).is_dir() for p in ESHARAH_PARTS):
        return "esharah"
    if any(path.glob("*.tar.gz")) or any(_ISL_NAME.match(p.stem) for p in list(path.glob("*.txt"))[:20]):
        return "isl-kinect"
    if _karsl_word_dirs(path):
        return "karsl-words"
    if any(_KARSL_VIDEO.match(p.stem) for p in path.rglob("*.mp4")):
        return "karsl-videos"
    subdirs = [p for p in path.iterdir() if p.is_dir()]
    if subdirs and all(any(q.is_dir() for q in d.iterdir()) for d in subdirs[:5]) and any(
            _is_media(r) for d in subdirs[:5] for s in d.iterdir() if s.is_dir() for r in s.iterdir()):
        return "syrisign"
    if not subdirs and not _read_label_csv(path) and any(p.suffix.lower() in VIDEO_SUFFIXES for p in path.iterdir()):
        return "clips"
    if any(p.suffix.lower() in VIDEO_SUFFIXES or p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*")):
        return "videos"
    raise SourceError(f"{path}: no known layout ({', '.join(SOURCES)}); pass --source")


def list_items(path: Path, source: str | None = None, signed_language: str | None = None
               ) -> tuple[str, list[Item]]:
    source = source or detect_source(path)
    if source not in SOURCES:
        raise SourceError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    if signed_language and source != "pose-lexicon":
        raise SourceError("a signed-language filter applies to .pose lexicons only")
    items = SOURCES[source](path, signed_language) if signed_language else SOURCES[source](path)
    if not items:
        raise SourceError(f"{path}: the {source} importer found no samples")
    ids = [it.sample.id for it in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise SourceError(f"two samples would share the id {dup!r}; rename one of the inputs")
    return source, items
