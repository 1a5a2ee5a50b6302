"""Frames from pose sequences, side-by-side comparison, and the mp4 / gif / png writers."""
from __future__ import annotations

import functools
import io
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from syrisign.pose import PoseSequence, atomic_write_bytes
from render.captions import Caption, as_captions, caption_index, remap_captions, text_bar
from render.draw import (Framing, RenderError, RenderStyle, SkeletonPainter, import_cv2, make_canvas,
                         resolve_framing)


# -- frame sources ---------------------------------------------------------------------------
class Frames:
    """A sized, indexable stream of (height, width, 3) uint8 RGB frames at ``fps``.

    Iterate it, take ``len()``, or index one frame (``frames[10]``); nothing is drawn until asked.
    """

    def __init__(self, num_frames: int, fps: float, width: int, height: int,
                 draw_into: Callable[[int, np.ndarray], None]):
        self.num_frames, self.fps, self.width, self.height = int(num_frames), float(fps), int(width), int(height)
        self._draw_into = draw_into

    def __len__(self) -> int:
        return self.num_frames

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.width, self.height

    def draw_into(self, i: int, out: np.ndarray) -> np.ndarray:
        """Draw frame ``i`` into ``out`` (height, width, 3), which may be a view of a larger image."""
        if not -self.num_frames <= i < self.num_frames:
            raise IndexError(f"frame {i} out of range (0..{self.num_frames - 1})")
        self._draw_into(i % self.num_frames, out)
        return out

    def __getitem__(self, i: int) -> np.ndarray:
        return self.draw_into(int(i), np.empty((self.height, self.width, 3), dtype=np.uint8))

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.num_frames):
            yield self[i]


LAYOUTS = ("square", "portrait")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
MAX_SIZE = 4096


def _size(size: int | tuple[int, int], layout: str = "square") -> tuple[int, int]:
    """(width, height): an int is the width (square: also the height; portrait: 9:16, even)."""
    if layout not in LAYOUTS:
        raise RenderError(f"unknown layout {layout!r}: use {' or '.join(LAYOUTS)}")
    if isinstance(size, (int, np.integer)):
        w = int(size)
        h = w if layout == "square" else 2 * int(round(w * 16 / 9 / 2))
    else:
        w, h = (int(v) for v in size)
    if w < 64 or h < 64:
        raise RenderError(f"frame size {w}x{h} is too small; use at least 64x64")
    if max(w, h) > MAX_SIZE:
        raise RenderError(f"frame size {w}x{h} is too large; use at most {MAX_SIZE} pixels a side")
    return w, h


def _even_timing(seq: PoseSequence, captions: list[Caption], fps: float | None) -> tuple[PoseSequence, list[Caption]]:
    """Evenly spaced frames at ``fps`` (default the sequence's), captions moved along by time."""
    fps = float(fps or seq.fps)
    if seq.timestamps is None and abs(fps - seq.fps) < 1e-9:
        return seq, captions
    times = seq.times()
    out = seq.resample(fps)
    return out, remap_captions(captions, times, fps, len(out))


@dataclass(frozen=True)
class FrameLayout:
    """Where everything goes in a frame (pixels): bars, the main view, the close-up row."""

    width: int
    height: int
    title: int  # rows of the title bar at the top (0 for none)
    caption: int  # rows of the caption bar at the bottom (main line + second line)
    subcaption: int  # of which the second line
    main: tuple[int, int, int, int]  # x0, y0, x1, y1
    row: tuple[tuple[int, int, int, int], ...] = ()  # close-up boxes of the portrait layout


