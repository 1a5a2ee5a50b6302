"""The recognizer network (torch): the landmark branch of the zero-shot sign recognition paper
(seed 002): a spatial-temporal graph convolution (ST-GCN) over the body landmarks, a BiLSTM over
the hand landmarks, self-attention pooling over time in each stream, self-attention across the
streams ("data grading"), and either a linear classifier or a text head that scores a pose
embedding against projected text embeddings of the class names (zero-shot capable).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from syrisign.skeletons import get_skeleton


@dataclass
class RecognizerConfig:
    """Model and input preparation of the recognizer; stored in its checkpoint."""

    layout: str = "upper65"  # input layout (face-less); kinect20 for the Kinect ISL set
    fps: float = 10.0  # KArSL's word clips hold 18 frames of about 2 s: 10 fps keeps them all
    max_frames: int = 32
    hidden: int = 48  # ST-GCN channels
    gcn_layers: int = 3
    temporal_kernel: int = 5
    lstm_hidden: int = 64
    embed_dim: int = 128  # the penultimate features (FID, diversity, t-SNE)
    head: str = "text"  # "text" (scores against class-name embeddings) | "linear"
    text_encoder: str = "use"
    text_dim: int = 512
    joint_dim: int = 128  # shared pose-text space of the text head (R-precision)
    dropout: float = 0.2
    num_classes: int = 0


# -- streams ------------------------------------------------------------------------------------------
def stream_joints(layout: str) -> tuple[list[int], list[int]]:
    """``(body joints, hand joints)`` of a layout: the pose component and both hands; for
    skeletons without hands (Kinect) the whole body and the arm joints (shoulder to hand)."""
    sk = get_skeleton(layout)
    comps = sk.slices
    # the paper keeps the shoulders and arms of the pose landmarks; the nose marks where the head is
    body_words = ("NOSE", "SHOULDER", "ELBOW", "WRIST", "PINKY", "INDEX", "THUMB", "HAND", "HEAD", "NECK", "SPINE")
    if "left_hand" in comps and "right_hand" in comps:
        pose = range(*comps["pose"].indices(len(sk.joints))) if "pose" in comps else []
        body = [j for j in pose if any(w in sk.joints[j].upper() for w in body_words)]
        hands = [j for c in ("left_hand", "right_hand") for j in range(*comps[c].indices(len(sk.joints)))]
        return body, hands
    body = [j for j, n in enumerate(sk.joints)
            if n.split(".", 1)[0] != "face" and any(w in n.upper() for w in body_words + ("HIP",))]
    arm_words = ("SHOULDER", "ELBOW", "WRIST", "HAND")
    hands = [j for j, n in enumerate(sk.joints) if any(w in n.upper() for w in arm_words)]
    return body, hands


def body_adjacency(layout: str, joints: list[int]) -> np.ndarray:
    """``(2, V, V)`` ST-GCN partitions: identity and the normalized neighbour matrix
    ``D^-1/2 A D^-1/2`` of the skeleton's limbs among ``joints``."""
    sk = get_skeleton(layout)
    pos = {j: i for i, j in enumerate(joints)}
    V = len(joints)
    A = np.zeros((V, V), dtype=np.float32)
    for a, b in sk.limbs:
        if a in pos and b in pos:
            A[pos[a], pos[b]] = A[pos[b], pos[a]] = 1.0
    deg = A.sum(1) + 1.0
    d = 1.0 / np.sqrt(deg)
    return np.stack([np.eye(V, dtype=np.float32), (d[:, None] * A * d[None])])


# -- modules ----------------------------------------------------------------------------------------
class GraphConvBlock(nn.Module):
    """One ST-GCN unit: spatial graph convolution over K partitions, then a temporal convolution."""

    def __init__(self, cin: int, cout: int, adjacency: torch.Tensor, kernel: int, dropout: float):
        super().__init__()
        self.register_buffer("A", adjacency)  # (K, V, V)
        self.importance = nn.Parameter(torch.ones_like(adjacency))  # learnable edge importance
        k = adjacency.shape[0]
        self.spatial = nn.Conv2d(cin, cout * k, 1)
        self.temporal = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(),
                                      nn.Conv2d(cout, cout, (kernel, 1), padding=(kernel // 2, 0)),
                                      nn.BatchNorm2d(cout))  # no dropout here: costly on (B, C, T, V)
        self.residual = nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, C, T, V)
        k = self.A.shape[0]
        y = rearrange(self.spatial(x), "b (k c) t v -> b k c t v", k=k)
        y = torch.einsum("bkctv,kvw->bctw", y, self.A * self.importance)
        return F.relu(self.temporal(y) + self.residual(x))


