"""T2M-GPT: the GPT over motion tokens, sampling, training command, generative producer, DTW-MJE."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from syrisign.cli import main as cli
from syrisign.errors import SyriSignError
from syrisign.producers import SignUnit, load_producer
from t2m_gpt.metrics import dtw_mje, dtw_mje_many, dtw_path
from t2m_gpt.model import T2MConfig, T2MGPT, load_t2m
from t2m_gpt.train import make_collate, unigram_cross_entropy, TokenItem
from test_vqvae import build_tiny_isl

K, D = 16, 8


def _tiny_gpt(**kw) -> T2MGPT:
    torch.manual_seed(0)
    cfg = dict(codebook_size=K, text_dim=D, max_tokens=12, n_layer=2, n_head=2, n_embd=32, dropout=0.0,
               corrupt_prob=0.2, cond_drop=0.0)
    cfg.update(kw)
    return T2MGPT(T2MConfig(**cfg))


SEQS = [[1, 2, 3, 4, 5], [7, 7, 8, 9, 10, 11, 12]]


@pytest.fixture(scope="module")
def fitted():
    """A tiny GPT trained until it reproduces two code sequences from their conditions."""
    model = _tiny_gpt()
    table = np.random.default_rng(0).normal(size=(2, D)).astype(np.float32)
    idx, cond, tgt = make_collate(table, K, 12)([(SEQS[0], 0), (SEQS[1], 1)])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for _ in range(200):
        _, loss = model(idx, cond, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return model.eval(), torch.from_numpy(table), losses


def test_collate_pads_inputs_and_targets_with_end_token():
    table = np.zeros((2, D), np.float32)
    idx, cond, tgt = make_collate(table, K, 12)([(SEQS[0], 0), (SEQS[1], 1)])
    assert idx.shape == (2, 7) and tgt.shape == (2, 8) and cond.shape == (2, D)
    assert idx[0].tolist() == SEQS[0] + [K + 1, K + 1]  # PAD after the codes
    assert tgt[0].tolist() == SEQS[0] + [K, -100, -100]  # END, then ignored
    assert tgt[1].tolist() == SEQS[1] + [K]
    # a sequence longer than the limit is cut and gets no END
    idx, _, tgt = make_collate(table, K, 4)([(SEQS[1], 0)])
    assert idx[0].tolist() == SEQS[1][:4] and tgt[0].tolist() == SEQS[1][:4] + [-100]


def test_gpt_loss_falls_on_a_tiny_batch(fitted):
    _, _, losses = fitted
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])


def test_generation_ends_on_end_token_and_respects_the_length_limit(fitted):
    model, cond, _ = fitted
    out = model.generate(cond, temperature=0.0)
    assert [c for c, _ in out] == SEQS and all(e for _, e in out)
    out = model.generate(cond, temperature=0.0, max_tokens=3)
    assert [c for c, _ in out] == [s[:3] for s in SEQS] and not any(e for _, e in out)
    # top-k 1 sampling is greedy; a seeded generator makes sampling repeatable
    assert [c for c, _ in model.generate(cond, temperature=1.0, top_k=1)] == SEQS
    a = model.generate(cond, temperature=2.0, generator=torch.Generator().manual_seed(5))
    b = model.generate(cond, temperature=2.0, generator=torch.Generator().manual_seed(5))
    assert a == b
    for codes, ended in a:
        assert 1 <= len(codes) <= 12 and all(0 <= c < K for c in codes)
    guided = model.generate(cond, temperature=0.0, cfg_scale=3.0)
    assert all(1 <= len(c) <= 12 for c, _ in guided)


def test_token_corruption_replaces_input_codes():
    model = _tiny_gpt(corrupt_prob=1.0).train()
    cond = torch.randn(1, D)
    a = torch.tensor([[1, 2, 3, 4]])
    b = torch.tensor([[9, 8, 7, 6]])
    torch.manual_seed(1)
    la, _ = model(a, cond)
    torch.manual_seed(1)
    lb, _ = model(b, cond)
    assert torch.allclose(la, lb)  # every code replaced by the same random codes: the input no longer matters
    model.eval()
    assert not torch.allclose(model(a, cond)[0], model(b, cond)[0])  # no corruption at evaluation


def test_unigram_baseline():
    items = [TokenItem([0, 0, 1], [0], "a")]
    ce = unigram_cross_entropy(items, items, 2, 10)
    counts = np.array([1 + 2, 1 + 1, 1 + 1])  # add-one counts of codes 0, 1 and END
    p = counts / counts.sum()
    assert ce == pytest.approx(-(2 * np.log(p[0]) + np.log(p[1]) + np.log(p[2])) / 4)


# -- DTW-MJE -----------------------------------------------------------------------------------
def test_dtw_mje_properties():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 5, 3))
    assert dtw_mje(a, a) == 0.0
    assert dtw_mje(a, np.repeat(a, 3, axis=0)) == pytest.approx(0.0)  # a slower performance of the same motion
    shift = np.array([0.3, 0.4, 0.0])  # every joint 0.5 away
    assert dtw_mje(a, a + shift) == pytest.approx(0.5)
    # missing joints are left out: garbage where the reference lacks a landmark changes nothing
    mask = np.ones((12, 5), bool)
    mask[:, 2] = False
    b = a.copy()
    b[:, 2] += 100.0
    assert dtw_mje(a, b, None, mask) == pytest.approx(0.0)
    assert dtw_mje(a, b) > 10
    with pytest.raises(ValueError):
        dtw_mje(a, rng.normal(size=(4, 6, 3)))
    # the batched form gives the same values as one pair at a time, whatever the lengths and masks
    hyps = [rng.normal(size=(n, 5, 3)) for n in (3, 12, 20)]
    masks = [rng.random((len(h), 5)) > 0.3 for h in hyps]
    many = dtw_mje_many(hyps, b, masks, mask)
    np.testing.assert_allclose(many, [dtw_mje(h, b, m, mask) for h, m in zip(hyps, masks)])
    from syrisign.evaluation.metrics import dtw_mje as reference  # the one definition, one pair at a time
    np.testing.assert_allclose(many, [reference(h, b, m, mask) for h, m in zip(hyps, masks)], rtol=1e-7)


def test_dtw_path_matches_brute_force_recursion():
    rng = np.random.default_rng(1)
    cost = rng.random((7, 11))
    acc = np.full((8, 12), np.inf)
    acc[0, 0] = 0
    for i in range(1, 8):
        for j in range(1, 12):
            acc[i, j] = cost[i - 1, j - 1] + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    rows, cols, total = dtw_path(cost)
    assert total == pytest.approx(acc[7, 11]) and cost[rows, cols].sum() == pytest.approx(total)
    assert rows[0] == cols[0] == 0 and rows[-1] == 6 and cols[-1] == 10
    assert np.all(np.diff(rows) >= 0) and np.all(np.diff(cols) >= 0)
    # the batched recursion finds the same path, also when the matrix is padded with extra rows
    from t2m_gpt.metrics import _batch_dtw
    padded = np.concatenate([cost, np.full((3, 11), np.inf)])[None]
    brows, bcols, live = _batch_dtw(padded, np.array([7]))
    assert brows[0][live[0]].tolist() == rows.tolist() and bcols[0][live[0]].tolist() == cols.tolist()


# -- commands and producer on real recordings -------------------------------------------------------
def _tiny_t5(path: Path) -> Path:
    """A random T5 encoder and a word-level tokenizer, saved like a local AraT5 directory."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel
    words = ["<pad>", "</s>", "<unk>", "hello", "yes", "no", "مرحبا", "نعم", "لا"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                            eos_token="</s>").save_pretrained(path)
    torch.manual_seed(0)
    T5EncoderModel(T5Config(vocab_size=len(words), d_model=24, d_ff=48, num_layers=1, num_heads=2,
                            d_kv=12)).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    """VQ-VAE and GPT trained for a few epochs on 3 real ISL words (tiny configs)."""
    root = tmp_path_factory.mktemp("t2m")
    ds = build_tiny_isl(data_dir, root / "tiny-isl")
    vq, gpt = root / "vq.pt", root / "t2m.pt"
    common = ["--dataset", str(ds), "--test-signers", "rajat", "--threads", "1", "--no-progress"]
    # T2M-GPT's own configuration (one codebook, clips as signed); the default residual one is tested below
    assert cli(["train", "vqvae", *common, "--epochs", "2", "--codebook-size", "16", "--code-dim", "16",
                "--width", "32", "--depth", "1", "--batch-size", "4", "--quantizer", "single", "--no-retarget",
                "--out", str(vq)]) == 0
    assert cli(["train", "t2m", *common, "--vqvae", str(vq), "--epochs", "3", "--n-layer", "1", "--n-embd", "32",
                "--n-head", "2", "--augment-copies", "1", "--batch-size", "4", "--eval-samples", "1",
                "--out", str(gpt)]) == 0
    return ds, vq, gpt


