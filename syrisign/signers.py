"""The signers of a lexicon, and turning every produced clip into the same signer.

:class:`SignerBook` knows, for each recording of a lexicon, who signed it (``meta.csv``'s signer, else
the recording's folder), its body (:class:`~syrisign.retarget.Body`, measured on the clip) and its
dominant hand; for each signer their body (from their clips', :func:`signer_body`) and their dominant hand (the
majority of their one-handed clips). A two-handed clip takes its signer's dominant hand: in a two-handed
letter the other hand may travel more (the Jordanian آ draws the madda with the left hand). A value
written in ``meta.csv`` (``dominant``, ``two_handed``) overrides the measured one. Measurements are
cached per recording under ``$SYRISIGN_HOME/cache/signers`` (a new recording is measured once).

The reference body is the lexicon's reference signer (``reference_signer`` in ``lexicon.json``, else the
signer with the most recordings), the mean body of all signers (``"mean"``), or a named signer.

:class:`OneSigner` prepares a producer's clips for stitching: one layout, normalized, at the output fps,
retargeted onto the reference body and signed with one dominant hand.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseError, PoseSequence, atomic_write_bytes
from syrisign.retarget import (Body, Handedness, combine_faces, combine_rests, dominant_hand, measure_body, mean_body,
                               retarget, steady_other_hand, with_dominant)
from syrisign.settings import get_settings

CACHE_VERSION = 4
CHOICES = ("reference", "mean", "none")
SAMPLE = 24  # recordings of a signer measured for their body and dominant hand


class SignerError(SyriSignError, ValueError):
    """An unknown signer or a body that cannot be used; the message lists the choices."""


def signer_body(bodies: list[Body], name: str) -> Body:
    """A signer's body from their clips' bodies, part by part: the 90th percentile of the clips' lengths (a
    bone seen foreshortened all through a clip, like a forearm held up to fingerspell, only looks shorter, so
    the longer clips tell its length; the same as the 95th percentile over all their frames, nearly); the
    head: the medians."""
    out = Body(name, recordings=len(bodies))

    def high(vals):
        vals = [v for v in vals if v is not None]
        return float(np.percentile(vals, 90)) if vals else None

    def med(vals):
        vals = [v for v in vals if v is not None]
        return float(np.median(vals)) if vals else None

    for part in ("upper_arm", "forearm"):
        for side in ("left", "right"):
            getattr(out, part)[side] = high([getattr(b, part)[side] for b in bodies])
    out.hand = [high([b.hand[k] for b in bodies]) for k in range(len(out.hand))]
    offsets = [b.head_offset for b in bodies if b.head_offset is not None]
    out.head_offset = tuple(float(v) for v in np.median(offsets, axis=0)) if offsets else None
    out.head_size = med([b.head_size for b in bodies])
    out.face_depth = med([b.face_depth for b in bodies])
    out.hand_depth = med([b.hand_depth for b in bodies])
    out.rest = {side: combine_rests([b.rest.get(side) for b in bodies]) for side in ("left", "right")}
    out.face = combine_faces([b.face for b in bodies])
    return out.plausible()


def signer_of(entry) -> str:
    """Who signed a lexicon entry: its ``signer`` field, else the recording's folder (one source, one signer)."""
    if entry.signer:
        return entry.signer
    parts = Path(entry.path).parts
    return parts[0] if len(parts) > 1 else (entry.signed_language or "unknown")


@dataclass
class ClipFacts:
    body: Body
    handedness: Handedness
    shape: list[float] | None = None  # the dominant hand's shape at its hold (right hand, wrist-centred, palm 1)


def hand_shape(seq: PoseSequence, dominant: str) -> list[float] | None:
    """The dominant hand at the steadiest frames of its hold, as a right hand: 21 (x, y) points about the
    wrist in palm lengths (wrist to middle knuckle); None when the hand is not tracked there."""
    from syrisign.spelling import find_hold

    s = seq if dominant == "right" else seq.mirror()
    if not s.skeleton.has("right_hand"):
        return None
    h = find_hold(s, "right", 5)
    sl = s.skeleton.slices["right_hand"]
    d, ok = s.data[h.start:h.stop, sl, :2], (s.confidence[h.start:h.stop, sl] > 0).all(1)
    if not ok.any():
        return None
    p = d[ok].mean(0) - d[ok].mean(0)[0]  # (21, 2) about the wrist
    palm = float(np.linalg.norm(p[9]))
    return (p / palm).reshape(-1).round(4).tolist() if palm > 1e-6 else None


