"""MediaPipe Holistic landmark extraction from videos and frame folders.

Only ``mediapipe==0.10.21`` with ``model_complexity=1`` works offline (its models are
bundled). Landmarks are stored in pixels (x * width, y * height, z * width), as
pose-format does, so non-square videos keep their aspect ratio.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseError, PoseSequence
from syrisign.skeletons import HOLISTIC_543

VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".m4v", ".gif")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# KArSL frame names end in _c_<index of the frame in the original 30 fps recording>
_FRAME_INDEX = re.compile(r"(\d+)(?=\.[A-Za-z]+$)")


class ExtractionError(SyriSignError, RuntimeError):
    """A video or frame folder that yields no usable landmarks."""


def _quiet_mediapipe() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def is_gif(path: str | os.PathLike) -> bool:
    """The file's content is a GIF (its magic bytes, whatever its name)."""
    try:
        with open(path, "rb") as f:
            return f.read(6) in (b"GIF87a", b"GIF89a")
    except OSError:
        return False


def read_gif(path: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Decode an animated GIF with Pillow: RGB frames (each composed over the previous ones, as a browser
    shows them), timestamps from the frames' own durations, and the mean frame rate."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    path = Path(path)
    frames, durations = [], []
    try:
        with Image.open(path) as im:
            for fr in ImageSequence.Iterator(im):
                frames.append(np.asarray(fr.convert("RGB")))
                durations.append(float(fr.info.get("duration") or 0.0))
    except (UnidentifiedImageError, OSError, ValueError, EOFError) as e:
        if not frames:
            raise ExtractionError(f"{path.name}: not a readable GIF ({type(e).__name__}: {e})") from None
        # a truncated GIF: keep the frames that decoded
    if not frames:
        raise ExtractionError(f"{path.name}: the GIF has no frames")
    # browsers play a duration under 20 ms (or none) as 100 ms; so do we
    d = np.array([x if x >= 20 else 100.0 for x in durations]) / 1000.0
    stamps = np.concatenate([[0.0], np.cumsum(d[:-1])])
    fps = float(len(d) / d.sum()) if d.sum() > 0 else 10.0
    return frames, stamps, min(max(fps, 1.0), 240.0)


def read_video(path: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Decode a video with OpenCV (an animated GIF with Pillow): RGB frames, timestamps (s) and the fps."""
    import cv2

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise ExtractionError(f"{path.name}: empty or missing video file")
    if is_gif(path):
        return read_gif(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ExtractionError(f"{path.name}: OpenCV cannot open this video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if 1.0 <= fps <= 240.0 else 30.0
    frames, stamps = [], []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            stamps.append(len(stamps) / fps)
    finally:
        cap.release()
    if not frames:
        raise ExtractionError(f"{path.name}: no frames could be decoded (corrupt or unsupported video)")
    return frames, np.asarray(stamps), fps


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """Image files of a frame folder in frame order (by the trailing number when present)."""
    files = [p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]

    def key(p: Path):
        m = _FRAME_INDEX.search(p.name)
        return (int(m.group(1)) if m else -1, p.name)

    return sorted(files, key=key)


def read_frame_folder(folder: str | os.PathLike, source_fps: float = 30.0
                      ) -> tuple[list[np.ndarray], np.ndarray | None, float]:
    """RGB frames of a folder; timestamps from the frame indices in the file names when they exist.

    KArSL keeps 18 frames of a 30 fps recording named ``..._c_<index>.jpg``: the index gives
    each frame's real time ``index / source_fps``.
    """
    import cv2

    files = frame_files(folder)
    if not files:
        raise ExtractionError(f"{Path(folder).name}: no image frames in folder")
    frames = []
    for f in files:
        img = cv2.imread(str(f))
        if img is None:
            raise ExtractionError(f"{f.name}: unreadable image")
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    idx = [_FRAME_INDEX.search(f.name) for f in files]
    stamps = None
    if all(idx):
        numbers = np.array([int(m.group(1)) for m in idx], dtype=np.float64)
        if len(numbers) < 2 or np.all(np.diff(numbers) > 0):
            stamps = (numbers - numbers[0]) / source_fps
    return frames, stamps, source_fps


class HolisticExtractor:
    """MediaPipe Holistic graphs for one worker process (make one extractor per process).

    Frame folders hold sparse frames, so each frame is processed on its own
    (``static_image_mode=True``, one graph reused for every sample). Videos are tracked
    frame to frame, with a fresh graph per video so no tracking state leaks between samples.
    """

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5) -> None:
        if model_complexity != 1:
            raise ValueError("only model_complexity=1 is bundled with mediapipe 0.10.21 (0 and 2 need a download)")
        _quiet_mediapipe()
        self.kwargs = dict(model_complexity=model_complexity, min_detection_confidence=min_detection_confidence)
        self._static = None

    def _graph(self, static: bool):
        import mediapipe as mp
        if not static:
            return mp.solutions.holistic.Holistic(static_image_mode=False, **self.kwargs)
        if self._static is None:
            self._static = mp.solutions.holistic.Holistic(static_image_mode=True, **self.kwargs)
        return self._static

    def close(self) -> None:
        if self._static is not None:
            self._static.close()
            self._static = None

    def landmarks(self, frames: Iterable[np.ndarray], static: bool = True
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(points (543, 3), confidence (543,))`` per RGB frame, in pixels."""
        graph = self._graph(static)
        try:
            yield from self._landmarks(graph, frames)
        finally:
            if not static:
                graph.close()

    @staticmethod
    def _landmarks(graph, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for frame in frames:
            h, w = frame.shape[:2]
            res = graph.process(np.ascontiguousarray(frame))
            pts = np.zeros((543, 3), dtype=np.float32)
            conf = np.zeros(543, dtype=np.float32)
            for lms, start, vis in ((res.pose_landmarks, 0, True), (res.face_landmarks, 33, False),
                                    (res.left_hand_landmarks, 501, False), (res.right_hand_landmarks, 522, False)):
                if lms is None:
                    continue
                arr = np.array([(p.x * w, p.y * h, p.z * w) for p in lms.landmark], dtype=np.float32)
                pts[start:start + len(arr)] = arr
                conf[start:start + len(arr)] = (np.array([p.visibility for p in lms.landmark], dtype=np.float32)
                                                if vis else 1.0)
            # visibility can be ~0 for a detected point; keep it present but faint
            conf[:33] = np.where(res.pose_landmarks is not None, np.maximum(conf[:33], 1e-3), 0.0)
            yield pts, conf

    def extract(self, frames: list[np.ndarray], fps: float, timestamps: np.ndarray | None = None,
                meta: dict | None = None, static: bool = True) -> PoseSequence:
        if not frames:
            raise ExtractionError("no frames")
        pts, conf = zip(*self.landmarks(frames, static))
        h, w = frames[0].shape[:2]
        seq = PoseSequence(np.stack(pts), np.stack(conf), fps, HOLISTIC_543, timestamps,
                           dict(meta or {}, width=w, height=h))
        if not (seq.confidence[:, :33] > 0).any():
            raise ExtractionError("MediaPipe found no person in any frame")
        return seq

    def extract_path(self, path: str | os.PathLike, source_fps: float = 30.0) -> PoseSequence:
        """A video file or a folder of frames to a ``holistic543`` sequence."""
        path = Path(path)
        if path.is_dir():
            frames, stamps, fps = read_frame_folder(path, source_fps)
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            frames, stamps, fps = read_video(path)
            steps = np.diff(stamps)
            if not is_gif(path) or len(steps) == 0 or np.allclose(steps, steps.mean(), rtol=0.05):
                stamps = None  # evenly spaced at the fps; a GIF with uneven frame durations keeps its times
        else:
            raise ExtractionError(f"{path.name}: not a video ({', '.join(VIDEO_SUFFIXES)}) or frame folder")
        try:
            return self.extract(frames, fps, stamps, static=path.is_dir())
        except PoseError as e:
            raise ExtractionError(f"{path.name}: {e}") from None
