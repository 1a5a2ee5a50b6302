"""Motion VQ-VAE (T2M-GPT stage 1) over normalized landmarks.

A 1-D convolutional encoder with dilated residual blocks downsamples time by ``2**down_t``
(4 by default), :class:`vector_quantize_pytorch.VectorQuantize` maps every latent step to
one of ``codebook_size`` codes (EMA codebook updates, k-means initialisation, dead-code
reset), and a mirrored decoder upsamples back to poses. With ``quantizer="residual"``
:class:`vector_quantize_pytorch.ResidualVQ` quantizes each step with ``num_quantizers`` codebooks in
turn (each codes what the layers before it left), as in MoMask: the indices are then ``(b, n, q)``,
layer 0 the base tokens; training drops the later layers at random (quantize dropout), so that a
prefix of the layers decodes on its own.

Notation: ``b`` batch, ``t`` frames, ``n = t / 2**down_t`` tokens, ``j`` joints,
``c`` channels, ``d`` code width.

The model takes and returns poses in normalized units (shoulder-centred, shoulder width 1);
standardization with training statistics happens inside, so the reconstruction loss and the
MPJPE are both in shoulder widths. Missing landmarks (joint mask False) enter as the mean
pose and are left out of every loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from vector_quantize_pytorch import ResidualVQ, VectorQuantize

from syrisign.ml.checkpoint import config_from_dict, load_checkpoint

KIND = "vqvae"


@dataclass
class VQVAEConfig:
    layout: str = "syrisign193"
    num_joints: int = 193
    fps: float = 25.0
    width: int = 128  # conv channels (T2M-GPT: 512)
    depth: int = 2  # residual blocks per resolution (T2M-GPT: 3)
    dilation_growth: int = 3
    down_t: int = 2  # temporal downsampling by 2**down_t
    code_dim: int = 64  # code width (T2M-GPT: 512)
    codebook_size: int = 64  # (T2M-GPT: 512; the word datasets here have a few thousand tokens)
    ema_decay: float = 0.99
    kmeans_init: bool = True
    cosine: bool = False  # l2-normalized codes and latents (cosine-similarity lookup)
    # a code whose EMA count per batch falls below this is re-seeded from the batch; T2M-GPT resets below 1
    # with ~8 tokens per code per batch, here a batch has only ~1-2 per code, so the bar is lower
    dead_code_threshold: float = 0.2
    commitment_weight: float = 0.02  # beta in T2M-GPT
    vel_weight: float = 0.5  # lambda of the velocity loss (paper: L_pose + lambda * L_delta)
    recon_loss: str = "l1"  # l1 | l2 | smooth_l1, on normalized coordinates
    dropout: float = 0.0
    quantizer: str = "single"  # single (one codebook, T2M-GPT) | residual (ResidualVQ, MoMask)
    num_quantizers: int = 1  # layers of the residual quantizer (1 for single)
    quantize_dropout: bool = True  # residual: train with the later layers dropped at random (MoMask)

    @property
    def residual(self) -> bool:
        return self.quantizer == "residual"

    @property
    def in_dim(self) -> int:
        return self.num_joints * 3

    @property
    def stride(self) -> int:
        return 2 ** self.down_t


# -- blocks ---------------------------------------------------------------------------------
class ResBlock1D(nn.Module):
    def __init__(self, channels: int, dilation: int, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, c, t)
        h = self.conv1(F.relu(x))
        h = self.conv2(F.relu(h))
        return x + self.drop(h)


def _res_stack(cfg: VQVAEConfig, reverse: bool) -> nn.Sequential:
    dil = [cfg.dilation_growth ** i for i in range(cfg.depth)]
    if reverse:
        dil = dil[::-1]
    return nn.Sequential(*[ResBlock1D(cfg.width, d, cfg.dropout) for d in dil])


class Encoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(cfg.in_dim, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.down_t):
            layers += [nn.Conv1d(cfg.width, cfg.width, 4, stride=2, padding=1), _res_stack(cfg, reverse=False)]
        layers.append(nn.Conv1d(cfg.width, cfg.code_dim, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, j*3, t) -> (b, d, n)
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(cfg.code_dim, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.down_t):
            layers += [_res_stack(cfg, reverse=True), nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv1d(cfg.width, cfg.width, 3, padding=1)]
        layers += [nn.Conv1d(cfg.width, cfg.width, 3, padding=1), nn.ReLU(),
                   nn.Conv1d(cfg.width, cfg.in_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (b, d, n) -> (b, j*3, t)
        return self.net(z)


# -- losses -------------------------------------------------------------------------------------
def _masked_mean(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Mean of ``v (b, t, j, 3)`` over entries where ``m (b, t, j)`` is True."""
    w = m.unsqueeze(-1).to(v.dtype).expand_as(v)
    return (v * w).sum() / w.sum().clamp(min=1.0)


