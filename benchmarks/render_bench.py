"""Rendering: legibility of what a viewer sees, and drawing speed against pose-format's PoseVisualizer.

    .venv/bin/python benchmarks/render_bench.py [--size 512] [--runs 5] [--sheets results/legibility]

1. Legibility, over every letter of the default lexicon's alphabets (built on first use), each letter
   signed as ``syrisign translate`` signs a one-letter word (retargeted onto the reference signer,
   right-handed, its hold with entry and exit, stitched) and drawn in the default single panel (``size`` px, captions, method tag, hand
   close-ups): the median over frames of the shoulder width and of the height of the raised hand's
   bounding box in the main view (pixels), and the share of the close-up's height that the hand fills;
   medians over the letters, per alphabet. The row "before" draws the same letters with the fixed
   window around the shoulders that the renderer used until this camera (``framing="shoulders"``).
2. Speed: about ``--frames`` frames of Jordanian fingerspelling (.pose files of spoken-to-signed,
   concatenated, 25 fps) drawn at size x size with a title or tag and Arabic captions, with and without
   close-ups, anti-aliased and not, for the full Holistic layout and the SyriSign 193 reduction; drawing
   + H.264 mp4; pose-format's ``PoseVisualizer.draw()`` on the same frames placed at the same pixels.
   Medians of ``--runs`` runs; drawing runs in one thread (``cv2.setNumThreads(1)``).
3. ``--sheets DIR``: one contact sheet per alphabet, every letter as one still (the steadiest frame of its
   hold) in the new style beside pose-format's drawing of the same frame of the same recording (its own
   .pose framing), written as small palette PNGs.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import render
from render.draw import _SHIFT, make_canvas
from syrisign.pose import PoseSequence, stack_frames
from syrisign.skeletons import LEFT_HAND, RIGHT_HAND

PF_COMPONENTS = ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]
ALPHABET_NAMES = {"jos": "Jordanian (spoken-to-signed)", "sdl": "KArSL", "sdl-esharah": "Saudi dictionary"}


# -- inputs -------------------------------------------------------------------------------------
def jos_sequence(frames: int) -> tuple[PoseSequence, list[tuple[int, int, str]]]:
    from syrisign.data.sources import spoken_to_signed_lexicon

    files = sorted((spoken_to_signed_lexicon().parent / "jos").glob("*.pose"))
    seqs, total = [], 0
    for f in files:
        s = PoseSequence.load(f)
        seqs.append(s)
        total += len(s)
        if total >= frames:
            break
    words = ["مرحبا", "وزارة الصحة", "مستشفى", "طبيب", "السلام عليكم", "كبد", "بلعوم", "رئتان"]
    caps, start = [], 0
    for i, s in enumerate(seqs):
        caps.append((start, start + len(s), words[i % len(words)], "(fingerspell)"))
        start += len(s)
    return stack_frames(seqs)[:frames], caps


def alphabets(lexicon) -> dict[str, list]:
    """Letter entries of the lexicon by alphabet (signed language, and the source for the Saudi dictionary)."""
    out: dict[str, list] = {}
    for e in lexicon.entries:
        if e.kind != "letter":
            continue
        name = e.signed_language + ("-esharah" if "esharah" in (e.source + e.path).lower() else "")
        out.setdefault(name, []).append(e)
    return out


_ONE_SIGNER: dict = {}


def as_translated(lexicon, entry, fps: float = 25.0) -> PoseSequence:
    """The letter as `syrisign translate` signs a one-letter word: onto the reference signer and the right
    hand, spelled as one movement (its hold, entry and exit at 2.5 letters/s), stitched alone."""
    from syrisign.signers import OneSigner, SignerBook
    from syrisign.spelling import spell_word
    from syrisign.stitch import stitch

    key = id(lexicon)
    if key not in _ONE_SIGNER:
        _ONE_SIGNER[key] = OneSigner(SignerBook(lexicon))
    clip = _ONE_SIGNER[key].prepare(lexicon.pose(entry), "holistic543", fps, entry)
    return stitch([spell_word([clip], "right").sequence], [entry.words], fps=fps).sequence


# -- legibility ---------------------------------------------------------------------------------
def raised_hands(painter) -> list[tuple[str, np.ndarray]]:
    """(hand, frames (T,) bool) where the hand is tracked in full and raised into the signing space."""
    from render.insets import hand_track

    out = []
    for h in (LEFT_HAND, RIGHT_HAND):
        tr = hand_track(painter.seq, painter.units, painter.valid, h)
        if tr is not None:
            sl = painter.seq.skeleton.slices[h]
            out.append((h, tr.active & painter.valid[:, sl].all(1)))
    return out


def legibility(seq: PoseSequence, size: int, framing=None) -> dict[str, float]:
    """Median shoulder width and raised-hand height (px) in the main view, and the close-up's hand fill."""
    fr = render.render_frames(seq, size, [(0, len(seq), "ب", "(fingerspell)")], "retrieval", framing=framing,
                              title_bar=framing is not None)
    p = fr.painter
    px = p.main.px / (1 << _SHIFT)  # (T, J, 2)
    ls, rs = seq.skeleton.shoulder_idx
    ok = p.valid[:, ls] & p.valid[:, rs]
    shoulder = float(np.median(np.linalg.norm(px[ok, ls] - px[ok, rs], axis=-1))) if ok.any() else float("nan")
    heights, fills = [], []
    for h, frames in raised_hands(p):
        sl = seq.skeleton.slices[h]
        heights += list(px[frames, sl, 1].max(1) - px[frames, sl, 1].min(1))
        for plan, view in zip(p.inset_plans, p.insets):
            if plan.hand == h:
                shown = frames & plan.visible
                ipx = view.px[shown][:, sl, 1] / (1 << _SHIFT)
                side = plan.box[3] - plan.box[1]
                fills += list((ipx.max(1) - ipx.min(1)) / side)
    return {"shoulder": shoulder, "hand": float(np.median(heights)) if heights else float("nan"),
            "fill": float(np.median(fills)) if fills else float("nan"),
            "zoom": float(np.median([q.zoom for q in p.inset_plans])) if p.inset_plans else float("nan")}


def legibility_table(lexicon, size: int) -> None:
    print(f"Legibility at {size}x{size}, single panel with captions and close-ups; medians over each alphabet's "
          "letters of the per-letter median over frames\n")
    print("| alphabet | letters | renderer | shoulder width (px) | raised hand height (px) | hand in close-up "
          "(share of its height) | close-up zoom over the main view |\n| --- | --- | --- | --- | --- | --- | --- |")
    everything: dict[str, list[dict]] = {"before": [], "now": []}
    for name, entries in sorted(alphabets(lexicon).items()):
        rows = {"before": [], "now": []}
        for e in entries:
            seq = as_translated(lexicon, e)
            rows["now"].append(legibility(seq, size))
            rows["before"].append(legibility(seq, size, framing="shoulders"))
        for which in ("before", "now"):
            everything[which] += rows[which]
            _row(ALPHABET_NAMES.get(name, name), len(entries), which, rows[which])
    for which in ("before", "now"):
        _row("**all**", len(everything[which]), which, everything[which])
    print()


def _row(name: str, n: int, which: str, rows: list[dict]) -> None:
    med = {k: float(np.nanmedian([r[k] for r in rows])) if rows else float("nan") for k in rows[0]}
    label = "fixed window around the shoulders (before)" if which == "before" else "signing-space camera (now)"
    fill = f"{100 * med['fill']:.0f} %" if which == "now" else "-"
    zoom = f"{med['zoom']:.2f}x" if which == "now" else "-"
    print(f"| {name} | {n} | {label} | {med['shoulder']:.0f} | {med['hand']:.0f} | {fill} | {zoom} |")


