"""PoseSequence -> model arrays, in one place.

Every model sees the same preparation: reduce to a layout, resample to one fps, normalize
(shoulder-centred, shoulder width 1), optionally standardize per joint coordinate with
training-set statistics (SignCLIP E6.1), then batches of ``x (B, T, J, 3)`` with a joint mask
``(B, T, J)`` and a frame mask ``(B, T)``. Augmentations follow SignCLIP: rotation, scale,
shear, speed change by interpolation, mirroring with hand swap, landmark dropout.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syrisign.pose import PoseError, PoseSequence
from syrisign.skeletons import get_skeleton


@dataclass
class FeatureConfig:
    layout: str = "syrisign193"
    fps: float = 25.0
    max_frames: int = 96  # longer sequences are subsampled evenly (the whole sign is kept)
    trim_idle: bool = False


def prepare(seq: PoseSequence, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(x (T, J, 3) float32 normalized, mask (T, J) bool)`` for one sequence."""
    s = seq.reduce(cfg.layout, missing="zero").resample(cfg.fps)
    if cfg.trim_idle:
        s = s.trim_idle()
    s = s.normalize()
    x, m = s.data, s.confidence > 0
    if len(x) > cfg.max_frames:
        idx = np.round(np.linspace(0, len(x) - 1, cfg.max_frames)).astype(int)
        x, m = x[idx], m[idx]
    return x.astype(np.float32), m


