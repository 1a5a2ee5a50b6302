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


def build_tiny_isl(data_dir: Path, out: Path, reps: int = 2, words=ISL_WORDS, signers=ISL_SIGNERS) -> Path:
    """A small real dataset: 3 ISL words x 3 signers x ``reps`` repetitions of Kinect recordings."""
    from syrisign.data.build import build_dataset
    want = {(w, s, str(r)) for w in words for s in signers for r in range(1, reps + 1)}
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


def test_arm_turning_augmentation_turns_each_arm_about_its_shoulder(jos_pose_files):
    """The VQ-VAE's arm augmentation (a new signer holds the elbow elsewhere): every joint of an arm turns by one
    angle about its shoulder, within the bound, keeping its distance; the shoulders, the face and what is not
    seen stay."""
    from syrisign.ml.features import AugmentConfig, FeatureConfig, augment, prepare
    from syrisign.pose import PoseSequence
    from syrisign.retarget import _arm, arm_joints
    from syrisign.skeletons import get_skeleton
    x, m = prepare(PoseSequence.load(jos_pose_files[5]), FeatureConfig(layout="syrisign193"))
    cfg = AugmentConfig(rotate_deg=0, scale=0, shear=0, speed=0, drop_joint_p=0, drop_frame_p=0, arm_deg=20)
    y, m2 = augment(x, m, "syrisign193", cfg, np.random.default_rng(3))
    assert np.array_equal(m, m2)
    sk = get_skeleton("syrisign193")
    moved = np.zeros(sk.num_joints, dtype=bool)
    angles = []
    for side in ("left", "right"):
        s_, e_ = _arm(sk, side)[:2]
        joints = arm_joints(sk, side)
        moved[joints] = True
        ok = m[:, e_] & m[:, s_]
        a, b = x[ok, e_, :2] - x[ok, s_, :2], y[ok, e_, :2] - y[ok, s_, :2]
        assert np.allclose(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1), atol=1e-5)
        ang = np.degrees(np.arctan2(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], (a * b).sum(1)))
        assert np.ptp(ang) < 1e-3 and abs(ang[0]) <= 20  # one angle for the whole clip
        angles.append(ang[0])
        assert np.allclose(y[..., 2], x[..., 2])  # depth untouched
    assert abs(angles[0] - angles[1]) > 1e-3  # each arm its own angle
    assert np.array_equal(y[:, ~moved], x[:, ~moved])
    assert (y[~m] == 0).all()


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
    # the default: residual quantization on clips retargeted to one body (results/generative.md)
    assert ckpt["config"]["quantizer"] == "residual" and ckpt["config"]["num_quantizers"] == 4 and ckpt["retarget"]
    split = load_split(str(tiny_isl), ["rajat"], progress=False, retarget=True)
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


# -- residual quantization and retargeting (issue 17) -----------------------------------------------
def test_residual_quantization_round_trips_indices_to_the_quantized_output():
    m = _tiny_model(quantizer="residual", num_quantizers=3)
    x, jm, fm = _batch()
    for _ in range(3):  # EMA updates, dead-code resets and quantize dropout in training mode
        m.train()(x, jm, fm)
    m.eval()
    out = m(x, jm, fm)
    assert out.indices.shape == (3, 10, 3) and out.token_mask.shape == (3, 10)
    assert (out.indices[~out.token_mask] == -1).all() and (out.indices[out.token_mask] >= 0).all()
    # the indices give back the quantized latents the decoder saw, and so the reconstruction
    xp, jmp, fmp = m._pad(x, jm & fm.unsqueeze(-1), fm)
    h = m._encode_latent(xp, jmp)
    q, idx, _ = m.quantizer(h, mask=out.token_mask, freeze_codebook=True)
    assert torch.equal(idx, out.indices)
    assert torch.allclose(m.quantized(out.indices)[out.token_mask], q[out.token_mask], atol=1e-5)
    assert torch.allclose(m.decode(out.indices)[:, : x.shape[1]], out.recon, atol=1e-5)
    # a prefix of the layers decodes on its own (the base layer alone is its codebook's code)
    base = m.quantized(out.indices[..., :1])
    first = m.quantizer.layers[0]._codebook.embed[0][out.indices[..., 0].clamp(min=0)]
    assert torch.allclose(base[out.token_mask], first[out.token_mask], atol=1e-5)
    # encode gives the same indices as forward
    enc, tm = m.encode(x, jm, fm)
    assert torch.equal(enc, out.indices) and torch.equal(tm, out.token_mask)
    # the config and the weights reload through a checkpoint dict
    from syrisign.ml.checkpoint import config_to_dict
    m2, _ = load_vqvae({"config": config_to_dict(m.cfg), "model": m.state_dict()})
    assert m2.cfg.quantizer == "residual" and torch.equal(m2.decode(out.indices), m.decode(out.indices))


