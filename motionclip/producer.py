"""MotionCLIP in the pipeline: generation (text -> latent -> decoded sign) and retrieval (rank
recordings or classes by the similarity of their motion latents to a text).

- ``MotionCLIPProducer(checkpoint=None).produce(units) -> list[PoseSequence]``: the ``motionclip``
  producer of ``syrisign translate --method motionclip``;
- ``MotionCLIPProducer.rank(text, candidates)``: candidates ranked by latent-to-text similarity;
- ``search(text, top_k, lexicon)``: what ``syrisign search --model motionclip`` calls.

The default checkpoint is ``$SYRISIGN_HOME/checkpoints/motionclip-karsl-words.pt`` (Arabic words);
``checkpoint`` may be a path or a dataset name (``"isl"`` -> ``motionclip-isl.pt``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.producers import SignUnit

DEFAULT_DATASET = "karsl-words"


class MotionCLIPError(SyriSignError):
    pass


def resolve_checkpoint(checkpoint: str | os.PathLike | None = None, dataset: str | None = None) -> Path:
    """A checkpoint path from a path, a dataset name, or the default; the error says how to build it."""
    from motionclip.train import default_checkpoint
    if checkpoint is not None and Path(checkpoint).is_file():
        return Path(checkpoint)
    if checkpoint is not None and (os.sep in str(checkpoint) or str(checkpoint).endswith(".pt")):
        raise MotionCLIPError(f"no MotionCLIP checkpoint at {checkpoint}; build one with "
                              f"`syrisign train motionclip --dataset {dataset or DEFAULT_DATASET} --out {checkpoint}`")
    name = str(checkpoint or dataset or DEFAULT_DATASET)
    path = default_checkpoint(name)
    if not path.is_file():
        raise MotionCLIPError(f"no MotionCLIP checkpoint at {path}; build it with "
                              f"`syrisign train motionclip --dataset {name}`")
    return path


def entry_pose(entry: Any) -> PoseSequence:
    """The recording of a lexicon entry, a dataset sample file, or a PoseSequence itself (duck-typed)."""
    if isinstance(entry, PoseSequence):
        return entry
    for attr in ("pose", "sequence"):
        v = getattr(entry, attr, None)
        if isinstance(v, PoseSequence):
            return v
    load = getattr(entry, "load", None)
    if callable(load):
        v = load()
        if isinstance(v, PoseSequence):
            return v
    for attr in ("path", "file", "pose_path"):
        v = getattr(entry, attr, None)
        if v and Path(v).is_file():
            return PoseSequence.load(v)
    raise MotionCLIPError(f"cannot find a recording for {entry!r}")


def _entry_key(entry: Any) -> str:
    for attr in ("id", "path", "file", "pose_path"):
        v = getattr(entry, attr, None)
        if v:
            return f"{attr}:{v}"
    return f"obj:{id(entry)}"


class MotionCLIPProducer:
    """Text -> frozen text embedding -> motion latent -> decoded sign (normalized units, model layout and fps)."""

    name = "motionclip"

    def __init__(self, checkpoint: str | os.PathLike | None = None, dataset: str | None = None,
                 device: str | None = None, text_map: str | None = None, **_options):
        from motionclip.model import load_model
        from syrisign.ml.features import FeatureConfig
        from syrisign.ml.text import get_text_encoder

        self.path = resolve_checkpoint(checkpoint, dataset)
        self.model, self.ckpt = load_model(self.path, device or "cpu")
        self.features = FeatureConfig(**self.ckpt["features"])
        self.text_encoder = get_text_encoder(self.ckpt.get("text_encoder", "use"))
        self.text_map = text_map or self.model.cfg.text_map
        self.label_field = self.ckpt.get("label_field", "label_ar")
        self.bank = self.ckpt.get("class_bank") or {}
        self._lengths: dict[str, int] = {}
        for i, k in enumerate(self.bank.get("keys", [])):
            for name in ("label_ar", "label_en", "text"):
                t = self.bank[name][i]
                if t:
                    self._lengths.setdefault(t.strip().lower(), int(self.bank["length"][i]))
        self._latent_cache: dict[str, np.ndarray] = {}
        keep = self.ckpt.get("keep_joints")
        self.keep = np.asarray(keep, dtype=bool) if keep else None  # joints the model was trained on

    # -- generation ---------------------------------------------------------------------------
    def unit_text(self, unit: SignUnit) -> str:
        if self.label_field == "label_en":
            return unit.text_en or unit.text_ar
        return unit.text_ar or unit.text_en

    def length_for(self, text: str) -> int:
        """Frames (at the model fps) for a text: the median length of its training recordings when the
        word was seen in training, else the median length of all training recordings."""
        return self._lengths.get(text.strip().lower(), int(self.bank.get("default_length", 2 * self.features.fps)))

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.text_encoder.encode(list(texts))

    def generate(self, texts: list[str], lengths: list[int] | None = None, text_map: str | None = None
                 ) -> list[PoseSequence]:
        """One decoded sign per text, in normalized units of the model's layout, at the model's fps."""
        import torch

        from syrisign.ml.features import to_sequence
        if not texts:
            return []
        lengths = lengths or [self.length_for(t) for t in texts]
        dev = next(self.model.parameters()).device
        emb = torch.as_tensor(self.embed(texts), device=dev)
        with torch.no_grad():
            lat = self.model.encode_text(emb, text_map or self.text_map)  # (N, D)
            out = self.model.decode(lat, torch.as_tensor(lengths, device=dev))  # (N, L, J*3)
        seqs = []
        for i, (t, n) in enumerate(zip(texts, lengths)):
            x = out[i, :n].reshape(n, -1, 3).cpu().numpy()
            mask = None if self.keep is None else np.repeat(self.keep[None], n, 0)  # left-out joints: missing
            seqs.append(to_sequence(x, mask, self.features,
                                    meta={"source": "motionclip", "text": t, "checkpoint": str(self.path)}))
        return seqs

    def produce(self, units: list[SignUnit]) -> list[PoseSequence]:
        texts = [self.unit_text(u) for u in units]
        seqs = self.generate(texts)
        for u, s in zip(units, seqs):
            s.meta.update(kind=u.kind, item_index=u.item_index)
        return seqs

    # -- retrieval -------------------------------------------------------------------------------
    def latents(self, poses: list[PoseSequence]) -> np.ndarray:
        """Motion latents ``(N, D)`` of recordings (any MediaPipe or the model's own layout)."""
        from motionclip.data import apply_keep
        from motionclip.train import encode_arrays
        from syrisign.ml.features import prepare
        return encode_arrays(self.model, apply_keep([prepare(p, self.features) for p in poses], self.keep))

    def _candidate_latents(self, candidates: list, loader=None) -> np.ndarray:
        loader = loader or entry_pose
        todo = [c for c in candidates if _entry_key(c) not in self._latent_cache or _entry_key(c).startswith("obj:")]
        for i in range(0, len(todo), 64):
            chunk = todo[i:i + 64]
            for c, v in zip(chunk, self.latents([loader(c) for c in chunk])):
                self._latent_cache[_entry_key(c)] = v
        return np.stack([self._latent_cache[_entry_key(c)] for c in candidates])

    def similarity(self, text: str, latents: np.ndarray) -> np.ndarray:
        import torch
        dev = next(self.model.parameters()).device
        with torch.no_grad():
            sim = self.model.text_similarity(torch.as_tensor(latents, device=dev),
                                             torch.as_tensor(self.embed([text]), device=dev))
        return sim[:, 0].cpu().numpy()

    def rank(self, text: str, candidates: list | None = None, loader=None) -> list[tuple[Any, float]]:
        """Candidates best first by the cosine similarity of their motion latent to ``text``.

        Candidates are PoseSequences or entries whose recording ``loader(entry)`` returns (default:
        :func:`entry_pose`); without candidates, the classes the model was trained on (as dicts: key,
        label_ar, label_en) are ranked by their mean training latent."""
        if candidates is None:
            if not self.bank.get("keys"):
                raise MotionCLIPError(f"{self.path} has no class bank; retrain it or pass candidates")
            cands = [{"key": k, "label_ar": a, "label_en": e} for k, a, e in
                     zip(self.bank["keys"], self.bank["label_ar"], self.bank["label_en"])]
            lat = np.asarray(self.bank["latent"], dtype=np.float32)
        else:
            cands = list(candidates)
            if not cands:
                return []
            lat = self._candidate_latents(cands, loader)
        sim = self.similarity(text, lat)
        order = np.argsort(-sim, kind="stable")
        return [(cands[i], float(sim[i])) for i in order]


_PRODUCERS: dict[str, MotionCLIPProducer] = {}


def get_producer(checkpoint: str | os.PathLike | None = None, dataset: str | None = None) -> MotionCLIPProducer:
    """A shared producer per checkpoint file (the model and the latents it computed stay loaded)."""
    path = resolve_checkpoint(checkpoint, dataset)
    key = str(path.resolve())
    if key not in _PRODUCERS:
        _PRODUCERS[key] = MotionCLIPProducer(path)
    return _PRODUCERS[key]


def _lexicon_entries(lexicon: Any) -> list:
    if lexicon is None:
        return []
    for attr in ("entries", "samples"):
        v = getattr(lexicon, attr, None)
        if v is not None:
            return list(v.values()) if isinstance(v, dict) else list(v)
    if isinstance(lexicon, dict):
        return list(lexicon.values())
    return list(lexicon)


def rank(text: str, candidates: list | None = None, checkpoint: str | os.PathLike | None = None
         ) -> list[tuple[Any, float]]:
    """Module-level :meth:`MotionCLIPProducer.rank` with the default (or given) checkpoint."""
    return get_producer(checkpoint).rank(text, candidates)


def search(text: str, top_k: int = 5, lexicon: Any = None, checkpoint: str | os.PathLike | None = None
           ) -> list[tuple[Any, float]]:
    """The ``top_k`` lexicon entries whose recordings' motion latents are most similar to ``text``.

    ``lexicon``: a :class:`syrisign.lexicon.Lexicon` (its entries, recordings read with
    ``lexicon.pose``), a :class:`syrisign.data.Dataset` (its samples), or a list of entries/poses;
    None ranks the classes the model was trained on (dicts: key, label_ar, label_en). Latents of
    recordings are computed once per producer and reused.
    """
    prod = get_producer(checkpoint)
    if lexicon is None:
        return prod.rank(text)[:max(0, int(top_k))]
    entries = _lexicon_entries(lexicon)
    loader = None
    for method in ("pose", "load"):  # Lexicon.pose(entry), Dataset.load(sample)
        fn = getattr(lexicon, method, None)
        if callable(fn) and not isinstance(lexicon, (list, tuple, dict)):
            loader = fn
            break
    return prod.rank(text, entries, loader)[:max(0, int(top_k))]