def _elementwise(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if kind == "l1":
        return (a - b).abs()
    if kind == "l2":
        return (a - b) ** 2
    if kind == "smooth_l1":
        return F.smooth_l1_loss(a, b, reduction="none", beta=0.05)
    raise ValueError(f"unknown reconstruction loss {kind!r}: use l1, l2 or smooth_l1")


def mpjpe_sum(pred: torch.Tensor, x: torch.Tensor, joint_mask: torch.Tensor) -> tuple[float, int]:
    """(sum of per-joint L2 errors, number of valid joints) for ``(b, t, j, 3)`` in normalized units."""
    d = torch.linalg.vector_norm((pred - x).float(), dim=-1)  # (b, t, j)
    return float((d * joint_mask).sum()), int(joint_mask.sum())


@dataclass
class VQOutput:
    recon: torch.Tensor  # (b, t, j, 3) normalized units
    indices: torch.Tensor  # (b, n) long, or (b, n, q) for the residual quantizer; -1 where the token is padding
    token_mask: torch.Tensor  # (b, n) bool
    loss: torch.Tensor  # scalar: pose + lambda * velocity + commitment
    logs: dict  # float scalars: pose, vel, commit, mpjpe


class MotionVQVAE(nn.Module):
    """``forward(x, joint_mask, frame_mask) -> VQOutput``; ``encode``/``decode`` to and from code indices."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        from syrisign.ml.distributed import init_distributed
        # data parallel: the EMA codebook updates (counts, sums, k-means init, dead-code re-seeding) are
        # all-reduced across processes so the codebook stays identical on every rank; the process group
        # must exist before VectorQuantize is built, hence init_distributed() here (every layer of a
        # residual quantizer is a VectorQuantize with the same options)
        vq_kwargs = dict(dim=cfg.code_dim, codebook_size=cfg.codebook_size, decay=cfg.ema_decay,
                         commitment_weight=cfg.commitment_weight, kmeans_init=cfg.kmeans_init,
                         threshold_ema_dead_code=cfg.dead_code_threshold, use_cosine_sim=cfg.cosine,
                         sync_codebook=init_distributed())
        if cfg.quantizer == "residual":
            if cfg.num_quantizers < 2:
                raise ValueError("a residual quantizer needs num_quantizers >= 2")
            self.quantizer = ResidualVQ(num_quantizers=cfg.num_quantizers,
                                        quantize_dropout=cfg.quantize_dropout, **vq_kwargs)
        elif cfg.quantizer == "single":
            self.quantizer = VectorQuantize(**vq_kwargs)
        else:
            raise ValueError(f"unknown quantizer {cfg.quantizer!r}: use single or residual")
        # normalization statistics of the training set (per joint coordinate); set by set_stats
        self.register_buffer("mean", torch.zeros(cfg.num_joints, 3))
        self.register_buffer("std", torch.ones(cfg.num_joints, 3))

    def set_stats(self, mean, std) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    # -- helpers ------------------------------------------------------------------------------
    def _pad(self, x: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor):
        """Pad the time axis to a multiple of the stride with masked frames."""
        t = x.shape[1]
        pad = (-t) % self.cfg.stride
        if pad:
            x = F.pad(x, (0, 0, 0, 0, 0, pad))
            joint_mask = F.pad(joint_mask, (0, 0, 0, pad))
            frame_mask = F.pad(frame_mask, (0, pad))
        return x, joint_mask, frame_mask

    def token_mask(self, frame_mask: torch.Tensor) -> torch.Tensor:
        """(b, t) frame mask (t a multiple of the stride) -> (b, n): a token is real if any of its frames is."""
        return rearrange(frame_mask, "b (n s) -> b n s", s=self.cfg.stride).any(-1)

    def _standardize(self, x: torch.Tensor, joint_mask: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return torch.where(joint_mask.unsqueeze(-1), z, torch.zeros_like(z))  # missing -> mean pose

    def _encode_latent(self, x, joint_mask):  # (b, t, j, 3) -> (b, n, d)
        z = self._standardize(x, joint_mask)
        h = self.encoder(rearrange(z, "b t j k -> b (j k) t"))
        return rearrange(h, "b d n -> b n d")

    def _decode_latent(self, q: torch.Tensor) -> torch.Tensor:  # (b, n, d) -> (b, t, j, 3) normalized
        out = self.decoder(rearrange(q, "b n d -> b d n"))
        out = rearrange(out, "b (j k) t -> b t j k", k=3)
        return out * self.std + self.mean

    # -- API --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor) -> VQOutput:
        """``x (b, t, j, 3)`` normalized, ``joint_mask (b, t, j)``, ``frame_mask (b, t)`` bool."""
        t = x.shape[1]
        joint_mask = joint_mask & frame_mask.unsqueeze(-1)
        xp, jm, fm = self._pad(x, joint_mask, frame_mask)
        tm = self.token_mask(fm)  # (b, n)
        h = self._encode_latent(xp, jm)  # (b, n, d)
        q, idx, commit = self.quantizer(h, mask=tm)
        commit = commit.sum()  # the residual quantizer returns one loss per layer
        recon = self._decode_latent(q)[:, :t]  # (b, t, j, 3)
        cfg = self.cfg
        pose = _masked_mean(_elementwise(cfg.recon_loss, recon, x), joint_mask)
        vm = joint_mask[:, 1:] & joint_mask[:, :-1]
        vel = _masked_mean(_elementwise(cfg.recon_loss, recon[:, 1:] - recon[:, :-1], x[:, 1:] - x[:, :-1]), vm)
        # the library reports commitment only in training; measure it the same way for validation
        with torch.no_grad():
            commit_mse = ((q.float() - h.float()) ** 2).mean(-1)  # (b, n)
            commit_mse = (commit_mse * tm).sum() / tm.sum().clamp(min=1)
        if not self.training:
            commit = (commit_mse * cfg.commitment_weight).to(pose.dtype)
        loss = pose + cfg.vel_weight * vel + commit
        with torch.no_grad():
            s, n = mpjpe_sum(recon.detach(), x, joint_mask)
        logs = {"pose": float(pose.detach()), "vel": float(vel.detach()), "commit": float(commit_mse),
                "mpjpe": s / max(n, 1)}
        return VQOutput(recon, idx, tm, loss, logs)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Code indices ``(b, n)`` (-1 at padding) and the token mask ``(b, n)``; the model should be in eval mode."""
        if frame_mask is None:
            frame_mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        joint_mask = joint_mask & frame_mask.unsqueeze(-1)
        xp, jm, fm = self._pad(x, joint_mask, frame_mask)
        tm = self.token_mask(fm)
        h = self._encode_latent(xp, jm)
        _, idx, _ = self.quantizer(h, mask=tm, freeze_codebook=True)
        return idx, tm

    def quantized(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices ``(b, n)`` (single) or ``(b, n, q')`` with ``q' <= num_quantizers`` (residual: the first
        ``q'`` layers) -> the quantized latents ``(b, n, d)``, zero at padding (index -1)."""
        if self.cfg.residual:
            if indices.dim() == 2:
                indices = indices.unsqueeze(-1)
            q_ = indices.shape[-1]
            if q_ < self.cfg.num_quantizers:  # missing layers contribute nothing (as when dropped in training)
                indices = F.pad(indices, (0, self.cfg.num_quantizers - q_), value=-1)
            valid = indices[..., 0] >= 0
            q = self.quantizer.project_out(self.quantizer.get_codes_from_indices(indices).sum(0))  # -1: zero
        else:
            valid = indices >= 0
            q = self.quantizer.get_output_from_indices(indices.clamp(min=0))  # (b, n, d)
        return torch.where(valid.unsqueeze(-1), q, torch.zeros_like(q))  # padding is zero, as in forward

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices ``(b, n)`` or ``(b, n, q)`` -> poses ``(b, n * stride, j, 3)`` in normalized units."""
        return self._decode_latent(self.quantized(indices))


def load_vqvae(path_or_ckpt: str | Path | dict, device: torch.device | str = "cpu"
               ) -> tuple[MotionVQVAE, dict]:
    """Rebuild a VQ-VAE (eval mode) from a checkpoint file or an already loaded checkpoint dict."""
    ckpt = path_or_ckpt if isinstance(path_or_ckpt, dict) else load_checkpoint(path_or_ckpt, KIND)
    cfg = config_from_dict(VQVAEConfig, ckpt["config"])
    model = MotionVQVAE(cfg)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt
