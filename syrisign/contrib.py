"""Contributed recordings: an upload checked and read, its landmarks extracted, and the quality checks a
contributor understands. Used by the web page's contribute flow, ``POST /v1/lexicon/entries`` and
``syrisign lexicon add``.

- :func:`sniff_video`: the type from the content (mp4/mov, webm/mkv, gif, avi), never from the name;
- :func:`decode_upload`: ffmpeg re-encodes any of them to evenly timed frames (a browser's MediaRecorder
  webm has no reliable frame rate), refusing what is too long;
- :func:`extract_with_progress`: MediaPipe Holistic frame by frame, reporting progress;
- :func:`quality_checks`: a person in frame; the signing hands found in at least 80 % of the signing
  frames; the signing part (idle frames trimmed) 0.4-6 s; the closest existing signs of other words, as a
  warning when the recording nearly copies one.
"""
from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence

MIN_SIGNING_S, MAX_SIGNING_S = 0.4, 6.0
MIN_HAND_SHARE = 0.8
MIN_PERSON_SHARE = 0.5
NEAR_COPY_DISTANCE = 0.05  # shoulder widths (RMS over joints and frames): the same clip extracted twice is 0.01 apart, two different words 0.13 or more
DECODE_FPS = 25.0


class UploadError(SyriSignError, ValueError):
    """An upload that cannot be used; ``code`` names the reason for the API (``not_a_video``, ``too_long`` ...)."""

    def __init__(self, message: str, code: str = "bad_upload", status: int = 422) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def sniff_video(head: bytes) -> str | None:
    """The container of a file from its first bytes: ``.mp4`` (also mov/m4v), ``.webm`` (Matroska too),
    ``.gif``, ``.avi``; None when it is none of these."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return ".mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    return None


def decode_upload(data: bytes, max_seconds: float = 20.0, max_frames: int = 600, fps: float = DECODE_FPS
                  ) -> tuple[list[np.ndarray], float, str]:
    """RGB frames at ``fps`` (at most 640 px wide), the frame rate and the sniffed extension.

    Raises :class:`UploadError`: empty (``empty_file``), not a video (``not_a_video``), undecodable
    (``corrupt_video``), longer than ``max_seconds`` or ``max_frames`` (``too_long``)."""
    import imageio_ffmpeg

    if not data:
        raise UploadError("the file is empty (0 bytes): record or choose the video again", "empty_file")
    ext = sniff_video(data[:16])
    if ext is None:
        raise UploadError("the file is not a video (mp4, webm, gif, mov or avi), whatever its name says",
                          "not_a_video", 415)
    with tempfile.TemporaryDirectory(prefix="syrisign-upload-") as tmp:
        src, dst = Path(tmp) / f"in{ext}", Path(tmp) / "out.mp4"
        src.write_bytes(data)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(src),
               "-t", f"{max_seconds + 1.0:.2f}", "-an", "-vf", f"fps={fps:g},scale='min(640,iw)':-2",
               "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", str(dst)]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise UploadError("decoding the video took too long", "corrupt_video") from None
        if r.returncode != 0 or not dst.is_file() or dst.stat().st_size == 0:
            why = (r.stderr.decode("utf-8", "replace").strip().splitlines() or ["no frames"])[-1][:160]
            raise UploadError(f"the video cannot be decoded ({why})", "corrupt_video")
        from syrisign.data.extract import ExtractionError, read_video
        try:
            frames, _, _ = read_video(dst)
        except ExtractionError as e:
            raise UploadError(f"the video cannot be decoded ({e})", "corrupt_video") from None
    if len(frames) > max_seconds * fps + 1 or len(frames) > max_frames:
        raise UploadError(f"the video is longer than {max_seconds:g} s (at most {max_frames} frames): record "
                          "one sign, starting and ending with the hands down", "too_long", 413)
    return frames, fps, ext


def extract_with_progress(frames: list[np.ndarray], fps: float, progress: Callable[[float], None] | None = None
                          ) -> PoseSequence:
    """MediaPipe Holistic over the frames (tracking from frame to frame), ``progress(share done)`` as it goes."""
    from syrisign.data.extract import ExtractionError, HolisticExtractor
    from syrisign.skeletons import HOLISTIC_543

    ex = HolisticExtractor()
    pts, conf = [], []
    try:
        for i, (p, c) in enumerate(ex.landmarks(frames, static=False)):
            pts.append(p)
            conf.append(c)
            if progress is not None and (i % 5 == 0 or i == len(frames) - 1):
                progress((i + 1) / len(frames))
    finally:
        ex.close()
    h, w = frames[0].shape[:2]
    seq = PoseSequence(np.stack(pts), np.stack(conf), fps, HOLISTIC_543, meta={"width": w, "height": h})
    if not (seq.confidence[:, :33] > 0).any():
        raise ExtractionError("no person found in any frame")
    return seq


@dataclass
class Check:
    name: str  # person | hands | duration | near_copy
    ok: bool
    message: str  # for the contributor, one sentence
    value: float | None = None
    warning: bool = False  # shown, but does not stop the add

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CheckReport:
    checks: list[Check]
    signing: PoseSequence  # the recording with its idle frames trimmed: what goes in the lexicon
    frames: int = 0
    closest: list[dict] = field(default_factory=list)  # nearest existing signs: words and scores

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checks": [c.to_dict() for c in self.checks], "closest": self.closest,
                "frames": self.frames, "signing_frames": len(self.signing),
                "signing_seconds": round(len(self.signing) / self.signing.fps, 2)}


def _pose_distance_closest(seq: PoseSequence, lexicon, word: str, k: int = 3) -> list[dict]:
    """Nearest word signs of the lexicon by pose alone (no model): RMS distance of shoulder-normalized, time-
    normalized x, y, in shoulder widths."""
    from retrieval.baselines import fixed_length
    from syrisign.ml.features import FeatureConfig, prepare
    from syrisign.text import match_key

    cfg = FeatureConfig()

    def vec(s):
        x, m = prepare(s, cfg)
        return fixed_length(x[..., :2], m, 16)

    q = vec(seq)
    out = []
    for e in lexicon.entries:
        if e.kind != "word" or e.is_form:
            continue
        try:
            d = float(np.sqrt(np.mean((vec(lexicon.pose(e)) - q) ** 2)))
        except Exception:  # noqa: BLE001 - a recording that cannot be prepared is not a candidate
            continue
        out.append({"words": e.words, "english": e.english, "distance": round(d, 4),
                    "same_word": match_key(e.words) == match_key(word)})
    out.sort(key=lambda r: r["distance"])
    return out[:k]


def signing_part(seq: PoseSequence) -> PoseSequence:
    """The signing frames of a recording: idle frames (hands down and still) trimmed at both ends, then the
    frames at either end where neither hand is found (hands lowered out of the picture before or after)."""
    from syrisign.pose import LEFT_HAND, RIGHT_HAND

    signing = seq.trim_idle() if len(seq) > 4 else seq
    sk = signing.skeleton
    if len(signing) and sk.has(LEFT_HAND) and sk.has(RIGHT_HAND):
        v = signing.valid()
        found = np.flatnonzero(v[:, sk.slices[LEFT_HAND]].any(1) | v[:, sk.slices[RIGHT_HAND]].any(1))
        if len(found) and (found[0] > 0 or found[-1] < len(signing) - 1):
            signing = signing[int(found[0]):int(found[-1]) + 1]
    return signing


def quality_checks(seq: PoseSequence, word: str = "", lexicon=None, recognize=None) -> CheckReport:
    """The checks of a recording (see the module doc). ``recognize(seq) -> [(words, score)]`` (the retrieval
    model) lists the closest signs; without it they come from pose distance to the lexicon's word signs."""
    from syrisign.retarget import dominant_hand

    checks = []
    pose_share = float((seq.confidence[:, :33] > 0).any(axis=1).mean()) if len(seq) else 0.0
    checks.append(Check("person", pose_share >= MIN_PERSON_SHARE,
                        "a person is in frame" if pose_share >= MIN_PERSON_SHARE else
                        f"no person found in {100 * (1 - pose_share):.0f} % of the frames: stand in front of the "
                        "camera, face and hands in the picture, in good light", round(pose_share, 3)))
    signing = signing_part(seq)
    seconds = len(signing) / signing.fps if len(signing) else 0.0
    ok_t = MIN_SIGNING_S <= seconds <= MAX_SIGNING_S
    checks.append(Check("duration", ok_t, f"the signing lasts {seconds:.1f} s" if ok_t else
                        (f"the signing lasts only {seconds:.1f} s (at least {MIN_SIGNING_S} s): sign the whole "
                         "sign, starting and ending with the hands down" if seconds < MIN_SIGNING_S else
                         f"the signing lasts {seconds:.1f} s (at most {MAX_SIGNING_S:g} s): record one sign"),
                        round(seconds, 2)))
    if len(signing):
        handed = dominant_hand(signing)
        sides = [handed.dominant] + ([("left" if handed.dominant == "right" else "right")] if handed.two_handed
                                     else [])
        hp = signing.hand_presence() or {}
        share = min(1.0 - hp.get(f"{s}_missing", 1.0) for s in sides)
        what = "both hands" if len(sides) == 2 else f"the signing hand ({sides[0]})"
        ok_h = share >= MIN_HAND_SHARE
        checks.append(Check("hands", ok_h, f"{what} found in {100 * share:.0f} % of the signing frames" if ok_h else
                            f"{what} found in only {100 * share:.0f} % of the signing frames (at least "
                            f"{100 * MIN_HAND_SHARE:.0f} %): keep the hands inside the picture, not too fast",
                            round(share, 3)))
    else:
        checks.append(Check("hands", False, "no signing frames: the hands were never raised", 0.0))
    closest: list[dict] = []
    if lexicon is not None and len(signing) and checks[0].ok:
        from syrisign.text import match_key
        try:
            if recognize is not None:
                closest = [{"words": w, "score": round(float(sc), 4), "same_word": match_key(w) == match_key(word)}
                           for w, sc in recognize(signing)[:3]]
                near = [c for c in closest if not c["same_word"] and c["score"] >= 0.9]
            else:
                closest = _pose_distance_closest(signing, lexicon, word)
                near = [c for c in closest if not c["same_word"] and c["distance"] < NEAR_COPY_DISTANCE]
        except Exception as e:  # noqa: BLE001 - the comparison is advice; the add does not depend on it
            closest, near = [], []
            checks.append(Check("near_copy", True, f"not compared with the lexicon ({type(e).__name__})",
                                warning=True))
        else:
            if near:
                checks.append(Check("near_copy", True, f"this recording is very close to the existing sign of "
                                    f"{near[0]['words']!r}: check that it is the sign of {word!r}", warning=True))
            else:
                checks.append(Check("near_copy", True, "not a copy of another word's sign"))
    return CheckReport(checks, signing, len(seq), closest)


def prepare_upload(data: bytes, word: str, lexicon=None, recognize=None, progress=None, max_seconds: float = 20.0,
                   max_frames: int = 600) -> tuple[CheckReport, str]:
    """Decode, extract and check an upload: (report, sniffed extension). ``progress(stage, share)``."""
    from syrisign.data.extract import ExtractionError

    say = progress or (lambda stage, share: None)
    say("decoding", 0.0)
    frames, fps, ext = decode_upload(data, max_seconds, max_frames)
    say("extracting", 0.0)
    try:
        seq = extract_with_progress(frames, fps, lambda share: say("extracting", share))
    except ExtractionError as e:
        raise UploadError(f"no person found in the video ({e}): stand in front of the camera", "no_person") from None
    say("checking", 1.0)
    return quality_checks(seq, word, lexicon, recognize), ext


__all__ = ["UploadError", "Check", "CheckReport", "sniff_video", "decode_upload", "extract_with_progress",
           "quality_checks", "prepare_upload"]
