"""MotionCLIP for sign language: a transformer motion autoencoder whose latent space is aligned
with a frozen text encoder (Tevet et al. 2022, as adapted in the SyriSign paper: MediaPipe
landmarks instead of SMPL rotations, reconstruction + velocity + latent-magnitude losses).

Notation: B batch, T frames, J joints, D latent size (= text size by default), d model width.

- ``encode_motion(x (B, T, J*3), mask) -> z (B, D)``: the frames and a learned summary token go
  through a transformer encoder; the summary token's output is the latent.
- ``decode(z (B, D), length) -> (B, L, J*3)``: one time query per output frame, built from the
  frame's *phase* t / (L - 1) (so any requested length plays the whole sign), cross-attends to
  a few memory tokens made from the latent.
- ``encode_text(t (B, text_dim)) -> z``: ``"direct"``: the latent space *is* the text space
  (MotionCLIP's choice: a text embedding, rescaled to the typical latent norm, is decoded as
  it is); ``"mlp"`` (default): a small mapping trained to regress the motion latents of a label
  from its text embedding (trained on detached latents, so it never changes the autoencoder).
  Measured on held-out signers: equal on KArSL, much better on ISL where the alignment is
  looser (DTW-MJE 0.770 vs 0.993).

Inputs and outputs are in normalized pose units (shoulder-centred, shoulder width 1); the
model standardizes internally with training-set statistics held as buffers, so a checkpoint
carries everything it needs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn


@dataclass
class MotionCLIPConfig:
    n_joints: int = 193
    d_model: int = 128
    n_heads: int = 4
    enc_layers: int = 3
    dec_layers: int = 3
    ff_mult: int = 2
    dropout: float = 0.1
    latent_dim: int = 512  # = text_dim: a text embedding can be decoded directly
    text_dim: int = 512  # frozen text encoder size (512 for "use")
    mem_tokens: int = 4  # memory tokens the decoder's time queries attend to
    time_freqs: int = 16  # Fourier frequencies of the phase features of the time queries
    text_map: str = "mlp"  # text -> latent map for generation: "mlp" | "direct" (measured: results/motionclip.md)
    map_hidden: int = 512
    # loss weights (SyriSign eq. 2 plus MotionCLIP's text alignment and the mapping's regression)
    w_recon: float = 1.0
    w_vel: float = 1.0
    w_latent: float = 1e-3
    w_align: float = 0.5
    w_map: float = 1.0


# -- helpers ---------------------------------------------------------------------------------
def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sinusoidal encoding of integer positions ``(...,) -> (..., dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    ang = positions.float()[..., None] * freqs
    out = torch.cat([ang.sin(), ang.cos()], dim=-1)
    return F.pad(out, (0, dim - 2 * half))


def phase_features(phase: torch.Tensor, n_freqs: int) -> torch.Tensor:
    """Fourier features of a phase in [0, 1]: ``(...,) -> (..., 2 * n_freqs + 1)``."""
    k = torch.arange(n_freqs, device=phase.device, dtype=torch.float32)
    ang = math.pi * phase.float()[..., None] * (k + 1)
    return torch.cat([phase.float()[..., None], ang.sin(), ang.cos()], dim=-1)


def lengths_to_mask(lengths: torch.Tensor, t_max: int | None = None) -> torch.Tensor:
    """``(B,) -> (B, T)`` bool, True on real frames."""
    t_max = int(lengths.max()) if t_max is None else t_max
    return torch.arange(t_max, device=lengths.device)[None] < lengths[:, None]


def masked_mean(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (v * w).sum() / w.sum().clamp(min=1.0)


# -- model ------------------------------------------------------------------------------------
class MotionCLIP(nn.Module):
    def __init__(self, cfg: MotionCLIPConfig):
        super().__init__()
        self.cfg = cfg
        d, j = cfg.d_model, cfg.n_joints

        def layer_kw():
            return dict(d_model=d, nhead=cfg.n_heads, dim_feedforward=cfg.ff_mult * d, dropout=cfg.dropout,
                        batch_first=True, norm_first=True, activation="gelu")

        # standardization statistics (normalized units), set from the training set
        self.register_buffer("mean", torch.zeros(j, 3))
        self.register_buffer("std", torch.ones(j, 3))
        # running mean of the motion latents' norm: the scale a text embedding gets in "direct" mode
        self.register_buffer("latent_norm", torch.ones(()))

        self.in_proj = nn.Linear(j * 4, d)  # coordinates + presence of each joint
        self.summary = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kw()), cfg.enc_layers,
                                             enable_nested_tensor=False)
        self.enc_norm = nn.LayerNorm(d)
        self.to_latent = nn.Linear(d, cfg.latent_dim)

        self.time_mlp = nn.Sequential(nn.Linear(2 * cfg.time_freqs + 1, d), nn.GELU(), nn.Linear(d, d))
        self.latent_to_query = nn.Linear(cfg.latent_dim, d)
        self.latent_to_mem = nn.Linear(cfg.latent_dim, cfg.mem_tokens * d)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_kw()), cfg.dec_layers)
        self.dec_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, j * 3)

        self.text_mlp = nn.Sequential(nn.Linear(cfg.text_dim, cfg.map_hidden), nn.GELU(),
                                      nn.Linear(cfg.map_hidden, cfg.latent_dim))
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def set_stats(self, mean, std) -> None:
        """Standardization statistics ``(J, 3)`` (numpy or tensors) of the training set."""
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    # -- encoder ------------------------------------------------------------------------------
    def encode_motion(self, x: torch.Tensor, mask: torch.Tensor, frame_mask: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """``x (B, T, J*3)`` or ``(B, T, J, 3)`` normalized, ``mask (B, T, J)`` joint presence
        (or ``(B, T)`` frame mask: all joints present) -> latent ``(B, D)``."""
        x = x.reshape(*x.shape[:2], self.cfg.n_joints, 3)  # (B, T, J, 3)
        if mask.dim() == 2:
            frame_mask = mask if frame_mask is None else frame_mask
            mask = repeat(mask, "b t -> b t j", j=self.cfg.n_joints)
        if frame_mask is None:
            frame_mask = mask.any(-1)
        frame_mask = frame_mask.bool()
        m = mask.bool() & frame_mask[..., None]
        z = torch.where(m[..., None], (x - self.mean) / self.std, torch.zeros_like(x))
        feats = torch.cat([rearrange(z, "b t j c -> b t (j c)"), m.float()], dim=-1)  # (B, T, 4J)
        b, t = frame_mask.shape
        h = self.in_proj(feats) + sinusoid(torch.arange(t, device=x.device), self.cfg.d_model)  # (B, T, d)
        h = torch.cat([self.summary.expand(b, -1, -1), h], dim=1)  # (B, 1 + T, d)
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=x.device), ~frame_mask], dim=1)
        h = self.encoder(h, src_key_padding_mask=pad)
        return self.to_latent(self.enc_norm(h[:, 0]))  # (B, D)

    # -- decoder ------------------------------------------------------------------------------
    def decode(self, latent: torch.Tensor, length: int | torch.Tensor) -> torch.Tensor:
        """``latent (B, D)`` -> ``(B, L, J*3)`` normalized, ``L = max(length)``; a single
        latent ``(D,)`` with an int length gives ``(length, J*3)``."""
        single = latent.dim() == 1
        if single:
            latent = latent[None]
        b = latent.shape[0]
        lengths = torch.as_tensor(length, device=latent.device).long().reshape(-1).expand(b) \
            if not torch.is_tensor(length) or length.dim() == 0 else length.to(latent.device).long()
        t_max = int(lengths.max())
        fmask = lengths_to_mask(lengths, t_max)  # (B, L)
        steps = torch.arange(t_max, device=latent.device)[None].float()  # (1, L)
        phase = (steps / (lengths[:, None] - 1).clamp(min=1).float()).clamp(max=1.0)  # (B, L)
        q = self.time_mlp(phase_features(phase, self.cfg.time_freqs)) + self.latent_to_query(latent)[:, None]
        mem = rearrange(self.latent_to_mem(latent), "b (k d) -> b k d", k=self.cfg.mem_tokens)
        h = self.decoder(q, mem, tgt_key_padding_mask=~fmask)
        y = rearrange(self.out(self.dec_norm(h)), "b l (j c) -> b l j c", c=3)
        y = y * self.std + self.mean  # back to normalized units
        y = torch.where(fmask[..., None, None], y, torch.zeros_like(y))
        y = rearrange(y, "b l j c -> b l (j c)")
        return y[0] if single else y

    # -- text ----------------------------------------------------------------------------------
    def encode_text(self, embeddings: torch.Tensor, mode: str | None = None) -> torch.Tensor:
        """Frozen text embeddings ``(B, text_dim)`` -> latents ``(B, D)`` to decode."""
        mode = mode or self.cfg.text_map
        if mode == "direct":
            assert self.cfg.latent_dim == self.cfg.text_dim, "direct text->latent needs latent_dim == text_dim"
            return F.normalize(embeddings.float(), dim=-1) * self.latent_norm
        if mode == "mlp":
            return self.text_mlp(embeddings.float())
        raise ValueError(f"unknown text->latent map {mode!r}: use 'direct' or 'mlp'")

    def text_similarity(self, latents: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
        """Cosine similarity ``(N, M)`` of motion latents ``(N, D)`` to texts ``(M, text_dim)``:
        in the text space itself when the spaces coincide, else through the learned map."""
        t = text_embeddings.float() if self.cfg.latent_dim == self.cfg.text_dim else self.text_mlp(
            text_embeddings.float())
        return F.normalize(latents, dim=-1) @ F.normalize(t, dim=-1).T

    # -- training ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: torch.Tensor, frame_mask: torch.Tensor,
                text: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``x (B, T, J, 3)`` normalized, ``mask (B, T, J)``, ``frame_mask (B, T)``, ``text (B, text_dim)``
        -> (reconstruction ``(B, T, J, 3)``, latent ``(B, D)``, losses with their weighted ``total``)."""
        cfg = self.cfg
        b, t = frame_mask.shape
        lat = self.encode_motion(x, mask, frame_mask)  # (B, D)
        if self.training:
            with torch.no_grad():
                self.latent_norm.lerp_(lat.detach().norm(dim=-1).mean(), 0.05)
        lengths = frame_mask.sum(1)
        y = rearrange(self.decode(lat, lengths), "b l (j c) -> b l j c", c=3)  # (B, T, J, 3)
        if y.shape[1] < t:
            y = F.pad(y, (0, 0, 0, 0, 0, t - y.shape[1]))
        m = (mask.bool() & frame_mask.bool()[..., None]).float()  # (B, T, J)
        # reconstruction over all time steps and valid joints, in squared shoulder widths
        recon = masked_mean(((y - x) ** 2).sum(-1), m)
        # velocity: predicted frame-to-frame motion should match the recording's
        mv = m[:, 1:] * m[:, :-1]
        vel = masked_mean((((y[:, 1:] - y[:, :-1]) - (x[:, 1:] - x[:, :-1])) ** 2).sum(-1), mv)
        latent = (lat ** 2).mean()
        losses = {"recon": recon, "vel": vel, "latent": latent}
        total = cfg.w_recon * recon + cfg.w_vel * vel + cfg.w_latent * latent
        if text is not None:
            text = text.float()
            tgt = text if cfg.latent_dim == cfg.text_dim else None
            if tgt is not None:
                align = (1 - F.cosine_similarity(lat, tgt, dim=-1)).mean()
                losses["align"] = align
                total = total + cfg.w_align * align
            # the mapping regresses the (detached) motion latent from the text
            mapped = self.text_mlp(text)
            target = lat.detach()
            map_loss = F.mse_loss(mapped, target) / target.pow(2).mean().clamp(min=1e-6)  # relative: scale-free
            losses["map"] = map_loss
            total = total + cfg.w_map * map_loss
            if tgt is None:  # no shared space: align through the mapping instead
                align = (1 - F.cosine_similarity(lat, mapped.detach(), dim=-1)).mean()
                losses["align"] = align
                total = total + cfg.w_align * align
        losses["total"] = total
        return y, lat, losses


# -- loading ------------------------------------------------------------------------------------
def load_model(path, device: str | torch.device | None = None) -> tuple[MotionCLIP, dict]:
    """Rebuild a trained model from its checkpoint file: ``(model in eval mode, checkpoint dict)``."""
    from syrisign.ml.checkpoint import CheckpointError, config_from_dict, load_checkpoint
    from syrisign.ml.device import pick_device

    ckpt = load_checkpoint(path, "motionclip")
    model = MotionCLIP(config_from_dict(MotionCLIPConfig, ckpt["config"]))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not match this MotionCLIP version ({str(e).splitlines()[0]}); retrain it")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return model.to(dev).eval(), ckpt
