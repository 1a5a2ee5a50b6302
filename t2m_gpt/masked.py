"""MoMask-style generation over motion tokens, and the residual layers of a residual VQ-VAE.

- :class:`MaskedTransformer` (MoMask's masked transformer for the base tokens): a bidirectional
  transformer over ``[text, t_1 .. t_n]``. Training masks a share ``cos(pi/2 * r)`` (``r ~ U(0, 1)``,
  at least one token) of each sequence and predicts the masked tokens; a length head on the text
  position predicts ``n``. Generation starts from ``n`` masks and decodes in ``mask_steps`` steps: each
  step samples every masked position, keeps the most confident and re-masks ``floor(n cos(pi/2 s/S))``
  of the newly filled ones, so that after the last step no position is masked.
- :class:`ResidualTransformer` (MoMask's residual transformer): given the tokens of layers ``0..j-1``
  (their code embeddings summed) and the layer index ``j``, predicts layer ``j`` at every position.
- :class:`MotionGenerator` wraps a base generator (``gpt``: :class:`~t2m_gpt.model.T2MGPT`, or
  ``masked``) and, for a residual VQ-VAE, the residual transformer. ``loss(batch)`` trains both at once
  and ``sample(cond, ...)`` returns ``(codes (n, q), ended)`` per row.

Vocabulary of the base layer here: ``0 .. K-1`` codes, ``K`` MASK, ``K+1`` PAD.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from t2m_gpt.model import IGNORE, T2MConfig, T2MGPT, _sample


def cosine_schedule(r: torch.Tensor | float) -> torch.Tensor | float:
    """Share of tokens masked at progress ``r`` in [0, 1]: 1 at 0, 0 at 1."""
    if isinstance(r, torch.Tensor):
        return torch.cos(r * math.pi / 2)
    return math.cos(r * math.pi / 2)


class _Encoder(nn.Module):
    """Bidirectional pre-norm transformer with a key padding mask."""

    def __init__(self, cfg: T2MConfig, n_layer: int):
        super().__init__()
        layer = nn.TransformerEncoderLayer(cfg.n_embd, cfg.n_head, 4 * cfg.n_embd, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.net = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(cfg.n_embd)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        return self.ln(self.net(x, src_key_padding_mask=pad))


class _Cond(nn.Module):
    def __init__(self, cfg: T2MConfig):
        super().__init__()
        self.proj = nn.Linear(cfg.text_dim, cfg.n_embd)
        self.null = nn.Parameter(torch.zeros(cfg.n_embd))

    def forward(self, cond: torch.Tensor, uncond: torch.Tensor | None) -> torch.Tensor:  # (b, 1, e)
        c = self.proj(cond)
        if uncond is not None:
            c = torch.where(uncond.unsqueeze(-1), self.null.to(c.dtype).expand_as(c), c)
        return c.unsqueeze(1)


class MaskedTransformer(nn.Module):
    def __init__(self, cfg: T2MConfig):
        super().__init__()
        self.cfg = cfg
        k = cfg.codebook_size
        self.mask_id, self.pad_id = k, k + 1
        self.tok = nn.Embedding(k + 2, cfg.n_embd)
        self.pos = nn.Parameter(torch.randn(1, cfg.max_tokens + 1, cfg.n_embd) * 0.02)
        self.cond = _Cond(cfg)
        self.enc = _Encoder(cfg, cfg.n_layer)
        self.head = nn.Linear(cfg.n_embd, k)
        # the length from the text alone (MoMask's length estimator): read from the transformer's condition
        # position it would see the tokens' positions, which give the length away in training and are absent
        # when generating (a length head on h[:, 0] learned to count the padding, then predicted 2 tokens)
        self.length_head = nn.Sequential(nn.Linear(cfg.text_dim, cfg.n_embd), nn.GELU(),
                                         nn.Linear(cfg.n_embd, cfg.max_tokens))  # class i: i + 1 tokens

    def forward(self, idx: torch.Tensor, cond: torch.Tensor, uncond: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``idx (b, l)`` with MASK/PAD -> (token logits (b, l, K), length logits (b, max_tokens))."""
        b, l = idx.shape
        x = torch.cat([self.cond(cond, uncond), self.tok(idx)], 1) + self.pos[:, : l + 1]
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=idx.device), idx == self.pad_id], 1)
        h = self.enc(x, pad)
        return self.head(h[:, 1:]), self.length_head(cond)

    def loss(self, codes: torch.Tensor, lengths: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``codes (b, l)`` base tokens (-1 at padding), ``lengths (b,)``: masked-token CE + length CE."""
        cfg = self.cfg
        b, l = codes.shape
        dev = codes.device
        real = codes >= 0
        r = torch.rand(b, device=dev)
        n_mask = (cosine_schedule(r) * lengths).ceil().clamp(min=1).long()  # (b,)
        score = torch.rand(b, l, device=dev).masked_fill(~real, 2.0)
        rank = score.argsort(1).argsort(1)
        masked = (rank < n_mask.unsqueeze(1)) & real
        inp = torch.where(real, codes, torch.full_like(codes, self.pad_id))
        # of the masked positions, 10 % get a random code instead of MASK (as BERT and MoMask do)
        rnd = (torch.rand(b, l, device=dev) < 0.1) & masked
        inp = torch.where(masked & ~rnd, torch.full_like(inp, self.mask_id), inp)
        inp = torch.where(rnd, torch.randint_like(inp, cfg.codebook_size), inp)
        uncond = torch.rand(b, device=dev) < cfg.cond_drop if self.training and cfg.cond_drop > 0 else None
        logits, len_logits = self(inp, cond, uncond)
        tgt = torch.where(masked, codes, torch.full_like(codes, IGNORE))
        tok_loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=IGNORE)
        len_loss = F.cross_entropy(len_logits.float(), (lengths - 1).clamp(0, cfg.max_tokens - 1))
        return tok_loss + 0.1 * len_loss

    @torch.no_grad()
    def predict_length(self, cond: torch.Tensor, max_tokens: int) -> torch.Tensor:
        return self.length_head(cond)[:, :max_tokens].argmax(-1) + 1

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, lengths: torch.Tensor, steps: int | None = None, temperature: float = 1.0,
                 top_k: int | None = None, cfg_scale: float = 1.0, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        """Iterative decoding: ``(b, max(lengths))`` base tokens, -1 beyond each row's length; no MASK left."""
        steps = steps or self.cfg.mask_steps
        b = cond.shape[0]
        l = int(lengths.max())
        dev = cond.device
        real = torch.arange(l, device=dev).unsqueeze(0) < lengths.unsqueeze(1)
        idx = torch.where(real, torch.full((b, l), self.mask_id, device=dev, dtype=torch.long),
                          torch.full((b, l), self.pad_id, device=dev, dtype=torch.long))
        for s in range(steps):
            is_mask = idx == self.mask_id
            if not bool(is_mask.any()):
                break
            if cfg_scale != 1.0:
                flags = torch.cat([torch.zeros(b, dtype=torch.bool, device=dev), torch.ones(b, dtype=torch.bool, device=dev)])
                lg = self(torch.cat([idx, idx]), torch.cat([cond, cond]), flags)[0].float()
                logits = lg[b:] + cfg_scale * (lg[:b] - lg[b:])
            else:
                logits = self(idx, cond)[0].float()  # (b, l, K)
            flat = logits.reshape(b * l, -1)
            pick = _sample(flat, temperature, top_k, generator).reshape(b, l)
            conf = torch.softmax(flat, -1).gather(1, pick.reshape(-1, 1)).reshape(b, l)
            filled = torch.where(is_mask, pick, idx)
            # how many stay masked after this step; 0 after the last one
            keep_masked = (lengths.float() * cosine_schedule((s + 1) / steps)).floor().long()
            if s == steps - 1:
                keep_masked = torch.zeros_like(keep_masked)
            keep_masked = torch.minimum(keep_masked, is_mask.sum(1) - 1).clamp(min=0)
            score = torch.where(is_mask, conf, torch.full_like(conf, math.inf))  # fixed tokens stay
            rank = score.argsort(1).argsort(1)
            remask = (rank < keep_masked.unsqueeze(1)) & is_mask
            idx = torch.where(remask, torch.full_like(filled, self.mask_id), filled)
        return torch.where(real, idx, torch.full_like(idx, -1))


class ResidualTransformer(nn.Module):
    def __init__(self, cfg: T2MConfig):
        super().__init__()
        self.cfg = cfg
        q, k = cfg.num_quantizers, cfg.codebook_size
        self.tok = nn.ModuleList([nn.Embedding(k + 1, cfg.n_embd, padding_idx=k) for _ in range(q)])
        self.layer_emb = nn.Embedding(q, cfg.n_embd)
        self.pos = nn.Parameter(torch.randn(1, cfg.max_tokens + 1, cfg.n_embd) * 0.02)
        self.cond = _Cond(cfg)
        self.enc = _Encoder(cfg, cfg.residual_layers)
        self.head = nn.Linear(cfg.n_embd, k)

    def forward(self, codes: torch.Tensor, layer: int, cond: torch.Tensor) -> torch.Tensor:
        """``codes (b, l, q)`` (-1 at padding; only layers < ``layer`` are read) -> logits of ``layer`` (b, l, K)."""
        b, l, _ = codes.shape
        k = self.cfg.codebook_size
        real = codes[..., 0] >= 0
        x = sum(self.tok[j](torch.where(codes[..., j] >= 0, codes[..., j], torch.full_like(codes[..., j], k)))
                for j in range(layer))
        x = x + self.layer_emb.weight[layer]
        x = torch.cat([self.cond(cond, None) + self.layer_emb.weight[layer], x], 1) + self.pos[:, : l + 1]
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=codes.device), ~real], 1)
        return self.head(self.enc(x, pad)[:, 1:])

    def loss(self, codes: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        layer = int(torch.randint(1, self.cfg.num_quantizers, (1,)))
        logits = self(codes, layer, cond)
        tgt = torch.where(codes[..., layer] >= 0, codes[..., layer], torch.full_like(codes[..., layer], IGNORE))
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=IGNORE)

    @torch.no_grad()
    def complete(self, base: torch.Tensor, cond: torch.Tensor, layers: int | None = None) -> torch.Tensor:
        """Base tokens ``(b, l)`` (-1 at padding) -> the first ``layers`` (default all) ``(b, l, layers)``,
        each layer greedy (``layers=1``: the base tokens, the transformer not run)."""
        q = min(layers or self.cfg.num_quantizers, self.cfg.num_quantizers)
        codes = torch.full((*base.shape, q), -1, dtype=torch.long, device=base.device)
        codes[..., 0] = base
        real = base >= 0
        for j in range(1, q):
            pick = self(codes, j, cond).argmax(-1)
            codes[..., j] = torch.where(real, pick, torch.full_like(pick, -1))
        return codes


