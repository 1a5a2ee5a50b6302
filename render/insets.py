"""Hand close-ups: a box per active hand that follows it at a fixed zoom, placed where it hides no part of
the signer.

Everything is decided once per sequence: which hands get a close-up (those raised into the signing
space for a few frames), how much of the body the close-up shows (the hand's large extent, its 90th
percentile over the active frames, fills ``RenderStyle.inset_fill`` of the box, so the zoom does not
change from word to word), where the close-up looks in each frame (the hand's centre, bridged over
short gaps and smoothed over 0.2 s so it follows without jitter), and where the box sits in the frame:

- ``overlay`` (square frames): one of the main view's four corners, the one that the signer's drawn
  landmarks enter least over the whole sequence; in a frame where some landmark would be under the
  box anyway, the close-up is not shown;
- ``row`` (portrait frames): boxes of their own below the signer, each hand on the side where it is
  seen, so nothing is ever covered.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from render.draw import HANDS, RenderStyle, camera_joints
from syrisign.pose import PoseSequence
from syrisign.skeletons import LEFT_HAND, RIGHT_HAND

RAISED = 1.0  # a hand whose top is above this (shoulder widths below the shoulder line) is in the signing space
MIN_ACTIVE_FRAMES = 4


@dataclass
class InsetPlan:
    """One hand's close-up: where it sits (frame pixels), what it shows, in which frames."""

    hand: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    crop: float  # shoulder widths across the box
    centres: np.ndarray  # (T, 2) where the box looks, shoulder widths in the framing's body frame
    visible: np.ndarray  # (T,) bool
    border: tuple[int, int, int]
    zoom: float  # the close-up's scale over the main view's


@dataclass
class HandTrack:
    """Per frame: is the hand tracked, its box (x0, x1, y0, y1 in shoulder widths), is it raised."""

    present: np.ndarray  # (T,) bool
    bbox: np.ndarray  # (T, 4)
    active: np.ndarray  # (T,) bool

    @property
    def centre(self) -> np.ndarray:  # (T, 2)
        return np.stack([(self.bbox[:, 0] + self.bbox[:, 1]) / 2, (self.bbox[:, 2] + self.bbox[:, 3]) / 2], 1)

    @property
    def extent(self) -> np.ndarray:  # (T,) the larger side of the box
        return np.maximum(self.bbox[:, 1] - self.bbox[:, 0], self.bbox[:, 3] - self.bbox[:, 2])


def hand_track(seq: PoseSequence, units: np.ndarray, valid: np.ndarray, hand: str) -> HandTrack | None:
    """The hand's box per frame from its 21 landmarks (present when at least 11 are tracked)."""
    sk = seq.skeleton
    if not sk.has(hand) or sk.slices[hand].stop - sk.slices[hand].start != 21:
        return None
    sl = sk.slices[hand]
    ok = valid[:, sl]  # (T, 21)
    present = ok.sum(1) >= 11
    u = units[:, sl]  # (T, 21, 2)
    big = np.float32(1e6)
    x = np.where(ok, u[..., 0], np.nan)
    y = np.where(ok, u[..., 1], np.nan)
    bbox = np.zeros((len(seq), 4), dtype=np.float64)
    if present.any():
        p = present
        bbox[p] = np.stack([np.nanmin(np.where(np.isnan(x[p]), big, x[p]), 1),
                            np.nanmax(np.where(np.isnan(x[p]), -big, x[p]), 1),
                            np.nanmin(np.where(np.isnan(y[p]), big, y[p]), 1),
                            np.nanmax(np.where(np.isnan(y[p]), -big, y[p]), 1)], 1)
    active = present & (bbox[:, 2] < RAISED)
    return HandTrack(present, bbox, active)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e)) for s, e in edges.reshape(-1, 2)]


def _steady(mask: np.ndarray, bridge: int, shortest: int) -> np.ndarray:
    """Gaps of at most ``bridge`` frames filled, then runs shorter than ``shortest`` removed (no flashes)."""
    out = mask.copy()
    runs = _runs(out)
    for (_, e0), (s1, _) in zip(runs, runs[1:]):
        if s1 - e0 <= bridge:
            out[e0:s1] = True
    for s, e in _runs(out):
        if e - s < shortest:
            out[s:e] = False
    return out


def _follow(track: HandTrack, frames: int, crop: float) -> np.ndarray:
    """(T, 2) centres: the hand's centre where tracked, interpolated across gaps, smoothed over ``frames``,
    then moved just enough that the hand's box stays inside the close-up (a fast hand is not cut off)."""
    c = track.centre
    t = np.arange(len(c))
    have = track.present
    out = np.stack([np.interp(t, t[have], c[have, k]) for k in (0, 1)], 1)
    if frames > 1 and len(out) > frames:
        kernel = np.ones(frames) / frames
        pad = frames // 2
        padded = np.pad(out, ((pad, frames - 1 - pad), (0, 0)), mode="edge")
        out = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in (0, 1)], 1)
    b, half = track.bbox, crop / 2 * 0.96
    for k, (lo, hi) in enumerate(((0, 1), (2, 3))):
        fits = have & (b[:, hi] - b[:, lo] < 2 * half)
        out[fits, k] = np.clip(out[fits, k], b[fits, hi] - half, b[fits, lo] + half)
    return out