def _arm_clip(forearm: float, upper: float, t: int = 48, phase: float = 0.0):
    """A kinect20 clip of a signer with the given arm bones (shoulder width 1): the right arm waves."""
    from syrisign.pose import PoseSequence
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton("kinect20")
    ix = sk.index
    data = np.zeros((t, 20, 3), np.float32)
    for name, p in {"body.Head": (0, -0.9), "body.Neck": (0, -0.3), "body.ShoulderL": (0.5, 0), "body.ShoulderR": (-0.5, 0),
                    "body.SpineMid": (0, 0.8), "body.SpineBase": (0, 1.6), "body.HipL": (0.3, 1.6), "body.HipR": (-0.3, 1.6),
                    "body.KneeL": (0.3, 2.5), "body.KneeR": (-0.3, 2.5), "body.AnkleL": (0.3, 3.3), "body.AnkleR": (-0.3, 3.3),
                    "body.FootL": (0.35, 3.4), "body.FootR": (-0.35, 3.4)}.items():
        data[:, ix[name], :2] = p
    a = np.linspace(0, 2 * np.pi, t) + phase
    for side, sx, move in (("L", 0.5, 0.0), ("R", -0.5, 1.0)):
        up = np.pi / 2 - move * (0.5 + 0.4 * np.sin(a))  # angle of the upper arm from the x axis
        lo = up - move * (1.0 + 0.5 * np.cos(a))
        sgn = 1 if side == "L" else -1
        elbow = np.stack([sx + sgn * upper * np.cos(up), upper * np.sin(up)], -1)  # in the image plane (z 0)
        wrist = elbow + np.stack([sgn * forearm * np.cos(lo), forearm * np.sin(lo)], -1)
        data[:, ix[f"body.Elbow{side}"], :2] = elbow
        data[:, ix[f"body.Wrist{side}"], :2] = wrist
        data[:, ix[f"body.Hand{side}"], :2] = wrist + 0.1 * (wrist - elbow)
    return PoseSequence(data, np.ones((t, 20), np.float32), 25.0, sk).normalize()


STEPS = 300


def test_a_model_trained_on_retargeted_clips_decodes_to_the_reference_bone_lengths():
    from syrisign.ml.features import Standardizer, collate, prepare, FeatureConfig, to_sequence
    from syrisign.retarget import dominant_hand, measure_body
    from syrisign.signers import signer_body
    from vqvae.data import one_signer
    # two signers with short and long arms; the reference body is a third's
    short = [_arm_clip(0.9, 0.95, phase=p) for p in (0.0, 1.0, 2.0)]
    long_ = [_arm_clip(1.4, 1.3, phase=p) for p in (0.5, 1.5, 2.5)]
    ref = signer_body([measure_body([c]) for c in [_arm_clip(1.1, 1.1, phase=0.3)]], "ref").symmetric()
    clips = []
    for group in (short, long_):
        body = signer_body([measure_body([c]) for c in group], "src")
        clips += [one_signer(c, body, ref, dominant_hand(c), "right") for c in group]
    for c in clips:  # the retargeted clips have the reference bones
        got = measure_body([c])
        assert got.forearm["right"] == pytest.approx(ref.forearm["right"], rel=0.03)
    feats = FeatureConfig(layout="kinect20", fps=25.0)
    arrays = [prepare(c, feats) for c in clips]
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is faster on a shared CPU
    m = MotionVQVAE(VQVAEConfig(layout="kinect20", num_joints=20, width=32, depth=1, code_dim=16, codebook_size=16,
                                quantizer="residual", num_quantizers=2))
    st = Standardizer.fit(arrays, min_std=0.05)
    m.set_stats(st.mean, st.std)
    x, jm, fm = collate(arrays)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    for _ in range(STEPS):
        loss = m(x, jm, fm).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    m.eval()
    idx, _ = m.encode(x, jm, fm)
    with torch.no_grad():
        out = m.decode(idx)[:, : x.shape[1]].numpy()
    for i in range(len(clips)):
        got = measure_body([to_sequence(out[i], None, feats)])
        # on the reference body (1.1 and 1.1 shoulder widths), neither signer's own (0.9/0.95 or 1.4/1.3)
        assert got.forearm["right"] == pytest.approx(ref.forearm["right"], rel=0.1)
        assert got.upper_arm["right"] == pytest.approx(ref.upper_arm["right"], rel=0.1)


