"""The ``retrieval`` producer and the fuzzy matcher of the translate path.

- :class:`RetrievalProducer` plays each sign unit's recorded lexicon clip (``unit.entry``); it needs no
  model, so translation works before any training.
- :func:`make_fuzzy_matcher` is the learned half: for a word with no exact lexicon entry it embeds the
  word with the trained text tower, finds the nearest lexicon *word* sign (by its label's embedding)
  and accepts it only above the threshold calibrated for that checkpoint and lexicon (precision ≥ 0.9
  on held-out glossary synonyms against non-lexicon words; :func:`retrieval.index.calibrate`). Below
  it the plan fingerspells the word.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.producers import SignUnit


class RetrievalProducer:
    """``produce(units) -> list[PoseSequence]``: the recordings of the units' lexicon entries."""

    name = "retrieval"

    def __init__(self, lexicon=None, **_options) -> None:
        self._lexicon = lexicon
        self._lock = threading.Lock()

    @property
    def lexicon(self):
        with self._lock:
            if self._lexicon is None or isinstance(self._lexicon, (str, os.PathLike)):
                from syrisign.lexicon import load_lexicon
                self._lexicon = load_lexicon(self._lexicon)
            return self._lexicon

    def produce(self, units: list[SignUnit]) -> list[PoseSequence]:
        out = []
        for u in units:
            entry = u.entry
            if entry is None:
                found = self.lexicon.lookup(u.text_ar)
                if not found:
                    raise SyriSignError(f"no recorded sign for {u.text_ar!r} in the lexicon {self.lexicon.root}; "
                                        "the retrieval method plays recordings only")
                entry = found[0]
            seq = self.lexicon.pose(entry)
            meta = dict(seq.meta, method="retrieval", unit_kind=u.kind, text_ar=u.text_ar)
            # the lexicon's cache is shared: hand out a copy of the metadata, never the cached object's
            out.append(PoseSequence(seq.data, seq.confidence, seq.fps, seq.skeleton, seq.timestamps, meta))
        return out


_INDEXES: dict[tuple, object] = {}
_INDEX_LOCK = threading.Lock()


def get_index(checkpoint=None, lexicon=None, progress: bool = False):
    """A process-wide cache of :class:`~retrieval.index.LexiconIndex` by checkpoint and lexicon."""
    from retrieval.index import LexiconIndex, default_checkpoint
    ck = Path(checkpoint) if checkpoint else default_checkpoint()
    if not ck.is_file():
        raise SyriSignError(f"no retrieval model at {ck}; train it with `syrisign train retrieval` "
                            "(the Arabic product model, about 15 minutes on 2 CPU cores)")
    st = ck.stat()
    key = (str(ck.resolve()), st.st_mtime_ns, id(lexicon) if lexicon is not None and not isinstance(lexicon, (str, os.PathLike))
           else str(lexicon))
    with _INDEX_LOCK:
        if key not in _INDEXES:
            _INDEXES[key] = LexiconIndex.load_or_build(ck, lexicon, progress=progress)
        return _INDEXES[key]


def text_index(checkpoint=None, lexicon=None):
    """The index fuzzy matching reads: its numpy text side (:class:`~retrieval.index.TextIndex`, no torch)
    when the cached index has one and the calibrated space is a text space; else the full index (which loads
    the model, builds the cache and writes the text side for the next process)."""
    from retrieval.index import TextIndex, default_checkpoint
    ck = Path(checkpoint) if checkpoint else default_checkpoint()
    if not ck.is_file():
        raise SyriSignError(f"no retrieval model at {ck}; train it with `syrisign train retrieval` "
                            "(the Arabic product model, about 15 minutes on 2 CPU cores)")
    key = ("text", str(ck.resolve()), ck.stat().st_mtime_ns, id(lexicon) if lexicon is not None and not
           isinstance(lexicon, (str, os.PathLike)) else str(lexicon))
    with _INDEX_LOCK:
        if key in _INDEXES:
            return _INDEXES[key]
    light = TextIndex.from_cache(ck, lexicon)
    if light is None or light.calibration.get("space", "text") not in ("text", "frozen"):
        return get_index(checkpoint, lexicon)
    with _INDEX_LOCK:
        return _INDEXES.setdefault(key, light)


def make_fuzzy_matcher(checkpoint: str | os.PathLike | None = None, threshold: float | None = None,
                       lexicon=None):
    """``match(surface_token, match_key) -> (LexiconEntry, score) | None`` with the trained retrieval model.

    ``threshold`` overrides the calibrated one (cosine similarity in the shared space). Raises
    :class:`SyriSignError` when no model is trained (the pipeline then fingerspells instead).
    """
    index = text_index(checkpoint, lexicon)
    th = index.calibration.get("threshold") if threshold is None else float(threshold)
    lock = threading.Lock()

    def match(surface_token: str, match_key: str = ""):
        text = (surface_token or match_key or "").strip()
        if not text or th is None:
            return None
        with lock:
            best = index.fuzzy_best(text)
        if best is None or not best[1] >= th:
            return None
        return best

    match.threshold = th  # type: ignore[attr-defined]
    match.index = index  # type: ignore[attr-defined]
    return match


def typicality_order(arrays: list[tuple], frames: int = 32) -> list[int]:
    """Indices of several recordings of one sign, most typical first.

    Each ``(x (T, J, 3), mask (T, J))`` (shoulder-normalized, as :func:`syrisign.ml.features.prepare`
    gives them) is resampled to ``frames`` frames and flattened (missing joints 0); a recording's
    typicality is its mean Euclidean distance to the others (the medoid comes first). Used to choose
    which recording of a retrieved word to play: the text→pose similarity says which *word* it is, not
    which of its recordings is cleanest (on ISL the best-scoring recordings of the right word were
    no closer to a new signer than a random recording of it, DTW-MJE 1.04 against 0.98; the most
    typical ones 0.75; results/retrieval.md).
    """
    import numpy as np

    from retrieval.baselines import fixed_length
    if len(arrays) <= 2:
        return list(range(len(arrays)))
    f = np.stack([fixed_length(x, m, frames).reshape(-1) for x, m in arrays])  # (N, frames * J * 3)
    sq = (f * f).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * f @ f.T, 0.0))
    return [int(i) for i in np.argsort(d.sum(1) / (len(f) - 1), kind="stable")]
