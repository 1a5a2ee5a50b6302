"""Text-conditioned GPT over motion tokens (T2M-GPT stage 2).

The sequence the transformer sees is ``[text, c_1, ..., c_n, END, PAD ...]``: the text
embedding (a frozen sentence encoder's vector, projected) is the prefix, ``c_i`` are VQ-VAE
code indices, ``END`` closes the sign and ``PAD`` fills batches. Position ``i`` predicts token
``i + 1``; the loss is cross-entropy over codes and ``END``, ignoring padding. In training, input
codes are replaced by random codes with probability ``corrupt_prob`` (T2M-GPT's corruption, so
that the model learns to continue from its own imperfect samples) and the text is replaced by a
learned null condition with probability ``cond_drop`` (for classifier-free guidance).

Vocabulary: ``0 .. K-1`` codes, ``K`` END, ``K+1`` PAD (input only); the head predicts ``K + 1``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from syrisign.ml.checkpoint import config_from_dict, load_checkpoint

KIND = "t2m"
IGNORE = -100


@dataclass
class T2MConfig:
    codebook_size: int = 64
    text_dim: int = 512
    text_encoder: str = "use"
    max_tokens: int = 64  # longest motion (in tokens, END excluded) the model can produce
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1
    corrupt_prob: float = 0.3
    cond_drop: float = 0.1
    generator: str = "gpt"  # gpt (autoregressive, T2M-GPT) | masked (MoMask's masked base transformer)
    num_quantizers: int = 1  # > 1: the VQ-VAE is residual; a residual transformer predicts layers 1..q-1
    mask_steps: int = 10  # iterative decoding steps of the masked generator
    residual_layers: int = 2  # transformer layers of the residual-token predictor

    @property
    def end(self) -> int:
        return self.codebook_size

    @property
    def pad(self) -> int:
        return self.codebook_size + 1

    @property
    def block_size(self) -> int:
        return self.max_tokens + 1  # text prefix + codes (the END is predicted, never fed)


class Block(nn.Module):
    def __init__(self, cfg: T2MConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = nn.MultiheadAttention(cfg.n_embd, cfg.n_head, dropout=cfg.dropout, batch_first=True)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:  # (b, l, e)
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class T2MGPT(nn.Module):
    """``forward(idx, cond, targets=None) -> (logits, loss)``; ``generate`` samples code sequences."""

    def __init__(self, cfg: T2MConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.codebook_size + 2, cfg.n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, cfg.block_size, cfg.n_embd))
        self.cond_proj = nn.Linear(cfg.text_dim, cfg.n_embd)
        self.null_cond = nn.Parameter(torch.zeros(cfg.n_embd))
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.codebook_size + 1, bias=False)
        self.apply(self._init)
        nn.init.normal_(self.pos_emb, std=0.02)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def _cond_tokens(self, cond: torch.Tensor, drop: torch.Tensor | None) -> torch.Tensor:
        c = self.cond_proj(cond)  # (b, e)
        if drop is not None:
            c = torch.where(drop.unsqueeze(-1), self.null_cond.to(c.dtype).expand_as(c), c)
        return c.unsqueeze(1)  # (b, 1, e)

    def forward(self, idx: torch.Tensor, cond: torch.Tensor, targets: torch.Tensor | None = None,
                uncond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx (b, l)`` input tokens (may be empty), ``cond (b, text_dim)``, ``targets (b, l + 1)`` with
        ``IGNORE`` at padding, ``uncond (b,)`` bool: use the null condition. Returns logits ``(b, l + 1, K + 1)``."""
        cfg = self.cfg
        b, l = idx.shape
        if l + 1 > cfg.block_size:
            raise ValueError(f"sequence of {l} tokens exceeds the model's limit of {cfg.max_tokens}")
        if self.training and uncond is None and cfg.cond_drop > 0:
            uncond = torch.rand(b, device=idx.device) < cfg.cond_drop
        if self.training and cfg.corrupt_prob > 0 and l:
            # T2M-GPT token corruption: some input codes become random codes (END/PAD stay)
            noise = torch.randint_like(idx, cfg.codebook_size)
            hit = (torch.rand(idx.shape, device=idx.device) < cfg.corrupt_prob) & (idx < cfg.codebook_size)
            idx = torch.where(hit, noise, idx)
        x = torch.cat([self._cond_tokens(cond, uncond), self.tok_emb(idx)], dim=1)  # (b, l + 1, e)
        x = self.drop(x + self.pos_emb[:, : l + 1])
        causal = torch.triu(torch.ones(l + 1, l + 1, dtype=torch.bool, device=x.device), diagonal=1)
        for blk in self.blocks:
            x = blk(x, causal)
        logits = self.head(self.ln_f(x))  # (b, l + 1, K + 1)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   ignore_index=IGNORE)
        return logits, loss

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, max_tokens: int | None = None, temperature: float = 1.0,
                 top_k: int | None = None, cfg_scale: float = 1.0, min_tokens: int = 1,
                 generator: torch.Generator | None = None) -> list[tuple[list[int], bool]]:
        """Sample code sequences for ``cond (b, text_dim)``: one ``(codes, ended)`` per row, where ``ended``
        says the model chose END (False: cut at ``max_tokens`` codes). ``temperature`` 0 is greedy;
        ``cfg_scale`` > 1 applies classifier-free guidance."""
        cfg = self.cfg
        limit = min(max_tokens or cfg.max_tokens, cfg.max_tokens)
        b = cond.shape[0]
        dev = cond.device
        idx = torch.zeros(b, 0, dtype=torch.long, device=dev)
        done = torch.zeros(b, dtype=torch.bool, device=dev)
        ended = torch.zeros(b, dtype=torch.bool, device=dev)
        lengths = torch.full((b,), limit, dtype=torch.long, device=dev)
        guided = cfg_scale != 1.0
        for step in range(limit):
            if guided:
                both = torch.cat([idx, idx])
                flags = torch.cat([torch.zeros(b, dtype=torch.bool, device=dev), torch.ones(b, dtype=torch.bool, device=dev)])
                logits = self(both, torch.cat([cond, cond]), uncond=flags)[0][:, -1].float()
                logits = logits[b:] + cfg_scale * (logits[:b] - logits[b:])
            else:
                logits = self(idx, cond)[0][:, -1].float()  # (b, K + 1)
            if step < min_tokens:
                logits[:, cfg.end] = -math.inf
            nxt = _sample(logits, temperature, top_k, generator)  # (b,)
            newly = ~done & (nxt == cfg.end)
            lengths = torch.where(newly, torch.full_like(lengths, step), lengths)
            ended |= newly
            done |= newly
            nxt = torch.where(done, torch.full_like(nxt, cfg.pad), nxt)
            idx = torch.cat([idx, nxt.unsqueeze(1)], dim=1)
            if bool(done.all()):
                break
        out = []
        for i in range(b):
            out.append((idx[i, : int(lengths[i])].tolist(), bool(ended[i])))
        return out


