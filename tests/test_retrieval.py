"""Retrieval model: losses, embeddings, masking, checkpoints, metrics, index, producer and commands.

Tiny configurations on a few real recordings (ISL Kinect from $SYRISIGN_DATA, Jordanian letters from
the spoken-to-signed package); the full trainings are run by commands (results/retrieval.md).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from retrieval.data import ClassInfo, Item, make_splits
from retrieval.evaluate import embed_classes, embed_items, retrieval_metrics
from retrieval.index import threshold_for_precision
from retrieval.model import (
    PoseEncoderConfig, RetrievalConfig, RetrievalModel, TextConfig, batch_loss, class_aware_infonce, load_model,
    naive_infonce,
)
from syrisign.data.dataset import Sample, write_manifest
from syrisign.ml.features import collate

ISL_WORDS = ("rain", "hello", "thank you", "home")
ISL_SIGNERS = ("apurve", "gautam", "rajat")


def tiny_config(layout="kinect20", text=None, loss="hybrid") -> RetrievalConfig:
    return RetrievalConfig(layout=layout, joint_subset="upper" if layout == "kinect20" else "all", fps=15.0,
                           max_frames=40, embed_dim=32, loss=loss,
                           pose=PoseEncoderConfig(d_model=32, layers=1, heads=2, dropout=0.0, max_frames=40),
                           text=text or TextConfig(kind="frozen", encoder="use"))


# -- tiny real datasets ---------------------------------------------------------------------------------
@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: much faster than two on a shared 2-core machine for these tiny models."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def session_home(tmp_path_factory):
    """Session fixtures write (text-encoder caches) under their own SYRISIGN_HOME too."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYRISIGN_HOME", str(tmp_path_factory.mktemp("session-home")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def isl_dir(tmp_path_factory, data_dir):
    """4 ISL words x 3 signers x 2 repetitions, as a dataset directory."""
    from syrisign.data.sources import isl_kinect
    root = tmp_path_factory.mktemp("isl-tiny")
    (root / "poses").mkdir()
    samples = []
    for it in isl_kinect(data_dir / "isl_kinect"):
        s = it.sample
        if s.label_en in ISL_WORDS and s.signer in ISL_SIGNERS and s.repetition in ("1", "2"):
            seq = it.loader()
            s.file, s.skeleton, s.frames, s.fps = f"poses/{s.id}.npz", seq.skeleton.name, len(seq), seq.fps
            seq.save(root / s.file)
            samples.append(s)
    assert len(samples) == len(ISL_WORDS) * len(ISL_SIGNERS) * 2
    write_manifest(root / "manifest.csv", samples)
    return root


@pytest.fixture(scope="session")
def jos_dir(tmp_path_factory, jos_pose_files):
    """6 Jordanian letters (holistic586 .pose), one recording each, as an Arabic dataset."""
    from syrisign.pose import PoseSequence
    root = tmp_path_factory.mktemp("jos-tiny")
    (root / "poses").mkdir()
    samples = []
    for f in jos_pose_files[4:10]:
        seq = PoseSequence.load(f)
        letter = f.stem
        s = Sample(f"jos-{letter}", letter, "", letter, "jos", "ar", "lexicon", "1", "test", "train", len(seq),
                   seq.fps, f"poses/jos-{letter}.npz", seq.skeleton.name)
        seq.save(root / s.file)
        samples.append(s)
    write_manifest(root / "manifest.csv", samples)
    return root


@pytest.fixture(scope="session")
def isl_items(isl_dir):
    splits = make_splits([str(isl_dir)], "signer", tiny_config().features(), test_signers=["rajat"], val_fraction=0)
    return splits


def _batch(items):
    x, jm, fm = collate([(it.x, it.mask) for it in items])
    return x, jm, fm


# -- metrics ---------------------------------------------------------------------------------------------
def test_recall_metrics_on_a_hand_made_ranking():
    # 3 poses, 4 texts a b c d; pose 0 (class a) ranks a first; pose 1 (class b) ranks b third;
    # pose 2 (class d) ranks d second.
    sim = np.array([[0.9, 0.1, 0.2, 0.3],
                    [0.8, 0.5, 0.7, 0.1],
                    [0.1, 0.2, 0.9, 0.4]])
    m = retrieval_metrics(sim, ["a", "b", "d"], ["a", "b", "c", "d"], ks=(1, 2, 3))
    assert m["V2T_R@1"] == pytest.approx(1 / 3)
    assert m["V2T_R@2"] == pytest.approx(2 / 3)
    assert m["V2T_R@3"] == pytest.approx(1.0)
    assert m["V2T_MedianR"] == 2.0
    # text→pose: text a ranks pose 0 first (0.9 > 0.8); text b ranks pose 1 first (0.5); text d ranks
    # pose 2 first (0.4 > 0.3); text c has no pose and is not a query
    assert m["T2V_P@1"] == pytest.approx(1.0)
    assert m["n_texts"] == 4 and m["n_poses"] == 3
    # P@5 with 3 poses: each text's top-3 holds one correct pose -> 1/5 each
    assert m["T2V_P@5"] == pytest.approx(1 / 5)


def test_ties_count_against_the_truth():
    m = retrieval_metrics(np.array([[0.5, 0.5]]), ["a"], ["a", "b"])
    assert m["V2T_R@1"] == 0.0 and m["V2T_MedianR"] == 2.0


def test_threshold_keeps_the_target_precision():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    correct = np.array([True, True, True, False, True, False])
    th, prec, rec = threshold_for_precision(scores, correct, 0.9)
    assert th == 0.7 and prec == 1.0 and rec == pytest.approx(3 / 4)
    th, _, _ = threshold_for_precision(scores, np.zeros(6, bool), 0.9)
    assert th == float("inf")


# -- losses ---------------------------------------------------------------------------------------------
def test_class_aware_infonce_has_no_false_negatives():
    # two poses of class 0 and one of class 1, each exactly on its class text
    text = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    pose = text[[0, 0, 1]]
    scale = torch.tensor(50.0)
    aware = class_aware_infonce(pose, text, torch.tensor([0, 0, 1]), scale)
    naive = naive_infonce(pose, text[[0, 0, 1]], scale)
    # the class-aware target distribution over same-class poses is uniform: its loss is the entropy
    # log(2)/2 of one text direction, the naive loss sees a copy of the own text as a hard negative
    assert float(aware) < 0.5 * np.log(2) + 1e-3
    assert float(naive) > float(aware) + 0.2


@pytest.mark.parametrize("loss", ["hybrid", "infonce"])
def test_loss_decreases_on_a_tiny_batch(isl_items, loss):
    torch.manual_seed(0)
    items = isl_items.train[:12]
    keys = sorted({it.cls for it in items})
    model = RetrievalModel(tiny_config(loss=loss))
    x, jm, fm = _batch(items)
    y = torch.tensor([keys.index(it.cls) for it in items])
    texts = [isl_items.classes[k].label_en for k in keys]
    langs = ["ins"] * len(keys)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(30):
        out = batch_loss(model, x, jm, fm, y, texts, langs, loss)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert losses[-1] < 0.5 * losses[0], losses[::10]


# -- embeddings and masking ----------------------------------------------------------------------------
def test_embeddings_are_normalized(isl_items):
    model = RetrievalModel(tiny_config()).eval()
    p = embed_items(model, isl_items.train[:5])
    t = embed_classes(model, [isl_items.classes[k] for k in sorted(isl_items.classes)])
    assert p.shape == (5, 32) and t.shape == (len(ISL_WORDS), 32)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("encoder, pool, fixed", [("transformer", "mean", 0), ("transformer", "seg4", 0),
                                                  ("mlp", "mean", 16)])
def test_masked_frames_and_joints_do_not_change_the_pose_embedding(isl_items, encoder, pool, fixed):
    torch.manual_seed(0)
    cfg = tiny_config()
    cfg.pose.encoder, cfg.pose.pool, cfg.fixed_frames = encoder, pool, fixed
    model = RetrievalModel(cfg).eval()
    it = min(isl_items.train, key=lambda i: len(i.x))
    x, jm, fm = _batch([it])
    with torch.no_grad():
        alone = model.encode_pose(x, jm, fm)
        # padded to 40 frames with garbage that the frame mask hides
        t = x.shape[1]
        xp = torch.cat([x, 100 * torch.randn(1, 40 - t, *x.shape[2:])], dim=1)
        jmp = torch.cat([jm, torch.ones(1, 40 - t, jm.shape[2], dtype=torch.bool)], dim=1)
        fmp = torch.cat([fm, torch.zeros(1, 40 - t, dtype=torch.bool)], dim=1)
        padded = model.encode_pose(xp, jmp, fmp)
        # values at missing joints are ignored
        jm2 = jm.clone()
        jm2[:, ::2, 7] = False  # the right wrist missing in every second frame
        x2 = x.clone()
        x2[:, ::2, 7] = 55.0
        a = model.encode_pose(torch.where(jm2[..., None], x, torch.zeros_like(x)), jm2, fm)
        b = model.encode_pose(x2, jm2, fm)
        # in a batch with a longer sample, the short one still gets its own embedding
        longer = max(isl_items.train, key=lambda i: len(i.x))
        xb, jmb, fmb = _batch([it, longer])
        batched = model.encode_pose(xb, jmb, fmb)[:1]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a, alone, atol=1e-4)  # the mask does matter