def test_t2m_command_reports_cross_entropy_and_dtw_table(trained, capsys):
    _, _, gpt = trained
    report = json.loads(gpt.with_suffix(".metrics.json").read_text())
    ce = report["cross_entropy"]
    assert ce["test"] > 0 and ce["unigram_test"] > 0 and "test_without_text" in ce
    rows = report["generation"]["rows"]
    for name in ("T2M-GPT sampled", "nearest training recording (oracle)", "mean pose (static)",
                 "medoid training recording"):
        assert np.isfinite(rows[name]["dtw_mje"]) and rows[name]["pairs"] > 0
    # the oracle picks, per reference, the best training recording of the word: never worse than the medoid
    assert rows["nearest training recording (oracle)"]["dtw_mje"] <= rows["medoid training recording"]["dtw_mje"]
    assert gpt.with_suffix(".loss.png").is_file()


def test_generative_producer_is_deterministic_and_reloads_identically(trained):
    _, _, gpt = trained
    units = [SignUnit("نعم", "yes"), SignUnit("مرحبا", "hello", item_index=1)]
    p1 = load_producer("generative", checkpoint=str(gpt))
    seqs = p1.produce(units)
    assert len(seqs) == 2
    for s in seqs:
        assert s.skeleton.name == "kinect20" and s.fps == 25.0 and s.meta["normalized"]
        assert len(s) % 4 == 0 and len(s) >= 4 and np.isfinite(s.data).all()
        assert s.meta["source"] == "generative"
    assert seqs[0].meta["text"] == "yes"  # an English-labelled model is prompted in English
    limit = torch.load(gpt, weights_only=False)["token_lengths"]["max"]
    assert p1.max_tokens == limit and all(s.meta["tokens"] <= limit for s in seqs)  # no longer than training signs
    p2 = load_producer("generative", checkpoint=str(gpt))  # a fresh load of the checkpoint
    again = p2.produce(units[::-1])  # order in the sentence does not matter
    np.testing.assert_array_equal(again[1].data, seqs[0].data)
    np.testing.assert_array_equal(again[0].data, seqs[1].data)
    other = load_producer("generative", checkpoint=str(gpt), seed=123).produce(units[:1])
    assert other[0].data.shape[1:] == seqs[0].data.shape[1:]
    m1, _ = load_t2m(gpt)
    m2, _ = load_t2m(gpt)
    idx, cond = torch.tensor([[1, 2, 3]]), torch.randn(1, m1.cfg.text_dim)
    assert torch.equal(m1(idx, cond)[0], m2(idx, cond)[0])


def test_missing_checkpoints_say_which_commands_build_them():
    with pytest.raises(SyriSignError, match="syrisign train vqvae --dataset karsl-words.*syrisign train t2m"):
        load_producer("generative")
    from t2m_gpt.train import T2MTrainConfig, train_t2m
    with pytest.raises(SyriSignError, match="syrisign train vqvae --dataset isl"):
        train_t2m(T2MTrainConfig(dataset="isl", progress=False))


def test_arat5_style_text_encoder_option(trained, tmp_path):
    ds, vq, _ = trained
    t5 = _tiny_t5(tmp_path / "arat5-tiny")
    out = tmp_path / "t2m-t5.pt"
    assert cli(["train", "t2m", "--dataset", str(ds), "--test-signers", "rajat", "--vqvae", str(vq),
                "--text-encoder", f"t5:{t5}", "--epochs", "1", "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
                "--augment-copies", "0", "--no-eval", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    model, ckpt = load_t2m(out)
    assert model.cfg.text_dim == 24 and model.cfg.text_encoder == f"t5:{t5}"
    seq = load_producer("generative", checkpoint=str(out)).produce([SignUnit("لا", "no")])[0]
    assert seq.skeleton.name == "kinect20" and len(seq) >= 4


# -- masked generation and residual layers (issue 17) ------------------------------------------------
@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread of a shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tiny_masked(q: int = 1, generator: str = "masked"):
    from t2m_gpt.model import build_generator
    torch.manual_seed(0)
    return build_generator(T2MConfig(codebook_size=K, text_dim=D, max_tokens=12, n_layer=2, n_head=2, n_embd=32,
                                     dropout=0.0, cond_drop=0.0, generator=generator, num_quantizers=q,
                                     mask_steps=4, residual_layers=1))


def test_masked_generation_fills_every_masked_position(one_thread):
    from t2m_gpt.masked import MaskedTransformer, cosine_schedule
    gen = _tiny_masked().eval()
    base = gen.base
    assert isinstance(base, MaskedTransformer) and gen.residual is None
    assert cosine_schedule(0.0) == 1.0 and cosine_schedule(1.0) < 1e-9
    cond = torch.randn(3, D)
    lengths = torch.tensor([5, 12, 1])
    for temperature, steps in ((1.0, 4), (0.0, 1), (1.0, 12)):
        g = torch.Generator().manual_seed(0)
        out = base.generate(cond, lengths, steps=steps, temperature=temperature, top_k=5, generator=g)
        assert out.shape == (3, 12)
        real = torch.arange(12).unsqueeze(0) < lengths.unsqueeze(1)
        assert ((out[real] >= 0) & (out[real] < K)).all()  # every masked position got a code, no MASK left
        assert (out[~real] == -1).all()
    # with a residual VQ-VAE the residual transformer fills the other layers at every position
    gen3 = _tiny_masked(q=3).eval()
    rows = gen3.sample(cond, max_tokens=12, top_k=5, generator=torch.Generator().manual_seed(1))
    for codes, ended in rows:
        assert codes.dim() == 2 and codes.shape[1] == 3 and 1 <= len(codes) <= 12 and ended
        assert ((codes >= 0) & (codes < K)).all()
    # the autoregressive base generator also works with the residual layers
    rows = _tiny_masked(q=3, generator="gpt").eval().sample(cond, max_tokens=6, generator=torch.Generator().manual_seed(2))
    assert all(c.shape[1] == 3 and len(c) <= 6 for c, _ in rows)


def test_masked_generator_learns_two_sequences(one_thread):
    from t2m_gpt.train import make_full_collate
    gen = _tiny_masked(q=2)
    table = np.random.default_rng(0).normal(size=(2, D)).astype(np.float32)
    two = [[[c, (c * 3) % K] for c in SEQS[0]], [[c, (c * 5) % K] for c in SEQS[1]]]
    codes, lengths, cond = make_full_collate(table, 12)([(two[0], 0), (two[1], 1)])
    assert codes.shape == (2, 7, 2) and (codes[0, 5:] == -1).all() and lengths.tolist() == [5, 7]
    opt = torch.optim.AdamW(gen.parameters(), lr=3e-3)
    gen.train()
    first = None
    for _ in range(200):
        loss = gen.loss(codes, lengths, cond)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first / 3
    gen.eval()
    rows = gen.sample(cond, temperature=0.0)
    assert [len(c) for c, _ in rows] == [5, 7]  # the length head
    # the length comes from the text alone: the tokens seen (all masked, or none, as when generating) change
    # nothing, so training cannot teach it to count the padding
    base = gen.base
    masked_in = torch.full((2, 7), base.mask_id)
    assert torch.equal(base(masked_in, cond)[1], base(torch.full((2, 0), base.pad_id), cond)[1])
    assert rows[0][0].tolist() == two[0] and rows[1][0].tolist() == two[1]


@pytest.fixture(scope="module")
def trained_masked(data_dir, tmp_path_factory):
    """Residual VQ-VAE on retargeted clips and the masked generator, a few epochs on 3 ISL words."""
    root = tmp_path_factory.mktemp("t2m-masked")
    ds = build_tiny_isl(data_dir, root / "tiny-isl")
    vq, gen = root / "vq.pt", root / "t2m.pt"
    common = ["--dataset", str(ds), "--test-signers", "rajat", "--threads", "1", "--no-progress"]
    assert cli(["train", "vqvae", *common, "--epochs", "2", "--codebook-size", "16", "--code-dim", "16",
                "--width", "32", "--depth", "1", "--batch-size", "4", "--quantizer", "residual",
                "--num-quantizers", "3", "--retarget", "--out", str(vq)]) == 0
    assert cli(["train", "t2m", *common, "--vqvae", str(vq), "--epochs", "2", "--n-layer", "1", "--n-embd", "32",
                "--n-head", "2", "--augment-copies", "0", "--batch-size", "4", "--eval-samples", "1",
                "--generator", "masked", "--residual-layers", "1", "--mask-steps", "3", "--out", str(gen)]) == 0
    return ds, vq, gen


def test_masked_residual_checkpoint_generates_through_the_producer(trained_masked):
    from t2m_gpt.masked import MotionGenerator
    _, vq, gen = trained_masked
    report = json.loads(gen.with_suffix(".metrics.json").read_text())
    assert report["generator"] == "masked" and report["num_quantizers"] == 3 and report["retarget"]
    assert np.isfinite(report["generation"]["rows"]["T2M-GPT sampled"]["dtw_mje"])
    vrep = json.loads(vq.with_suffix(".metrics.json").read_text())
    assert len(vrep["test"]["perplexity_layers"]) == 3 and vrep["retarget"]
    ck = torch.load(gen, weights_only=False)
    assert ck["config"]["generator"] == "masked" and ck["vqvae"]["config"]["quantizer"] == "residual"
    assert ck["retarget"] and ck["reference_body"]["forearm"]["right"] > 0
    model, _ = load_t2m(gen)
    assert isinstance(model, MotionGenerator)
    prod = load_producer("generative", checkpoint=str(gen))
    seqs = prod.produce([SignUnit("نعم", "yes"), SignUnit("مرحبا", "hello")])
    for s in seqs:
        assert s.skeleton.name == "kinect20" and len(s) % 4 == 0 and np.isfinite(s.data).all()
        assert s.meta["generator"] == "masked" and s.meta["quantizer"] == "residual" and s.meta["retargeted"]
    again = load_producer("generative", checkpoint=str(gen)).produce([SignUnit("نعم", "yes")])
    np.testing.assert_array_equal(again[0].data, seqs[0].data)


# -- conditioning on the retrieval model's text side (issue 17z) ---------------------------------------
def _tiny_retrieval_checkpoint(path: Path) -> Path:
    """A real retrieval checkpoint (the tiny config of test_retrieval), saved as retrieval/train.py saves one."""
    from retrieval.model import RetrievalModel
    from syrisign.ml.checkpoint import save_checkpoint
    from test_retrieval import tiny_config
    torch.manual_seed(0)
    cfg = tiny_config()
    model = RetrievalModel(cfg).eval()
    classes = [{"key": w, "label_ar": "", "label_en": w, "signed_language": "isl"} for w in ("yes", "no", "hello")]
    save_checkpoint(path, "retrieval", cfg, model.state_dict(), classes=classes,
                    text_in_dim=model.text.in_dim if hasattr(model.text, "in_dim") else None)
    return path


def test_retrieval_text_encoder_returns_the_models_text_vectors(tmp_path):
    from retrieval.model import load_model
    from syrisign.ml.text import TextEncoderError, available_text_encoders, get_text_encoder
    assert "retrieval:<checkpoint>" in available_text_encoders()
    ck = _tiny_retrieval_checkpoint(tmp_path / "r.pt")
    enc = get_text_encoder(f"retrieval:{ck}")
    texts = ["yes", "نعم", "hello"]
    got = enc.encode(texts)
    lm = load_model(ck)
    with torch.no_grad():
        want = lm.model.encode_text([lm.model.prompt(t, t, "isl") for t in texts], ["isl"] * 3).numpy()
    assert enc.sign_lang == "isl" and got.shape == (3, lm.config.embed_dim)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # another checkpoint never shares the cached vectors
    torch.manual_seed(1)
    ck2 = tmp_path / "r2.pt"
    from retrieval.model import RetrievalModel
    from syrisign.ml.checkpoint import save_checkpoint
    from test_retrieval import tiny_config
    save_checkpoint(ck2, "retrieval", tiny_config(), RetrievalModel(tiny_config()).state_dict(), classes=[])
    enc2 = get_text_encoder(f"retrieval:{ck2}")
    assert enc2._cache_file() != enc._cache_file()
    assert not np.allclose(enc2.encode(texts), got)
    with pytest.raises(TextEncoderError, match="no retrieval checkpoint"):
        get_text_encoder(f"retrieval:{tmp_path / 'missing.pt'}")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(TextEncoderError, match="retrieval checkpoint"):
        get_text_encoder(f"retrieval:{bad}")


def test_t2m_trains_and_generates_conditioned_on_a_retrieval_model(trained, tmp_path):
    ds, vq, _ = trained
    ck = _tiny_retrieval_checkpoint(tmp_path / "r.pt")
    out = tmp_path / "t2m-r.pt"
    assert cli(["train", "t2m", "--dataset", str(ds), "--test-signers", "rajat", "--vqvae", str(vq),
                "--text-encoder", f"retrieval:{ck}", "--epochs", "1", "--n-layer", "1", "--n-embd", "32",
                "--n-head", "2", "--augment-copies", "0", "--no-eval", "--threads", "1", "--no-progress",
                "--out", str(out)]) == 0
    model, _ = load_t2m(out)
    assert model.cfg.text_dim == 32 and model.cfg.text_encoder == f"retrieval:{ck}"
    seq = load_producer("generative", checkpoint=str(out)).produce([SignUnit("لا", "no")])[0]
    assert seq.skeleton.name == "kinect20" and len(seq) >= 4


def test_zero_shot_report_refuses_a_generator_that_saw_every_word(trained, capsys):
    from t2m_gpt.zero_shot import main as zero_shot
    _, _, gpt = trained
    assert zero_shot(["--checkpoint", str(gpt), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing is unseen" in err[0] and "--exclude-classes" in err[0]


def test_re_running_the_evaluation_of_a_retargeted_model_gives_the_training_reports_references(trained_masked,
                                                                                             tmp_path):
    """`python -m t2m_gpt.evaluate` compares with the references the model was trained and reported on."""
    from t2m_gpt.evaluate import main as evaluate
    ds, _, gen = trained_masked
    out = tmp_path / "again.json"
    assert evaluate(["--dataset", str(ds), "--checkpoint", str(gen), "--samples", "1", "--json", str(out)]) == 0
    again = json.loads(out.read_text())["rows"]
    first = json.loads(gen.with_suffix(".metrics.json").read_text())["generation"]["rows"]
    for row in ("mean pose (static)", "medoid training recording", "nearest training recording (oracle)"):
        assert again[row]["dtw_mje"] == pytest.approx(first[row]["dtw_mje"], rel=1e-6), row


# -- best of n by the retrieval model (t2m_gpt.rerank) ------------------------------------------------------
def test_best_of_n_keeps_the_retrieval_models_favourite_plausible_sample(trained, tmp_path, monkeypatch):
    from syrisign.ml.features import to_sequence
    from t2m_gpt.rerank import Reranker
    _, _, gpt = trained
    unit = SignUnit("نعم", "yes")
    one = load_producer("generative", checkpoint=str(gpt))
    assert one.candidates == 1 and one.reranker is None  # no retrieval model trained here: the first sample
    with pytest.raises(SyriSignError, match="no retrieval model"):
        load_producer("generative", checkpoint=str(gpt), candidates=4)
    ck = _tiny_retrieval_checkpoint(tmp_path / "r.pt")
    best = load_producer("generative", checkpoint=str(gpt), candidates=4, reranker=ck)
    text = best.text_of(unit)
    seeds = [best.unit_seed(text) + 1_000_003 * j for j in range(4)]
    cands = best.generate([text] * 4, seeds=seeds)
    np.testing.assert_array_equal(cands[0][0], one.generate([text])[0][0])  # candidate 0 = the one-sample output
    scores = Reranker(ck).scores(text, [to_sequence(x, None, best.features) for x, _, _ in cands])
    assert scores.shape == (4,) and np.all(np.abs(scores) <= 1 + 1e-5)
    plausible = np.array([best.implausible_share(x) <= 0.5 for x, _, _ in cands])
    want = int(np.argmax(np.where(plausible, scores, -np.inf)))
    seq = best.produce([unit])[0]
    assert seq.meta["picked"] == want and seq.meta["candidates"] == 4
    np.testing.assert_allclose(seq.meta["rerank_score"], scores[want], atol=1e-4)
    np.testing.assert_array_equal(seq.data, to_sequence(cands[want][0], None, best.features).data)
    assert seq.meta["select"] == "text"
    # select="consensus": of the half closest to the text, the one the others agree with (t2m_gpt.rerank.pick)
    agreed = load_producer("generative", checkpoint=str(gpt), candidates=4, reranker=ck,
                           select="consensus").produce([unit])[0]
    assert agreed.meta["select"] == "consensus" and agreed.meta["picked"] in np.flatnonzero(
        plausible & (scores >= np.median(scores[plausible])))
    # select="barycentre": the usable candidates' average along DTW paths, on the text pick's timing
    mean = load_producer("generative", checkpoint=str(gpt), candidates=4, reranker=ck,
                         select="barycentre").produce([unit])[0]
    assert mean.meta["select"] == "barycentre" and mean.meta["picked"] == want
    assert mean.meta["averaged"] == int(plausible.sum()) and len(mean.data) == len(seq.data)
    assert not np.allclose(mean.data, seq.data)  # an average, not the pick itself
    # select="guarded": the barycentre, unless the retrieval model reads the pick as the word and not the average
    guarded = load_producer("generative", checkpoint=str(gpt), candidates=4, reranker=ck, select="guarded")
    rivals = guarded.rivals(text)
    assert rivals and text not in rivals and all(text not in guarded.train_texts[c] or not set(guarded.train_texts[c])
                                                 & set(rivals) for c in guarded.train_texts)
    seqs = [to_sequence(x, None, best.features) for x, _, _ in cands]
    read = guarded.reranker.reads(text, seqs, rivals)
    by_rival = np.stack([guarded.reranker.scores(r, seqs) for r in rivals])  # (rivals, 4)
    np.testing.assert_array_equal(read, scores > by_rival.max(0))
    assert guarded.reranker.reads(text, seqs, []).all()
    for verdict, kept in (([True, False], False), ([True, True], True), ([False, False], True), ([False, True], True)):
        monkeypatch.setattr(guarded.reranker, "reads", lambda t, s, r, v=verdict: np.array(v))
        out = guarded.produce([unit])[0]
        assert out.meta["guard"] == ("kept" if kept else "text pick") and out.meta["picked"] == want
        np.testing.assert_array_equal(out.data, (mean if kept else seq).data)
        assert out.meta["select"] == ("barycentre" if kept else "text")

    # a decode flung far out of the body's range is passed over however well it scores
    far = [(x + (20.0 if j == 1 else 0.0), c, e) for j, (x, c, e) in enumerate(cands)]
    assert best.implausible_share(far[1][0]) == 1.0
    monkeypatch.setattr(best, "generate", lambda texts, seeds=None, **kw: far)
    monkeypatch.setattr(best.reranker, "scores", lambda text, seqs: np.array([0.1, 0.9, 0.5, 0.2]))
    assert plausible.all()  # the tiny model's own samples stay in range
    out = best.produce([unit])[0]
    assert out.meta["picked"] == 2 and out.meta["passed_over"] == 1


def test_the_rerankers_text_cache_gives_the_text_towers_embeddings_and_starts_again_when_full(tmp_path):
    from t2m_gpt.rerank import Reranker
    r = Reranker(_tiny_retrieval_checkpoint(tmp_path / "r.pt"))
    texts = ["نعم", "لا", "yes", "no"]
    fresh = r.text.encode(texts)
    np.testing.assert_allclose(r.encode(texts[:2]), fresh[:2], atol=1e-6)
    r.TEXT_CACHE = 3
    got = r.encode([texts[0], texts[2], texts[3], texts[0]])  # one cached, two new: over the bound
    np.testing.assert_allclose(got, fresh[[0, 2, 3, 0]], atol=1e-6)
    assert len(r._texts) == 3


def test_consensus_keeps_the_sample_the_others_agree_with_among_those_close_to_the_text():
    """Minimum Bayes risk selection: of the half closest to the text, the candidate with the least mean DTW-MJE
    to the other usable candidates; the text score alone would keep an outlier."""
    from syrisign.evaluation.metrics import dtw_mje
    from t2m_gpt.rerank import consensus, pick
    rng = np.random.default_rng(0)
    t = np.linspace(0, np.pi, 20)
    base = np.stack([np.stack([np.sin(t + k), np.cos(t), 0 * t], -1) for k in range(5)], 1)  # (20, 5, 3)
    cands = [base + rng.normal(0, s_, base.shape) for s_ in (0.02, 0.05, 0.2)]  # 3 variants of one movement
    cands.append(base[::-1] * 3.0)  # another movement altogether
    cands.append(base + 40.0)  # a broken decode, passed over by the caller
    usable = np.array([True, True, True, True, False])
    scores = np.array([0.30, 0.20, 0.25, 0.90, 0.95])
    cons = consensus(cands, usable)
    want = np.mean([dtw_mje(cands[b], cands[0]) for b in (1, 2, 3)])
    assert cons[0] == pytest.approx(want, rel=1e-6)
    assert np.isfinite(cons).all()
    k_text, info_text = pick(cands, scores, usable, "text")
    assert k_text == 3 and info_text["select"] == "text"  # the outlier: best text score among the usable ones
    k, info = pick(cands, scores, usable, "consensus")
    # top half by text score among the usable: 3 (0.90), 0 (0.30); of those, 0 agrees with the others
    assert k == 0 and info["select"] == "consensus" and info["consensus_dtw"] == pytest.approx(cons[0], abs=1e-4)
    assert pick(cands[:2], scores[:2], usable[:2], "consensus")[0] == 0  # two candidates: by text
    assert consensus([np.zeros((0, 5, 3)), base], None)[0] == np.inf


def test_the_barycentre_of_samples_is_closer_to_their_movement_than_any_sample_and_keeps_one_handshape():
    """DTW barycentre averaging: noisy, time-warped copies of one movement average to something nearer the
    movement than each copy, on the starting copy's timing; the hands and face of one sample are put back on
    the averaged path (``with_shapes_of``)."""
    from syrisign.evaluation.metrics import dtw_mje
    from syrisign.skeletons import get_skeleton
    from t2m_gpt.rerank import barycentre, with_shapes_of
    rng = np.random.default_rng(0)

    def movement(t):
        return np.stack([np.stack([np.sin(t + k), np.cos(2 * t), 0.3 * t], -1) for k in range(6)], 1)

    clean = movement(np.linspace(0, np.pi, 30))
    copies = [movement(np.linspace(0, np.pi, n) ** w / np.pi ** (w - 1)) + rng.normal(0, 0.15, (n, 6, 3))
              for n, w in ((30, 1.0), (24, 1.3), (36, 0.8), (28, 1.1), (33, 0.9), (26, 1.2))]
    mean = barycentre(copies, start=2)
    assert mean.shape == copies[2].shape and mean.dtype == np.float32
    assert dtw_mje(mean, clean) < 0.6 * min(dtw_mje(c, clean) for c in copies)
    np.testing.assert_allclose(barycentre([clean, clean, clean], 0), clean, atol=1e-6)  # nothing to average
    with pytest.raises(ValueError, match="starting sequence"):
        barycentre([np.zeros((0, 6, 3)), clean], 0)

    sk = get_skeleton("syrisign193")
    avg, one = rng.normal(size=(2, 12, sk.num_joints, 3)).astype(np.float32)
    out = with_shapes_of(avg, one, "syrisign193")
    for hand in ("left_hand", "right_hand"):
        sl, w = sk.slices[hand], sk.index[f"{hand}.WRIST"]
        np.testing.assert_allclose(out[:, w], avg[:, w], atol=1e-6)  # the averaged path
        np.testing.assert_allclose(out[:, sl] - out[:, w:w + 1], one[:, sl] - one[:, w:w + 1], atol=1e-5)  # one shape
    face = sk.slices["face"]
    np.testing.assert_allclose(out[:, face].mean(1), avg[:, face].mean(1), atol=1e-5)
    np.testing.assert_allclose(out[:, face] - out[:, face].mean(1, keepdims=True),
                               one[:, face] - one[:, face].mean(1, keepdims=True), atol=1e-5)
    np.testing.assert_array_equal(out[:, sk.slices["pose"]], avg[:, sk.slices["pose"]])  # the body: the average


def test_residual_generator_decodes_the_layers_chosen_on_validation(trained_masked):
    """Training measures whether the residual transformer's tokens help on the validation recordings and stamps
    the choice; ``decode_layers="base"`` decodes the base tokens alone."""
    _, _, gen = trained_masked
    report = json.loads(gen.with_suffix(".metrics.json").read_text())
    dl = report["decode_layers"]
    val = dl["val_dtw_mje"]
    assert set(val) == {"all", "base"} and all(np.isfinite(v) for v in val.values())
    assert dl["chosen"] == min(val, key=lambda k: (val[k], k != "all"))
    assert torch.load(gen, weights_only=False)["decode_layers"] == dl["chosen"]
    prod = load_producer("generative", checkpoint=str(gen), decode_layers="base")
    x, codes, _ = prod.generate(["yes"], seeds=[3])[0]
    assert np.asarray(codes).shape[1] == 1  # the residual transformer is not run
    with torch.no_grad():
        want = prod.vq.decode(torch.tensor(codes).unsqueeze(0))[0].numpy()
    np.testing.assert_allclose(x, want, atol=1e-5)
    every = load_producer("generative", checkpoint=str(gen), decode_layers="all")
    assert np.asarray(every.generate(["yes"], seeds=[3])[0][1]).shape[1] == 3
    assert np.asarray(every.generate(["yes"], seeds=[3])[0][1])[:, 0].tolist() == np.asarray(codes)[:, 0].tolist()
    for bad in ("4", "none", 0):
        with pytest.raises(SyriSignError, match="decode_layers must be"):
            load_producer("generative", checkpoint=str(gen), decode_layers=bad)
    with pytest.raises(SyriSignError, match="select must be"):
        load_producer("generative", checkpoint=str(gen), select="best")


def test_the_evaluation_ranks_only_with_a_retrieval_model_that_held_out_the_same_signers(tmp_home):
    from types import SimpleNamespace

    from retrieval.model import RetrievalModel
    from syrisign.evaluation.methods import MethodUnavailable, checkpoint_path, generated_outputs
    from syrisign.ml.checkpoint import save_checkpoint
    from test_retrieval import tiny_config
    split = SimpleNamespace(dataset="isl", test_signers=["apurve", "rajat"])
    info = {"checkpoint": str(tmp_home / "checkpoints" / "t2m-isl.pt")}
    with pytest.raises(MethodUnavailable, match="no retrieval model at .*retrieval-isl.pt"):
        generated_outputs("generative", info, None, ["hello"], 1, 0, candidates=4, split=split)
    ranker = checkpoint_path("retrieval", "isl")
    ranker.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(ranker, "retrieval", tiny_config(), RetrievalModel(tiny_config()).state_dict(), classes=[],
                    run={"protocol": "signer", "test_signers": ["gautam"]})
    with pytest.raises(MethodUnavailable, match="reranker retrieval-isl.pt was trained with held-out signers"):
        generated_outputs("generative", info, None, ["hello"], 1, 0, split=split)


def test_token_copies_on_one_body_are_only_stretched_in_time(jos_pose_files):
    """Clips retargeted onto one reference body get token copies that change the timing only: every copied frame
    lies on the recording's own path; the default copies (turned, scaled, sheared) leave it."""
    from syrisign.ml.features import FeatureConfig, augment, prepare
    from syrisign.pose import PoseSequence
    from t2m_gpt.train import token_copy_config
    x, m = prepare(PoseSequence.load(jos_pose_files[0]), FeatureConfig(layout="syrisign193"))
    step = np.linalg.norm(np.diff(x[..., :2], axis=0), axis=-1).mean(-1).max()  # the largest frame-to-frame move

    def off_path(y):  # how far the copy's farthest frame is from the nearest recorded frame
        return max(np.linalg.norm(f[:, :2] - x[..., :2], axis=-1).mean(-1).min() for f in y)

    rng = np.random.default_rng(0)
    for _ in range(5):
        y, _ = augment(x, m, "syrisign193", token_copy_config(one_body=True), rng)
        assert abs(len(y) - len(x)) <= 0.25 * len(x) + 1 and off_path(y) <= step + 1e-6
    assert max(off_path(augment(x, m, "syrisign193", token_copy_config(), rng)[0]) for _ in range(5)) > 2 * step