class MotionGenerator(nn.Module):
    """A base generator (``cfg.generator``: gpt | masked) and, when ``cfg.num_quantizers > 1``, the residual one."""

    def __init__(self, cfg: T2MConfig):
        super().__init__()
        self.cfg = cfg
        self.base = T2MGPT(cfg) if cfg.generator == "gpt" else MaskedTransformer(cfg)
        self.residual = ResidualTransformer(cfg) if cfg.num_quantizers > 1 else None

    def loss(self, codes: torch.Tensor, lengths: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``codes (b, l, q)`` with -1 at padding (q = 1 for a single codebook), ``lengths (b,)``."""
        base = codes[..., 0]
        if isinstance(self.base, T2MGPT):
            k = self.cfg.codebook_size
            idx = torch.where(base >= 0, base, torch.full_like(base, k + 1))
            tgt = torch.full((base.shape[0], base.shape[1] + 1), IGNORE, dtype=torch.long, device=base.device)
            tgt[:, :-1] = torch.where(base >= 0, base, torch.full_like(base, IGNORE))
            ended = lengths <= self.cfg.max_tokens
            rows = torch.arange(len(base), device=base.device)
            tgt[rows[ended], lengths.clamp(max=base.shape[1])[ended]] = k
            loss = self.base(idx, cond, tgt)[1]
        else:
            loss = self.base.loss(base, lengths.clamp(max=self.cfg.max_tokens), cond)
        if self.residual is not None:
            loss = loss + self.residual.loss(codes, cond)
        return loss

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, max_tokens: int | None = None, temperature: float = 1.0,
               top_k: int | None = None, cfg_scale: float = 1.0, generator: torch.Generator | None = None,
               lengths: torch.Tensor | None = None, layers: int | None = None) -> list[tuple[torch.Tensor, bool]]:
        """``(codes (n, q), ended)`` per row of ``cond``; ``layers``: only the first that many quantizer layers
        (1: the base tokens alone, without the residual transformer)."""
        limit = min(max_tokens or self.cfg.max_tokens, self.cfg.max_tokens)
        if isinstance(self.base, T2MGPT):
            rows = self.base.generate(cond, max_tokens=limit, temperature=temperature, top_k=top_k,
                                      cfg_scale=cfg_scale, generator=generator)
            l = max(1, max(len(c) for c, _ in rows))
            base = torch.full((len(rows), l), -1, dtype=torch.long, device=cond.device)
            for i, (c, _) in enumerate(rows):
                if c:
                    base[i, :len(c)] = torch.tensor(c, device=cond.device)
            ended = [e for _, e in rows]
        else:
            if lengths is None:
                lengths = self.base.predict_length(cond, limit)
            base = self.base.generate(cond, lengths.clamp(1, limit), temperature=temperature, top_k=top_k,
                                      cfg_scale=cfg_scale, generator=generator)
            ended = [True] * len(base)
        codes = self.residual.complete(base, cond, layers) if self.residual is not None else base.unsqueeze(-1)
        out = []
        for i in range(len(codes)):
            n = int((codes[i, :, 0] >= 0).sum())
            out.append((codes[i, :n], ended[i]))
        return out
