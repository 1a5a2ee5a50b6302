"""The ``generative`` producer: text -> frozen text embedding -> GPT motion tokens -> VQ-VAE decoder -> poses.

One checkpoint file (``syrisign train t2m``) holds the GPT, the VQ-VAE it was trained on and the
normalization statistics. Output poses are in normalized units (shoulder-centred, shoulder
width 1), in the model's layout and fps. Sampling is deterministic for a fixed ``seed``: each
unit's generator is seeded from the seed and the unit's text, so a word comes out the same
wherever it stands in a sentence. When a retrieval model is trained, each sign is the best of
``candidates`` (default 8) samples by its text-pose similarity (:mod:`t2m_gpt.rerank`); ``candidates=1``
gives the first sample.
"""
from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence
from syrisign.producers import SignUnit
from t2m_gpt.rerank import SELECT

DEFAULT_DATASET = "karsl-words"
_ARABIC = re.compile(r"[\u0600-\u06FF]")


def build_commands(dataset: str = DEFAULT_DATASET) -> str:
    return f"`syrisign train vqvae --dataset {dataset}` then `syrisign train t2m --dataset {dataset}`"


def resolve_checkpoint(checkpoint: str | os.PathLike | None) -> Path:
    """A path, a dataset name (``isl`` -> ``$SYRISIGN_HOME/checkpoints/t2m-isl.pt``) or None (the Arabic default)."""
    from syrisign.settings import get_settings
    if checkpoint is None:
        checkpoint = DEFAULT_DATASET
    p = Path(checkpoint)
    if p.suffix == ".pt" or p.is_file() or os.sep in str(checkpoint):
        return p
    return get_settings().checkpoints / f"t2m-{checkpoint}.pt"


def _decode_layers(value: int | str | None, vq_cfg) -> int | None:
    """None (every layer) or the number of a residual VQ-VAE's layers to decode; "all" and "base" accepted."""
    if value in (None, "all") or not vq_cfg.residual:
        return None
    try:
        n = 1 if value == "base" else int(value)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= vq_cfg.num_quantizers:
        raise SyriSignError(f"decode_layers must be all, base or 1..{vq_cfg.num_quantizers} (got {value!r})")
    return None if n == vq_cfg.num_quantizers else n