class AttentionPool(nn.Module):
    """Self-attention pooling over time: ``softmax_t(v . tanh(W h_t))``-weighted mean of ``h``."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1, bias=False)

    def forward(self, h: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:  # h (B, T, D), frames (B, T)
        s = self.score(torch.tanh(self.proj(h))).squeeze(-1)  # (B, T)
        s = s.masked_fill(~frames, -1e4)
        w = torch.softmax(s, dim=1)
        return torch.einsum("bt,btd->bd", w, h)


class StreamFusion(nn.Module):
    """Self-attention across the stream vectors (the paper's data grading): ``softmax(QK^T/sqrt d) V``."""

    def __init__(self, dim: int):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # z (B, P, D)
        a = torch.softmax(self.q(z) @ self.k(z).transpose(1, 2) / math.sqrt(z.shape[-1]), dim=-1)  # (B, P, P)
        return self.norm(z + a @ self.v(z))


class LandmarkRecognizer(nn.Module):
    """ST-GCN (body) + BiLSTM (hands) with attention pooling and stream self-attention.

    ``forward(x (B, T, J, 3), joint_mask (B, T, J), frames (B, T), text_emb (C, text_dim) | None)
    -> (logits (B, C), embedding (B, embed_dim))``.
    """

    def __init__(self, cfg: RecognizerConfig):
        super().__init__()
        self.cfg = cfg
        body, hands = stream_joints(cfg.layout)
        self.register_buffer("body_idx", torch.tensor(body, dtype=torch.long), persistent=False)
        self.register_buffer("hand_idx", torch.tensor(hands, dtype=torch.long), persistent=False)
        A = torch.from_numpy(body_adjacency(cfg.layout, body))
        chans = [7] + [cfg.hidden] * cfg.gcn_layers  # xyz, velocity xyz, presence
        self.gcn = nn.ModuleList(GraphConvBlock(a, b, A, cfg.temporal_kernel, cfg.dropout)
                                 for a, b in zip(chans[:-1], chans[1:]))
        self.body_pool = AttentionPool(cfg.hidden)
        hand_in = len(hands) * 7  # xyz, xyz relative to the hand's first joint (wrist), presence
        self.hand_in = nn.Sequential(nn.Linear(hand_in, 2 * cfg.lstm_hidden), nn.ReLU(), nn.Dropout(cfg.dropout))
        self.lstm = nn.LSTM(2 * cfg.lstm_hidden, cfg.lstm_hidden, batch_first=True, bidirectional=True)
        self.hand_pool = AttentionPool(2 * cfg.lstm_hidden)
        d = cfg.embed_dim
        self.to_body, self.to_hand = nn.Linear(cfg.hidden, d), nn.Linear(2 * cfg.lstm_hidden, d)
        self.fusion = StreamFusion(d)
        self.embed = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * d, d), nn.LayerNorm(d))
        if cfg.head == "text":
            self.pose_proj = nn.Linear(d, cfg.joint_dim)
            self.text_proj = nn.Linear(cfg.text_dim, cfg.joint_dim)
            self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        elif cfg.head == "linear":
            self.classifier = nn.Linear(d, cfg.num_classes)
        else:
            raise ValueError(f"unknown recognizer head {cfg.head!r}: use text or linear")

    # -- streams ----------------------------------------------------------------------------------
    def _hand_features(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        h, hm = x[:, :, self.hand_idx], m[:, :, self.hand_idx]  # (B, T, H, 3), (B, T, H)
        if self.cfg.layout != "kinect20" and h.shape[2] == 42:  # hand shape: joints relative to each wrist
            rel = torch.cat([h[:, :, :21] - h[:, :, :1], h[:, :, 21:] - h[:, :, 21:22]], dim=2)
        else:  # arms: relative to the shoulder centre already; add velocity instead
            rel = torch.diff(h, dim=1, prepend=h[:, :1])
        rel = rel * hm[..., None]
        return torch.cat([rearrange(h, "b t h c -> b t (h c)"), rearrange(rel, "b t h c -> b t (h c)"),
                          hm.float()], dim=-1)

    def encode(self, x: torch.Tensor, joint_mask: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``(B, embed_dim)``."""
        m = joint_mask & frames[..., None]
        x = x * m[..., None]
        # body stream: ST-GCN over (B, C, T, V)
        b, bm = x[:, :, self.body_idx], m[:, :, self.body_idx]
        vel = torch.diff(b, dim=1, prepend=b[:, :1]) * bm[..., None]
        g = rearrange(torch.cat([b, vel, bm[..., None].float()], dim=-1), "b t v c -> b c t v")
        for block in self.gcn:
            g = block(g) * frames[:, None, :, None]
        g = rearrange(g.mean(-1), "b c t -> b t c")
        body = self.body_pool(g, frames)  # (B, hidden)
        # hand stream: BiLSTM over per-frame hand features
        h = self.hand_in(self._hand_features(x, m))
        lengths = frames.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
        hand = self.hand_pool(out, frames)  # (B, 2 * lstm_hidden)
        z = torch.stack([self.to_body(body), self.to_hand(hand)], dim=1)  # (B, 2, D)
        return self.embed(rearrange(self.fusion(z), "b p d -> b (p d)"))

    def pose_space(self, emb: torch.Tensor) -> torch.Tensor:
        """Pose embeddings in the space shared with texts (L2-normalized)."""
        return F.normalize(self.pose_proj(emb) if self.cfg.head == "text" else emb, dim=-1)

    def text_space(self, text_emb: torch.Tensor | None) -> torch.Tensor:
        """Class vectors in the shared space (L2-normalized): projected texts, or the classifier rows."""
        if self.cfg.head == "text":
            return F.normalize(self.text_proj(text_emb), dim=-1)
        return F.normalize(self.classifier.weight, dim=-1)

    def forward(self, x, joint_mask, frames, text_emb=None):
        emb = self.encode(x, joint_mask, frames)
        if self.cfg.head == "text":
            logits = self.logit_scale.exp().clamp(max=100) * self.pose_space(emb) @ self.text_space(text_emb).T
        else:
            logits = self.classifier(emb)
        return logits, emb