def _sample(logits: torch.Tensor, temperature: float, top_k: int | None, generator) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k:
        k = min(int(top_k), logits.shape[-1])
        kth = torch.topk(logits, k, dim=-1).values[:, -1:]
        logits = torch.where(logits < kth, torch.full_like(logits, -math.inf), logits)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)


def build_generator(cfg: T2MConfig) -> nn.Module:
    """The model a configuration describes: the plain :class:`T2MGPT` (gpt over one codebook, the checkpoint
    format of before), else a :class:`MotionGenerator` (masked base generator and/or residual layers)."""
    from t2m_gpt.masked import MotionGenerator
    if cfg.generator == "gpt" and cfg.num_quantizers <= 1:
        return T2MGPT(cfg)
    if cfg.generator not in ("gpt", "masked"):
        raise ValueError(f"unknown generator {cfg.generator!r}: use gpt or masked")
    return MotionGenerator(cfg)


def load_t2m(path_or_ckpt: str | Path | dict, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the generator (eval mode) from a checkpoint file or a loaded checkpoint dict; the configuration
    says which classes (``generator``, ``num_quantizers``)."""
    ckpt = path_or_ckpt if isinstance(path_or_ckpt, dict) else load_checkpoint(path_or_ckpt, KIND)
    cfg = config_from_dict(T2MConfig, ckpt["config"])
    model = build_generator(cfg)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt
