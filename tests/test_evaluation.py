"""Evaluation: every metric on hand-made inputs with known answers, DTW-MJE on real ISL recordings,
the recognizer on a tiny separable set, the split rule, and a small end-to-end report through the
producer interface."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from syrisign.evaluation import metrics as M
from syrisign.pose import PoseSequence
from syrisign.skeletons import get_skeleton


# -- helpers ---------------------------------------------------------------------------------------------
def _walk(T: int = 40, J: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(scale=0.05, size=(T, J, 3)), axis=0).astype(np.float32)
    return x, np.ones((T, J), bool)


@pytest.fixture(scope="module")
def isl_items():
    """Real ISL Kinect recordings of three words by three signers, read straight from the archive."""
    from syrisign.data.sources import list_items
    from syrisign.settings import get_settings
    path = get_settings().data / "isl_kinect" / "RawDataset.tar.gz"
    if not path.is_file():
        pytest.fail(f"ISL recordings not found at {path}; set SYRISIGN_DATA", pytrace=False)
    _, items = list_items(path)
    keep = [it for it in items if it.sample.label_en in ("hello", "rain", "you")
            and it.sample.signer in ("gautam", "pramod", "rajat")]
    assert len(keep) == 81
    return keep


# -- DTW-MJE -------------------------------------------------------------------------------------------------
def test_dtw_mje_identical_is_zero_and_offset_is_exact():
    a = _walk()
    assert M.dtw_mje(a, a) == 0.0
    shifted = (a[0] + np.array([0.3, 0.4, 0.0], np.float32), a[1])  # every joint 0.5 away
    assert M.dtw_mje(shifted, a) == pytest.approx(0.5, abs=1e-5)


def test_the_image_plane_figure_ignores_a_depth_offset_and_keeps_a_movement_in_the_plane():
    a = _walk()
    deeper = (a[0] + np.array([0.0, 0.0, 0.3], np.float32), a[1])  # a signer sitting "behind" another
    assert M.dtw_mje(deeper, a) == pytest.approx(0.3, abs=1e-5)
    assert M.dtw_mje(M.image_plane(deeper), M.image_plane(a)) == pytest.approx(0.0, abs=1e-6)
    moved = (a[0] + np.array([0.3, 0.4, 0.3], np.float32), a[1])
    assert M.dtw_mje(M.image_plane(moved), M.image_plane(a)) == pytest.approx(0.5, abs=1e-5)
    assert M.image_plane(a)[0].shape == a[0].shape[:-1] + (2,) and M.image_plane(a)[1] is a[1]


def test_dtw_mje_takes_arrays_with_masks_like_the_model_families():
    (x, m), (y, _) = _walk(T=30), _walk(T=45, seed=3)
    my = np.random.default_rng(0).random(y.shape[:2]) > 0.3
    assert M.dtw_mje(x, y, m, my) == M.dtw_mje((x, m), (y, my)) > 0
    assert M.dtw_mje(x, y) == M.dtw_mje((x, m), (y, np.ones_like(my)))


def test_dtw_mje_time_stretched_copy_is_near_zero():
    a = _walk(T=50)
    stretched = M.time_normalize(*a, length=90)
    unrelated = _walk(T=50, seed=7)
    near, far = M.dtw_mje(stretched, a), M.dtw_mje(unrelated, a)
    assert near < 0.05 and near < far / 10


def test_dtw_mje_counts_only_joints_present_in_both():
    x, m = _walk()
    y = x.copy()
    y[:, :5] += 10.0  # far off, but marked missing in the hypothesis
    m2 = m.copy()
    m2[:, :5] = False
    assert M.dtw_mje((y, m2), (x, m)) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(M.dtw_mje((x, np.zeros_like(m)), (x, m)))


def test_dtw_path_is_monotone_and_matches_the_ends():
    cost = np.random.default_rng(0).random((7, 11))
    r, c, total = M.dtw_path(cost)
    assert (r[0], c[0]) == (0, 0) and (r[-1], c[-1]) == (6, 10)
    assert np.all(np.diff(r) >= 0) and np.all(np.diff(c) >= 0) and np.all(np.diff(r) + np.diff(c) >= 1)
    assert total == pytest.approx(cost[r, c].sum())


def test_dtw_mje_on_real_recordings(isl_items):
    by = {}
    for it in isl_items:
        by.setdefault((it.sample.label_en, it.sample.signer), []).append(it.loader())
    hello = by[("hello", "gautam")]
    a = M.pose_arrays(hello[0], "kinect20")
    assert a[0].shape[1] == 14  # the legs are not compared
    assert M.dtw_mje(hello[0], hello[0]) == 0.0
    slow = hello[0].resample(17.0)  # the same recording at another frame rate: a time-stretched copy
    slow.fps = 30.0
    assert M.dtw_mje(slow, hello[0]) < 0.05
    same_word = M.dtw_mje(hello[1], hello[0])
    other_word = np.mean([M.dtw_mje(s, hello[0]) for s in by[("rain", "gautam")][:3]])
    assert 0 < same_word < other_word
    # the two baselines: the mean pose sequence is farther than the nearest same-word recording
    train = [M.pose_arrays(s, "kinect20") for s in hello[1:] + by[("rain", "gautam")] + by[("you", "gautam")]]
    mean = M.mean_pose_sequence(train)
    near, k = M.nearest_dtw_mje(a, train[:8])
    assert near < M.dtw_mje(mean, a)


def test_the_medoid_recording_is_the_one_closest_to_the_others_of_its_word(isl_items):
    from syrisign.evaluation.run import medoid_recordings
    arrays, keys = [], []
    for it in isl_items:
        if it.sample.signer == "gautam":
            arrays.append(M.pose_arrays(it.loader(), "kinect20"))
            keys.append(it.sample.label_en)
    words = sorted(set(keys))
    med = medoid_recordings(arrays, keys, words, k=20)
    assert sorted(med) == words and all(keys[j] == w for w, j in med.items())
    for w, j in med.items():
        own = [i for i, c in enumerate(keys) if c == w]
        mean = {a: np.mean([M.dtw_mje(arrays[b], arrays[a]) for b in own if b != a]) for a in own}
        assert mean[j] == min(mean.values())
    # a cap keeps the search among the word's most typical recordings by time-normalized L2
    from retrieval.producer import typicality_order
    capped = medoid_recordings(arrays, keys, words, k=3)
    for w, j in capped.items():
        own = [i for i, c in enumerate(keys) if c == w]
        assert len(own) > 3 and j in [own[i] for i in typicality_order([arrays[i] for i in own])[:3]]


def test_mean_pose_sequence_of_copies_is_the_sequence():
    x, m = _walk(T=30)
    mx, mm = M.mean_pose_sequence([(x, m)] * 3, length=30)
    np.testing.assert_allclose(mx, x, atol=1e-6)
    assert mm.all()


# -- feature metrics -------------------------------------------------------------------------------------
def test_fid_identical_near_zero_shift_exact_and_monotone():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert M.fid(a, a) == pytest.approx(0.0, abs=1e-6)
    assert M.fid(a, a.copy(), dims=None, shrinkage=False) == pytest.approx(0.0, abs=1e-6)
    shift = np.full(8, 0.5)
    assert M.fid(a + shift, a, dims=None, shrinkage=False) == pytest.approx(float(shift @ shift), rel=1e-6)
    b = rng.normal(size=(200, 8))
    assert M.fid(b, a) < M.fid(b * 3, a) < M.fid(b * 3 + 2, a)


def test_fid_with_a_shared_basis_uses_it():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(60, 32))
    basis = M.FeatureBasis.fit(real, 4)
    assert basis.components.shape == (4, 32)
    assert M.fid(real, real, basis=basis) == pytest.approx(0.0, abs=1e-6)


def test_diversity_pairs_and_distances():
    pts = np.arange(5, dtype=float)[:, None] * np.array([[3.0, 4.0]])  # spaced 5 apart on a line
    idx = M.diversity_pairs(5, pairs=300)
    assert len(idx) == 10 and len({tuple(p) for p in idx}) == 10 and (idx[:, 0] != idx[:, 1]).all()
    d = M.diversity_distances(pts, pairs=300)
    assert d.mean() == pytest.approx(5 * np.mean([j - i for i in range(5) for j in range(i + 1, 5)]))
    assert len(M.diversity_distances(np.zeros((100, 2)), pairs=300)) == 300
    assert M.diversity_distances(np.zeros((1, 2))).size == 0


def test_r_precision_perfect_then_shuffled_is_lower():
    rng = np.random.default_rng(0)
    texts = np.eye(40)  # 40 classes, one text vector each
    labels = np.repeat(np.arange(40), 5)
    motion = texts[labels] + rng.normal(scale=0.05, size=(200, 40))
    hits, pool = M.r_precision_hits(motion, texts, labels, pool=32)
    assert pool == 32 and hits.all()
    shuffled = rng.permutation(labels)
    low, _ = M.r_precision_hits(motion, texts, shuffled, pool=32)
    assert low[:, 0].mean() < 0.2 < hits[:, 0].mean()
    assert (low[:, 0] <= low[:, 1]).all() and (low[:, 1] <= low[:, 2]).all()
    few, pool = M.r_precision_hits(motion[:10], texts[:12], labels[:10] % 12, pool=32)
    assert pool == 12


def test_topk_and_wer():
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.2], [0.3, 0.2, 0.5]])
    y = np.array([1, 2, 0])
    assert M.topk_hits(logits, y, 1).tolist() == [True, False, False]
    assert M.topk_hits(logits, y, 2).tolist() == [True, True, True]
    assert M.edit_distance("a b c".split(), "a c".split()) == 1
    assert M.edit_distance("a b c".split(), "x b c d".split()) == 2
    assert M.wer([["a", "b", "c"], ["d", "e"]], [["a", "b", "c"], ["e", "d"]]) == pytest.approx(2 / 5)


def test_bootstrap_interval_contains_mean_and_is_reproducible():
    v = np.random.default_rng(0).normal(1.0, 1.0, size=400)
    est, lo, hi = M.bootstrap_ci(v, n=500, seed=3)
    assert lo < est < hi and est == pytest.approx(v.mean())
    assert M.bootstrap_ci(v, n=500, seed=3) == (est, lo, hi)
    assert hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.25)  # ~ 2 * 1.96 * sd / sqrt(n)
    e, lo2, hi2 = M.bootstrap_stat(lambda i: v[i].mean(), [len(v)], n=500, seed=3)
    assert lo2 < e < hi2


def test_stitching_metrics_are_the_stitch_module_s(isl_items):
    from syrisign.stitch import stitch
    clips = [it.loader() for it in isl_items[:3]]
    res = stitch(clips, labels=["a", "b", "c"], fps=25.0)
    jerk = M.join_jerk(res.sequence, res.joins)
    assert math.isfinite(jerk) and jerk > 0
    assert 0.3 < M.duration_ratio(res.sequence, clips) < 2.0


# -- split -----------------------------------------------------------------------------------------------
def _tiny_dataset(root, items_or_seqs):
    """Write a dataset folder from (sample, PoseSequence) pairs."""
    from syrisign.data.dataset import Dataset, write_manifest
    root.mkdir(parents=True, exist_ok=True)
    samples = []
    for s, seq in items_or_seqs:
        s.file = f"poses/{s.id}.npz"
        s.skeleton, s.frames, s.fps = seq.skeleton.name, len(seq), seq.fps
        seq.save(root / s.file)
        samples.append(s)
    write_manifest(root / "manifest.csv", samples)
    return Dataset(root)


def test_signer_split_holds_out_signers_and_unseen_words(tmp_path):
    from syrisign.data.dataset import Sample
    from syrisign.evaluation.splits import evaluation_split
    x, m = _walk(T=10)
    seq = PoseSequence(x, m.astype(np.float32), 30.0, get_skeleton("kinect20"))
    pairs = []
    for signer, words in (("01", "abcd"), ("03", "abe")):  # e is never signed by the training signer
        for w in words:
            for r in range(4):
                pairs.append((Sample(id=f"{signer}-{w}-{r}", label_en=w, sign_id=w, signer=signer), seq))
    ds = _tiny_dataset(tmp_path / "words", pairs)
    sp = evaluation_split(ds, "words", "signer", ["03"])
    assert {s.signer for s in sp.test} == {"03"} and {s.signer for s in sp.train + sp.val} == {"01"}
    assert sp.test_classes == ["a", "b"] and sp.train_classes == ["a", "b", "c", "d"]
    assert len(sp.val) == 4  # one of each training word
    d = sp.describe()
    assert d["test_ids"] == sorted(s.id for s in sp.test) and len(d["train_sha256"]) == 64
    assert evaluation_split(ds, "words", "signer", ["03"]).describe() == d  # fixed rule and seed


# -- recognizer --------------------------------------------------------------------------------------------
def _gesture(kind: int, rng, T: int = 24) -> PoseSequence:
    """A Kinect skeleton whose right hand draws a class-specific path (up, sideways, circle, still)."""
    sk = get_skeleton("kinect20")
    base = rng.normal(scale=0.02, size=(20, 3)).astype(np.float32)
    base[sk.shoulder_idx[0]] = [0.5, 0, 0]
    base[sk.shoulder_idx[1]] = [-0.5, 0, 0]
    t = np.linspace(0, 1, T)[:, None]
    path = {0: np.c_[0 * t, -t, 0 * t], 1: np.c_[t, 0 * t, 0 * t],
            2: np.c_[0.5 * np.cos(6 * t), 0.5 * np.sin(6 * t), 0 * t], 3: np.c_[0 * t, 0 * t, 0 * t]}[kind]
    x = np.repeat(base[None], T, 0)
    for j in (5, 7, 9):  # right elbow, wrist, hand
        x[:, j] += path.astype(np.float32) * (0.5 if j == 5 else 1.0)
    x += rng.normal(scale=0.02, size=x.shape).astype(np.float32)
    return PoseSequence(x, np.ones((T, 20), np.float32), 25.0, sk)


def test_recognizer_learns_a_tiny_separable_set(tmp_path):
    from syrisign.data.dataset import Sample
    from syrisign.evaluation.recognizer import (
        RecognizerTrainConfig, accuracy, ensure_recognizer, load_recognizer, train_recognizer,
    )
    from syrisign.evaluation.recognizer_model import RecognizerConfig
    from syrisign.evaluation.splits import evaluation_split
    rng = np.random.default_rng(0)
    names = ["up", "side", "circle", "still"]
    pairs = [(Sample(id=f"{sg}-{names[k]}-{r}", label_en=names[k], sign_id=names[k], signer=sg), _gesture(k, rng))
             for sg in ("s1", "s2") for k in range(4) for r in range(8)]
    ds = _tiny_dataset(tmp_path / "gestures", pairs)
    split = evaluation_split(ds, "gestures", "signer", ["s2"])
    cfg = RecognizerConfig(layout="kinect20", hidden=16, lstm_hidden=16, embed_dim=32, joint_dim=32, gcn_layers=2)
    rec, summary = train_recognizer(ds, split, tmp_path / "rec.pt", cfg,
                                    RecognizerTrainConfig(epochs=40, batch_size=16, patience=50), progress=False)
    acc = accuracy(rec, ds, split.test)
    assert acc["n"] == 32 and acc["top1"] >= 0.9, acc
    out = rec.run([ds.load(s) for s in split.test[:3]])
    assert out.logits.shape == (3, 4) and out.features.shape == (3, 32) and out.pose_space.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(out.pose_space, axis=1), 1.0, atol=1e-5)
    # reloaded from its checkpoint it gives the same scores; ensure_recognizer reuses it for the same split
    again = load_recognizer(tmp_path / "rec.pt")
    np.testing.assert_allclose(again.run([ds.load(s) for s in split.test[:3]]).logits, out.logits, atol=1e-5)
    same, info = ensure_recognizer(ds, split, tmp_path / "rec.pt")
    assert info.get("loaded") and same.classes == rec.classes
    # zero-shot: the same poses scored against texts given at run time
    zs = rec.run([ds.load(s) for s in split.test[:3]], texts=["up", "side"])
    assert zs.logits.shape == (3, 2)


def test_recognizer_module_does_not_import_torch():
    import subprocess
    import sys
    code = ("import sys, syrisign.evaluation.recognizer, syrisign.commands.evaluate, syrisign.evaluation.run; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- end to end --------------------------------------------------------------------------------------------
class _CopyProducer:
    """A stand-in generative producer: a noisy copy of a fixed real recording of the word."""

    name = "fake"
    bank: dict = {}

    def __init__(self, checkpoint=None, seed: int = 0, **_):
        self.seed = seed

    def produce(self, units):
        rng = np.random.default_rng(self.seed)
        out = []
        for u in units:
            s = self.bank[u.text_en]
            out.append(PoseSequence(s.data + rng.normal(scale=0.01, size=s.data.shape).astype(np.float32),
                                    s.confidence.copy(), s.fps, s.skeleton))
        return out


def test_evaluate_end_to_end_writes_the_report(tmp_path, isl_items, monkeypatch):
    import sys

    import syrisign.evaluation.methods as methods
    from syrisign.cli import main as cli
    ds_root = tmp_path / "isl3"
    _tiny_dataset(ds_root, [(it.sample, it.loader()) for it in isl_items])
    _CopyProducer.bank = {it.sample.label_en: it.loader() for it in isl_items if it.sample.signer == "gautam"}
    monkeypatch.setitem(sys.modules, "fake_producer_mod", type(sys)("fake_producer_mod"))
    sys.modules["fake_producer_mod"].Fake = _CopyProducer
    monkeypatch.setitem(__import__("syrisign.producers").producers.PRODUCERS, "generative", "fake_producer_mod:Fake")
    monkeypatch.setattr(methods, "ensure_checkpoint", lambda *a, **k: {"checkpoint": "fake", "trained": []})
    from syrisign.evaluation.run import EvaluateConfig, run
    out = tmp_path / "report"
    cfg = EvaluateConfig(datasets=[str(ds_root)], methods=["generative", "motionclip"], test_signers=["rajat"],
                         samples=2, sentences=4, bootstrap=50, recognizer_epochs=4, out=str(out), video=False,
                         progress=False)
    report = run(cfg, command="test")
    d = report["datasets"]["isl3"]
    assert d["split"]["test_signers"] == ["rajat"] and d["split"]["counts"]["test"] == 27
    sysres = d["systems"]
    assert set(sysres) >= {"real held-out", "nearest real", "medoid recording", "mean pose", "generative", "motionclip"}
    assert "error" in sysres["motionclip"]  # no checkpoint, patched ensure_checkpoint returns "fake": load fails
    gen = sysres["generative"]
    assert gen["outputs"] == 6 and gen["samples_per_word"] == 2 and gen["dtw_pairs"] == 27
    assert 0 < gen["dtw_mje"]["value"] < 5 and 0 < sysres["mean pose"]["dtw_mje"]["value"] < 5
    assert sysres["nearest real"]["dtw_mje"]["value"] > 0
    # one recording per word: the medoid lies between the oracle nearest recording and the mean pose
    med = sysres["medoid recording"]
    assert med["outputs"] == 3 and med["dtw_pairs"] == 27
    for row in (med, gen, sysres["mean pose"]):  # the image-plane figure beside the 3-D one
        assert 0 < row["dtw_mje_xy"]["value"] < 5
    assert sysres["nearest real"]["dtw_mje"]["value"] <= med["dtw_mje"]["value"] < sysres["mean pose"]["dtw_mje"]["value"]
    for key in ("bt_top1", "fid", "diversity", "r_precision_top3"):
        assert gen[key]["low"] <= gen[key]["value"] <= gen[key]["high"]
    assert sysres["mean pose"]["diversity"]["value"] == 0.0
    assert gen["r_precision_pool"] == 3 and sysres["real held-out"]["sentences"]["n"] == 4
    on_disk = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert on_disk["datasets"]["isl3"]["split"]["test_ids"] == d["split"]["test_ids"]
    md = (out / "README.md").read_text(encoding="utf-8")
    assert md.count("| isl3 |") == 6 and "nearest real" in md and "medoid recording" in md
    for name in ("metrics", "confusion", "tsne"):
        assert (out / f"isl3-{name}.png").stat().st_size > 1000
    # the CLI: unknown methods fail in one line
    assert cli(["evaluate", "--methods", "nonsense", "--out", str(tmp_path / "x")]) == 2
