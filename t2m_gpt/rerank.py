"""Best of n: a word's sampled signs ranked by the retrieval model's text↔pose similarity and by consensus.

By default (``GenerativeProducer(candidates=None)``) a generator outputs the best of
:data:`DEFAULT_CANDIDATES` samples when a retrieval model is at hand (:func:`find_reranker`), else its
first sample; ``candidates=1`` turns it off. A sample whose joints leave the range of the training poses
(:meth:`~t2m_gpt.producer.GenerativeProducer.implausible_share`) is passed over whatever its score.

The generator samples ``n`` candidate signs for a text (each from its own seed); the retrieval model
(SignCLIP / CLIP-ArASL style, :mod:`retrieval.model`) embeds the text and each candidate's poses in
its shared space, and the candidate whose pose embedding is closest to the text's (cosine) is kept.
This is the reranking that text-to-image systems do with CLIP, here with the project's own text↔pose
model; it costs ``n`` samplings per sign.

:func:`pick` chooses among them. ``select="text"`` (the default) keeps the candidate closest to the text.
``"consensus"`` keeps, among the half closest to the text, the candidate with the least mean DTW-MJE to all
the others: minimum Bayes risk selection (the sample the others agree with most: the distribution's typical
sign rather than one draw's accidents). It lowers DTW-MJE against real recordings a little, and the judge
recognizes its picks less often (KArSL 0.800 -> 0.675, ISL 0.800 -> 0.727 back-translation top-1), so it
is an option, not the default (results/generative.md, "Consensus of the samples, and the base tokens").
``"barycentre"`` outputs no single candidate but their average along DTW paths (:func:`barycentre`: DTW
barycentre averaging, Petitjean et al. 2011) started from the candidate closest to the text, whose timing,
handshapes and face it keeps (:func:`with_shapes_of`): the movement that is on average closest, by DTW, to
every usable sample (results/generative.md, "The barycentre of the samples"). Averaging can blur a sign
into another word's, so ``"guarded"`` keeps the barycentre except where the retrieval model reads the text
pick as the word and no longer the barycentre (:meth:`Reranker.reads`: the text closer to its pose embedding
than every other training word's texts); there it outputs the text pick (results/generative.md, "A guarded
barycentre").

The retrieval model must not have seen the recordings a generated sign is compared with: the
evaluation passes the checkpoint trained on its training signers only (``retrieval-<dataset>.pt``,
``retrieval-karsl-words-01to03.pt`` for KArSL words), the same held-out signers as the generator's.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence


SELECT = ("text", "consensus", "barycentre", "guarded")  # how the candidates become one output (pick, barycentre)
DEFAULT_CANDIDATES = 8  # chosen on the training signers' validation recordings (results/generative.md)


def default_reranker(dataset: str) -> Path:
    """The retrieval checkpoint the evaluation uses for ``dataset`` (trained without its held-out signers)."""
    from syrisign.evaluation.methods import checkpoint_path
    return checkpoint_path("retrieval", dataset)


def find_reranker(dataset: str, arabic: bool) -> Path | None:
    """The retrieval model a generator of ``dataset`` ranks with by default: the evaluation's one for that
    dataset, else (an Arabic generator) the product model of ``syrisign train retrieval``; None when
    neither has been trained (the generator then outputs its first sample)."""
    found = [default_reranker(dataset)]
    if arabic:
        from retrieval.index import default_checkpoint
        found.append(default_checkpoint())
    return next((p for p in found if p.is_file()), None)


def consensus(poses: list[np.ndarray], among: np.ndarray | None = None) -> np.ndarray:
    """``(n,)`` each candidate's mean DTW-MJE to the other candidates in ``among`` (bool mask, default all);
    ``inf`` for a candidate without frames or without another to compare with."""
    from t2m_gpt.metrics import dtw_mje_many
    n = len(poses)
    among = np.ones(n, dtype=bool) if among is None else np.asarray(among, dtype=bool)
    out = np.full(n, np.inf)
    for a in range(n):
        others = [b for b in np.flatnonzero(among) if b != a and len(poses[b])]
        if len(poses[a]) and others:
            d = dtw_mje_many([poses[b] for b in others], poses[a])
            if np.isfinite(d).any():
                out[a] = float(np.nanmean(d))
    return out


def barycentre(poses: list[np.ndarray], start: int, iterations: int = 5) -> np.ndarray:
    """DTW barycentre averaging of ``poses`` (each ``(T_i, J, 3)``, every joint present): from ``poses[start]``,
    each iteration aligns every sequence to the current average by DTW (the frame cost of DTW-MJE) and
    replaces each frame of the average by the mean of the frames aligned to it. The result has the length
    and timing of ``poses[start]``; sequences without frames are left out."""
    from t2m_gpt.metrics import dtw_average
    cur = np.asarray(poses[start], dtype=np.float64)
    if not len(cur):
        raise ValueError("the barycentre needs a starting sequence with frames")
    for _ in range(iterations):
        new = dtw_average(poses, cur)  # sequences without frames are on no path
        if np.allclose(new, cur, atol=1e-6):
            break
        cur = new
    return cur.astype(np.float32)


def with_shapes_of(average: np.ndarray, pose: np.ndarray, layout: str) -> np.ndarray:
    """``average`` with the hand shapes and the face of ``pose`` (same length, frame by frame): each hand's
    points as in ``pose`` about its wrist, set at ``average``'s wrist; the face's as in ``pose`` about its
    centre, set at ``average``'s face centre. Averaging samples keeps the path of a movement but blurs a
    handshape into a half-closed hand; this keeps the one sample's handshape on the averaged path."""
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton(layout)
    out = np.array(average, dtype=np.float32, copy=True)
    pose = np.asarray(pose, dtype=np.float32)
    for name, sl in sk.slices.items():
        wrist = sk.index.get(f"{name}.WRIST")
        if wrist is not None:  # a hand
            out[:, sl] = pose[:, sl] - pose[:, wrist:wrist + 1] + out[:, wrist:wrist + 1]
        elif name == "face":
            out[:, sl] = pose[:, sl] - pose[:, sl].mean(1, keepdims=True) + out[:, sl].mean(1, keepdims=True)
    return out


