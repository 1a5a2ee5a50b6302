"""Data-parallel training: 2 CPU processes (accelerate launch, gloo) against 1 process with the same global batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from syrisign.ml.checkpoint import load_checkpoint

# Runs a `syrisign train ...` command; every rank also saves its own last weights after each epoch
# (the trainer itself writes the checkpoint on the main process only), so the test can compare ranks.
RUNNER = '''
import sys, torch
from syrisign.ml import distributed, trainer

_save = trainer.Trainer._save
def _save_every_rank(self, epoch):
    state = {k: v.detach().cpu().clone() for k, v in self._unwrapped().state_dict().items()}
    torch.save(state, f"{self.path}.rank{distributed.rank()}")
    _save(self, epoch)
trainer.Trainer._save = _save_every_rank

from syrisign.cli import main
sys.exit(main(sys.argv[1:]))
'''


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("ddp") / "run_train.py"
    p.write_text(RUNNER)
    return p


@pytest.fixture(scope="module")
def isl(data_dir, tmp_path_factory) -> Path:
    """3 ISL words x 3 signers x 3 repetitions of real Kinect recordings; signer rajat held out."""
    from test_vqvae import build_tiny_isl
    return build_tiny_isl(data_dir, tmp_path_factory.mktemp("data") / "isl", reps=3)


def _run(runner: Path, args: list[str], procs: int, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    if procs == 1:
        cmd = [sys.executable, str(runner), *args]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(procs), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--multi_gpu", "--main_process_port", "0",
               str(runner), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r


def _assert_same(a: dict, b: dict, atol: float, rtol: float = 1e-4, what: str = "") -> None:
    assert a.keys() == b.keys()
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(a[k], b[k], atol=atol, rtol=rtol, msg=lambda m: f"{what} {k}: {m}")
        else:
            assert torch.equal(a[k], b[k]), f"{what} {k}"


def _relative_difference(a: dict, b: dict) -> float:
    keys = [k for k in a if a[k].is_floating_point() and k not in ("mean", "std")]
    return float(sum((a[k] - b[k]).norm() ** 2 for k in keys) ** 0.5 / sum(a[k].norm() ** 2 for k in keys) ** 0.5)


def _vq_args(ds: Path, out: Path, batch: int, epochs: int = 1) -> list[str]:
    return ["train", "vqvae", "--dataset", str(ds), "--test-signers", "rajat", "--epochs", str(epochs),
            "--codebook-size", "16", "--code-dim", "16", "--width", "32", "--depth", "1", "--batch-size", str(batch),
            "--window", "32", "--val-frac", "0.25", "--no-augment", "--no-kmeans-init", "--dead-code", "0", "--threads", "1",
            "--max-minutes", "0", "--out", str(out), "--no-progress",
            # the single codebook: the residual quantizer's quantize dropout draws per process (not yet made
            # equal across processes)
            "--quantizer", "single", "--no-retarget"]


def _train_count(ds: Path) -> int:
    from vqvae.data import load_split
    return len(load_split(str(ds), ["rajat"], val_frac=0.25, progress=False).train)


@pytest.mark.slow
def test_vqvae_on_two_processes_equals_one_process_and_keeps_codebooks_in_sync(isl, runner, tmp_path):
    n = _train_count(isl)
    b = next(k for k in (4, 3, 2, 1) if n % (2 * k) == 0)  # full global batches only
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    _run(runner, _vq_args(isl, one, 2 * b), 1)
    _run(runner, _vq_args(isl, two, b), 2)
    r0, r1 = torch.load(f"{two}.rank0"), torch.load(f"{two}.rank1")
    codebook = [k for k in r0 if "quantizer" in k and "embed" in k]
    assert codebook, sorted(r0)
    for k in codebook:  # the EMA codebook is all-reduced: identical on both ranks
        assert torch.equal(r0[k], r1[k]), k
    _assert_same(r0, r1, atol=0, rtol=0, what="rank 1 against rank 0")
    # the weights and codebook of 2 processes x batch b are those of 1 process x batch 2b (float noise: a
    # relative difference near 1e-6, against about 2e-2 for 1 process with batch b)
    single = torch.load(f"{one}.rank0")
    assert _relative_difference(r0, single) < 1e-4
    _assert_same(r0, single, atol=1e-4, rtol=1e-3, what="2 processes against 1")
    # one checkpoint, written by the main process, that loads; the run resumes on 2 processes
    from vqvae.model import load_vqvae
    model, ckpt = load_vqvae(two)
    assert ckpt["train_state"]["epoch"] == 1 and len(ckpt["history"]) == 1
    _assert_same({k: v for k, v in ckpt["train_state"]["last_model"].items()}, r0, atol=0, rtol=0, what="checkpoint")
    _run(runner, _vq_args(isl, two, b, epochs=2), 2)
    report = json.loads(two.with_suffix(".metrics.json").read_text())
    assert report["resumed"] and report["epochs_run"] == 2
    assert [h["epoch"] for h in load_checkpoint(two, "vqvae")["history"]] == [1, 2]
    r0, r1 = torch.load(f"{two}.rank0"), torch.load(f"{two}.rank1")
    _assert_same(r0, r1, atol=0, rtol=0, what="rank 1 against rank 0 after resuming")


def _retrieval_args(ds: Path, out: Path, batch: int, epochs: int = 1) -> list[str]:
    return ["train", "retrieval", "--dataset", str(ds), "--protocol", "signer", "--test-signers", "rajat",
            "--val-fraction", "0.25", "--epochs", str(epochs), "--batch-size", str(batch), "--d-model", "32",
            "--layers", "1", "--heads", "2", "--embed-dim", "32", "--max-frames", "40", "--dropout", "0",
            "--no-augment", "--max-minutes", "0", "--quiet", "--no-baselines", "--threads", "1", "--out", str(out)]


@pytest.mark.slow
def test_retrieval_on_two_processes_equals_one_process(isl, runner, tmp_path):
    # 12 training samples (val-fraction 0.25): 2 processes x batch 3 = 1 process x batch 6, 2 steps
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    _run(runner, _retrieval_args(isl, one, 6), 1)
    _run(runner, _retrieval_args(isl, two, 3), 2)
    r0, r1 = torch.load(f"{two}.rank0"), torch.load(f"{two}.rank1")
    _assert_same(r0, r1, atol=0, rtol=0, what="rank 1 against rank 0")
    single = torch.load(f"{one}.rank0")
    # the contrastive loss of each process sees the whole global batch, so the steps are the same
    assert _relative_difference(r0, single) < 1e-4
    _assert_same(r0, single, atol=1e-4, rtol=1e-3, what="2 processes against 1")
    from retrieval.model import load_model
    lm = load_model(two)
    assert {c["label_en"] for c in lm.classes} == {"hello", "yes", "no"}
    ck = load_checkpoint(two, "retrieval")
    _assert_same(ck["train_state"]["last_model"], r0, atol=0, rtol=0, what="checkpoint")
    # resume on 2 processes
    _run(runner, _retrieval_args(isl, two, 3, epochs=2), 2)
    assert [h["epoch"] for h in load_checkpoint(two, "retrieval")["history"]] == [1, 2]


@pytest.mark.slow
def test_t2m_and_motionclip_train_on_two_processes(isl, runner, tmp_path):
    common = ["--dataset", str(isl), "--test-signers", "rajat", "--threads", "1", "--no-progress"]
    vq, gpt, mc = tmp_path / "vq.pt", tmp_path / "t2m.pt", tmp_path / "mc.pt"
    _run(runner, ["train", "vqvae", *common, "--epochs", "1", "--codebook-size", "16", "--code-dim", "16",
                  "--width", "32", "--depth", "1", "--batch-size", "4", "--window", "32", "--out", str(vq)], 2)
    _run(runner, ["train", "t2m", *common, "--vqvae", str(vq), "--epochs", "2", "--n-layer", "1", "--n-embd", "32",
                  "--n-head", "2", "--augment-copies", "1", "--batch-size", "4", "--eval-samples", "1",
                  "--out", str(gpt)], 2)
    _run(runner, ["train", "motionclip", "--dataset", str(isl), "--epochs", "2", "--out", str(mc),
                  "--test-signers", "rajat", "--val-frac", "0", "--d-model", "32", "--heads", "2", "--enc-layers", "1",
                  "--dec-layers", "1", "--dropout", "0", "--batch-size", "4", "--threads", "1", "--no-progress",
                  "--no-augment"], 2)
    for path, kind in ((gpt, "t2m"), (mc, "motionclip")):
        ck = load_checkpoint(path, kind)
        assert [h["epoch"] for h in ck["history"]] == [1, 2], kind
        r0, r1 = torch.load(f"{path}.rank0"), torch.load(f"{path}.rank1")
        _assert_same(r0, r1, atol=0, rtol=0, what=f"{kind}: rank 1 against rank 0")
        _assert_same(ck["train_state"]["last_model"], r0, atol=0, rtol=0, what=f"{kind} checkpoint")
