"""Skeleton rendering speed: render/ against pose-format's PoseVisualizer on the same frames.

    .venv/bin/python benchmarks/render_bench.py [--frames 200] [--size 512] [--runs 5]

The sequence is several Jordanian fingerspelling .pose files of the spoken-to-signed package
concatenated to about ``--frames`` frames (MediaPipe Holistic, 25 fps), drawn at size x size.
Rows:

- render/ drawing only (frames to numpy, with a title bar and Arabic captions), anti-aliased
  and not, for the full Holistic layout and the SyriSign 193 reduction;
- render/ drawing + H.264 mp4 encoding to a temporary file (ffmpeg runs in its own process
  and may use a second core);
- pose-format's PoseVisualizer.draw() on the same frames, mapped to the same pixel positions
  (pose, face, hands; world pose left out as render/ does).

Each figure is the median of ``--runs`` runs; drawing runs in one thread (cv2.setNumThreads(1)).
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
from render.draw import Framing, make_canvas
from syrisign.pose import PoseSequence, stack_frames

PF_COMPONENTS = ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]


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
        caps.append((start, start + len(s), words[i % len(words)]))
        start += len(s)
    return stack_frames(seqs)[:frames], caps


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
    canvas = make_canvas(size, size, 0, size, style)
    fr = Framing.of(seq)
    k = canvas.scale / fr.width
    data = seq.data.copy()
    data[..., 0] = (data[..., 0] - fr.centre[0]) * k + canvas.origin[0]
    data[..., 1] = (data[..., 1] - fr.centre[1]) * k + canvas.origin[1]
    px = replace(seq, data=np.where(seq.valid()[..., None], data, 0), meta={"width": size, "height": size})
    pose = px.to_pose_format()
    names = [c.name for c in pose.header.components]
    return pose.get_components([c for c in PF_COMPONENTS if c in names])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import cv2
    from pose_format.pose_visualizer import PoseVisualizer

    cv2.setNumThreads(1)
    full, caps = jos_sequence(args.frames)
    n = len(full)
    print(f"{n} frames ({full.skeleton.name}, {full.fps:g} fps), {args.size}x{args.size}, median of {args.runs} runs\n")
    print("| renderer | skeleton | frames/s (wall) | frames/s (CPU time) |\n| --- | --- | --- | --- |")
    for seq in (full, full.reduce("syrisign193")):
        for aa in (True, False):
            style = render.RenderStyle(antialias=aa)

            def draw(seq=seq, style=style):
                for _ in render.render_frames(seq, args.size, caps, "retrieval", style=style):
                    pass

            wall, cpu = median_rate(draw, n, args.runs)
            print(f"| render/ drawing{' (anti-aliased)' if aa else ' (LINE_8)'} | {seq.skeleton.name} "
                  f"| {wall:.0f} | {cpu:.0f} |")
        with tempfile.TemporaryDirectory() as tmp:
            def encode(seq=seq):
                render.write_video(seq, Path(tmp) / "bench.mp4", size=args.size, captions=caps, title="retrieval")

            wall, _ = median_rate(encode, n, args.runs)
        print(f"| render/ drawing + mp4 (libx264 superfast) | {seq.skeleton.name} | {wall:.0f} | - |")
        pose = pose_format_input(seq, args.size)

        def pf_draw(pose=pose):
            for _ in PoseVisualizer(pose).draw():
                pass

        wall, cpu = median_rate(pf_draw, n, args.runs)
        print(f"| pose-format PoseVisualizer.draw() | {seq.skeleton.name} | {wall:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
