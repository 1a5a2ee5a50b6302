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

Whole processes (``--process-runs``, 10 by default), as a user meets them: `syrisign translate TEXT -o out.mp4`
(with the product retrieval model ``retrieval-arabic.pt`` present or not, as it is in SYRISIGN_HOME: the
line says which) against the peer's text -> .pose -> mp4 in a new Python process each, one after the other
in the same run, and the ratio of the medians; then the import-time breakdown of one `syrisign translate`
(``python -X importtime``: the slowest top-level imports, and whether torch was imported).
``--processes-only`` skips the in-process rows.
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
    ap.add_argument("--process-runs", type=int, default=10)
    ap.add_argument("--processes-only", action="store_true")
    args = ap.parse_args()
    if args.processes_only:
        return processes(args)

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


    processes(args)


PEER = """
import contextlib, io, sys
from pose_format.pose_visualizer import PoseVisualizer
from spoken_to_signed.bin import _gloss_to_pose, _text_to_gloss
from syrisign.data.sources import spoken_to_signed_lexicon
text, out = sys.argv[1], sys.argv[2]
with contextlib.redirect_stdout(io.StringIO()):
    glosses = _text_to_gloss(text, "ar", "simple")
    pose = _gloss_to_pose(glosses, str(spoken_to_signed_lexicon().parent), "ar", "jos")[0].pose
    v = PoseVisualizer(pose)
    v.save_video(out, v.draw())
"""


def processes(args) -> None:
    """New processes, as a user runs them: ours against the peer's, one after the other."""
    from retrieval.index import default_checkpoint

    tmp = Path(tempfile.mkdtemp())
    model = default_checkpoint()
    ours_cmd = [sys.executable, "-m", "syrisign", "translate", args.text, "-o", str(tmp / "c.mp4"), "-q",
                "--size", str(args.size)]
    subprocess.run(ours_cmd, check=True, stdout=subprocess.DEVNULL)  # first use builds caches: not timed

    def timed(cmd) -> list[float]:
        times = []
        for _ in range(args.process_runs):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
        return times

    ours = timed(ours_cmd)
    peer = timed([sys.executable, "-c", PEER, args.text, str(tmp / "p.mp4")])
    mo, mp = statistics.median(ours), statistics.median(peer)
    print(f"\nwhole processes, {args.process_runs} runs each, {len(args.text.split())} words to mp4; "
          f"retrieval model {'present' if model.is_file() else 'ABSENT'} ({model.name})\n")
    print("| command | median s | min s | max s |\n| --- | --- | --- | --- |")
    print(f"| `syrisign translate TEXT -o out.mp4` | {mo:.2f} | {min(ours):.2f} | {max(ours):.2f} |")
    print(f"| peer: spoken-to-signed text_to_gloss + gloss_to_pose + pose-format save_video | {mp:.2f} "
          f"| {min(peer):.2f} | {max(peer):.2f} |")
    print(f"\nours / peer = {mo / mp:.2f} ({mp / mo:.1f}x faster)")

    r = subprocess.run([sys.executable, "-X", "importtime", *ours_cmd[1:]], capture_output=True, text=True,
                       check=True)
    rows = []
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cum, name = line.split("|")
            if cum.strip().isdigit() and not name.startswith("  ") and name.strip():  # top-level imports only
                rows.append((int(cum.strip()), name.strip()))
    mods = {name for _, name in rows}
    print(f"\nimport time of `syrisign translate` (top-level, cumulative): total {sum(c for c, _ in rows) / 1e6:.2f} s, "
          f"torch imported: {'torch' in mods}")
    for cum, name in sorted(rows, reverse=True)[:8]:
        print(f"  {cum / 1e6:6.3f} s  {name}")


if __name__ == "__main__":
    main()
