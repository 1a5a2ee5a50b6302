"""MediaPipe Holistic extraction speed of `syrisign data build`, with 1 and 2 worker processes.

    .venv/bin/python benchmarks/extract_bench.py [--samples 40]

Builds the first N KArSL word samples (18 frames each, 256x256 JPEG frames) into temporary
folders and prints frames per second (wall clock, including process start-up and file writes).
"""
from __future__ import annotations

import argparse
import tempfile
import time

from syrisign.data.build import build_dataset
from syrisign.settings import get_settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--source", default="karsl/word_frames", help="folder under SYRISIGN_DATA")
    args = ap.parse_args()
    src = get_settings().data / args.source
    print(f"| workers | samples | frames | wall s | frames/s |\n| --- | --- | --- | --- | --- |")
    for w in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rep = build_dataset(src, f"{tmp}/ds", workers=w, limit=args.samples, progress=False)
            wall = time.perf_counter() - t0
            print(f"| {w} | {rep.built} | {rep.frames_extracted} | {wall:.1f} | {rep.frames_extracted / wall:.1f} |")


if __name__ == "__main__":
    main()