def pick(poses: list[np.ndarray], scores: np.ndarray, usable: np.ndarray, select: str = "text"
         ) -> tuple[int, dict]:
    """Index of the candidate to keep and what decided it: ``text``: the highest ``scores`` among ``usable``;
    ``consensus``: among the usable candidates scoring at or above their median, the least mean DTW-MJE to
    the other usable ones (:func:`consensus`); with fewer than three usable candidates, as ``text``."""
    scores, usable = np.asarray(scores, dtype=np.float64), np.asarray(usable, dtype=bool)
    by_text = int(np.argmax(np.where(usable, scores, -np.inf)))
    if select == "text" or usable.sum() < 3:
        return by_text, {"select": "text"}
    top = usable & (scores >= np.median(scores[usable]))
    cons = consensus(poses, usable)
    if not np.isfinite(cons[top]).any():
        return by_text, {"select": "text"}
    k = int(np.argmin(np.where(top, cons, np.inf)))
    return k, {"select": "consensus", "consensus_dtw": round(float(cons[k]), 4)}


class Reranker:
    """Scores candidate signs of a text with a trained retrieval checkpoint."""

    TEXT_CACHE = 10_000  # text embeddings kept at most (then the cache starts again)

    def __init__(self, checkpoint: str | os.PathLike) -> None:
        from syrisign.ml.text import get_text_encoder
        self.path = Path(checkpoint).expanduser()
        if not self.path.is_file():
            raise SyriSignError(f"no retrieval model at {self.path} to rank generated signs with; train it with "
                                "`syrisign train retrieval` or choose --candidates 1")
        self.text = get_text_encoder(f"retrieval:{self.path}")  # its text tower, with the model's sign-language tag
        self.loaded = self.text.load()
        self.features = self.loaded.config.features()
        self._texts: dict[str, np.ndarray] = {}  # text -> its embedding: a word's rivals are the same every call

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(n, d)`` the text tower's embeddings of ``texts``, each text encoded once per Reranker."""
        new = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if len(self._texts) + len(new) > self.TEXT_CACHE:  # a long-running service: bounded
            self._texts.clear()
            new = list(dict.fromkeys(texts))  # what was cached of this call went with the rest
        if new:
            self._texts.update(zip(new, self.text.encode(new)))
        return np.stack([self._texts[t] for t in texts])

    def embed(self, candidates: list[PoseSequence]) -> tuple[np.ndarray, np.ndarray]:
        """``(pose embeddings (k, d) of the candidates with frames, (n,) bool: which have frames)``."""
        from retrieval.data import Item
        from retrieval.evaluate import embed_items
        from syrisign.ml.features import prepare
        items, ok = [], []
        for seq in candidates:
            x, m = prepare(seq, self.features)
            ok.append(len(x) > 0)
            if len(x):
                items.append(Item(x, m, "", None, ""))
        ok = np.asarray(ok, dtype=bool)
        return (embed_items(self.loaded.model, items) if items else np.zeros((0, 0), np.float32)), ok

    def scores(self, text: str, candidates: list[PoseSequence]) -> np.ndarray:
        """``(n,)`` cosine of each candidate's pose embedding with the text's; -1 for a candidate without frames."""
        emb, ok = self.embed(candidates)
        out = np.full(len(candidates), -1.0, dtype=np.float32)
        if ok.any():
            out[ok] = emb @ self.encode([text])[0]
        return out

    def reads(self, text: str, candidates: list[PoseSequence], rivals: list[str]) -> np.ndarray:
        """``(n,)`` bool: the candidate's pose embedding is closer (cosine) to ``text`` than to every text of
        ``rivals`` (other words' texts): the retrieval model would read it as that word. False without frames;
        True for every candidate with frames when there is no rival."""
        emb, ok = self.embed(candidates)
        out = np.zeros(len(candidates), dtype=bool)
        if ok.any():
            t = self.encode([text] + list(rivals))  # (1 + r, d)
            sims = emb @ t.T
            out[ok] = sims[:, 0] > (sims[:, 1:].max(1) if len(rivals) else -np.inf)
        return out