# -- training, checkpoints, resuming ---------------------------------------------------------------------
def _train_args(dataset, out, *extra):
    import argparse

    from retrieval.train import add_arguments
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["--dataset", str(dataset), "--out", str(out), "--epochs", "3", "--batch-size", "8",
                         "--d-model", "32", "--layers", "1", "--heads", "2", "--embed-dim", "32",
                         "--max-frames", "40", "--quiet", "--no-baselines", "--threads", "1", *extra])


def test_train_command_checkpoint_reloads_to_identical_outputs(isl_dir, tmp_path, capsys):
    from retrieval.train import main
    out = tmp_path / "isl.pt"
    args = _train_args(isl_dir, out, "--protocol", "signer", "--test-signers", "rajat", "--val-fraction", "0.5")
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "test" in printed and "V2T_R@1" in printed
    lm = load_model(out)
    assert lm.config.layout == "kinect20" and lm.config.joint_subset == "upper"
    assert {c["label_en"] for c in lm.classes} == set(ISL_WORDS)
    ck = torch.load(out, weights_only=False)
    assert ck["results"]["test"]["n_poses"] == len(ISL_WORDS) * 2
    assert "train_state" in ck and ck["run"]["test_signers"] == ["rajat"]
    # the same model object and a second load give identical embeddings
    splits = make_splits([str(isl_dir)], "signer", lm.config.features(), test_signers=["rajat"], val_fraction=0.5)
    a = embed_items(lm.model, splits.test)
    b = embed_items(load_model(out).model, splits.test)
    np.testing.assert_array_equal(a, b)
    # rerunning resumes (nothing left to train: the epochs are done) and keeps the weights
    assert main(args) == 0
    np.testing.assert_array_equal(embed_items(load_model(out).model, splits.test), a)
    # other settings on the same file are refused with a clear message
    from syrisign.errors import SyriSignError
    with pytest.raises(SyriSignError, match="--fresh"):
        main(_train_args(isl_dir, out, "--protocol", "signer", "--test-signers", "gautam"))