# -- contact sheets -----------------------------------------------------------------------------
def hold_frame(seq: PoseSequence) -> int:
    """The steadiest frame of the raised hand (least wrist motion over 3 frames), else the middle frame."""
    from syrisign.stitch import wrist_tracks

    best, best_speed = len(seq) // 2, np.inf
    norm = seq.normalize()
    for side in ("left", "right"):
        pos, ok = wrist_tracks(norm, side)[0]
        raised = ok & (pos[:, 1] < 0.9)
        if raised.sum() < 3:
            continue
        v = np.linalg.norm(np.diff(pos[:, :2], axis=0), axis=-1)
        v = np.convolve(np.concatenate([v[:1], v]), np.ones(3) / 3, mode="same")
        v = np.where(raised, v, np.inf)
        t = int(np.argmin(v))
        if v[t] < best_speed:
            best, best_speed = t, v[t]
    return best


def pose_format_frame(entry, frame_time: float) -> np.ndarray:
    """pose-format's PoseVisualizer drawing of the recording's frame at ``frame_time`` s, in its own framing."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_visualizer import PoseVisualizer

    pose = Pose.read(entry.file.read_bytes())
    names = [c.name for c in pose.header.components]
    pose = pose.get_components([c for c in PF_COMPONENTS if c in names])
    i = int(np.clip(round(frame_time * pose.body.fps), 0, len(pose.body.data) - 1))
    body = NumPyPoseBody(pose.body.fps, pose.body.data[i:i + 1], pose.body.confidence[i:i + 1])
    return next(iter(PoseVisualizer(Pose(pose.header, body)).draw()))


def _fit(img: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    k = side / max(h, w)
    small = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    out = np.full((side, side, 3), 255, dtype=np.uint8)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small[..., :3]
    return out


def contact_sheets(lexicon, out_dir: Path, tile: int = 168, pairs_per_row: int = 6) -> list[Path]:
    import cv2
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, entries in sorted(alphabets(lexicon).items()):
        cells = []
        for e in sorted(entries, key=lambda e: e.words):
            seq = as_translated(lexicon, e)
            t = hold_frame(seq)
            ours = render.render_frames(seq, 512, [(0, len(seq), e.words)], title_bar=False)[t]
            # the same moment of the recording: the middle of the letter's hold in it
            theirs = pose_format_frame(e, hold_time(lexicon, e))
            cell = np.full((tile + 22, 2 * tile + 6, 3), 255, dtype=np.uint8)
            cell[22:, :tile] = _fit(ours, tile)
            cell[22:, tile + 6:] = _fit(theirs, tile)
            label = render.shape_text(e.words)
            from render.captions import _font
            im = Image.fromarray(cell)
            from PIL import ImageDraw
            ImageDraw.Draw(im).text((4, 1), label, font=_font(17), fill=(0, 0, 0))
            ImageDraw.Draw(im).text((tile + 10, 4), "pose-format", font=_font(12), fill=(110, 110, 110))
            cells.append(np.asarray(im))
        rows = [cells[i:i + pairs_per_row] for i in range(0, len(cells), pairs_per_row)]
        h, w = cells[0].shape[:2]
        sheet = np.full((len(rows) * (h + 8), pairs_per_row * (w + 12), 3), 255, dtype=np.uint8)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                sheet[r * (h + 8):r * (h + 8) + h, c * (w + 12):c * (w + 12) + w] = cell
                cv2.rectangle(sheet, (c * (w + 12), r * (h + 8)), (c * (w + 12) + w - 1, r * (h + 8) + h - 1),
                              (215, 215, 220), 1)
        path = out_dir / f"letters-{name}.png"
        Image.fromarray(sheet).quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        written.append(path)
        print(f"wrote {path} ({len(cells)} letters, {path.stat().st_size // 1024} kB)")
    return written


def hold_time(lexicon, entry, fps: float = 25.0) -> float:
    """Seconds into the recording of the middle of the letter's hold (what the one-movement spelling keeps)."""
    from syrisign.spelling import find_hold

    clip = _ONE_SIGNER[id(lexicon)].prepare(lexicon.pose(entry), "holistic543", fps, entry)
    h = find_hold(clip, "right", 5)
    return (h.start + h.stop) / 2 / fps


