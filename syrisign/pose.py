"""``PoseSequence``: the one type that stages pass to each other.

``data`` is float32 ``(frames, joints, 3)``, ``confidence`` float32 ``(frames, joints)``
with 0 where a landmark is missing (``data`` never holds NaN), ``fps`` and a
:class:`~syrisign.skeletons.Skeleton`. ``timestamps`` (seconds) are kept when frames are
not evenly spaced, e.g. KArSL frames picked from a 30 fps recording, so that
:meth:`PoseSequence.resample` restores real timing.
"""
from __future__ import annotations

import functools
import io
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.skeletons import (
    FACE, LEFT_HAND, POSE_FORMAT_NAMES, RIGHT_HAND, Component, Skeleton, get_skeleton, SKELETONS,
)

_FROM_POSE_FORMAT = {v: k for k, v in POSE_FORMAT_NAMES.items()}


class PoseError(SyriSignError, ValueError):
    """A pose file or sequence that cannot be used; the message says why."""


@dataclass
class PoseSequence:
    data: np.ndarray  # (T, J, 3) float32
    confidence: np.ndarray  # (T, J) float32, 0 = missing
    fps: float
    skeleton: Skeleton
    timestamps: np.ndarray | None = None  # (T,) seconds, only when frames are unevenly spaced
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.skeleton = get_skeleton(self.skeleton)
        data = np.asarray(self.data, dtype=np.float32)
        if data.ndim != 3 or data.shape[2] != 3:
            raise PoseError(f"pose data must be (frames, joints, 3), got {data.shape}")
        if data.shape[1] != self.skeleton.num_joints:
            raise PoseError(f"skeleton {self.skeleton.name} has {self.skeleton.num_joints} joints, "
                            f"data has {data.shape[1]}")
        conf = np.asarray(self.confidence, dtype=np.float32)
        if conf.shape != data.shape[:2]:
            raise PoseError(f"confidence shape {conf.shape} does not match data {data.shape[:2]}")
        finite = np.isfinite(data)
        if not finite.all():  # missing landmarks are confidence 0, never NaN
            bad = ~finite.all(axis=-1)
            data = np.where(bad[..., None], 0.0, data).astype(np.float32)
            conf = np.where(bad, 0.0, conf).astype(np.float32)
        if not (np.isfinite(conf).all() and conf.min(initial=0.0) >= 0.0):
            conf = np.clip(np.nan_to_num(conf), 0.0, None)
        if not (self.fps and self.fps > 0):
            raise PoseError(f"fps must be positive, got {self.fps}")
        self.data, self.confidence, self.fps = data, conf, float(self.fps)
        if self.timestamps is not None:
            ts = np.asarray(self.timestamps, dtype=np.float64)
            if ts.shape != (len(data),):
                raise PoseError(f"timestamps must have one value per frame ({len(data)}), got {ts.shape}")
            if len(ts) > 1 and np.any(np.diff(ts) <= 0):
                raise PoseError("timestamps must increase strictly")
            self.timestamps = ts

    # -- basic properties -------------------------------------------------------------
    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def num_frames(self) -> int:
        return self.data.shape[0]

    def times(self) -> np.ndarray:
        """Frame times in seconds (real timestamps when present, else i / fps)."""
        if self.timestamps is not None:
            return self.timestamps
        return np.arange(len(self), dtype=np.float64) / self.fps

    @property
    def duration(self) -> float:
        t = self.times()
        return float(t[-1] - t[0] + 1.0 / self.fps) if len(t) else 0.0

    def __getitem__(self, frames) -> PoseSequence:
        """Slice by frames: ``seq[10:40]``."""
        if isinstance(frames, int):
            frames = slice(frames, frames + 1 if frames != -1 else None)
        ts = None if self.timestamps is None else self.timestamps[frames]
        return replace(self, data=self.data[frames], confidence=self.confidence[frames], timestamps=ts,
                       meta=dict(self.meta))

    def component(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(data, confidence) of one component, e.g. ``"right_hand"``."""
        sl = self.skeleton.slices[name]
        return self.data[:, sl], self.confidence[:, sl]

    def valid(self) -> np.ndarray:
        """(T, J) bool: landmark present."""
        return self.confidence > 0

    def hand_presence(self) -> dict[str, float] | None:
        """Share of frames where each hand is missing; None for skeletons without hands."""
        if not (self.skeleton.has(LEFT_HAND) and self.skeleton.has(RIGHT_HAND)) or len(self) == 0:
            return None
        left = self.valid()[:, self.skeleton.slices[LEFT_HAND]].any(axis=1)
        right = self.valid()[:, self.skeleton.slices[RIGHT_HAND]].any(axis=1)
        return {"left_missing": float(1 - left.mean()), "right_missing": float(1 - right.mean()),
                "both_missing": float(1 - (left | right).mean())}

    # -- geometry ---------------------------------------------------------------------
    def normalization_info(self) -> tuple[np.ndarray, float]:
        """(centre (3,), shoulder width) averaged over the frames where both shoulders are seen."""
        li, ri = self.skeleton.shoulder_idx
        ok = (self.confidence[:, li] > 0) & (self.confidence[:, ri] > 0)
        if not ok.any():
            raise PoseError("cannot normalize: the shoulders are never visible")
        left, right = self.data[ok, li], self.data[ok, ri]  # (n, 3)
        centre = ((left + right) / 2).mean(axis=0)
        width = float(np.median(np.linalg.norm((left - right)[:, :2], axis=-1)))
        if not width > 1e-6:
            raise PoseError("cannot normalize: shoulder width is zero")
        return centre.astype(np.float32), width

    def face_camera(self, spine: tuple[str, str] = ("body.Neck", "body.SpineBase")) -> PoseSequence:
        """The whole clip turned by one rotation about the shoulder centre so that the body faces the camera:
        its shoulder line (right to left shoulder, the medians over the clip) along +x and its spine (``spine``:
        the upper joint, then the lower one) along +y, down in image coordinates.

        For true 3-D recordings (a depth camera's metres) taken from several angles: a Kinect placed at 60° to
        the signer halves the image-plane shoulder width and every normalized coordinate doubles. The body's
        own turns and leans during the clip are kept; only the clip's mean stance is turned. Without the spine
        joints only the turn about the vertical axis (the shoulder line in the x-z plane) is undone.
        """
        li, ri = self.skeleton.shoulder_idx
        ok = (self.confidence[:, li] > 0) & (self.confidence[:, ri] > 0)
        if not ok.any():
            raise PoseError("cannot turn the body to the camera: the shoulders are never visible")
        across = np.median(self.data[ok, li] - self.data[ok, ri], axis=0).astype(np.float64)
        down = np.array([0.0, 1.0, 0.0])
        if all(j in self.skeleton.index for j in spine):
            ui, di = (self.skeleton.index[j] for j in spine)
            seen = (self.confidence[:, ui] > 0) & (self.confidence[:, di] > 0)
            if seen.any():
                down = np.median(self.data[seen, di] - self.data[seen, ui], axis=0).astype(np.float64)
        else:
            across[1] = 0.0
        ex = across / max(np.linalg.norm(across), 1e-9)
        ey = down - (down @ ex) * ex
        if not np.linalg.norm(ey) > 1e-9:
            raise PoseError("cannot turn the body to the camera: the spine lies along the shoulders")
        ey /= np.linalg.norm(ey)
        rot = np.stack([ex, ey, np.cross(ex, ey)])  # rows: the body's axes, a proper rotation
        centre = ((self.data[ok, li] + self.data[ok, ri]) / 2).mean(axis=0)
        data = (self.data - centre) @ rot.T.astype(np.float32) + centre
        data = np.where(self.valid()[..., None], data, 0.0)
        return replace(self, data=data.astype(np.float32), meta=dict(self.meta, view="facing the camera"))

    def normalize(self) -> PoseSequence:
        """Shoulder-centred, shoulder width = 1 (x and y; z is shifted and scaled alike)."""
        centre, width = self.normalization_info()
        data = (self.data - centre) / width
        data = np.where(self.valid()[..., None], data, 0.0)
        meta = dict(self.meta, normalized=True)
        return replace(self, data=data.astype(np.float32), meta=meta)

    def mirror(self) -> PoseSequence:
        """Left-right mirror about the shoulder centre; hands and LEFT/RIGHT joints swap."""
        try:
            cx = float(self.normalization_info()[0][0])
        except PoseError:
            cx = float(self.data[..., 0][self.valid()].mean()) if self.valid().any() else 0.0
        data = self.data.copy()
        data[..., 0] = 2 * cx - data[..., 0]
        perm = list(self.skeleton.mirror_permutation)
        data, conf = data[:, perm], self.confidence[:, perm]
        data = np.where(conf[..., None] > 0, data, 0.0)
        return replace(self, data=data.astype(np.float32), confidence=conf, meta=dict(self.meta))

    def reduce(self, layout: str | Skeleton, missing: str = "error") -> PoseSequence:
        """Keep the joints of another layout, matched by name.

        ``missing="zero"`` fills joints the source does not have with confidence 0 instead of failing.
        """
        target = get_skeleton(layout)
        if target.name == self.skeleton.name:
            return self
        idx = [self.skeleton.index.get(j, -1) for j in target.joints]
        absent = [j for j, i in zip(target.joints, idx) if i < 0]
        if absent and missing == "error":
            raise PoseError(f"cannot reduce {self.skeleton.name} to {target.name}: "
                            f"{len(absent)} joints missing, e.g. {absent[0]}")
        take = np.array([max(i, 0) for i in idx])
        data, conf = self.data[:, take].copy(), self.confidence[:, take].copy()
        hole = np.array([i < 0 for i in idx])
        data[:, hole], conf[:, hole] = 0.0, 0.0
        return replace(self, data=data, confidence=conf, skeleton=target, meta=dict(self.meta))

    # -- time ---------------------------------------------------------------------------
    def resample(self, fps: float) -> PoseSequence:
        """Evenly spaced frames at ``fps``, interpolated linearly along the real timestamps.

        A landmark is interpolated only where it is present on both sides; otherwise the
        nearer source frame is used (so gaps stay gaps, never invented from one side).
        """
        if fps <= 0:
            raise PoseError(f"fps must be positive, got {fps}")
        if len(self) == 0:
            return replace(self, fps=float(fps), timestamps=None)
        t = self.times()
        if self.timestamps is None and abs(fps - self.fps) < 1e-9:
            return self
        n_out = max(1, int(np.floor((t[-1] - t[0]) * fps + 1e-6)) + 1)
        tq = t[0] + np.arange(n_out) / fps
        if len(self) == 1:
            i0 = np.zeros(n_out, dtype=int)
            i1, w = i0, np.zeros(n_out)
        else:
            i0 = np.clip(np.searchsorted(t, tq, side="right") - 1, 0, len(t) - 2)
            i1 = i0 + 1
            w = np.clip((tq - t[i0]) / (t[i1] - t[i0]), 0.0, 1.0)
        w3 = w[:, None, None].astype(np.float32)
        c0, c1 = self.confidence[i0], self.confidence[i1]
        both = (c0 > 0) & (c1 > 0)
        lerp = (1 - w3) * self.data[i0] + w3 * self.data[i1]
        near1 = (w >= 0.5)[:, None]
        nearest = np.where(near1[..., None], self.data[i1], self.data[i0])
        nearest_c = np.where(near1, c1, c0)
        data = np.where(both[..., None], lerp, nearest)
        conf = np.where(both, (1 - w[:, None]) * c0 + w[:, None] * c1, nearest_c)
        return replace(self, data=data.astype(np.float32), confidence=conf.astype(np.float32),
                       fps=float(fps), timestamps=None, meta=dict(self.meta))

    def activity(self, speed_threshold: float = 0.6) -> np.ndarray:
        """(T,) bool: frames where the signer is signing.

        A frame is active when a hand is detected and raised above the elbows' rest line,
        or a wrist moves faster than ``speed_threshold`` shoulder widths per second.
        """
        if len(self) == 0:
            return np.zeros(0, dtype=bool)
        try:
            norm = self.normalize()
        except PoseError:
            return np.ones(len(self), dtype=bool)
        sk = self.skeleton
        lw, rw = sk.wrist_idx
        wr, wc = norm.data[:, [lw, rw]], norm.confidence[:, [lw, rw]]  # (T, 2, 3), (T, 2)
        dt = np.diff(self.times())
        speed = np.zeros((len(self), 2), dtype=np.float32)
        if len(self) > 1:
            v = np.linalg.norm(np.diff(wr[..., :2], axis=0), axis=-1) / dt[:, None]
            v = np.where((wc[1:] > 0) & (wc[:-1] > 0), v, 0.0)
            speed[1:] = v
        moving = (speed > speed_threshold).any(axis=1)
        # Wrist above 1.5 shoulder widths below the shoulder line = hands raised into signing space.
        raised = ((wr[..., 1] < 1.5) & (wc > 0)).any(axis=1)
        if sk.has(LEFT_HAND) and sk.has(RIGHT_HAND):
            hands = norm.valid()[:, sk.slices[LEFT_HAND]].any(1) | norm.valid()[:, sk.slices[RIGHT_HAND]].any(1)
            return (hands & raised) | moving
        return raised | moving

    def active_span(self, margin: int = 2, speed_threshold: float = 0.6) -> tuple[int, int]:
        """``[start, stop)`` without the idle frames (hands down and still) at both ends, ``margin`` kept."""
        active = self.activity(speed_threshold)
        if not active.any():
            return 0, len(self)
        idx = np.flatnonzero(active)
        return max(0, int(idx[0]) - margin), min(len(self), int(idx[-1]) + 1 + margin)

    def trim_idle(self, margin: int = 2, speed_threshold: float = 0.6) -> PoseSequence:
        """Drop idle frames (hands down and still) at both ends, keeping ``margin`` frames."""
        start, stop = self.active_span(margin, speed_threshold)
        return self if (start, stop) == (0, len(self)) else self[start:stop]

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``.npz`` (native, lossless) or ``.pose`` (pose-format), atomically."""
        path = Path(path)
        if path.suffix == ".npz":
            buf = io.BytesIO()
            np.savez_compressed(buf, **self._npz_fields())
            payload = buf.getvalue()
        elif path.suffix == ".pose":
            payload = self.to_pose_bytes()
        else:
            raise PoseError(f"unknown pose file type {path.suffix!r}: use .npz or .pose")
        atomic_write_bytes(path, payload)
        return path

    def _npz_fields(self) -> dict:
        fields = {"data": self.data, "confidence": self.confidence, "fps": np.float64(self.fps),
                  "skeleton": np.str_(self.skeleton.name),
                  "meta": np.str_(json.dumps(self.meta, ensure_ascii=False, default=str))}
        if self.skeleton.name not in SKELETONS or SKELETONS[self.skeleton.name] != self.skeleton:
            fields["skeleton_def"] = np.str_(json.dumps(_skeleton_to_dict(self.skeleton)))
        if self.timestamps is not None:
            fields["timestamps"] = self.timestamps
        return fields

    @classmethod
    def load(cls, path: str | os.PathLike) -> PoseSequence:
        """Read ``.npz`` or ``.pose``; the error names the file and what is wrong with it."""
        path = Path(path)
        if not path.is_file():
            raise PoseError(f"no such pose file: {path}")
        try:
            if path.suffix == ".pose":
                return cls.from_pose_bytes(path.read_bytes())
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    sk = (_skeleton_from_dict(json.loads(str(z["skeleton_def"]))) if "skeleton_def" in z
                          else get_skeleton(str(z["skeleton"])))
                    return cls(z["data"], z["confidence"], float(z["fps"]), sk,
                               z["timestamps"] if "timestamps" in z else None,
                               json.loads(str(z["meta"])) if "meta" in z else {})
        except PoseError as e:
            raise PoseError(f"{path}: {e}") from None
        except Exception as e:  # corrupt zip, truncated .pose, wrong arrays
            raise PoseError(f"{path} is not a readable pose file ({type(e).__name__}: {e})") from None
        raise PoseError(f"unknown pose file type {path.suffix!r} ({path}): use .npz or .pose")

    # -- pose-format bridge ----------------------------------------------------------------
    def to_pose_format(self):
        """A ``pose_format.Pose`` (uneven timestamps are resampled first: .pose frames are even)."""
        from pose_format import Pose
        from pose_format.numpy import NumPyPoseBody
        from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

        seq = self.resample(self.fps) if self.timestamps is not None else self
        components = []
        for c in seq.skeleton.components:
            colors = [(255, 0, 0)] if c.name != FACE else [(128, 0, 0)]
            components.append(PoseHeaderComponent(
                name=POSE_FORMAT_NAMES.get(c.name, c.name), points=list(c.points),
                limbs=[(int(a), int(b)) for a, b in c.edges], colors=colors, point_format="XYZC"))
        w = int(seq.meta.get("width") or 0) or 1000
        h = int(seq.meta.get("height") or 0) or 1000
        header = PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width=w, height=h, depth=0),
                            components=components)
        mask = np.repeat((seq.confidence == 0)[:, None, :, None], 3, axis=-1)
        data = np.ma.masked_array(seq.data[:, None], mask=mask)
        body = NumPyPoseBody(fps=seq.fps, data=data, confidence=seq.confidence[:, None])
        return Pose(header, body)

    def to_pose_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.to_pose_format().write(buf)
        return buf.getvalue()

    @classmethod
    def from_pose_format(cls, pose, person: int = 0) -> PoseSequence:
        """From a ``pose_format.Pose``; known layouts map onto the registry, others get an ad-hoc skeleton."""
        comps = []
        for c in pose.header.components:
            name = _FROM_POSE_FORMAT.get(c.name, c.name)
            comps.append(Component(name, tuple(c.points), tuple((int(a), int(b)) for a, b in c.limbs)))
        skeleton = _match_registry(comps)
        body = pose.body
        data = np.asarray(body.data.data if hasattr(body.data, "data") else body.data, dtype=np.float32)
        conf = np.asarray(body.confidence, dtype=np.float32)
        if data.ndim != 4 or data.shape[1] <= person:
            raise PoseError(f"pose body has shape {data.shape}; person {person} not present")
        data, conf = data[:, person, :, :3], conf[:, person]
        if hasattr(body.data, "mask") and np.ma.is_masked(body.data):
            conf = np.where(np.asarray(body.data.mask)[:, person].any(-1), 0.0, conf)
        dims = pose.header.dimensions
        meta = {"width": int(dims.width), "height": int(dims.height)}
        return cls(data, conf, float(body.fps), skeleton, meta=meta)

    @classmethod
    def from_pose_bytes(cls, payload: bytes) -> PoseSequence:
        from pose_format import Pose
        if not payload:
            raise PoseError("empty .pose data")
        return cls.from_pose_format(Pose.read(payload))