def test_lora_text_tower_saves_only_adapters_and_reloads(tmp_path):
    from syrisign.ml.checkpoint import save_checkpoint
    torch.manual_seed(0)
    cfg = tiny_config(text=TextConfig(kind="bert", lora_rank=4))
    model = RetrievalModel(cfg).eval()
    sd = model.state_dict()
    assert any("lora_" in k for k in sd)
    assert not any(k.endswith("word_embeddings.weight") for k in sd)  # the base BERT comes from its package
    with torch.no_grad():
        for k, v in model.named_parameters():
            if "lora_B" in k:
                v.add_(0.01)  # trained adapters are non-zero
    save_checkpoint(tmp_path / "b.pt", "retrieval", cfg, model.state_dict(), classes=[])
    back = load_model(tmp_path / "b.pt").model
    prompt = model.prompt("رئتان", "lungs", "sdl")
    assert prompt == "<eng> <sdl> lungs"
    with torch.no_grad():
        torch.testing.assert_close(back.encode_text([prompt], ["sdl"]), model.encode_text([prompt], ["sdl"]))


# -- product: producer, index, search, recognize ------------------------------------------------------
@pytest.fixture(scope="session")
def arabic_model(session_home, jos_dir, tmp_path_factory):
    from retrieval.train import main
    out = tmp_path_factory.mktemp("ck") / "arabic.pt"
    args = _train_args(jos_dir, out, "--protocol", "all", "--val-fraction", "0", "--epochs", "25",
                       "--batch-size", "6", "--no-augment", "--lr", "3e-3")
    assert main(args) == 0
    return out