def _points_in(px: np.ndarray, ok: np.ndarray, box: tuple[int, int, int, int], pad: float) -> np.ndarray:
    """(T,) number of valid points inside ``box`` grown by ``pad`` pixels; px (T, K, 2) frame pixels."""
    x0, y0, x1, y1 = box
    inside = ((px[..., 0] >= x0 - pad) & (px[..., 0] < x1 + pad) & (px[..., 1] >= y0 - pad) & (px[..., 1] < y1 + pad))
    return (inside & ok).sum(1)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def plan_insets(seq: PoseSequence, units: np.ndarray, valid: np.ndarray, main_scale: float,
                main_origin: tuple[float, float], main_box: tuple[int, int, int, int], style: RenderStyle,
                layout: str = "overlay", row_boxes: list[tuple[int, int, int, int]] | None = None) -> list[InsetPlan]:
    """The close-ups of a sequence (see the module docstring). ``units`` (T, J, 2) are the landmarks in
    shoulder widths of the main view's framing, ``main_scale``/``main_origin`` map them to frame pixels."""
    fps = seq.fps
    tracks = {h: hand_track(seq, units, valid, h) for h in HANDS}
    tracks = {h: tr for h, tr in tracks.items() if tr is not None and tr.active.sum() >= MIN_ACTIVE_FRAMES}
    if not tracks:
        return []
    cam = camera_joints(seq.skeleton)
    cam_px = units[:, cam] * main_scale + np.asarray(main_origin)  # (T, K, 2) frame pixels
    cam_ok = valid[:, cam]
    order = sorted(tracks, key=lambda h: -int(tracks[h].active.sum()))  # the busier hand chooses first
    mx0, my0, mx1, my1 = main_box
    pad = max(2, int(round(0.012 * min(mx1 - mx0, my1 - my0))))
    if layout == "row":
        # each hand on the side of the frame where it is seen (the signer's right hand is on the image's left)
        boxes = sorted(row_boxes or [])
        if len(boxes) != 2:
            return []
        side_x = {h: float(np.median(tracks[h].centre[tracks[h].active, 0])) for h in tracks}
        by_x = sorted(tracks, key=lambda h: side_x[h])
        if len(by_x) == 1:
            chosen = {by_x[0]: boxes[0] if side_x[by_x[0]] <= 0 else boxes[1]}
        else:
            chosen = {by_x[0]: boxes[0], by_x[1]: boxes[1]}
    else:
        base = style.inset_size * min(mx1 - mx0, my1 - my0)
        cands = []
        for k in (1.0, 0.85, 0.7):  # a smaller box where a full-size one would cover the signer
            side = int(round(base * k))
            for x, y in ((mx0 + pad, my0 + pad), (mx1 - pad - side, my0 + pad),
                         (mx0 + pad, my1 - pad - side), (mx1 - pad - side, my1 - pad - side)):
                cands.append((x, y, x + side, y + side))
        covered = {c: _points_in(cam_px, cam_ok, c, pad) > 0 for c in cands}  # (T,) per candidate
        chosen = {}
        for h in order:
            free = [c for c in cands if not any(_overlap(c, o) for o in chosen.values())]
            hx = main_origin[0] + float(np.median(tracks[h].centre[tracks[h].active, 0])) * main_scale
            # the box hidden in the fewest of the hand's active frames; then the larger, the top, the hand's side
            chosen[h] = min(free, key=lambda c: (int((covered[c] & tracks[h].active).sum()), -(c[2] - c[0]), c[1],
                                                 abs((c[0] + c[2]) / 2 - hx)))
    plans = []
    for h, box in chosen.items():
        tr = tracks[h]
        side = box[2] - box[0]
        crop = float(np.clip(np.percentile(tr.extent[tr.active], 90) / style.inset_fill, 0.3, 1.6))
        zoom = side / crop / main_scale
        if zoom > style.inset_max_zoom:
            crop = side / (style.inset_max_zoom * main_scale)
            zoom = style.inset_max_zoom
        visible = _steady(tr.active, bridge=max(1, int(round(0.2 * fps))), shortest=max(2, int(round(0.16 * fps))))
        if layout != "row":
            visible &= ~covered[box]  # never over the signer
        border = style.left_hand if h == LEFT_HAND else style.right_hand
        plans.append(InsetPlan(h, box, crop, _follow(tr, max(1, int(round(0.2 * fps))), crop), visible, border, float(zoom)))
    return plans


__all__ = ["HandTrack", "InsetPlan", "hand_track", "plan_insets", "RAISED", "RIGHT_HAND", "LEFT_HAND"]