def prepare_many(seqs, cfg: FeatureConfig, progress: bool = False, desc: str = "features"
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    from tqdm import tqdm
    out = []
    for s in tqdm(seqs, desc=desc, disable=not progress, leave=False):
        out.append(prepare(s, cfg))
    return out


def to_sequence(x: np.ndarray, mask: np.ndarray | None, cfg: FeatureConfig, meta: dict | None = None) -> PoseSequence:
    """Model output ``(T, J, 3)`` in normalized units back to a PoseSequence of the layout."""
    x = np.asarray(x, dtype=np.float32)
    conf = np.ones(x.shape[:2], dtype=np.float32) if mask is None else np.asarray(mask, dtype=np.float32)
    return PoseSequence(x, conf, cfg.fps, get_skeleton(cfg.layout), meta=dict(meta or {}, normalized=True))


# -- standardization (SignCLIP E6.1) ------------------------------------------------------
@dataclass
class Standardizer:
    mean: np.ndarray  # (J, 3)
    std: np.ndarray  # (J, 3)

    @classmethod
    def fit(cls, arrays: list[tuple[np.ndarray, np.ndarray]], min_std: float = 1e-2) -> Standardizer:
        j = arrays[0][0].shape[1]
        s1, s2, n = np.zeros((j, 3)), np.zeros((j, 3)), np.zeros((j, 1))
        for x, m in arrays:
            w = m[..., None].astype(np.float64)
            s1 += (x * w).sum(0)
            s2 += (x.astype(np.float64) ** 2 * w).sum(0)
            n += w.sum(0)
        n = np.maximum(n, 1)
        mean = s1 / n
        std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0))
        return cls(mean.astype(np.float32), np.maximum(std, min_std).astype(np.float32))

    def apply(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        return np.where(m[..., None], (x - self.mean) / self.std, 0.0).astype(np.float32)

    def invert(self, z: np.ndarray) -> np.ndarray:
        return (z * self.std + self.mean).astype(np.float32)

    def state(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, d: dict) -> Standardizer:
        return cls(np.asarray(d["mean"], dtype=np.float32), np.asarray(d["std"], dtype=np.float32))


# -- augmentation --------------------------------------------------------------------------
@dataclass
class AugmentConfig:
    rotate_deg: float = 12.0
    scale: float = 0.15
    shear: float = 0.15
    speed: float = 0.25  # time stretched by a factor in [1 - speed, 1 + speed]
    mirror_p: float = 0.0  # off by default: for one-handed signs the dominant hand is meaningful
    drop_joint_p: float = 0.05
    drop_frame_p: float = 0.05
    arm_deg: float = 0.0  # each arm turned about its shoulder by up to this (image plane; a signer's arm style)


def _turn_arms(x: np.ndarray, m: np.ndarray, layout: str, deg: float, rng: np.random.Generator) -> None:
    """Each arm (elbow, wrist, hand) turned in place about its shoulder by one random angle for the whole clip:
    signers hold their elbows closer or further out; a model of one signer sees others' styles."""
    from syrisign.retarget import SIDES, _arm, arm_joints
    sk = get_skeleton(layout)
    for side in SIDES:
        s_ = _arm(sk, side)[0]
        joints = arm_joints(sk, side)
        if s_ is None or not len(joints):
            continue
        th = np.deg2rad(rng.uniform(-deg, deg))
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        ok = m[:, joints] & m[:, s_:s_ + 1]  # (T, K)
        sh = x[:, s_:s_ + 1, :2]
        turned = (x[:, joints, :2] - sh) @ rot.T + sh
        x[:, joints, :2] = np.where(ok[..., None], turned, x[:, joints, :2])


def augment(x: np.ndarray, m: np.ndarray, layout: str, cfg: AugmentConfig, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Random spatial and temporal augmentation of one normalized ``(T, J, 3)`` array."""
    x = x.copy()
    # spatial: rotation about the camera axis, anisotropic scale and shear of x/y
    th = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    sc = np.diag(1 + rng.uniform(-cfg.scale, cfg.scale, size=2))
    sh = np.array([[1, rng.uniform(-cfg.shear, cfg.shear)], [rng.uniform(-cfg.shear, cfg.shear), 1]])
    x[..., :2] = x[..., :2] @ (rot @ sc @ sh).T
    if cfg.arm_deg:
        _turn_arms(x, m, layout, cfg.arm_deg, rng)
    if cfg.mirror_p and rng.random() < cfg.mirror_p:
        perm = list(get_skeleton(layout).mirror_permutation)
        x, m = x[:, perm], m[:, perm]
        x[..., 0] *= -1
    # temporal: speed change by linear interpolation
    if cfg.speed and len(x) > 2:
        factor = rng.uniform(1 - cfg.speed, 1 + cfg.speed)
        n = max(2, int(round(len(x) * factor)))
        t = np.linspace(0, len(x) - 1, n)
        i0 = np.floor(t).astype(int).clip(0, len(x) - 2)
        w = (t - i0)[:, None, None]
        both = m[i0] & m[i0 + 1]
        x = np.where(both[..., None], (1 - w) * x[i0] + w * x[i0 + 1], np.where(w < 0.5, x[i0], x[i0 + 1]))
        m = np.where(both, True, np.where(w[..., 0] < 0.5, m[i0], m[i0 + 1]))
    # landmark and frame dropout
    if cfg.drop_joint_p:
        m = m & (rng.random(m.shape) >= cfg.drop_joint_p)
    if cfg.drop_frame_p and len(m) > 4:
        m = m & (rng.random((len(m), 1)) >= cfg.drop_frame_p)
    x = np.where(m[..., None], x, 0.0)
    return x.astype(np.float32), m


# -- batching ---------------------------------------------------------------------------------
def collate(items: list[tuple[np.ndarray, np.ndarray]]):
    """Pad to the longest: ``x (B, T, J, 3)``, joint mask ``(B, T, J)``, frame mask ``(B, T)`` as torch tensors."""
    import torch
    t_max = max(len(x) for x, _ in items)
    j = items[0][0].shape[1]
    xb = np.zeros((len(items), t_max, j, 3), dtype=np.float32)
    mb = np.zeros((len(items), t_max, j), dtype=bool)
    fb = np.zeros((len(items), t_max), dtype=bool)
    for i, (x, m) in enumerate(items):
        xb[i, :len(x)], mb[i, :len(x)], fb[i, :len(x)] = x, m, True
    return torch.from_numpy(xb), torch.from_numpy(mb), torch.from_numpy(fb)


def default_layout(dataset_skeletons: list[str]) -> str:
    """The reduced layout for a dataset's native skeleton(s): Kinect stays Kinect, MediaPipe -> syrisign193."""
    names = set(dataset_skeletons)
    if names == {"kinect20"}:
        return "kinect20"
    if names <= {"holistic543", "holistic586", "syrisign193", "signclip203"}:
        return "syrisign193"
    if names <= {"aslapp108"}:
        return "aslapp108"
    raise PoseError(f"no common layout for skeletons {sorted(names)}; choose --layout")
