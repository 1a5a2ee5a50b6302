"""Motion VQ-VAE: shapes, masking, quantizer consistency, training command, checkpoints, face-less layout."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from syrisign.cli import main as cli
from syrisign.errors import SyriSignError
from vqvae.model import MotionVQVAE, VQVAEConfig, load_vqvae

ISL_WORDS = ("hello", "yes", "no")
ISL_SIGNERS = ("apurve", "gautam", "rajat")


def build_tiny_isl(data_dir: Path, out: Path, reps: int = 2) -> Path:
    """A small real dataset: 3 ISL words x 3 signers x ``reps`` repetitions of Kinect recordings."""
    from syrisign.data.build import build_dataset
    want = {(w, s, str(r)) for w in ISL_WORDS for s in ISL_SIGNERS for r in range(1, reps + 1)}
    src = out.parent / (out.name + "-src")
    src.mkdir(parents=True, exist_ok=True)
    with tarfile.open(data_dir / "isl_kinect" / "RawDataset.tar.gz") as tf:
        for m in tf:
            key = tuple(p for p in Path(m.name).stem.lower().split("_") if p)  # some names double the "_"
            if m.isfile() and m.name.endswith(".txt") and key in want:
                (src / Path(m.name).name).write_bytes(tf.extractfile(m).read())
    assert len(list(src.glob("*.txt"))) == len(want)
    build_dataset(src, out, source="isl-kinect", workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def tiny_isl(data_dir, tmp_path_factory) -> Path:
    return build_tiny_isl(data_dir, tmp_path_factory.mktemp("data") / "tiny-isl")


def _batch(j: int = 20, t: int = 37, b: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, j, 3, generator=g)
    jm = torch.rand(b, t, j, generator=g) > 0.2
    fm = torch.ones(b, t, dtype=torch.bool)
    fm[1, 21:] = False
    return x, jm, fm


def _tiny_model(j: int = 20, **kw) -> MotionVQVAE:
    torch.manual_seed(0)
    cfg = VQVAEConfig(layout="kinect20" if j == 20 else "upper65", num_joints=j, width=32, code_dim=16,
                      codebook_size=32, kmeans_init=False, **kw)
    return MotionVQVAE(cfg)


def test_shapes_padding_and_token_mask():
    m = _tiny_model().eval()
    x, jm, fm = _batch(t=37)
    out = m(x, jm, fm)
    assert out.recon.shape == x.shape  # the odd length is padded inside and cropped back
    assert out.indices.shape == (3, 10) and out.token_mask.shape == (3, 10)  # ceil(37 / 4)
    # sample 1 has 21 real frames -> 6 real tokens; padding tokens carry index -1
    assert out.token_mask[1].sum() == 6 and (out.indices[1, 6:] == -1).all() and (out.indices[1, :6] >= 0).all()
    assert (out.indices[0] >= 0).all() and (out.indices < 32).all()
    idx, tm = m.encode(x, jm, fm)
    assert torch.equal(idx, out.indices) and torch.equal(tm, out.token_mask)
    assert m.decode(idx).shape == (3, 40, 20, 3)


@torch.no_grad()
def test_missing_landmarks_do_not_change_output_or_loss():
    m = _tiny_model().eval()
    x, jm, fm = _batch()
    a = m(x, jm, fm)
    x2 = torch.where(jm.unsqueeze(-1), x, x + 100.0)  # garbage where the landmark is missing
    b = m(x2, jm, fm)
    assert torch.allclose(a.recon, b.recon) and torch.equal(a.indices, b.indices)
    assert float(a.loss) == pytest.approx(float(b.loss), rel=1e-6)
    # frames past a sample's end are ignored too
    x3 = x.clone()
    x3[1, 21:] = 50.0
    c = m(x3, jm, fm)
    assert float(c.loss) == pytest.approx(float(a.loss), rel=1e-6)
    # but a visible landmark does matter
    x4 = x.clone()
    x4[0, 0, jm[0, 0].nonzero()[0, 0]] += 10.0
    assert float(m(x4, jm, fm).loss) != pytest.approx(float(a.loss), rel=1e-6)


def test_quantized_output_equals_decoding_of_its_indices():
    m = _tiny_model()
    x, jm, fm = _batch()
    for _ in range(3):  # a few EMA updates and dead-code resets in training mode
        m.train()(x, jm, fm)
    m.eval()
    out = m(x, jm, fm)
    assert torch.allclose(m.decode(out.indices)[:, : x.shape[1]], out.recon, atol=1e-5)
    codes = m.quantizer.get_codes_from_indices(out.indices.clamp(min=0))
    assert codes.shape == (3, 10, 16)


def test_loss_has_pose_velocity_and_commitment_terms():
    m = _tiny_model(vel_weight=0.0, commitment_weight=0.0).train()
    x, jm, fm = _batch()
    out = m(x, jm, fm)
    assert float(out.loss.detach()) == pytest.approx(out.logs["pose"], rel=1e-5)
    m2 = _tiny_model(vel_weight=2.0, commitment_weight=0.0).train()
    out2 = m2(x, jm, fm)
    assert float(out2.loss.detach()) == pytest.approx(out2.logs["pose"] + 2.0 * out2.logs["vel"], rel=1e-5)
    out.loss.backward()
    assert m.encoder.net[0].weight.grad is not None  # gradients pass the quantizer to the encoder


def test_face_less_layout_on_real_jos_poses(jos_pose_files):
    from syrisign.ml.features import FeatureConfig, collate, prepare
    from syrisign.pose import PoseSequence
    feats = FeatureConfig(layout="upper65")
    arrays = [prepare(PoseSequence.load(f), feats) for f in jos_pose_files[:4]]
    x, jm, fm = collate(arrays)
    assert x.shape[2] == 65
    m = _tiny_model(j=65).eval()
    out = m(x, jm, fm)
    assert out.recon.shape == x.shape and torch.isfinite(out.loss)


def test_train_command_reports_resumes_and_reloads(tiny_isl, tmp_path, capsys):
    out = tmp_path / "vq.pt"
    args = ["train", "vqvae", "--dataset", str(tiny_isl), "--test-signers", "rajat", "--epochs", "2",
            "--codebook-size", "16", "--code-dim", "16", "--width", "32", "--depth", "1", "--batch-size", "4",
            "--window", "32", "--threads", "1", "--out", str(out), "--no-progress"]
    assert cli(args) == 0
    printed = capsys.readouterr().out
    assert "MPJPE" in printed and "perplexity" in printed
    report = json.loads(out.with_suffix(".metrics.json").read_text())
    assert report["split"]["test_signers"] == ["rajat"] and report["test"]["samples"] == 6
    assert report["test"]["mpjpe"] > 0 and 1 <= report["test"]["perplexity"] <= 16
    assert out.with_suffix(".loss.png").is_file()

    # the checkpoint rebuilds the model and gives the same numbers as the trainer reported
    from vqvae.data import load_split
    from vqvae.train import evaluate_vqvae
    model, ckpt = load_vqvae(out)
    assert ckpt["kind"] == "vqvae" and ckpt["features"]["layout"] == "kinect20" and "stats" in ckpt
    split = load_split(str(tiny_isl), ["rajat"], progress=False)
    again = evaluate_vqvae(model, split.test)
    assert again["mpjpe"] == pytest.approx(report["test"]["mpjpe"], rel=1e-5)
    assert again["perplexity"] == pytest.approx(report["test"]["perplexity"], rel=1e-6)
    m2, _ = load_vqvae(out)
    x, jm, fm = _batch(j=20)
    assert torch.equal(model(x, jm, fm).recon, m2(x, jm, fm).recon)

    # a longer run resumes where the first stopped
    assert cli(args[:args.index("--epochs") + 1] + ["3"] + args[args.index("--epochs") + 2:]) == 0
    report2 = json.loads(out.with_suffix(".metrics.json").read_text())
    assert report2["resumed"] and report2["epochs_run"] == 3
    # another configuration on the same file needs --fresh
    with pytest.raises(SyriSignError, match="--fresh"):
        from vqvae.train import VQTrainConfig, train_vqvae
        train_vqvae(VQTrainConfig(dataset=str(tiny_isl), test_signers=["rajat"], out=str(out), progress=False,
                                  model={"codebook_size": 8}, train={"epochs": 1}))


def test_training_modules_do_not_import_torch():
    code = ("import sys, vqvae.train, t2m_gpt.train; "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_codebook_metrics():
    from vqvae.metrics import code_counts, perplexity, usage
    counts = code_counts(np.array([[0, 1, 2, 3], [0, 1, 2, 3]]), 8)
    assert perplexity(counts) == pytest.approx(4.0) and usage(counts) == 0.5
    assert perplexity(code_counts(np.array([5, 5, 5, -1]), 8)) == pytest.approx(1.0)