class SignerBook:
    """Bodies and dominant hands of a lexicon's signers (see the module docstring)."""

    def __init__(self, lexicon, layout: str = "holistic543", progress: bool = False) -> None:
        self.lexicon, self.layout, self.progress = lexicon, layout, progress
        self._cache: dict | None = None  # entry id -> measured facts (JSON form)
        self._dirty = False
        self._bodies: dict[str, Body] = {}
        self._signers: dict[str, list] | None = None
        self._lock = threading.RLock()

    # -- measuring (once per recording, on first use) --------------------------------------------
    def _cache_path(self) -> Path:
        key = hashlib.sha1(f"{Path(self.lexicon.root).resolve()}|{self.layout}".encode()).hexdigest()[:16]
        return get_settings().cache / "signers" / f"{key}.json"

    @staticmethod
    def _stamp(entry) -> str:
        try:
            st = Path(entry.file).stat()
        except OSError:
            return ""
        return f"{st.st_size}:{st.st_mtime_ns}:{entry.start}:{entry.end}"

    def _load(self) -> dict:
        if self._cache is None:
            self._cache = {}
            path = self._cache_path()
            if path.is_file():
                try:
                    raw = json.loads(path.read_text(encoding="utf-8"))
                    if raw.get("version") == CACHE_VERSION:
                        self._cache = raw.get("entries", {})
                except (OSError, ValueError):
                    self._cache = {}
        return self._cache

    def fact(self, entry) -> ClipFacts | None:
        """The recording's body, dominant hand and (letters) hand shape: from the cache, else measured now."""
        with self._lock:
            cache = self._load()
            c = cache.get(entry.id)
            stamp = self._stamp(entry)
            if c is None or c.get("stamp") != stamp:
                try:
                    seq = self.lexicon.pose(entry).reduce(self.layout, missing="zero").normalize()
                except (PoseError, SyriSignError):
                    return None
                handed = dominant_hand(seq)
                shape = hand_shape(seq, handed.dominant) if entry.kind == "letter" else None
                c = {"stamp": stamp, "body": measure_body([seq], entry.id).to_dict(), "dominant": handed.dominant,
                     "two_handed": handed.two_handed, "travel": list(handed.travel), "shape": shape}
                cache[entry.id] = c
                self._dirty = True
            return ClipFacts(Body.from_dict(c["body"]), Handedness(c["dominant"], bool(c["two_handed"]),
                                                                   tuple(c["travel"])), c.get("shape"))

    def facts(self, entries=None) -> dict[str, ClipFacts]:
        """Facts of many recordings (all of the lexicon's by default), measured with a progress bar."""
        entries = list(self.lexicon.entries if entries is None else entries)
        todo = sum(1 for e in entries if e.id not in self._load())
        shown = entries
        if self.progress and todo >= 50:  # tqdm only when there is work to show (its import is 25 ms)
            from tqdm import tqdm

            shown = tqdm(entries, desc="lexicon: measuring signers' bodies and hands", unit="recording",
                         dynamic_ncols=True)
        out = {}
        for e in shown:
            f = self.fact(e)
            if f is not None:
                out[e.id] = f
        self.flush()
        return out

    def flush(self) -> None:
        """Write what was measured since the last time (atomically; a read-only home measures again)."""
        with self._lock:
            if not self._dirty:
                return
            try:
                atomic_write_bytes(self._cache_path(), json.dumps({"version": CACHE_VERSION, "entries": self._cache})
                                   .encode("utf-8"))
            except OSError:
                pass
            self._dirty = False

    def _sample(self, signer: str) -> list:
        """Up to :data:`SAMPLE` of a signer's recordings, spread over them (a body needs no more)."""
        es = sorted(self.signers().get(signer, []), key=lambda e: e.id)
        if len(es) <= SAMPLE:
            return es
        return [es[int(i)] for i in np.linspace(0, len(es) - 1, SAMPLE).round()]

    # -- signers ----------------------------------------------------------------------------------------
    def signers(self) -> dict[str, list]:
        if self._signers is None:
            out: dict[str, list] = {}
            for e in self.lexicon.entries:
                out.setdefault(signer_of(e), []).append(e)
            self._signers = out
        return self._signers

    def body(self, signer: str) -> Body:
        if signer not in self._bodies:
            self._bodies[signer] = self._measure_signer(signer)
        return self._bodies[signer]

    def _measure_signer(self, signer: str) -> Body:
        clips = [f.body for f in (self.fact(e) for e in self._sample(signer)) if f is not None]
        if not clips:
            raise SignerError(f"no measured recording of signer {signer!r}")
        return signer_body(clips, signer)

    def dominant_of_signer(self, signer: str) -> str:
        votes = {"left": 0.0, "right": 0.0}
        for e in self._sample(signer):
            f = self.fact(e)
            if f is not None and not f.handedness.two_handed:
                votes[f.handedness.dominant] += 1
        return "left" if votes["left"] > votes["right"] else "right"

    def handedness(self, entry) -> Handedness:
        """The entry's dominant hand: ``meta.csv`` first, else measured (two-handed: its signer's hand)."""
        if entry.dominant in ("left", "right") and entry.two_handed in ("0", "1"):  # stored in the lexicon
            return Handedness(entry.dominant, entry.two_handed == "1", (0.0, 0.0))
        f = self.fact(entry)
        measured = f.handedness if f is not None else Handedness("right", False, (0.0, 0.0))
        two = entry.two_handed == "1" if entry.two_handed in ("0", "1") else measured.two_handed
        if entry.dominant in ("left", "right"):
            return Handedness(entry.dominant, two, measured.travel)
        if two:
            return Handedness(self.dominant_of_signer(signer_of(entry)), True, measured.travel)
        return Handedness(measured.dominant, False, measured.travel)

    def closest_alphabets(self) -> dict[str, list[str]]:
        """For each fingerspelling alphabet, the others nearest first: the mean distance between the hand
        shapes of the letters both have (an alphabet sharing no letter with it comes last)."""
        alphabets = self.lexicon.alphabets()
        facts = self.facts([e for letters in alphabets.values() for e in letters.values()])
        shapes = {a: {k: np.asarray(facts[e.id].shape) for k, e in letters.items()
                      if e.id in facts and facts[e.id].shape is not None} for a, letters in alphabets.items()}
        out = {}
        for a in alphabets:
            dist = {}
            for b in alphabets:
                shared = sorted(set(shapes[a]) & set(shapes[b]))
                if b != a:
                    dist[b] = (float(np.mean([np.linalg.norm(shapes[a][k] - shapes[b][k]) for k in shared]))
                               if shared else np.inf)
            out[a] = sorted(dist, key=lambda b: (dist[b], list(alphabets).index(b)))
        return out

    def reference_name(self) -> str:
        info = Path(self.lexicon.root) / "lexicon.json"
        if info.is_file():
            try:
                name = json.loads(info.read_text(encoding="utf-8")).get("reference_signer")
                if name and name in self.signers():
                    return name
            except (OSError, ValueError):
                pass
        counts = {k: len(v) for k, v in self.signers().items()}
        return max(sorted(counts), key=lambda k: counts[k]) if counts else ""

    def target(self, choice: str = "reference") -> Body | None:
        """The body every clip is moved onto: ``reference`` (the lexicon's), ``mean``, a signer's name, or
        ``none`` (None: no retargeting)."""
        if choice == "none":
            return None
        names = self.signers()
        if choice == "mean":
            return mean_body([self.body(n) for n in sorted(names)], "mean")
        name = self.reference_name() if choice in ("reference", "", None) else choice
        if name not in names:
            raise SignerError(f"unknown signer {choice!r}; choose reference, mean, none or one of "
                              f"{', '.join(sorted(names))}")
        return self.body(name).symmetric()