def test_pretraining_then_fine_tuning_starts_from_the_prior_and_records_it(tiny_isl, data_dir, tmp_path, capsys):
    """--pretrain trains on other recordings of the layout first (never the held-out signer), then fine-tunes."""
    other = build_tiny_isl(data_dir, tmp_path / "other-isl", reps=2, words=("bye", "go"), signers=("apurve", "rajat"))
    out = tmp_path / "vq.pt"
    args = ["train", "vqvae", "--dataset", str(tiny_isl), "--test-signers", "rajat", "--codebook-size", "16",
            "--code-dim", "16", "--width", "32", "--depth", "1", "--batch-size", "4", "--window", "32",
            "--threads", "1", "--out", str(out), "--no-progress", "--pretrain", str(other),
            "--pretrain-epochs", "2", "--pretrain-lr", "3e-3", "--epochs", "1", "--lr", "0"]
    assert cli(args) == 0
    assert "pretrained on" in capsys.readouterr().out
    pre_path = tmp_path / "vq.pretrain.pt"
    pre, ckpt = torch.load(pre_path, weights_only=False), torch.load(out, weights_only=False)
    rec = ckpt["pretrain"]
    assert rec["datasets"] == ["other-isl"] and rec["excluded_signers"] == ["rajat"] and rec["finished"]
    # rajat's 4 clips of the other dataset are held out too; the fine-tuning dataset adds its training split
    assert rec["excluded"] == {"other-isl": 4} and rec["counts"]["other-isl"] == 4
    assert rec["counts"]["tiny-isl (training split)"] == ckpt["split"]["counts"]["train"]
    assert rec["epochs_run"] == 2 and rec["checkpoint"] == str(pre_path)
    # fine-tuned with lr 0: the network weights are exactly the pretrained ones (only the EMA codebook moved),
    # and they are not the seed's initial weights, which the pretraining changed
    from syrisign.ml.device import seed_everything
    seed_everything(0)
    fresh = MotionVQVAE(load_vqvae(out)[0].cfg).state_dict()
    weights = [k for k in pre["model"] if k.startswith(("encoder.", "decoder."))]
    assert weights and all(torch.equal(ckpt["model"][k], pre["model"][k]) for k in weights)
    assert not all(torch.equal(fresh[k], pre["model"][k]) for k in weights)
    assert torch.equal(ckpt["model"]["mean"], pre["model"]["mean"])  # the prior's normalization is kept
    report = json.loads(out.with_suffix(".metrics.json").read_text())
    assert report["pretrain"]["datasets"] == ["other-isl"] and report["test"]["samples"] == 6

    # resuming: the finished pretraining is not run again, the fine-tuning continues
    stamp = pre_path.stat().st_mtime_ns
    assert cli(args[:-3] + ["2", "--lr", "0"]) == 0
    report2 = json.loads(out.with_suffix(".metrics.json").read_text())
    assert report2["resumed"] and report2["epochs_run"] == 2 and pre_path.stat().st_mtime_ns == stamp
    # another list of pretraining datasets on the same file needs --fresh
    capsys.readouterr()
    assert cli([a for a in args if a not in ("--pretrain", str(other))]) != 0
    assert "--fresh" in capsys.readouterr().err


def test_only_datasets_whose_skeleton_maps_onto_the_layout_can_pretrain():
    from vqvae.data import maps_onto
    assert maps_onto("holistic543", "syrisign193") and maps_onto("holistic543", "upper65")  # KArSL, Esharah
    assert maps_onto("kinect20", "kinect20") and not maps_onto("kinect20", "syrisign193")  # ISL has no hands


def test_retargeting_keeps_the_reference_signers_dominant_hand(tiny_isl, tmp_path):
    """Signers who all sign with their left hand are retargeted onto a left-handed reference, not mirrored."""
    import shutil

    from syrisign.data import Dataset
    from syrisign.ml.features import to_sequence
    from syrisign.pose import PoseSequence
    from syrisign.retarget import dominant_hand
    from vqvae.data import load_split
    left = tmp_path / "left-isl"
    shutil.copytree(tiny_isl, left)
    for f in (left / "poses").glob("*.npz"):  # every recording mirrored: the same signs by left-handers
        PoseSequence.load(f).mirror().save(f)
    hands = [dominant_hand(Dataset(left).load(s).normalize()) for s in Dataset(left).samples]
    assert sum(not h.two_handed and h.dominant == "left" for h in hands) >= 6
    split = load_split(str(left), ["rajat"], "kinect20", max_frames=256, retarget=True, progress=False)
    assert split.body["dominant_hand"] == "left"
    one_handed = 0
    for it in split.train + split.test:
        h = dominant_hand(to_sequence(it.x, it.mask, split.features))
        if not h.two_handed:
            one_handed += 1
            assert h.dominant == "left", it.id
    assert one_handed >= 4


def test_excluded_classes_are_in_no_split_and_recorded(tiny_isl):
    """The zero-shot protocol's held-out words: no recording of theirs is loaded, in any split."""
    from vqvae.data import load_split
    full = load_split(str(tiny_isl), ["rajat"], "kinect20", max_frames=256, progress=False)
    split = load_split(str(tiny_isl), ["rajat"], "kinect20", max_frames=256, progress=False, exclude_classes=["yes"])
    assert "yes" in {it.class_key for it in full.train + full.val + full.test}
    assert {it.class_key for it in split.train + split.val + split.test} == {"hello", "no"}
    assert split.describe["exclude_classes"] == ["yes"] and "exclude_classes" not in full.describe
    assert len(split.test) == len([it for it in full.test if it.class_key != "yes"])
    with pytest.raises(SyriSignError, match="no class"):
        load_split(str(tiny_isl), ["rajat"], "kinect20", progress=False, exclude_classes=["nosuchword"])