def frame_layout(width: int, height: int, style: RenderStyle, title: bool, captions: bool, second_line: bool,
                 layout: str = "square", insets: bool = True) -> FrameLayout:
    """Bars are sized on the frame's smaller side, so a portrait frame keeps the captions of a square one;
    a portrait frame with close-ups gives them a row of two square boxes between the signer and the captions."""
    unit = min(width, height)
    title_h = int(round(style.title_height * unit)) if title else 0
    cap_h = int(round(style.caption_height * unit)) if captions else 0
    sub_h = int(round(style.subcaption_height * unit)) if captions and second_line else 0
    bottom = height - cap_h - sub_h
    row: tuple = ()
    if layout == "portrait" and insets:
        pad = max(2, int(round(0.02 * width)))
        side = (width - 3 * pad) // 2
        if bottom - title_h - side - 2 * pad >= 0.4 * width:  # room for the signer above the row
            y0 = bottom - pad - side
            row = ((pad, y0, pad + side, y0 + side), (2 * pad + side, y0, 2 * pad + 2 * side, y0 + side))
            bottom = y0 - pad
    return FrameLayout(width, height, title_h, cap_h + sub_h, sub_h, (0, title_h, width, bottom), row)


def render_frames(seq: PoseSequence, size: int | tuple[int, int] = 512, captions: Iterable[Any] | None = None,
                  title: str | None = None, *, framing: Framing | str | None = None,
                  style: RenderStyle | None = None, fps: float | None = None,
                  second_line: bool | None = None, layout: str = "square", insets: bool = True,
                  title_bar: bool = True) -> Frames:
    """Frames of a skeleton animation.

    ``size`` is the frame width (an int: square, or 9:16 for ``layout="portrait"``) or (width,
    height); title and caption bars are inside it. ``captions`` are (start, end, text[, subtext])
    segments, end exclusive, or objects with start/end/label; a caption bar is reserved whenever
    captions are given. Sequences with uneven timestamps are resampled to even frames at ``fps``
    (default ``seq.fps``), captions follow. A second caption line is reserved when a caption has
    ``subtext`` (or when ``second_line=True``). ``framing`` defaults to the signing space of the
    sequence (one camera for the whole sequence); pass one :class:`Framing` to several calls to
    share a camera, ``"shoulders"`` for the old fixed window, or ``"fit"`` for skeletons without
    shoulders. ``insets`` adds the hand close-ups (corners of a square frame, a row of their own in a
    portrait one). ``title_bar=False`` puts the title in the caption bar as a small tag instead of a
    bar of its own (when there are captions), which leaves the signer more room.
    """
    style = style or RenderStyle()
    width, height = _size(size, layout)
    caps = as_captions(captions)
    if len(seq) == 0:
        raise RenderError("nothing to render: the sequence has no frames")
    seq, caps = _even_timing(seq, caps, fps)
    frame = resolve_framing(seq, framing, style)

    has_sub = any(c.subtext for c in caps) if second_line is None else second_line
    tag = title if title and not title_bar and captions is not None else None
    lay = frame_layout(width, height, style, bool(title) and tag is None, captions is not None, has_sub, layout,
                       insets)
    x0, y0, x1, y1 = lay.main
    canvas = make_canvas(width, height, y0, y1, frame.window or style.window, x0, x1)
    mode = ("row" if lay.row else "overlay") if insets else None
    painter = SkeletonPainter(seq, canvas, frame, style, mode, list(lay.row))

    template = np.empty((height, width, 3), dtype=np.uint8)
    template[:] = style.background
    if lay.title:
        template[:lay.title] = text_bar(title, None, width, lay.title, 0, style.title_background,
                                        style.title_text, style.title_text)
    bars = []
    bar_h, sub_h = lay.caption, lay.subcaption
    if bar_h:
        def bar(c: Caption | None) -> np.ndarray:
            return text_bar(c.text if c else None, c.subtext if c else None, width, bar_h, sub_h,
                            style.caption_background, style.caption_text, style.caption_subtext, tag,
                            style.caption_tag)

        template[height - bar_h:] = bar(None)
        bars = [bar(c) for c in caps]
    shown = caption_index(caps, len(seq))  # (T,)

    def draw_into(i: int, out: np.ndarray) -> None:
        out[:] = template
        if shown[i] >= 0:
            out[height - bar_h:] = bars[shown[i]]
        painter.paint(out, i)

    frames = Frames(len(seq), seq.fps, width, height, draw_into)
    frames.painter, frames.layout = painter, lay  # what was drawn where (benchmarks, tests)
    return frames