class GenerativeProducer:
    """``produce(units) -> list[PoseSequence]`` with a trained T2M-GPT checkpoint."""

    name = "generative"

    def __init__(self, checkpoint: str | os.PathLike | None = None, seed: int = 0, temperature: float = 1.0,
                 top_k: int | None = 20, cfg_scale: float = 1.0, max_tokens: int | None = None,
                 device: str = "auto", text_encoder: str | None = None, candidates: int | None = None,
                 reranker: str | os.PathLike | None = None, select: str = "text",
                 decode_layers: int | str | None = None, **_options):
        import torch

        from syrisign.ml.checkpoint import load_checkpoint
        from syrisign.ml.device import pick_device
        from syrisign.ml.features import FeatureConfig
        from t2m_gpt.model import load_t2m
        from vqvae.model import load_vqvae

        path = resolve_checkpoint(checkpoint)
        if not path.is_file():
            dataset = path.stem[4:] if path.stem.startswith("t2m-") else DEFAULT_DATASET
            raise SyriSignError(f"no generative model at {path}; build it with {build_commands(dataset)} "
                                f"(a few minutes each on a CPU)")
        self.path = path
        self.device = pick_device(device)
        ckpt = load_checkpoint(path, "t2m")
        self.gpt, _ = load_t2m(ckpt, self.device)
        self.vq, _ = load_vqvae(ckpt["vqvae"], self.device)
        self.features = FeatureConfig(**ckpt["features"])
        self.retargeted = bool(ckpt.get("retarget", False))  # outputs are on this reference body
        self.reference_body = ckpt.get("reference_body")
        self.train_texts: dict[str, list[str]] = ckpt.get("train_texts", {})
        self.split: dict = ckpt.get("split", {})  # the held-out signers (and classes) it was trained without
        self.arabic = any(_ARABIC.search(t) for ts in self.train_texts.values() for t in ts)
        self.seed, self.temperature, self.top_k = seed, temperature, top_k
        # by default no sign comes out longer than the longest training sign (greedy decoding can loop)
        self.cfg_scale = cfg_scale
        self.max_tokens = max_tokens or ckpt.get("token_lengths", {}).get("max") or self.gpt.cfg.max_tokens
        # a residual VQ-VAE's layers decoded: all, or the base tokens alone where the residual transformer's
        # guesses measured worse than none (chosen at training time on validation recordings: ckpt["decode_layers"])
        self.decode_layers = _decode_layers(ckpt.get("decode_layers") if decode_layers is None else decode_layers,
                                            self.vq.cfg)
        if select not in SELECT:
            raise SyriSignError(f"select must be one of {', '.join(SELECT)} (got {select!r})")
        self.select = select
        from syrisign.ml.text import get_text_encoder
        self.encoder = get_text_encoder(text_encoder or self.gpt.cfg.text_encoder)
        self._torch = torch
        self.candidates, self.reranker = 1, None
        if candidates is not None and int(candidates) < 1:
            raise SyriSignError(f"candidates must be at least 1 (got {candidates})")
        if candidates is None or int(candidates) > 1:  # best of n by the retrieval model (t2m_gpt.rerank)
            from t2m_gpt.rerank import DEFAULT_CANDIDATES, Reranker, default_reranker, find_reranker
            dataset = self.split.get("dataset") or DEFAULT_DATASET
            ranker = Path(reranker).expanduser() if reranker else find_reranker(dataset, self.arabic)
            if ranker is not None or candidates is not None:  # n > 1 asked for: a missing model is an error
                self.reranker = Reranker(ranker or default_reranker(dataset))
                self.candidates = int(candidates or DEFAULT_CANDIDATES)

    @property
    def layout(self) -> str:
        return self.features.layout

    @property
    def fps(self) -> float:
        return self.features.fps

    def text_of(self, unit: SignUnit) -> str:
        """The text the model is conditioned on: Arabic for a model trained on Arabic labels, else English."""
        first, second = (unit.text_ar, unit.text_en) if self.arabic else (unit.text_en, unit.text_ar)
        text = (first or second or "").strip()
        if not text:
            raise SyriSignError("a sign unit without text cannot be generated")
        return text

    def generate(self, texts: list[str], seeds: list[int] | None = None, temperature: float | None = None,
                 top_k: int | None = -1, cfg_scale: float | None = None) -> list[tuple[np.ndarray, list[int], bool]]:
        """``(poses (T, J, 3) normalized, codes, ended)`` per text; ``seeds`` default to seed + crc32(text)."""
        torch = self._torch
        emb = torch.from_numpy(self.encoder.encode(list(texts)).astype(np.float32)).to(self.device)
        out = []
        for i, text in enumerate(texts):
            s = seeds[i] if seeds is not None else self.unit_seed(text)
            g = torch.Generator().manual_seed(int(s) % (2 ** 63))
            opts = dict(max_tokens=self.max_tokens, temperature=self.temperature if temperature is None else temperature,
                        top_k=self.top_k if top_k == -1 else top_k,
                        cfg_scale=self.cfg_scale if cfg_scale is None else cfg_scale, generator=g)
            if hasattr(self.gpt, "sample"):  # MotionGenerator: masked and/or residual, codes (n, q)
                (codes_t, ended), = self.gpt.sample(emb[i:i + 1], layers=self.decode_layers, **opts)
                codes_t = codes_t.to(self.device)
                if not self.vq.cfg.residual:
                    codes_t = codes_t[:, 0]
                codes = codes_t.tolist()
            else:
                (codes, ended), = self.gpt.generate(emb[i:i + 1], **opts)
                codes_t = torch.tensor(codes, dtype=torch.long, device=self.device)
            with torch.no_grad():
                x = self.vq.decode(codes_t.unsqueeze(0))[0]
            out.append((x.float().cpu().numpy(), codes, ended))
        return out

    def nearest_training_text(self, text: str) -> tuple[str, float]:
        """The closest training label (cosine of the text embeddings) and its similarity."""
        labels = sorted({t for ts in self.train_texts.values() for t in ts})
        if not labels:
            return "", 0.0
        v = self.encoder.encode([text])[0]
        m = self.encoder.encode(labels)
        sims = m @ v
        k = int(np.argmax(sims))
        return labels[k], float(sims[k])

    def unit_seed(self, text: str) -> int:
        return self.seed + zlib.crc32(text.encode("utf-8"))

    def best_of(self, text: str, seed: int | None = None) -> tuple[tuple[np.ndarray, list[int], bool], dict]:
        """The pick among ``candidates`` samples of ``text`` (:func:`t2m_gpt.rerank.pick`: by ``select``, the
        closest to the text by default; ``barycentre``: the usable samples averaged along DTW paths from the
        closest to the text, with its handshapes and face, :func:`t2m_gpt.rerank.barycentre`; ``guarded``: that
        average unless the retrieval model reads the closest to the text as the word and not the average,
        :meth:`t2m_gpt.rerank.Reranker.reads`); the first candidate is the sample of ``seed`` (default: the
        unit's seed), i.e. what one sample would give."""
        from syrisign.ml.features import to_sequence
        from t2m_gpt.rerank import pick
        base = self.unit_seed(text) if seed is None else seed
        results = self.generate([text] * self.candidates, seeds=[base + 1_000_003 * j for j in range(self.candidates)])
        scores = self.reranker.scores(text, [to_sequence(x, None, self.features) for x, _, _ in results])
        odd = np.array([self.implausible_share(x) for x, _, _ in results])
        # a decode that leaves the body's range (joints flung metres away) can still score high: pass it over
        usable = odd <= 0.5 if (odd <= 0.5).any() else np.ones(len(results), dtype=bool)
        poses = [x for x, _, _ in results]
        averaged = self.select in ("barycentre", "guarded")
        k, info = pick(poses, scores, usable, "text" if averaged else self.select)
        out = results[k]
        if averaged and usable.sum() >= 2:  # the usable samples' movement averaged, on k's
            # timing, with k's handshapes and face
            from t2m_gpt.rerank import barycentre, with_shapes_of
            keep = np.flatnonzero(usable)
            mean = with_shapes_of(barycentre([poses[j] for j in keep], int(np.flatnonzero(keep == k)[0])), poses[k],
                                  self.layout)
            info = {"select": "barycentre", "averaged": int(len(keep))}
            if self.select == "guarded":  # the text pick where averaging lost the word for the retrieval model
                read_pick, read_mean = self.reranker.reads(
                    text, [to_sequence(x, None, self.features) for x in (poses[k], mean)], self.rivals(text))
                info["guard"] = "kept" if read_mean or not read_pick else "text pick"
                if info["guard"] == "text pick":
                    info["select"] = "text"
            if info["select"] == "barycentre":
                out = (mean, out[1], out[2])
        return out, {"candidates": self.candidates, "picked": k, "rerank_score": round(float(scores[k]), 4),
                     "passed_over": int((~usable).sum()), "reranker": str(self.reranker.path), **info}

    def rivals(self, text: str) -> list[str]:
        """The training texts of every word ``text`` is not a text of (what a sign of ``text`` must not be read as)."""
        return sorted({t for ts in self.train_texts.values() if text not in ts for t in ts})

    def implausible_share(self, x: np.ndarray, z: float = 5.0, margin: float = 0.1) -> float:
        """Share of frames with a joint further than ``z`` standard deviations (+ ``margin`` shoulder widths)
        from its mean over the VQ-VAE's training poses. Real validation recordings: 0 for 90 % of them;
        a broken decode (joints 10-20 shoulder widths out): 1."""
        mean, std = self.vq.mean.cpu().numpy(), self.vq.std.cpu().numpy()
        if len(x) == 0:
            return 1.0
        return float((np.abs(x - mean) > z * std + margin).any(-1).any(-1).mean())

    def sample(self, text: str, seed: int | None = None) -> tuple[tuple[np.ndarray, list[int], bool], dict]:
        """One output for ``text`` from ``seed`` (default: the unit's seed): the reranker's pick among
        ``candidates`` samples when there is a reranker, else that seed's sample; with what was picked."""
        if self.reranker is not None:
            return self.best_of(text, seed)
        return self.generate([text], seeds=[self.unit_seed(text) if seed is None else seed])[0], {}

    def produce(self, units: list[SignUnit]) -> list[PoseSequence]:
        from syrisign.ml.features import to_sequence
        texts = [self.text_of(u) for u in units]
        results, picks = zip(*[self.sample(t) for t in texts]) if texts else ((), ())
        seqs = []
        for u, text, (x, codes, ended), pick in zip(units, texts, results, picks):
            near, sim = self.nearest_training_text(text)
            meta = {"source": "generative", "text": text, "kind": u.kind, "item_index": u.item_index,
                    "tokens": len(codes), "ended": ended, "nearest_training_text": near,
                    "similarity": round(sim, 4), "checkpoint": str(self.path),
                    "generator": getattr(self.gpt.cfg, "generator", "gpt"),
                    "quantizer": self.vq.cfg.quantizer, "decode_layers": self.decode_layers or "all",
                    "retargeted": self.retargeted, **pick}
            seqs.append(to_sequence(x, None, self.features, meta))
        return seqs