class OneSigner:
    """Every clip onto one body and one dominant hand, ready to stitch.

    ``signer``: the target body (see :meth:`SignerBook.target`); ``hand``: the dominant hand of the output
    (``right``, or ``left`` for a left-handed signer); ``arms``: :func:`~syrisign.retarget.retarget`'s
    (``kept`` where the arms are drawn in the image plane later, once, on the stitched sequence). Clips of the lexicon use their signer's body and
    the entry's dominant hand; other clips (generated) are measured on themselves.
    """

    def __init__(self, book: SignerBook, signer: str = "reference", hand: str = "right", arms: str = "planar") -> None:
        if hand not in ("left", "right"):
            raise SignerError(f"dominant hand must be left or right, got {hand!r}")
        self.book, self.hand, self.signer, self.arms = book, hand, signer, arms
        self.body = book.target(signer)

    @property
    def name(self) -> str:
        if self.body is None:
            return "none (each recording as it was signed)"
        return self.body.name

    def prepare(self, clip: PoseSequence, layout, fps: float, entry=None) -> PoseSequence:
        c = clip.reduce(layout, missing="zero").normalize().resample(fps)
        if entry is not None and self.book.fact(entry) is not None:
            source = self.book.body(signer_of(entry))
            handed = self.book.handedness(entry)
        else:
            source, handed = measure_body([c]).plausible(), dominant_hand(c)
        if self.body is not None:
            c = retarget(c, source, self.body, arms=self.arms)
        c, mirrored = with_dominant(c, self.hand, handed.dominant)
        if not handed.two_handed:
            c = steady_other_hand(c, self.hand, body=self.body)
        c.meta = {**clip.meta, **c.meta, "normalized": True, "two_handed": handed.two_handed, "mirrored": mirrored,
                  "dominant": self.hand}
        return c


__all__ = ["CHOICES", "OneSigner", "SignerBook", "SignerError", "signer_body", "signer_of"]