@dataclass
class Panel:
    """One column of a side-by-side comparison."""

    label: str
    seq: PoseSequence
    captions: Sequence[Any] | None = None
    framing: Framing | str | None = None


def _as_panel(p: Any) -> Panel:
    if isinstance(p, Panel):
        return p
    if isinstance(p, (tuple, list)) and len(p) in (2, 3, 4):
        return Panel(*p)
    raise RenderError(f"a panel is (label, seq[, captions[, framing]]) or Panel, got {type(p).__name__}")


def side_by_side(panels: Sequence[Any], size: int | tuple[int, int] = 512, *, fps: float | None = None,
                 framing: Framing | str | None = None, style: RenderStyle | None = None,
                 layout: str = "square", insets: bool = True) -> Frames:
    """Panels next to each other, each with its label on top and its own captions.

    ``panels`` are (label, seq[, captions[, framing]]) or :class:`Panel`; ``size`` is one panel's
    size, so the frame is ``len(panels) * width`` wide. All panels play at ``fps`` (default the
    first panel's); shorter ones hold their last frame. Panels without a framing of their own share
    one camera: ``framing``, by default the signing space of all their sequences together, so the
    methods compare at one place and scale.
    """
    items = [_as_panel(p) for p in panels]
    if not items:
        raise RenderError("side_by_side needs at least one panel")
    style = style or RenderStyle()
    w, h = _size(size, layout)
    fps = float(fps or items[0].seq.fps)
    if framing is None or framing == "signing":
        framing = Framing.signing_space([p.seq for p in items if p.framing is None] or [items[0].seq], style)
    any_captions = any(p.captions is not None for p in items)
    any_sub = any(c.subtext for p in items for c in as_captions(p.captions))
    sources = []
    for p in items:
        caps = as_captions(p.captions) if p.captions is not None else ([] if any_captions else None)
        # Same bars in every panel (title, caption, second line) so the skeletons line up.
        sources.append(render_frames(p.seq, (w, h), caps, p.label or " ", framing=p.framing or framing,
                                     style=style, fps=fps, second_line=any_sub, layout=layout, insets=insets))
    n = max(len(s) for s in sources)

    def draw_into(i: int, out: np.ndarray) -> None:
        for k, s in enumerate(sources):
            view = out[:, k * w:(k + 1) * w]
            s.draw_into(min(i, len(s) - 1), view)
            if k:
                view[:, 0] = style.divider  # a thin line between panels

    frames = Frames(n, fps, w * len(sources), h, draw_into)
    frames.panels = sources
    return frames


