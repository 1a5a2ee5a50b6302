"""Training speed on 1 process against 2 data-parallel processes (gloo on CPU), the same global batch.

    .venv/bin/python benchmarks/ddp_bench.py [--kinds vqvae retrieval] [--epochs 2] [--global-batch 32]

Trains on the ISL Kinect dataset (built first into $SYRISIGN_HOME/datasets/isl if needed), each process
with one torch thread, and prints the training loop's own seconds (metrics / history of the checkpoint)
and samples per second. 2 processes run under `accelerate launch --multi_gpu --num_processes 2`.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cmd(kind: str, ds: str, out: Path, batch: int, epochs: int) -> list[str]:
    common = ["--epochs", str(epochs), "--batch-size", str(batch), "--threads", "1", "--max-minutes", "0",
              "--out", str(out)]
    if kind == "vqvae":
        return ["train", "vqvae", "--dataset", ds, "--test-signers", "apurve,rajat", "--no-progress", *common]
    return ["train", "retrieval", "--dataset", ds, "--protocol", "signer", "--test-signers", "apurve,rajat",
            "--quiet", "--no-baselines", *common]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", nargs="+", default=["vqvae", "retrieval"])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--global-batch", type=int, default=32)
    args = ap.parse_args()
    from syrisign.data import ensure_dataset
    from syrisign.ml.checkpoint import load_checkpoint
    ds = ensure_dataset("isl", progress=False)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    print("| trainer | processes | batch per process | epochs | train samples/epoch | loop s | samples/s | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in args.kinds:
        for procs in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / f"{kind}.pt"
                cli = _cmd(kind, str(ds.root), out, args.global_batch // procs, args.epochs)
                launch = ([sys.executable, "-m", "syrisign"] if procs == 1 else
                          [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                           str(procs), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                           "--main_process_port", "0", "-m", "syrisign"])
                t0 = time.perf_counter()
                subprocess.run(launch + cli, check=True, env=env, capture_output=True)
                wall = time.perf_counter() - t0
                ck = load_checkpoint(out, "vqvae" if kind == "vqvae" else "retrieval")
                hist = ck["history"]
                # the loop's seconds: the history's clock at the last epoch (validation included)
                loop = hist[-1]["seconds"]
                n = _train_size(kind, ck)
                print(f"| {kind} | {procs} | {args.global_batch // procs} | {len(hist)} | {n} | {loop:.1f} | "
                      f"{n * len(hist) / loop:.1f} | {wall:.1f} |", flush=True)


def _train_size(kind: str, ck: dict) -> int:
    if kind == "vqvae":
        return ck["split"]["counts"]["train"]
    import re
    return int(re.match(r"train (\d+) samples", ck["splits"]).group(1))  # "train N samples / ...; val ..."


if __name__ == "__main__":
    main()