# -- helpers ----------------------------------------------------------------------------------
def _match_registry(comps: list[Component]) -> Skeleton:
    """The registered skeleton with exactly these components and points, or an ad-hoc one."""
    key = [(c.name, c.points) for c in comps]
    for sk in SKELETONS.values():
        if [(c.name, c.points) for c in sk.components] == key:
            return sk
    name = "custom:" + "+".join(f"{c.name}{len(c.points)}" for c in comps)
    shoulders = ("pose.LEFT_SHOULDER", "pose.RIGHT_SHOULDER")
    return Skeleton(name, tuple(comps), "read from a .pose header", shoulder_joints=shoulders)


def _skeleton_to_dict(sk: Skeleton) -> dict:
    return {"name": sk.name, "description": sk.description, "shoulders": list(sk.shoulder_joints),
            "wrists": list(sk.wrist_joints),
            "components": [{"name": c.name, "points": list(c.points), "edges": [list(e) for e in c.edges]}
                           for c in sk.components]}


def _skeleton_from_dict(d: dict) -> Skeleton:
    comps = tuple(Component(c["name"], tuple(c["points"]), tuple(tuple(e) for e in c["edges"]))
                  for c in d["components"])
    return Skeleton(d["name"], comps, d.get("description", ""), tuple(d["shoulders"]), tuple(d["wrists"]))


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def stack_frames(seqs: list[PoseSequence]) -> PoseSequence:
    """Concatenate sequences of one skeleton and fps in time (no blending; see syrisign.stitch)."""
    if not seqs:
        raise PoseError("nothing to concatenate")
    sk, fps = seqs[0].skeleton, seqs[0].fps
    for s in seqs[1:]:
        if s.skeleton.name != sk.name or abs(s.fps - fps) > 1e-6:
            raise PoseError("all sequences must share skeleton and fps; reduce and resample first")
    return PoseSequence(np.concatenate([s.data for s in seqs]), np.concatenate([s.confidence for s in seqs]), fps, sk)
