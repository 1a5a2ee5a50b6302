"""MediaPipe Holistic extraction speed of `syrisign data build`: the local engine with 1 and 2 worker
processes, and Ray (`--engine ray`, a local Ray with 2 CPUs), on the same samples.

    .venv/bin/python benchmarks/extract_bench.py [--samples 40] [--runs local:1 local:2 ray:2]
    .venv/bin/python benchmarks/extract_bench.py --source karsl/letters_digits_mp4 --samples 24

Builds the first N samples of a source under SYRISIGN_DATA (default: KArSL word frames, 18 frames each,
256x256 JPEG) into temporary folders and prints frames per second (wall clock of the whole build,
including process or Ray start-up and file writes).
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
    ap.add_argument("--runs", nargs="+", default=["local:1", "local:2", "ray:2"], metavar="ENGINE:WORKERS")
    ap.add_argument("--workers", type=int, nargs="+", default=None, help="local engine only, these worker counts")
    ap.add_argument("--source", default="karsl/word_frames", help="folder under SYRISIGN_DATA")
    args = ap.parse_args()
    runs = [f"local:{w}" for w in args.workers] if args.workers else args.runs
    src = get_settings().data / args.source
    print(f"{args.source}, first {args.samples} samples\n")
    print("| engine | workers | samples | frames | wall s | frames/s |\n| --- | --- | --- | --- | --- | --- |")
    for run in runs:
        engine, w = run.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rep = build_dataset(src, f"{tmp}/ds", workers=int(w), limit=args.samples, progress=False, engine=engine)
            wall = time.perf_counter() - t0
            print(f"| {engine} | {w} | {rep.built} | {rep.frames_extracted} | {wall:.1f} | "
                  f"{rep.frames_extracted / wall:.1f} |", flush=True)


if __name__ == "__main__":
    main()
