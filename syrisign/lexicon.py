"""Sign lexicons: a folder with an ``index.csv`` of ``.pose`` recordings, in the spoken-to-signed schema.

``index.csv`` columns (exactly, in this order): ``path, spoken_language, signed_language, start, end,
words, glosses, priority``; ``path`` relative to the index's folder, ``start``/``end`` in
milliseconds (``end`` 0 = the whole file), lower ``priority`` = better. Lexicons of the
spoken-to-signed ecosystem load unchanged, and ours load there. What that schema has no column for
(an English gloss, where a recording came from) lives beside it in ``meta.csv`` (``id, english,
source, signer``), which other tools ignore.

The default Arabic lexicon (:func:`build_default_lexicon`, ``$SYRISIGN_HOME/lexicons/default``):

- ``jos/``: the 38 Jordanian fingerspelling letters of the spoken-to-signed package, priority 0
  (Jordanian is Levantine, the closest documented relative of Syrian Sign Language);
- ``karsl-letters/``: KArSL's 39 letter signs (priority 1: used where jos has none, e.g. ة) and its
  31 number signs (0-10, 20-90, 100-900, 1000, 10^6, 10^7; priority 1, the only number signs);
- ``karsl-words/``: the KArSL words at hand, the ``recordings_per_word_signer`` recordings of each
  word and signer with the fewest frames without hands (priority 1, 2, ...), plus the correct
  spelling جمجمة as an alias of KArSL's label جمجة (skull);
- ``added/``: signs added with :meth:`Lexicon.add` / ``syrisign lexicon add`` (priority 0 by
  default, so a community's own recordings come first); a rebuild keeps them.

KArSL sign ids are kept in ``glosses`` as ``karsl:0077``.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import shutil
import sys
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence, atomic_write_bytes
from syrisign.settings import get_settings
from syrisign.text import LETTERS, match_key, surface_form

INDEX = "index.csv"
META = "meta.csv"
INFO = "lexicon.json"
INDEX_COLUMNS = ["path", "spoken_language", "signed_language", "start", "end", "words", "glosses", "priority"]
META_COLUMNS = ["id", "english", "source", "signer", "dominant", "two_handed", "form_of"]
DEFAULT_PREFERENCE = ("jos", "sdl")
KARSL_ALIASES = {"جمجة": ["جمجمة"]}  # KArSL label typo (sign 0072, skull) -> the correct spelling


class LexiconError(SyriSignError, RuntimeError):
    """A lexicon that is missing or unusable; the message says what to do."""


@functools.lru_cache(maxsize=65536)
def _kind(words: str, spoken_language: str) -> str:
    """letter | number | word (a pure function of the row's words, memoized: plans and the fuzzy matcher ask
    it of every entry)."""
    w = surface_form(words).strip()
    if re.fullmatch(r"\d+", w):
        return "number"
    if (w in LETTERS or words.strip() in LETTERS) and spoken_language in ("ar", ""):
        return "letter"
    return "word"


@dataclass
class LexiconEntry:
    """One row of ``index.csv`` plus its resolved file, a stable ``id`` and the ``meta.csv`` fields."""

    path: str
    spoken_language: str
    signed_language: str
    start: int
    end: int
    words: str
    glosses: str
    priority: int
    file: Path = field(default=Path())
    id: str = ""
    english: str = ""
    source: str = ""
    signer: str = ""
    dominant: str = ""  # "left" | "right": the hand that signs (measured when the lexicon is built; editable)
    two_handed: str = ""  # "1" | "0"
    form_of: str = ""  # another written form (synonym, inflection, spelling) of this recording's own word

    @property
    def is_form(self) -> bool:
        """The row is another written form of the recording's word (a synonym), not its own label."""
        return bool(self.form_of)

    @property
    def key(self) -> str:
        return match_key(self.words)

    @property
    def kind(self) -> str:
        """letter | number | word."""
        return _kind(self.words, self.spoken_language)

    @property
    def number(self) -> int | None:
        w = surface_form(self.words).strip()
        return int(w) if re.fullmatch(r"\d+", w) else None

    @property
    def alphabet(self) -> str:
        """Which fingerspelling alphabet a letter sign belongs to: its recording's folder (``jos``,
        ``karsl-letters``, ...), else its signed language."""
        parts = Path(self.path).parts
        return parts[0] if len(parts) > 1 else (self.signed_language or "letters")

    @property
    def letter(self) -> str:
        w = self.words.strip()  # "ئـ" (the seat form) keeps its tatweel: it is a letter sign of its own
        return w if w in LETTERS else surface_form(w).strip()

    def row(self) -> dict:
        return {c: getattr(self, c) for c in INDEX_COLUMNS}

    def to_dict(self) -> dict:
        return {"id": self.id, "words": self.words, "english": self.english, "signed_language": self.signed_language,
                "spoken_language": self.spoken_language, "glosses": self.glosses, "priority": self.priority,
                "path": self.path, "file": str(self.file), "start": self.start, "end": self.end,
                "source": self.source, "form_of": self.form_of}