@pytest.fixture()
def tiny_lexicon(tmp_path, jos_dir):
    from syrisign.data import Dataset
    from syrisign.lexicon import Lexicon
    ds = Dataset(jos_dir)
    lex = Lexicon.create(tmp_path / "lex")
    for s in ds.samples:
        lex.add(s.label_ar, ds.load(s), signed_language="jos")
    # two word signs (recordings of letters stand in for them: the API is what is tested here)
    lex.add("رئتان", ds.load(ds.samples[0]), english="lungs", signed_language="sdl")
    lex.add("كبد", ds.load(ds.samples[1]), english="liver", signed_language="sdl")
    return lex


def test_producer_returns_the_recorded_clips(tiny_lexicon):
    from retrieval.producer import RetrievalProducer
    from syrisign.producers import SignUnit, load_producer
    prod = load_producer("retrieval", lexicon=tiny_lexicon)
    assert isinstance(prod, RetrievalProducer)
    entries = tiny_lexicon.entries[:2]
    units = [SignUnit(e.words, entry=e) for e in entries] + [SignUnit("كبد")]
    clips = prod.produce(units)
    assert len(clips) == 3
    for e, c in zip(entries, clips):
        np.testing.assert_array_equal(c.data, tiny_lexicon.pose(e).data)
    assert clips[2].meta["words"] == "كبد"
    from syrisign.errors import SyriSignError
    with pytest.raises(SyriSignError, match="no recorded sign"):
        prod.produce([SignUnit("طائرة")])


def test_index_search_recognize_and_fuzzy(arabic_model, tiny_lexicon, jos_dir, monkeypatch):
    from retrieval.index import LexiconIndex
    from retrieval.producer import make_fuzzy_matcher
    from syrisign.data import Dataset
    idx = LexiconIndex.load_or_build(arabic_model, tiny_lexicon)
    assert idx.pose_emb.shape == (len(tiny_lexicon), 32) and idx.ok.all()
    # the threshold was calibrated (finite or deliberately off), and the cache is reused
    assert "threshold" in idx.calibration
    again = LexiconIndex.load_or_build(arabic_model, tiny_lexicon)
    np.testing.assert_array_equal(again.text_emb, idx.text_emb)
    res = idx.search("ب", k=3)
    assert len(res) == 3 and res[0].score >= res[1].score >= res[2].score
    # recognizing a training recording names its letter (the tiny model memorized 6 letters)
    ds = Dataset(jos_dir)
    s = ds.samples[2]
    top = idx.recognize(ds.load(s), k=3)
    assert top[0].label_ar == s.label_ar
    # fuzzy: word signs only, accepted above the threshold
    assert make_fuzzy_matcher(arabic_model, threshold=-1.0, lexicon=tiny_lexicon)("رئة", "ريه")[0].words in ("رئتان", "كبد")
    assert make_fuzzy_matcher(arabic_model, threshold=1.01, lexicon=tiny_lexicon)("رئة", "ريه") is None


