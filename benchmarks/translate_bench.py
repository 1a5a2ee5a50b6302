"""Text to sign, end to end: SyriSign against the `spoken-to-signed` package on the same sentence.

    .venv/bin/python benchmarks/translate_bench.py [--text "..."] [--runs 5] [--size 512]

Rows (median of ``--runs`` runs after one warm-up; each row in the same process, one after the other):

- SyriSign, in process (``syrisign.pipeline.Pipeline``, lexicon loaded once): text -> .pose and
  text -> mp4 (plan, stitch, draw at size x size with captions, H.264), with the default Arabic lexicon
  and with the Jordanian fingerspelling lexicon alone (the peer's lexicon);
- SyriSign, the command a user types (`syrisign translate TEXT -o out.mp4`, a new process each time:
  imports and lexicon loading included);
- spoken-to-signed: its Python API as its own CLI uses it (``text_to_gloss`` with the ``simple``
  glosser for Arabic, then ``gloss_to_pose`` with a ``CSVPoseLookup`` on the same Jordanian lexicon and
  its fingerspelling fallback) -> .pose; then pose-format's ``PoseVisualizer.save_video`` -> mp4.

pose-format's ``save_video`` needs ``vidgear`` (the dev extra installs it). The default lexicon must exist (any `syrisign translate` run builds it); SYRISIGN_HOME picks it.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = "وزارة الصحة تفحص الرئتين والكبد والجهاز الهضمي عند 200 مريض"  # 10 words


def median_time(fn, runs: int) -> float:
    fn()  # warm-up (file cache, lazy imports)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", default=TEXT)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()

    from syrisign.data.sources import spoken_to_signed_lexicon
    from syrisign.lexicon import Lexicon, ensure_default_lexicon
    from syrisign.pipeline import Pipeline

    jos_index = spoken_to_signed_lexicon()
    tmp = Path(tempfile.mkdtemp())
    print(f"text ({len(args.text.split())} words): {args.text}\nvideo {args.size}x{args.size}, median of {args.runs} "
          f"runs\n")
    print("| system | lexicon | output | frames | seconds |\n| --- | --- | --- | --- | --- |")
    for name, lexicon in (("default Arabic", ensure_default_lexicon()), ("Jordanian letters", Lexicon.load(jos_index))):
        pipe = Pipeline(lexicon=lexicon, fuzzy=False)
        res = pipe.translate(args.text)
        frames = len(res.outputs["retrieval"].sequence)
        cov = res.plan.coverage
        for fmt in ("pose", "mp4"):
            def run(fmt=fmt):
                pipe.write(pipe.translate(args.text), tmp / f"s.{fmt}", size=args.size)
            print(f"| SyriSign (in process) | {name} (coverage {cov:.0f} %) | .{fmt} | {frames} "
                  f"| {median_time(run, args.runs):.2f} |")

    def cli():
        subprocess.run([sys.executable, "-m", "syrisign.cli", "translate", args.text, "-o", str(tmp / "c.mp4"), "-q",
                        "--size", str(args.size)], check=True, stdout=subprocess.DEVNULL)
    print(f"| SyriSign (`syrisign translate`, new process) | default Arabic | .mp4 | - | {median_time(cli, args.runs):.2f} |")

    from pose_format.pose_visualizer import PoseVisualizer
    from spoken_to_signed.bin import _gloss_to_pose, _text_to_gloss

    def peer_pose():
        with contextlib.redirect_stdout(io.StringIO()):  # it prints each step
            glosses = _text_to_gloss(args.text, "ar", "simple")
            pose = _gloss_to_pose(glosses, str(jos_index.parent), "ar", "jos")[0].pose
        with open(tmp / "p.pose", "wb") as f:
            pose.write(f)
        return pose

    pose = peer_pose()
    frames = pose.body.data.shape[0]
    print(f"| spoken-to-signed (text_to_gloss + gloss_to_pose) | Jordanian letters | .pose | {frames} "
          f"| {median_time(peer_pose, args.runs):.2f} |")

    def peer_mp4():
        p = peer_pose()
        v = PoseVisualizer(p)
        with contextlib.redirect_stdout(io.StringIO()):
            v.save_video(str(tmp / "p.mp4"), v.draw())
    print(f"| spoken-to-signed + pose-format PoseVisualizer.save_video | Jordanian letters | .mp4 | {frames} "
          f"| {median_time(peer_mp4, args.runs):.2f} |")


if __name__ == "__main__":
    main()
