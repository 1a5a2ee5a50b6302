"""Best of n: a word's sampled signs ranked by the retrieval model's text↔pose similarity.

By default (``GenerativeProducer(candidates=None)``) a generator outputs the best of
:data:`DEFAULT_CANDIDATES` samples when a retrieval model is at hand (:func:`find_reranker`), else its
first sample; ``candidates=1`` turns it off. A sample whose joints leave the range of the training poses
(:meth:`~t2m_gpt.producer.GenerativeProducer.implausible_share`) is passed over whatever its score.

The generator samples ``n`` candidate signs for a text (each from its own seed); the retrieval model
(SignCLIP / CLIP-ArASL style, :mod:`retrieval.model`) embeds the text and each candidate's poses in
its shared space, and the candidate whose pose embedding is closest to the text's (cosine) is kept.
This is the reranking that text-to-image systems do with CLIP, here with the project's own text↔pose
model; it costs ``n`` samplings per sign.

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


class Reranker:
    """Scores candidate signs of a text with a trained retrieval checkpoint."""

    def __init__(self, checkpoint: str | os.PathLike) -> None:
        from syrisign.ml.text import get_text_encoder
        self.path = Path(checkpoint).expanduser()
        if not self.path.is_file():
            raise SyriSignError(f"no retrieval model at {self.path} to rank generated signs with; train it with "
                                "`syrisign train retrieval` or choose --candidates 1")
        self.text = get_text_encoder(f"retrieval:{self.path}")  # its text tower, with the model's sign-language tag
        self.loaded = self.text.load()
        self.features = self.loaded.config.features()

    def scores(self, text: str, candidates: list[PoseSequence]) -> np.ndarray:
        """``(n,)`` cosine of each candidate's pose embedding with the text's; -1 for a candidate without frames."""
        from retrieval.data import Item
        from retrieval.evaluate import embed_items
        from syrisign.ml.features import prepare
        items, ok = [], []
        for seq in candidates:
            x, m = prepare(seq, self.features)
            ok.append(len(x) > 0)
            if len(x):
                items.append(Item(x, m, "", None, ""))
        out = np.full(len(candidates), -1.0, dtype=np.float32)
        if items:
            t = self.text.encode([text])[0]
            out[np.flatnonzero(ok)] = embed_items(self.loaded.model, items) @ t
        return out
