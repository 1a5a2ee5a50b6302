"""Caption and title bars with correctly shaped right-to-left Arabic.

Arabic letters change shape with their neighbours and run right to left. The text is shaped
with ``arabic_reshaper`` (contextual presentation forms, lam-alef ligatures) and put in
visual order with ``bidi.algorithm.get_display``; PIL then draws the visual string with its
BASIC layout engine, so the result does not depend on whether PIL was built with libraqm
(raqm would apply the bidi algorithm a second time to an already visual string).

Bars are rendered once per distinct text and size and then blitted, so captions cost a
memory copy per frame.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from render.draw import RenderError

RGB = tuple[int, int, int]
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


@dataclass(frozen=True)
class Caption:
    """Text shown from frame ``start`` up to, not including, frame ``end``; ``subtext`` is a second line."""

    start: int
    end: int
    text: str
    subtext: str | None = None


def as_captions(items: Iterable[Any] | None) -> list[Caption]:
    """Captions from tuples ``(start, end, text[, subtext])``, dicts, or objects such as stitch segments.

    Dicts and objects are read by key or attribute: ``start_frame``/``end_frame`` (or
    ``start``/``end``) for the frames, ``text``, ``label`` or ``gloss`` for the text, and
    ``subtext``, ``label_en`` or ``english`` for the second line.
    """
    out = []
    for it in items or ():
        if isinstance(it, Caption):
            out.append(it)
            continue
        if isinstance(it, (tuple, list)):
            if len(it) not in (3, 4):
                raise RenderError(f"a caption is (start, end, text[, subtext]), got {it!r}")
            start, end, text = it[:3]
            sub = it[3] if len(it) == 4 else None
        else:
            get = it.get if isinstance(it, dict) else (lambda k, d=None: getattr(it, k, d))
            # frame fields first: stitch segments have start_frame/end_frame (a plan item's start/end are characters)
            start = get("start_frame") if get("start_frame") is not None else get("start")
            end = get("end_frame") if get("end_frame") is not None else get("end")
            text = next((get(k) for k in ("text", "label", "gloss") if get(k) is not None), None)
            sub = next((get(k) for k in ("subtext", "label_en", "english") if get(k)), None)
            if start is None or end is None or text is None:
                raise RenderError(f"a caption needs start, end and text (or label), got {it!r}")
        start, end = int(start), int(end)
        if end < start:
            raise RenderError(f"caption {text!r} ends ({end}) before it starts ({start})")
        out.append(Caption(start, end, str(text), None if sub in (None, "") else str(sub)))
    return out


def caption_index(captions: list[Caption], num_frames: int) -> np.ndarray:
    """(T,) int: index of the caption shown at each frame, -1 for none (later captions win overlaps)."""
    idx = np.full(num_frames, -1, dtype=np.int64)
    for i, c in enumerate(captions):
        idx[max(0, c.start):max(0, min(num_frames, c.end))] = i
    return idx


def remap_captions(captions: list[Caption], old_times: np.ndarray, fps: float, num_frames: int) -> list[Caption]:
    """Captions of a sequence resampled to ``fps``: frame numbers follow the real time of each frame."""
    if not len(old_times):
        return captions
    t0, n = float(old_times[0]), len(old_times)

    def at(i: int) -> int:
        # end is exclusive: frame n maps to the time just after the last frame
        t = old_times[i] if i < n else old_times[-1] + 1.0 / fps
        return int(min(num_frames, max(0, round((t - t0) * fps))))

    return [Caption(at(max(0, min(c.start, n))), at(max(0, min(c.end, n))), c.text, c.subtext)
            for c in captions]


# -- Arabic -------------------------------------------------------------------------------------
def has_arabic(text: str) -> bool:
    return bool(_ARABIC.search(text))


def shape_text(text: str) -> str:
    """The string in visual order for a left-to-right renderer: Arabic shaped and reversed."""
    if not has_arabic(text):
        return text
    import arabic_reshaper
    from bidi.algorithm import get_display

    return get_display(arabic_reshaper.reshape(text))


# -- fonts ------------------------------------------------------------------------------------------
def font_candidates() -> list[Path]:
    paths = [Path(os.environ["SYRISIGN_FONT"])] if os.environ.get("SYRISIGN_FONT") else []
    paths.append(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")  # its bundled DejaVu font, without importing matplotlib
    if spec is not None and spec.origin:
        paths.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
    return paths


@lru_cache(maxsize=1)
def font_path() -> Path:
    """The first font that draws Arabic presentation forms (glyphs differ from the missing-glyph box)."""
    tried = []
    for p in font_candidates():
        if p.is_file() and _draws_arabic(p):
            return p
        tried.append(str(p))
    raise RenderError("no font with Arabic glyphs found (tried " + ", ".join(tried)
                      + "); install fonts-dejavu-core or set SYRISIGN_FONT to a .ttf with Arabic")


def _draws_arabic(path: Path) -> bool:
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(str(path), 32, layout_engine=ImageFont.Layout.BASIC)
    except OSError:
        return False

    def bitmap(s: str) -> bytes:
        im = Image.new("L", (200, 60))
        ImageDraw.Draw(im).text((4, 4), s, font=font, fill=255)
        return im.tobytes()

    missing = bitmap("\U000F0000")  # a private-use code point: the font's missing-glyph box
    # Presentation forms the reshaper produces (beh initial, alef final, meem medial, lam-alef):
    # each must have ink and differ from the missing-glyph box.
    for ch in ("\ufe91", "\ufe8e", "\ufee4", "\ufefb"):
        ink = bitmap(ch)
        if font.getbbox(ch)[2] <= 0 or not any(ink) or ink == missing:
            return False
    return True


@lru_cache(maxsize=32)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), size, layout_engine=ImageFont.Layout.BASIC)


# -- bars ---------------------------------------------------------------------------------------------
def _fit_font(text: str, max_w: int, max_h: int):
    """The largest font (up to the line height) whose rendering of ``text`` fits ``max_w``."""
    size = max(6, int(max_h * 0.78))
    while True:
        font = _font(size)
        l, t, r, b = font.getbbox(text)
        if (r - l <= max_w and b - t <= max_h) or size <= 6:
            return font, (l, t, r, b)
        size = max(6, int(size * min(0.92, max_w / max(1, r - l))))


@lru_cache(maxsize=512)
def text_bar(text: str | None, subtext: str | None, width: int, height: int, sub_height: int,
             background: RGB, color: RGB, sub_color: RGB, tag: str | None = None,
             tag_color: RGB | None = None) -> np.ndarray:
    """(height, width, 3) uint8: a bar with ``text`` centred and ``subtext`` in a second line below it.

    ``sub_height`` rows at the bottom are the second line (0 for none). ``tag`` (e.g. the method's
    name) is written small at the left end of the last line; the centred text keeps clear of it.
    """
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(im)
    main_h = height - sub_height
    lines = [(text, 0, main_h, color), (subtext, main_h, sub_height, sub_color)]
    reserve = 0
    if tag:
        top, h = (main_h, sub_height) if sub_height > 4 else (0, main_h)
        visual = shape_text(tag)
        font, (l, t, r, b) = _fit_font(visual, int(width * 0.3), int(min(h * 0.8, 0.045 * width + 4)))
        ascent, descent = font.getmetrics()
        pad = max(3, width // 80)
        draw.text((pad - l, top + (h - (ascent + descent)) / 2), visual, font=font, fill=tag_color or sub_color)
        reserve = r - l + 2 * pad
    for k, (s, top, h, col) in enumerate(lines):
        if not s or h <= 4:
            continue
        visual = shape_text(s)
        last = k == 1 or sub_height <= 4
        room = width * 0.94 - (2 * reserve if tag and last else 0)
        font, (l, t, r, b) = _fit_font(visual, int(max(room, width * 0.3)), int(h * 0.84))
        ascent, descent = font.getmetrics()
        x = (width - (r - l)) / 2 - l
        # centre the font's line box, not the ink box, so every text sits on the same baseline
        y = top + (h - (ascent + descent)) / 2
        draw.text((x, y), visual, font=font, fill=col)
    arr = np.asarray(im, dtype=np.uint8)
    arr.setflags(write=False)
    return arr