# -- speed --------------------------------------------------------------------------------------
def median_rate(fn, n_frames: int, runs: int) -> tuple[float, float]:
    """Median frames/s over ``runs``, by wall clock and by this process's CPU time.

    CPU time is the steadier figure on a shared machine; it leaves out ffmpeg's own process.
    """
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(n_frames / (time.perf_counter() - t0))
        cpu.append(n_frames / max(1e-9, time.process_time() - c0))
    return statistics.median(wall), statistics.median(cpu)


def pose_format_input(seq: PoseSequence, size: int):
    """The sequence in pixel coordinates of a size x size image, placed as render/ places it."""
    style = render.RenderStyle()
    fr = render.Framing.signing_space(seq, style)
    canvas = make_canvas(size, size, 0, size, fr.window)
    k = canvas.scale / fr.width
    data = seq.data.copy()
    data[..., 0] = (data[..., 0] - fr.centre[0]) * k + canvas.origin[0]
    data[..., 1] = (data[..., 1] - fr.centre[1]) * k + canvas.origin[1]
    px = replace(seq, data=np.where(seq.valid()[..., None], data, 0), meta={"width": size, "height": size})
    pose = px.to_pose_format()
    names = [c.name for c in pose.header.components]
    return pose.get_components([c for c in PF_COMPONENTS if c in names])


def speed_table(frames: int, size: int, runs: int) -> None:
    import cv2
    from pose_format.pose_visualizer import PoseVisualizer

    cv2.setNumThreads(1)
    full, caps = jos_sequence(frames)
    n = len(full)
    print(f"Speed: {n} frames ({full.skeleton.name}, {full.fps:g} fps), {size}x{size}, median of {runs} runs\n")
    print("| renderer | skeleton | frames/s (wall) | frames/s (CPU time) |\n| --- | --- | --- | --- |")
    for seq in (full, full.reduce("syrisign193")):
        for aa, insets in ((True, True), (True, False), (False, True)):
            style = render.RenderStyle(antialias=aa)

            def draw(seq=seq, style=style, insets=insets):
                for _ in render.render_frames(seq, size, caps, "retrieval", style=style, insets=insets,
                                              title_bar=False):
                    pass

            wall, cpu = median_rate(draw, n, runs)
            what = ("anti-aliased" if aa else "LINE_8") + (", close-ups" if insets else ", no close-ups")
            print(f"| render/ drawing ({what}) | {seq.skeleton.name} | {wall:.0f} | {cpu:.0f} |")
        with tempfile.TemporaryDirectory() as tmp:
            def encode(seq=seq):
                render.write_video(render.render_frames(seq, size, caps, "retrieval", title_bar=False),
                                   Path(tmp) / "bench.mp4")

            wall, _ = median_rate(encode, n, runs)
        print(f"| render/ drawing + mp4 (libx264 superfast) | {seq.skeleton.name} | {wall:.0f} | - |")
        pose = pose_format_input(seq, size)

        def pf_draw(pose=pose):
            for _ in PoseVisualizer(pose).draw():
                pass

        wall, cpu = median_rate(pf_draw, n, runs)
        print(f"| pose-format PoseVisualizer.draw() | {seq.skeleton.name} | {wall:.0f} | {cpu:.0f} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sheets", type=Path, help="write the letter contact sheets into this folder")
    ap.add_argument("--no-legibility", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()

    lexicon = None
    if not args.no_legibility or args.sheets:
        from syrisign.lexicon import load_lexicon
        lexicon = load_lexicon(None)
    if not args.no_legibility:
        legibility_table(lexicon, args.size)
    if not args.no_speed:
        speed_table(args.frames, args.size, args.runs)
    if args.sheets:
        contact_sheets(lexicon, args.sheets)


if __name__ == "__main__":
    main()