def _int(v, default: int = 0) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return default


def _entry_id(path: str, seen: dict[str, int], words: str) -> str:
    base = Path(path).with_suffix("").as_posix()
    seen[base] += 1
    return base if seen[base] == 1 else f"{base}:{match_key(words).replace(' ', '_') or seen[base]}"


class Lexicon:
    """A loaded lexicon: entries, lookup by match key, letters, numbers and cached poses."""

    def __init__(self, root: Path, entries: list[LexiconEntry], prefer: tuple[str, ...] = DEFAULT_PREFERENCE,
                 missing_files: int = 0) -> None:
        self.root = Path(root)
        self.entries = entries
        self.prefer = tuple(prefer)
        self.missing_files = missing_files
        self._cache: OrderedDict[tuple, PoseSequence] = OrderedDict()
        self._lock = threading.Lock()  # the HTTP API may read poses from several threads
        self._reindex()

    # -- loading and saving ------------------------------------------------------------------
    @classmethod
    def load(cls, dir_or_index: str | os.PathLike, prefer: tuple[str, ...] = DEFAULT_PREFERENCE) -> Lexicon:
        """A lexicon folder or its ``index.csv``; rows whose file is missing are left out (counted)."""
        p = Path(dir_or_index).expanduser()
        index = p if p.suffix == ".csv" else p / INDEX
        if not index.is_file():
            raise LexiconError(f"no lexicon at {p} (no {INDEX}); build the default one with "
                               "`syrisign lexicon build` or pass a folder holding an index.csv")
        root = index.parent
        try:
            with open(index, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                missing_cols = [c for c in ("path", "words") if c not in (reader.fieldnames or [])]
                if missing_cols:
                    raise LexiconError(f"{index}: not a lexicon index (missing column(s) {', '.join(missing_cols)}; "
                                       f"expected {', '.join(INDEX_COLUMNS)})")
                rows = list(reader)
        except UnicodeDecodeError as e:
            raise LexiconError(f"{index}: not UTF-8 text ({e})") from None
        meta = _read_meta(root / META)
        entries, seen, missing, removed = [], defaultdict(int), 0, 0
        for r in rows:
            path = (r.get("path") or "").strip()
            if not path:
                continue
            if (meta.get(Path(path).with_suffix("").as_posix()) or {}).get("removed_at"):
                removed += 1  # taken out (a community sign): its files may be in the trash
                continue
            file = (root / path).resolve()
            if not file.is_file():
                missing += 1
                continue
            e = LexiconEntry(path, (r.get("spoken_language") or "").strip(), (r.get("signed_language") or "").strip(),
                             _int(r.get("start")), _int(r.get("end")), (r.get("words") or "").strip(),
                             (r.get("glosses") or "").strip(), _int(r.get("priority")), file)
            e.id = _entry_id(path, seen, e.words)
            m = meta.get(e.id, {})
            e.english, e.source, e.signer = m.get("english", ""), m.get("source", ""), m.get("signer", "")
            e.dominant, e.two_handed = (m.get("dominant") or "").strip(), (m.get("two_handed") or "").strip()
            e.form_of = (m.get("form_of") or "").strip()
            entries.append(e)
        if rows and not entries and removed < len(rows):
            raise LexiconError(f"{index}: none of its {len(rows)} recordings exist beside it")
        return cls(root, entries, prefer, missing)

    @classmethod
    def create(cls, root: str | os.PathLike) -> Lexicon:
        """An empty lexicon folder (an existing one is loaded instead)."""
        root = Path(root).expanduser()
        if (root / INDEX).is_file():
            return cls.load(root)
        root.mkdir(parents=True, exist_ok=True)
        lex = cls(root, [])
        lex.save()
        return lex

    def save(self) -> None:
        """Write ``index.csv`` and ``meta.csv`` atomically."""
        _write_csv(self.root / INDEX, INDEX_COLUMNS, [e.row() for e in self.entries])
        meta = [{c: getattr(e, c) for c in META_COLUMNS}
                for e in self.entries if e.english or e.source or e.signer or e.dominant or e.form_of]
        _write_csv(self.root / META, META_COLUMNS, meta)

    def _reindex(self) -> None:
        self._by_key: dict[str, list[LexiconEntry]] = defaultdict(list)
        order = {id(e): i for i, e in enumerate(self.entries)}
        for e in self.entries:
            if e.key:
                self._by_key[e.key].append(e)
        for k in self._by_key:
            self._by_key[k].sort(key=lambda e: (e.priority, self._pref(e.signed_language), order[id(e)]))
        self.max_phrase_words = max((len(k.split()) for k in self._by_key), default=1)

    def _pref(self, lang: str) -> int:
        return self.prefer.index(lang) if lang in self.prefer else len(self.prefer)

    # -- queries --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.root.name

    @property
    def signed_languages(self) -> list[str]:
        return sorted({e.signed_language for e in self.entries})

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Lexicon({str(self.root)!r}, {len(self.entries)} entries)"

    def lookup(self, key: str, kind: str | None = None) -> list[LexiconEntry]:
        """Entries whose words have this match key, best first (priority, then signed-language preference).

        ``key`` is passed through :func:`~syrisign.text.match_key`, so raw Arabic works too;
        ``kind`` ("word", "letter", "number") filters.
        """
        found = self._by_key.get(key) or self._by_key.get(match_key(key), [])
        return [e for e in found if kind is None or e.kind == kind]

    def letters(self) -> dict[str, list[LexiconEntry]]:
        """Letter signs (Arabic letters, ال, لا, ئـ) by letter, best first."""
        out: dict[str, list[LexiconEntry]] = {}
        for entries in self._by_key.values():
            for e in entries:
                if e.kind == "letter":
                    out.setdefault(e.letter, []).append(e)
        for v in out.values():
            v.sort(key=lambda e: (e.priority, self._pref(e.signed_language)))
        return out

    def alphabets(self) -> dict[str, dict[str, LexiconEntry]]:
        """Fingerspelling alphabets, preferred first (best priority, then signed-language preference, then
        size): alphabet -> letter -> its best sign in that alphabet."""
        out: dict[str, dict[str, LexiconEntry]] = {}
        for letter, entries in self.letters().items():
            for e in entries:  # best first: the first of each alphabet wins
                out.setdefault(e.alphabet, {}).setdefault(letter, e)

        def rank(name):
            es = list(out[name].values())
            return (min(e.priority for e in es), min(self._pref(e.signed_language) for e in es), -len(es), name)

        return {name: out[name] for name in sorted(out, key=rank)}

    def numbers(self) -> dict[int, list[LexiconEntry]]:
        """Number signs by value, best first."""
        out: dict[int, list[LexiconEntry]] = {}
        for entries in self._by_key.values():
            for e in entries:
                if e.kind == "number":
                    out.setdefault(e.number, []).append(e)
        return out

    def search(self, text: str) -> list[LexiconEntry]:
        """Entries whose words' key or English contains ``text`` (case-insensitive)."""
        k, low = match_key(text), text.lower().strip()
        return [e for e in self.entries if (k and k in e.key) or (low and low in e.english.lower())]

    def pose(self, entry: LexiconEntry) -> PoseSequence:
        """The entry's recording, cut to ``start``/``end`` (milliseconds; end 0 = whole file); cached and shared,
        so treat it as read-only."""
        ck = (str(entry.file), entry.start, entry.end)
        with self._lock:
            if ck in self._cache:
                self._cache.move_to_end(ck)
                return self._cache[ck]
        seq = PoseSequence.load(entry.file)
        if entry.end > 0 or entry.start > 0:
            frame_ms = 1000.0 / seq.fps
            a = int(entry.start // frame_ms)
            b = int(-(-entry.end // frame_ms)) if entry.end > 0 else len(seq)
            if b > a:
                seq = seq[a:min(b, len(seq))]
        seq.meta = dict(seq.meta, lexicon_entry=entry.id, words=entry.words)
        with self._lock:
            self._cache[ck] = seq
            while len(self._cache) > 512:
                self._cache.popitem(last=False)
        return seq

    # -- growing --------------------------------------------------------------------------------
    def add(self, word: str, pose: PoseSequence, english: str = "", signed_language: str = "",
            spoken_language: str = "ar", glosses: str = "", priority: int = 0, source: str = "added",
            signer: str = "", folder: str = "added", dominant: str = "") -> LexiconEntry:
        """Save ``pose`` as ``<folder>/<word>-<n>.pose`` and append its row to ``index.csv`` (atomically).
        ``dominant`` (left/right) is the hand that signs; by default it is measured on the recording."""
        word = " ".join(word.split())
        if not word:
            raise LexiconError("the word to add is empty")
        if len(pose) == 0:
            raise LexiconError("the recording has no frames")
        slug = re.sub(r"[^\w\-]+", "_", surface_form(word), flags=re.UNICODE).strip("_") or "sign"
        n = 1
        while (self.root / folder / f"{slug}-{n}.pose").exists():
            n += 1
        rel = f"{folder}/{slug}-{n}.pose"
        pose.save(self.root / rel)  # the file first: a crash before the index is written leaves no dangling row
        seen = defaultdict(int)
        for e in self.entries:
            seen[Path(e.path).with_suffix("").as_posix()] += 1
        from syrisign.retarget import dominant_hand
        handed = dominant_hand(pose)
        if dominant not in ("", "left", "right"):
            raise LexiconError(f"the dominant hand is left or right, not {dominant!r}")
        entry = LexiconEntry(rel, spoken_language, signed_language, 0, 0, word, glosses or word, int(priority),
                             (self.root / rel).resolve(), english=english, source=source, signer=signer,
                             dominant=dominant or handed.dominant, two_handed="1" if handed.two_handed else "0")
        entry.id = _entry_id(rel, seen, word)
        self.entries.append(entry)
        try:
            self.save()
        except BaseException:
            self.entries.pop()
            raise
        self._reindex()
        return entry


def _read_meta(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["id"]: r for r in csv.DictReader(f) if r.get("id")}


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


# -- the default Arabic lexicon -------------------------------------------------------------------
PARTS = ("jos", "karsl-letters", "karsl-words", "esharah-letters", "esharah-words")


@dataclass
class DefaultLexiconConfig:
    parts: tuple[str, ...] = PARTS
    recordings_per_word_signer: int = 2  # kept in the lexicon
    candidates_per_word_signer: int = 3  # extracted to choose them from, when no built karsl-words dataset exists
    workers: int | None = None  # MediaPipe worker processes (default: 2 or the CPU count)


def default_lexicon_dir() -> Path:
    return get_settings().lexicons / "default"


def _say(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def _check_inputs(parts: tuple[str, ...]) -> None:
    """Raise one clear error naming every input that is missing."""
    s = get_settings()
    problems = []
    for part in parts:
        if part not in PARTS:
            raise LexiconError(f"unknown lexicon part {part!r}; choose from {', '.join(PARTS)}")
    if "jos" in parts:
        try:
            from syrisign.data.sources import spoken_to_signed_lexicon
            spoken_to_signed_lexicon()
        except SyriSignError as e:
            problems.append(f"Jordanian letters: {e}")
    needs = {"karsl-letters": ("karsl-letters", "karsl/letters_digits_mp4", "KArSL letter and number clips"),
             "karsl-words": ("karsl-words", "karsl/word_frames", "KArSL word frames"),
             "esharah-letters": ("esharah", "esharah/letters", "Saudi dictionary letter clips"),
             "esharah-words": ("esharah", "esharah/words", "Saudi dictionary word clips")}
    for part, (dataset, rel, what) in needs.items():
        if part in parts and not (s.dataset(dataset) / "manifest.csv").is_file() and not (s.data / rel).is_dir():
            problems.append(f"{what} not found at {s.data / rel}")
    if problems:
        hint = ("set SYRISIGN_DATA to the folder holding the shared recordings"
                if any("KArSL" in p or "Saudi" in p for p in problems) else "pip install spoken-to-signed")
        raise LexiconError("cannot build the default lexicon: " + "; ".join(problems) + f" ({hint}; "
                           "`syrisign lexicon build --parts jos` builds the Jordanian letters alone)")


def _complete_dataset(path: Path) -> bool:
    return (path / "manifest.csv").is_file() and not (path / ".building").exists()


def _jos_entries(out: Path) -> list[LexiconEntry]:
    from syrisign.data.sources import spoken_to_signed_lexicon

    index = spoken_to_signed_lexicon()
    src = Lexicon.load(index)
    entries = []
    for e in src.entries:
        if e.signed_language != "jos":
            continue
        rel = f"jos/{Path(e.path).name}"
        if not (out / rel).is_file():
            atomic_write_bytes(out / rel, e.file.read_bytes())
        entries.append(LexiconEntry(rel, e.spoken_language, "jos", e.start, e.end, e.words, e.glosses, 0,
                                    source="spoken-to-signed fingerspelling lexicon (Jordanian)"))
    return entries


def _tidy_english(s: str) -> str:
    return " ".join(s.split()).lower()


def _save_pose(ds, sample, dst: Path, replace: bool = False) -> None:
    """Write a sample's poses into the lexicon; a file already there is kept unless ``replace`` (a file named
    by a rank can hold another recording after the ranking changed)."""
    if replace or not dst.is_file():
        ds.load(sample).save(dst)


def _karsl_letter_entries(out: Path, config: DefaultLexiconConfig, progress: bool) -> list[LexiconEntry]:
    from tqdm import tqdm

    from syrisign.data import ensure_dataset

    ds = ensure_dataset("karsl-letters", progress=progress, workers=config.workers)
    entries = []
    for s in tqdm(ds.samples, desc="lexicon: KArSL letters and numbers", unit="sign", disable=not progress,
                  dynamic_ncols=True):
        if not s.label_ar:
            continue
        rel = f"karsl-letters/{s.sign_id}-{s.signer}.pose"
        try:
            _save_pose(ds, s, out / rel)
        except SyriSignError as e:
            _say(progress, f"skipped {s.id}: {e}")
            continue
        entries.append(LexiconEntry(rel, "ar", "sdl", 0, 0, s.label_ar, f"karsl:{s.sign_id}", 1,
                                    english=_tidy_english(s.label_en), source=f"KArSL {s.id}", signer=s.signer))
    return entries


def _karsl_word_dataset(out: Path, config: DefaultLexiconConfig, progress: bool):
    """The built karsl-words dataset if complete; otherwise a small one of a few candidates per word and signer."""
    from syrisign.data.build import build_dataset
    from syrisign.data.dataset import Dataset
    from syrisign.data.sources import karsl_words

    full = get_settings().dataset("karsl-words")
    if _complete_dataset(full):
        _say(progress, f"lexicon: reusing the built dataset {full}")
        return Dataset(full)
    root = get_settings().data / "karsl" / "word_frames"
    items = karsl_words(root)
    picked, count = [], defaultdict(int)
    for it in items:
        k = (it.sample.sign_id, it.sample.signer)
        if count[k] < config.candidates_per_word_signer:
            count[k] += 1
            picked.append(it)
    # A tree of links with only the picked samples, in the same layout, so the ordinary importer and
    # resumable builder do the work and the sample ids are those of the full dataset.
    work = out / ".work"
    src = work / "karsl-words-src"
    for it in picked:
        rel = it.path.relative_to(root)
        link = src / rel
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            try:
                link.symlink_to(it.path, target_is_directory=True)
            except OSError:  # no symlinks (some file systems): copy the 18 frames
                shutil.copytree(it.path, link)
    _say(progress, f"lexicon: extracting {len(picked)} KArSL word recordings "
                   f"({config.candidates_per_word_signer} per word and signer) with MediaPipe")
    build_dataset(src, work / "karsl-words", source="karsl-words", workers=config.workers, progress=progress)
    return Dataset(work / "karsl-words")


def _typical_first(ds, samples: list) -> list:
    """The recordings of one word, most typical first (the medoid: least mean distance to the others, on
    shoulder-normalized poses resampled to a fixed length; :func:`retrieval.producer.typicality_order`).
    Recordings with neither hand in most frames go last."""
    from retrieval.producer import typicality_order
    from syrisign.ml.features import FeatureConfig, prepare

    good = [s for s in samples if 0 <= s.missing_hand_rate < 0.5] or list(samples)
    rest = [s for s in samples if s not in good]
    cfg = FeatureConfig()
    arrays = []
    for s in good:
        x, m = prepare(ds.load(s), cfg)
        arrays.append((x[..., :2], m))
    return [good[i] for i in typicality_order(arrays)] + rest


def _karsl_word_entries(out: Path, config: DefaultLexiconConfig, progress: bool) -> list[LexiconEntry]:
    """Each KArSL word's recordings ranked by typicality across both signers; the
    ``recordings_per_word_signer`` most typical of each signer are kept, priority 1 = the medoid."""
    from tqdm import tqdm

    ds = _karsl_word_dataset(out, config, progress)
    groups: dict[str, list] = defaultdict(list)
    for s in ds.samples:
        if s.label_ar:
            groups[s.sign_id].append(s)
    chosen = []
    for sign_id, samples in tqdm(sorted(groups.items()), desc="lexicon: KArSL words, the most typical recordings",
                                 unit="word", disable=not progress, dynamic_ncols=True):
        per_signer: dict[str, int] = defaultdict(int)
        kept = []
        for s in _typical_first(ds, samples):
            if per_signer[s.signer] < config.recordings_per_word_signer:
                kept.append((per_signer[s.signer], s))
                per_signer[s.signer] += 1
        chosen += [(rank, nth, s) for rank, (nth, s) in enumerate(kept)]
    entries = []
    for rank, nth, s in chosen:
        rel = f"karsl-words/{s.sign_id}-{s.signer}-{nth + 1}.pose"
        try:
            _save_pose(ds, s, out / rel, replace=True)
        except SyriSignError as e:
            _say(progress, f"skipped {s.id}: {e}")
            continue
        for words in [s.label_ar] + KARSL_ALIASES.get(s.label_ar, []):
            alias = words != s.label_ar
            note = f" (alias: KArSL label {s.label_ar!r} misspelt)" if alias else ""
            entries.append(LexiconEntry(rel, "ar", "sdl", 0, 0, words, f"karsl:{s.sign_id}", 1 + rank,
                                        english=_tidy_english(s.label_en), source=f"KArSL {s.id}{note}",
                                        signer=s.signer, form_of=s.label_ar if alias else ""))
    return entries


def _esharah_entries(out: Path, config: DefaultLexiconConfig, progress: bool) -> list[LexiconEntry]:
    """The Saudi dictionary's letters (a third alphabet, priority 1 like KArSL's) and words (priority 1),
    each word also under the other written forms the dictionary signs with it (``synonyms.json``,
    priority 2 so that a clip's own label wins), with an English gloss (:mod:`syrisign.vocabulary`)."""
    from tqdm import tqdm

    from syrisign.data import ensure_dataset
    from syrisign.data.sources import esharah_synonyms
    from syrisign.vocabulary import DROPPED_FORMS, ESHARAH_ENGLISH, SENSES

    ds = ensure_dataset("esharah", progress=progress, workers=config.workers)
    synonyms = {match_key(k): v for k, v in esharah_synonyms(get_settings().data / "esharah").items()}
    entries = []
    for s in tqdm(ds.samples, desc="lexicon: Saudi dictionary words and letters", unit="sign", disable=not progress,
                  dynamic_ncols=True):
        part = "esharah-letters" if s.id.startswith("esharah-letters") else "esharah-words"
        if part not in config.parts or not s.label_ar:
            continue
        rel = f"{part}/{s.id[len(part) + 1:]}.pose"
        try:
            _save_pose(ds, s, out / rel)
        except SyriSignError as e:
            _say(progress, f"skipped {s.id}: {e}")
            continue
        label = s.label_ar
        common = dict(english=ESHARAH_ENGLISH.get(label, ""), source=f"Saudi sign dictionary {s.id}",
                      signer=s.signer)
        if part == "esharah-letters":
            entries.append(LexiconEntry(rel, "ar", "sdl", 0, 0, label, f"esharah:{label}", 1, **common))
            continue
        own = SENSES.get(label, [label])
        dropped = {match_key(f) for f in DROPPED_FORMS.get(label, ())}
        forms = [f for f in synonyms.get(match_key(label), []) if match_key(f) not in dropped]
        if label not in own:
            common["source"] += f" (label {label!r}: in the news it means something else)"
        seen_keys = set()
        for i, words in enumerate(own + forms):
            k = match_key(words)
            if not k or k in seen_keys:
                continue
            seen_keys.add(k)
            entries.append(LexiconEntry(rel, "ar", "sdl", 0, 0, words, f"esharah:{label}", 1 if i < len(own) else 2,
                                        form_of="" if i < len(own) else label, **common))
    return entries


def _store_hands(lex: Lexicon, progress: bool) -> str:
    """Measure every recording's dominant hand into ``meta.csv`` (a value already there is kept) and name the
    reference signer (the one with the most recordings): issue "one signer", :mod:`syrisign.signers`."""
    from syrisign.signers import SignerBook

    book = SignerBook(lex, progress=progress)
    for e in lex.entries:
        if e.dominant not in ("left", "right"):
            h = book.handedness(e)
            e.dominant, e.two_handed = h.dominant, "1" if h.two_handed else "0"
    return book.reference_name()


def build_default_lexicon(output: str | os.PathLike | None = None, progress: bool = True,
                          config: DefaultLexiconConfig | None = None) -> Path:
    """Build (or finish building) the default Arabic lexicon; returns its folder.

    Resumable: .pose files already written are kept, the KArSL datasets resume; entries added
    with ``lexicon add`` (``added/``) survive a rebuild. ``index.csv`` is written last, atomically.
    """
    config = config or DefaultLexiconConfig()
    out = Path(output).expanduser() if output else default_lexicon_dir()
    _check_inputs(tuple(config.parts))
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / ".building").touch()
    kept = []
    if (out / INDEX).is_file():
        try:
            kept = [e for e in Lexicon.load(out).entries if e.path.startswith("added/")]
        except LexiconError:
            kept = []
    entries: list[LexiconEntry] = []
    if "jos" in config.parts:
        _say(progress, "lexicon: Jordanian fingerspelling letters (spoken-to-signed)")
        entries += _jos_entries(out)
    if "karsl-letters" in config.parts:
        entries += _karsl_letter_entries(out, config, progress)
    if "karsl-words" in config.parts:
        entries += _karsl_word_entries(out, config, progress)
    if "esharah-letters" in config.parts or "esharah-words" in config.parts:
        entries += _esharah_entries(out, config, progress)
    seen = defaultdict(int)
    for e in entries + kept:
        e.file = (out / e.path).resolve()
        e.id = _entry_id(e.path, seen, e.words)
    lex = Lexicon(out, entries + kept)
    reference = _store_hands(lex, progress)
    lex.save()
    counts = defaultdict(int)
    for e in lex.entries:
        counts[f"{e.signed_language}:{e.kind}"] += 1
    info = {"name": "default", "complete": True, "parts": list(config.parts),
            "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - t0, 1), "entries": len(lex.entries), "counts": dict(counts),
            "config": asdict(config), "reference_signer": reference}
    atomic_write_bytes(out / INFO, json.dumps(info, ensure_ascii=False, indent=2).encode("utf-8"))
    (out / ".building").unlink(missing_ok=True)
    shutil.rmtree(out / ".work" / "karsl-words-src", ignore_errors=True)
    _say(progress, f"lexicon: {len(lex.entries)} entries in {out} ({info['seconds']} s)")
    return out


def ensure_default_lexicon(progress: bool = True) -> Lexicon:
    """The default lexicon, built on first use (a few minutes: MediaPipe runs on the KArSL clips)."""
    out = default_lexicon_dir()
    if (out / INDEX).is_file() and not (out / ".building").exists() and (out / INFO).is_file():
        return Lexicon.load(out)
    _say(progress, f"building the default lexicon in {out} (first use; resumes if interrupted)")
    build_default_lexicon(out, progress=progress)
    return Lexicon.load(out)


def load_lexicon(name_or_path: str | os.PathLike | None = None, progress: bool = True) -> Lexicon:
    """``None`` or "default": the default lexicon (built on first use) with the community's signs
    (:mod:`syrisign.community`); "jos": the package's Jordanian letters; else a folder or index.csv."""
    if name_or_path in (None, "", "default"):
        from syrisign.community import with_community
        return with_community(ensure_default_lexicon(progress))
    if name_or_path in ("jos", "spoken-to-signed"):
        from syrisign.data.sources import spoken_to_signed_lexicon
        return Lexicon.load(spoken_to_signed_lexicon())
    p = Path(name_or_path).expanduser()
    if not p.exists() and (get_settings().lexicons / str(name_or_path)).exists():
        p = get_settings().lexicons / str(name_or_path)
    return Lexicon.load(p)


__all__ = ["LexiconEntry", "Lexicon", "LexiconError", "INDEX_COLUMNS", "DefaultLexiconConfig", "PARTS",
           "build_default_lexicon", "ensure_default_lexicon", "default_lexicon_dir", "load_lexicon",
           "KARSL_ALIASES"]