# -- contact sheet -------------------------------------------------------------------------------
def contact_sheet(source: Frames | PoseSequence | Sequence[np.ndarray], frames: int = 12, columns: int = 4,
                  tile_width: int | None = None, **render_kw) -> np.ndarray:
    """A grid of ``frames`` evenly spaced frames, each labelled with its frame number.

    Returns (rows * tile_height, columns * tile_width, 3) uint8 with
    ``rows = ceil(min(frames, len) / columns)``; unused cells stay white.
    """
    cv2 = import_cv2()
    src = render_frames(source, **render_kw) if isinstance(source, PoseSequence) else source
    n = len(src)
    if n == 0:
        raise RenderError("nothing to put on a contact sheet: no frames")
    if frames < 1 or columns < 1:
        raise RenderError("contact sheet needs frames >= 1 and columns >= 1")
    idx = np.unique(np.linspace(0, n - 1, min(frames, n)).round().astype(int))
    first = np.asarray(src[int(idx[0])])
    fh, fw = first.shape[:2]
    tw = int(tile_width or min(fw, 320))
    th = max(1, int(round(fh * tw / fw)))
    cols = min(columns, len(idx))
    rows = math.ceil(len(idx) / cols)
    font_scale = max(0.35, th / 600)
    (_, lh), base = cv2.getTextSize("#0", cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    strip = lh + base + 6  # the frame number sits in a strip above its tile, never over the picture
    sheet = np.full((rows * (th + strip), cols * tw, 3), 255, dtype=np.uint8)
    for k, i in enumerate(idx):
        img = first if k == 0 else np.asarray(src[int(i)])
        tile = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA) if (tw, th) != (fw, fh) else img.copy()
        cell = np.full((th + strip, tw, 3), 255, dtype=np.uint8)
        cell[strip:] = tile
        cv2.putText(cell, f"#{i}", (3, lh + 3), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.rectangle(cell, (0, 0), (tw - 1, th + strip - 1), (200, 200, 200), 1)
        r, c = divmod(k, cols)
        sheet[r * (th + strip):(r + 1) * (th + strip), c * tw:(c + 1) * tw] = cell
    return sheet


# -- writers ----------------------------------------------------------------------------------------
def write_video(source: Frames | PoseSequence | Iterable[np.ndarray], path: str | os.PathLike,
                fps: float | None = None, *, size: int | tuple[int, int] = 512,
                captions: Iterable[Any] | None = None, title: str | None = None,
                framing: Framing | str | None = None, style: RenderStyle | None = None,
                crf: int = 23, preset: str = "superfast", sheet_frames: int = 12, sheet_columns: int = 4,
                progress: bool = False) -> Path:
    """Write ``.mp4`` (H.264, yuv420p, plays in browsers), ``.gif`` or ``.png`` (contact sheet), atomically.

    ``source`` is a sequence (rendered with ``size``, ``captions``, ``title``, ``framing``,
    ``style``), a :class:`Frames` (from :func:`render_frames` or :func:`side_by_side`), or any
    iterable of (H, W, 3) uint8 RGB frames (then ``fps`` is required for mp4 and gif).
    ``crf`` and ``preset`` are x264's: ``superfast`` encodes a skeleton video about 1.4x faster than
    ``veryfast`` for a file about 2.5x larger (still ~30 kB per second of video at 512x512).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif", ".png"):
        raise RenderError(f"unknown video type {path.suffix!r} ({path.name}): use .mp4, .gif or .png")
    if isinstance(source, PoseSequence):
        source = render_frames(source, size, captions, title, framing=framing, style=style, fps=fps)
    elif captions is not None or title is not None:
        raise RenderError("captions and title apply when rendering a sequence; pass them to render_frames")
    fps = float(fps or getattr(source, "fps", 0) or 0)
    if suffix == ".png":
        if not isinstance(source, Frames):
            source = list(source)
        sheet = contact_sheet(source, sheet_frames, sheet_columns)
        atomic_write_bytes(path, _png_bytes(sheet))
        return path
    if not fps > 0:
        raise RenderError(f"fps is needed to write {path.name}; pass fps=")
    if suffix == ".mp4" and preset not in X264_PRESETS:
        raise RenderError(f"unknown x264 preset {preset!r}; choose one of {', '.join(X264_PRESETS)}")
    frames: Iterable[np.ndarray] = source
    if progress:
        from tqdm import tqdm

        frames = tqdm(source, total=len(source) if hasattr(source, "__len__") else None,
                      desc=f"render {path.name}", unit="frame")
    if suffix == ".mp4":
        _write_mp4(frames, path, fps, crf, preset)
    else:
        _write_gif(frames, path, fps)
    return path


def _png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _check_frame(f: np.ndarray, shape: tuple | None) -> np.ndarray:
    f = np.asarray(f)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise RenderError(f"frames must be (H, W, 3) uint8 RGB, got {f.shape} {f.dtype}")
    if shape is not None and f.shape != shape:
        raise RenderError(f"all frames must have one size: {f.shape} after {shape}")
    return f


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg binary: ``IMAGEIO_FFMPEG_EXE`` if set, else the one bundled with imageio-ffmpeg when it is an
    executable file, else whatever ``imageio_ffmpeg.get_ffmpeg_exe`` finds. The bundled binary is not probed
    with ``ffmpeg -version`` as imageio-ffmpeg does (a subprocess, about 0.1 s of every new process); a binary
    that cannot run fails when the video is written, with ffmpeg's message."""
    import imageio_ffmpeg

    exe = os.environ.get("IMAGEIO_FFMPEG_EXE")
    if exe:
        return exe
    try:
        from imageio_ffmpeg._definitions import FNAME_PER_PLATFORM, get_platform
        from imageio_ffmpeg._utils import _get_bin_dir

        bundled = os.path.join(_get_bin_dir(), FNAME_PER_PLATFORM.get(get_platform(), ""))
        if os.path.isfile(bundled) and os.access(bundled, os.X_OK):
            return bundled
    except (ImportError, AttributeError, OSError):  # another imageio-ffmpeg layout: its own search
        pass
    return imageio_ffmpeg.get_ffmpeg_exe()


def _write_mp4(frames: Iterable[np.ndarray], path: Path, fps: float, crf: int = 23, preset: str = "superfast") -> None:
    """H.264 (yuv420p, plays in browsers) through imageio-ffmpeg's ffmpeg binary, written atomically.

    Frames are converted to I420 with OpenCV before the pipe (half the bytes of RGB, and faster than
    ffmpeg's own RGB conversion, which took a third of the encoding time; the decoded colours are the
    same). ffmpeg is started with a plain ``subprocess.Popen``: ``imageio_ffmpeg.write_frames`` passes a
    ``preexec_fn``, which makes Python fork (copying the page tables of a large server process, ~0.1 s)
    instead of vfork.
    """
    import subprocess

    cv2 = import_cv2()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp.mp4")  # suffix tells ffmpeg the container
    proc, shape = None, None
    try:
        for f in frames:
            f = _check_frame(f, shape)
            if proc is None:
                shape = f.shape
                h, w = shape[0] + shape[0] % 2, shape[1] + shape[1] % 2  # I420 needs even sizes
                cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                       "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-", "-an",
                       "-c:v", "libx264", "-preset", preset, "-crf", str(int(crf)), "-pix_fmt", "yuv420p",
                       "-movflags", "+faststart", str(tmp)]
                try:
                    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE)
                except OSError as e:
                    raise RenderError(f"cannot run ffmpeg ({cmd[0]}): {e.strerror or e}; set IMAGEIO_FFMPEG_EXE "
                                      "to a working ffmpeg") from None
            if f.shape[0] % 2 or f.shape[1] % 2:
                f = np.pad(f, ((0, f.shape[0] % 2), (0, f.shape[1] % 2), (0, 0)), mode="edge")
            try:
                proc.stdin.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2YUV_I420).data)
            except BrokenPipeError:
                break  # ffmpeg stopped: its message is read below
        if proc is None:
            raise RenderError(f"no frames to write to {path.name}")
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read()
        if proc.wait() != 0:
            raise RenderError(f"ffmpeg could not write {path.name}: {err.decode('utf-8', 'replace').strip()[-300:]}")
        os.replace(tmp, path)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if tmp.exists():
            tmp.unlink()


def _write_gif(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    from PIL import Image

    imgs, shape = [], None
    for f in frames:
        f = _check_frame(f, shape)
        shape = f.shape
        imgs.append(f)
    if not imgs:
        raise RenderError(f"no frames to write to {path.name}")
    # One palette for the whole clip (from a few frames stacked) so colours do not flicker.
    pick = np.unique(np.linspace(0, len(imgs) - 1, min(8, len(imgs))).round().astype(int))
    palette = Image.fromarray(np.concatenate([imgs[i] for i in pick])).quantize(
        colors=255, method=Image.Quantize.MEDIANCUT)
    pal_frames = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in imgs]
    buf = io.BytesIO()
    pal_frames[0].save(buf, format="GIF", save_all=True, append_images=pal_frames[1:],
                       duration=max(20, int(round(1000 / fps))), loop=0, disposal=1, optimize=False)
    atomic_write_bytes(path, buf.getvalue())