def test_search_and_recognize_commands(arabic_model, tiny_lexicon, jos_dir, capsys):
    from syrisign.cli import main
    from syrisign.data import Dataset
    assert main(["search", "رئتان", "--checkpoint", str(arabic_model), "--lexicon", str(tiny_lexicon.root),
                 "-k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["matches"]) == 2 and {"label_ar", "label_en", "score"} <= set(out["matches"][0])
    ds = Dataset(jos_dir)
    f = jos_dir / ds.samples[3].file
    assert main(["recognize", str(f), "--checkpoint", str(arabic_model), "--lexicon", str(tiny_lexicon.root),
                 "-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    rank, score, ar, en = lines[0].split("\t")[:4]
    assert rank == "1" and ar == ds.samples[3].label_ar and float(score) >= float(lines[1].split("\t")[1])
    assert main(["recognize", str(jos_dir / "nope.npz"), "--checkpoint", str(arabic_model)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_recognize_reads_a_gif_as_it_reads_the_video(arabic_model, tiny_lexicon, tmp_path, capsys):
    from conftest import make_gif
    from syrisign.cli import main
    from syrisign.settings import get_settings
    video = get_settings().data / "esharah" / "letters" / "ب.mp4"
    gif = make_gif(video, tmp_path / "word.gif", frame_ms=100)
    args = ["--checkpoint", str(arabic_model), "--lexicon", str(tiny_lexicon.root), "-k", "3", "--json"]
    assert main(["recognize", str(gif), *args]) == 0
    from_gif = json.loads(capsys.readouterr().out)
    assert main(["recognize", str(video), *args]) == 0
    from_video = json.loads(capsys.readouterr().out)
    assert from_gif["frames"] == from_video["frames"] > 0
    assert [m["label_ar"] for m in from_gif["matches"]][:1] == [m["label_ar"] for m in from_video["matches"]][:1]
    (tmp_path / "bad.gif").write_bytes(b"GIF89a" + bytes(200))
    assert main(["recognize", str(tmp_path / "bad.gif"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.gif" in err and "Traceback" not in err


def test_splits_protocols(isl_dir):
    from retrieval.data import RetrievalDataError
    cfg = tiny_config().features()
    s = make_splits([str(isl_dir)], "signer", cfg, test_signers=["rajat"], val_signers=["gautam"])
    assert {i.sample.signer for i in s.test} == {"rajat"} and {i.sample.signer for i in s.val} == {"gautam"}
    assert {i.sample.signer for i in s.train} == {"apurve"}
    assert all(k.startswith("ins:") for k in s.classes)
    with pytest.raises(RetrievalDataError):
        make_splits([str(isl_dir)], "nonsense", cfg)
    assert isinstance(s.classes["ins:rain"], ClassInfo) and isinstance(s.train[0], Item)


def test_character_ngrams_see_inflections_and_ignore_the_article():
    from retrieval.model import char_ngrams
    v = char_ngrams(["رئتين", "الرئتين", "رئتان", "حكومة"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    assert v[0] @ v[1] == pytest.approx(1.0)  # the article is stripped
    assert v[0] @ v[2] > v[0] @ v[3] + 0.3


def test_limb_scaling_moves_children_with_parents(isl_items):
    from retrieval.data import hand_attachments, limb_tree, scale_limbs
    it = isl_items.train[0]
    tree = limb_tree("kinect20")
    assert len(tree) == 19 and hand_attachments("kinect20") == []
    y = scale_limbs(it.x, it.mask, tree, 0.2, np.random.default_rng(0))
    sh = 2  # the left shoulder is a root: it stays where it is
    np.testing.assert_allclose(y[:, sh], it.x[:, sh])
    # every limb keeps its direction, its length changes by at most 20 %
    for a, b in tree:
        d0, d1 = it.x[:, b] - it.x[:, a], y[:, b] - y[:, a]
        ratio = np.linalg.norm(d1, axis=1) / np.maximum(np.linalg.norm(d0, axis=1), 1e-6)
        assert np.all((ratio > 0.79) & (ratio < 1.21))
    # MediaPipe hands follow the body's wrists
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton("syrisign193")
    x = np.random.default_rng(1).normal(size=(3, sk.num_joints, 3)).astype(np.float32)
    m = np.ones(x.shape[:2], bool)
    y = scale_limbs(x, m, limb_tree("syrisign193"), 0.2, np.random.default_rng(2), hand_attachments("syrisign193"))
    lw = sk.wrist_idx[0]
    hand = sk.slices["left_hand"]
    np.testing.assert_allclose((y[:, hand] - x[:, hand])[:, 0], y[:, lw] - x[:, lw], atol=1e-5)


def test_body_positions_leave_hands_and_face_to_limb_directions():
    from retrieval.model import joint_indices, position_joints
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton("syrisign193")
    joints = joint_indices("syrisign193", "face16")
    body = position_joints("syrisign193", joints, "body")
    assert position_joints("syrisign193", joints, "all") == list(range(len(joints)))
    other = [sk.slices[n] for n in ("left_hand", "right_hand", "face") if n in sk.slices]
    assert body and len(body) < len(joints)
    assert not any(sl.start <= joints[i] < sl.stop for i in body for sl in other)
    assert {joints.index(w) for w in sk.wrist_idx} <= set(body)  # the body's wrists keep their positions
    with pytest.raises(ValueError, match="unknown positions"):
        position_joints("syrisign193", joints, "hands")


def test_signer_protocol_is_recorded_with_its_held_out_signers(isl_dir):
    from retrieval.train import RunConfig, resolve_protocol
    splits = make_splits([str(isl_dir)], "signer", tiny_config().features(), test_signers=["rajat", "apurve"],
                         val_fraction=0)
    run = RunConfig(datasets=[str(isl_dir)], name="x", protocol="signer")
    resolve_protocol(run, splits)
    assert run.protocol == "signer" and run.test_signers == ["apurve", "rajat"]
    holdout = make_splits([str(isl_dir)], "holdout", tiny_config().features())
    run = RunConfig(datasets=[str(isl_dir)], name="x", protocol="auto")
    resolve_protocol(run, holdout)
    assert run.protocol == "holdout" and run.test_signers == []  # recordings, not signers, are held out


def test_segment_pooling_keeps_the_order_of_movements_and_ignores_padding():
    from retrieval.model import segment_means
    h = torch.arange(8.0).reshape(1, 8, 1).repeat(2, 1, 1)
    fm = torch.ones(2, 8, dtype=torch.bool)
    fm[1, 3:] = False  # 3 valid frames: fewer than shares
    segs = [s[:, 0].tolist() for s in segment_means(h, fm, 4)]
    assert segs == [[0.5, 0.0], [2.5, 1.0], [4.5, 2.0], [6.5, 2.0]]
    # a movement and the same movement played backwards: same mean, different segments
    torch.manual_seed(0)
    cfg = tiny_config()
    cfg.pose.pool = "seg4"
    model = RetrievalModel(cfg).eval()
    j = cfg.pose.joints  # the joints the tower reads
    x = torch.linspace(-1, 1, 20)[None, :, None, None] * torch.ones(1, 20, j, 3)
    jm, fmx = torch.ones(1, 20, j, dtype=torch.bool), torch.ones(1, 20, dtype=torch.bool)
    with torch.no_grad():
        fwd, back = model.pose(x, jm, fmx), model.pose(x.flip(1), jm, fmx)
    d = cfg.pose.d_model
    assert fwd.shape == (1, 5 * d)
    assert not torch.allclose(fwd[:, d:2 * d], back[:, d:2 * d], atol=1e-3)


def test_mlp_encoder_needs_time_normalized_frames():
    cfg = tiny_config()
    cfg.pose.encoder = "mlp"
    with pytest.raises(ValueError, match="fixed_frames"):
        RetrievalModel(cfg)


def test_without_depth_z_does_not_change_the_pose_embedding(isl_items):
    torch.manual_seed(0)
    cfg = tiny_config()
    cfg.pose.depth = False
    model = RetrievalModel(cfg).eval()
    x, jm, fm = _batch(isl_items.train[:2])
    z = x.clone()
    z[..., 2] = torch.where(jm, torch.randn_like(z[..., 2]), torch.zeros_like(z[..., 2]))
    y = x.clone()
    y[..., 1] += torch.where(jm, 0.3 * torch.ones_like(y[..., 1]), torch.zeros_like(y[..., 1]))
    with torch.no_grad():
        a, b, c = model.encode_pose(x, jm, fm), model.encode_pose(z, jm, fm), model.encode_pose(y, jm, fm)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a, c, atol=1e-4)  # x and y still count


def test_hand_shape_features_ignore_where_the_hand_is_how_big_and_turned():
    from retrieval.model import HAND_BENDS, HAND_PAIRS, hand_joints, hand_shape_features
    rng = np.random.default_rng(0)
    h = torch.tensor(rng.normal(size=(1, 4, 21, 3)), dtype=torch.float32)
    th = 0.7
    rot = torch.tensor([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]], dtype=torch.float32)
    moved = 1.8 * h @ rot.T + torch.tensor([0.5, -2.0, 0.1])
    present = torch.tensor([[True, True, False, True]])
    f, g = hand_shape_features(h, present), hand_shape_features(moved, present)
    assert f.shape == (1, 4, len(HAND_BENDS) + len(HAND_PAIRS))
    torch.testing.assert_close(f, g, atol=1e-4, rtol=1e-4)
    assert torch.all(f[0, 2] == 0)  # a missing hand reads as zeros
    bent = h.clone()
    bent[:, :, 8] = bent[:, :, 5]  # index fingertip folded onto its base
    assert not torch.allclose(hand_shape_features(bent, present), f, atol=1e-3)
    # both hands of the MediaPipe layout are found among the selected joints; Kinect has none
    from retrieval.model import joint_indices
    assert [len(x) for x in hand_joints("syrisign193", joint_indices("syrisign193", "face16"))] == [21, 21]
    assert hand_joints("kinect20", list(range(20))) == []


def test_standardize_none_keeps_shoulder_widths(isl_dir, tmp_path):
    from retrieval.train import config_from_args, train_on_splits
    args = _train_args(isl_dir, tmp_path / "m.pt", "--standardize", "none", "--epochs", "1", "--depth", "off")
    run = config_from_args(args)
    assert run.model.pose.standardize == "none" and run.model.pose.depth is False
    splits = make_splits([str(isl_dir)], "signer", run.model.features(), test_signers=["rajat"], val_fraction=0)
    model, _ = train_on_splits(run, splits, tmp_path / "m.pt", quiet=True)
    assert torch.all(model.pose.mean == 0) and torch.all(model.pose.std == 1)
    again = load_model(tmp_path / "m.pt").model
    assert again.cfg.pose.standardize == "none" and again.cfg.pose.depth is False


@pytest.mark.parametrize("dataset, layout, view", [
    ("isl", "kinect20", ("all", True, "joint", True, "transformer", 32)),
    ("karsl-words", "syrisign193", ("body", False, "none", False, "mlp", 16)),
    ("karsl-words,karsl-letters,jos", "syrisign193", ("all", True, "joint", True, "transformer", 32)),
])
def test_default_pose_view_follows_layout_and_datasets(dataset, layout, view):
    from retrieval.train import config_from_args
    run = config_from_args(_train_args(dataset, "unused.pt", "--layout", layout))
    cfg, pose = run.model, run.model.pose
    assert (pose.positions, pose.bones, pose.standardize, pose.depth, pose.encoder, cfg.fixed_frames) == view
    assert run.arm_shift == (0.25 if pose.encoder == "mlp" else 0.0)
    explicit = config_from_args(_train_args(dataset, "unused.pt", "--layout", layout, "--positions", "all",
                                            "--bones", "on", "--standardize", "joint", "--depth", "on")).model.pose
    assert (explicit.positions, explicit.bones, explicit.standardize, explicit.depth) == ("all", True, "joint", True)


def test_one_signer_validation_keeps_the_last_epoch(isl_dir, tmp_path):
    """A validation set of the training signer saturates and cannot pick the epoch that transfers to
    another signer: then the last epoch is kept (monitor auto -> epoch); with several signers, val_score."""
    from retrieval.train import config_from_args, train_on_splits
    from syrisign.ml.checkpoint import load_checkpoint
    run = config_from_args(_train_args(isl_dir, tmp_path / "a.pt", "--epochs", "2"))
    assert run.train.monitor == "auto"
    feat = run.model.features()
    one = make_splits([str(isl_dir)], "signer", feat, test_signers=["rajat"], val_signers=["gautam"])
    many = make_splits([str(isl_dir)], "signer", feat, test_signers=["rajat"], val_fraction=0.5)
    assert {it.sample.signer for it in one.val} == {"gautam"}
    assert len({it.sample.signer for it in many.val}) == 2
    got = {}
    for name, splits in (("one", one), ("many", many)):
        _, res = train_on_splits(run, splits, tmp_path / f"{name}.pt", quiet=True)
        ck = load_checkpoint(tmp_path / f"{name}.pt", "retrieval")
        got[name] = (ck["train_config"]["monitor"], res["best_epoch"])
    assert got["one"] == ("epoch", 2)
    assert got["many"][0] == "val_score"


def test_signing_space_shift_moves_hands_together_and_elbows_half():
    from retrieval.data import arm_joints, shift_signing_space
    from syrisign.skeletons import get_skeleton
    sk = get_skeleton("syrisign193")
    elbows, hands = arm_joints("syrisign193")
    assert len(elbows) == 2 and set(range(*sk.slices["right_hand"].indices(sk.num_joints))) <= set(hands)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, sk.num_joints, 3)).astype(np.float32)
    m = np.ones((5, sk.num_joints), dtype=bool)
    m[2, hands[0]] = False
    x[~m] = 0
    y = shift_signing_space(x, m, (elbows, hands), 0.3, np.random.default_rng(1))
    d = y - x
    moved = d[0, hands[1]]
    assert np.abs(moved[:2]).max() > 0 and moved[2] == 0 and np.abs(moved).max() <= 0.3
    present = d[:, hands][m[:, hands]]
    np.testing.assert_allclose(present, np.broadcast_to(moved, present.shape), atol=1e-6)
    np.testing.assert_allclose(d[:, elbows], np.broadcast_to(moved / 2, d[:, elbows].shape), atol=1e-6)
    others = [i for i in range(sk.num_joints) if i not in set(hands) | set(elbows)]
    assert np.all(d[:, others] == 0) and y[2, hands[0]].tolist() == [0, 0, 0]


def test_the_numpy_text_side_scores_as_the_model_does(arabic_model, tiny_lexicon, tmp_path):
    """The cached index's numpy text side (retrieval.textspace, read by a new translate process without torch)
    gives the model's scores, fuzzy matches and search order, on every label of the lexicon and on unseen
    inflections; and a new process matching fuzzily never imports torch."""
    from retrieval.index import LexiconIndex, TextIndex
    from retrieval.producer import text_index

    for word, english in (("مستشفى", "hospital"), ("طبيب", "doctor"), ("وزارة", "ministry"), ("سنة", "year")):
        tiny_lexicon.add(word, tiny_lexicon.pose(tiny_lexicon.entries[0]), english=english, signed_language="sdl")
    assert TextIndex.from_cache(arabic_model, tiny_lexicon) is None  # nothing cached yet
    full = LexiconIndex.load_or_build(arabic_model, tiny_lexicon)
    light = TextIndex.from_cache(arabic_model, tiny_lexicon)
    assert light is not None and text_index(arabic_model, tiny_lexicon).__class__ is TextIndex
    queries = [e.words for e in tiny_lexicon.entries] + ["المستشفى", "للمستشفى", "الأطباء", "الوزارة", "العام"]
    for q in queries:
        for space in ("text", "frozen"):
            np.testing.assert_allclose(light.text_scores(q, space), full.text_scores(q, space), atol=2e-5)
        a, b = light.fuzzy_best(q), full.fuzzy_best(q)
        assert a[0].id == b[0].id and abs(a[1] - b[1]) < 2e-5, q

    script = (
        "import sys\n"
        "from syrisign.lexicon import Lexicon\n"
        "from retrieval.producer import make_fuzzy_matcher\n"
        f"m = make_fuzzy_matcher({str(arabic_model)!r}, threshold=-1.0, lexicon=Lexicon.load({str(tiny_lexicon.root)!r}))\n"
        "hit = m('المستشفى', '')\n"
        "print(hit[0].words, 'torch' in sys.modules, type(m.index).__name__)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    words, torch_loaded, kind = out.stdout.split()
    assert kind == "TextIndex" and torch_loaded == "False"
    assert words == full.fuzzy_best("المستشفى")[0].words


def test_query_memos_stay_bounded(arabic_model, tiny_lexicon, monkeypatch):
    """A long-running server sees an open vocabulary: the per-query memos are emptied when full, and scores
    computed after that are the same."""
    from retrieval import textspace
    from retrieval.index import LexiconIndex, TextIndex

    LexiconIndex.load_or_build(arabic_model, tiny_lexicon)
    light = TextIndex.from_cache(arabic_model, tiny_lexicon)
    first = light.text_scores("المستشفى")
    monkeypatch.setattr(textspace, "MEMO_SIZE", 4)
    for i in range(12):
        light.text_scores(f"كلمة{i}")
        assert max(len(light.space._cache), len(light.space._projected), len(light._query_cache)) <= 4
    np.testing.assert_allclose(light.text_scores("المستشفى"), first, atol=1e-6)
