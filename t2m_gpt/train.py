"""``syrisign train t2m``: train the text-conditioned GPT over VQ-VAE motion tokens (T2M-GPT stage 2).

The VQ-VAE checkpoint of the same dataset (``syrisign train vqvae``) tokenizes every recording;
its weights, configuration and statistics are copied into the GPT checkpoint, which is then
all the generative producer needs. Importing this module does not import torch.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from vqvae.train import add_common_arguments, default_checkpoint, peak_memory_mb, quiet_threads, train_overrides

KIND = "t2m"


@dataclass
class T2MTrainConfig:
    dataset: str = "karsl-words"
    vqvae: str | None = None  # VQ-VAE checkpoint; default $SYRISIGN_HOME/checkpoints/vqvae-<dataset>.pt
    text_encoder: str = "use"
    augment_copies: int = 2  # extra token sequences per training recording from augmented poses
    out: str | None = None
    fresh: bool = False
    progress: bool = True
    evaluate: bool = True  # DTW-MJE of generated signs against held-out recordings after training
    eval_samples: int = 3
    decode_layers: str = "auto"  # residual VQ-VAE: all | base | auto (the better on validation recordings)
    model: dict = field(default_factory=dict)  # T2MConfig overrides
    train: dict = field(default_factory=dict)  # TrainConfig overrides


@dataclass
class TokenItem:
    codes: list[int]
    text_ids: list[int]  # indices into the text table (Arabic and/or English label)
    class_key: str


def vqvae_missing_message(dataset: str, path: Path) -> str:
    return (f"no VQ-VAE checkpoint at {path}; build it first with `syrisign train vqvae --dataset {dataset}`")


def token_copy_config(one_body: bool = False):
    """The augmentation of :func:`tokenize`'s token copies: stretched in time by up to 20 %; unless ``one_body``
    also rotated, scaled and sheared (the augmentation's defaults)."""
    from syrisign.ml.features import AugmentConfig
    body = {"rotate_deg": 0.0, "scale": 0.0, "shear": 0.0} if one_body else {}
    return AugmentConfig(speed=0.2, drop_joint_p=0.0, drop_frame_p=0.0, **body)


def tokenize(vq, items, augment_copies: int = 0, seed: int = 0, batch_size: int = 64, progress: bool = False,
             one_body: bool = False) -> list[list[list[int]]]:
    """Code sequences of every item: ``[original, augmented 1, ...]`` per item. The augmented copies are
    stretched in time; unless ``one_body`` (clips retargeted onto one reference body, whose signs the
    generator should make on that body) also rotated, scaled and sheared."""
    import torch
    from tqdm import tqdm

    from syrisign.ml.features import augment, collate
    dev = next(vq.parameters()).device
    rng = np.random.default_rng(seed)
    acfg = token_copy_config(one_body)
    versions = [[(it.x, it.mask)] + [augment(it.x, it.mask, vq.cfg.layout, acfg, rng) for _ in range(augment_copies)]
                for it in items]
    flat = [(i, v) for i, vs in enumerate(versions) for v in vs]
    out: list[list[list[int]]] = [[] for _ in items]
    vq.eval()
    with torch.no_grad():
        for k in tqdm(range(0, len(flat), batch_size), desc="tokenize", leave=False, disable=not progress):
            chunk = flat[k:k + batch_size]
            x, jm, fm = collate([v for _, v in chunk])
            idx, tm = vq.encode(x.to(dev), jm.to(dev), fm.to(dev))
            for (i, _), row, m in zip(chunk, idx.cpu(), tm.cpu()):
                out[i].append(row[m].tolist())
    return out


class TokenData:
    """Map-style data: one (codes, text id) per visit; the text is chosen at random among the item's labels."""

    def __init__(self, items: list[TokenItem], seed: int):
        self.items = items
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        it = self.items[i]
        return it.codes, it.text_ids[int(self.rng.integers(len(it.text_ids)))]


def make_collate(text_table: np.ndarray, codebook_size: int, max_tokens: int):
    """``(idx (b, l), cond (b, D), targets (b, l + 1))``: inputs padded with PAD, targets with IGNORE."""
    def collate(batch):
        import torch

        from t2m_gpt.model import IGNORE
        end, pad = codebook_size, codebook_size + 1
        l = min(max(len(c) for c, _ in batch), max_tokens)
        idx = torch.full((len(batch), l), pad, dtype=torch.long)
        tgt = torch.full((len(batch), l + 1), IGNORE, dtype=torch.long)
        for i, (codes, _) in enumerate(batch):
            c = list(codes)[:max_tokens]
            if c:
                idx[i, :len(c)] = torch.tensor(c)
                tgt[i, :len(c)] = torch.tensor(c)
            if len(codes) <= max_tokens:  # a sequence cut at max_tokens has no END
                tgt[i, len(c)] = end
        cond = torch.from_numpy(text_table[[t for _, t in batch]])
        return idx, cond, tgt
    return collate


def make_full_collate(text_table: np.ndarray, max_tokens: int):
    """``(codes (b, l, q) with -1 at padding, lengths (b,) before the cut, cond (b, D))`` for a MotionGenerator."""
    def collate(batch):
        import torch
        rows = [np.asarray(c, dtype=np.int64).reshape(len(c), -1) for c, _ in batch]
        q = max(r.shape[1] for r in rows)
        l = max(1, min(max(len(r) for r in rows), max_tokens))
        codes = torch.full((len(batch), l, q), -1, dtype=torch.long)
        for i, r in enumerate(rows):
            r = r[:max_tokens]
            if len(r):
                codes[i, :len(r)] = torch.from_numpy(r)
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        cond = torch.from_numpy(text_table[[t for _, t in batch]])
        return codes, lengths, cond
    return collate


def generator_loss(model, items: list[TokenItem], text_table: np.ndarray, batch_size: int = 64, seed: int = 0) -> float:
    """Mean training loss of a MotionGenerator on ``items`` (eval mode, masks drawn with a fixed seed)."""
    import torch
    dev = next(model.parameters()).device
    col = make_full_collate(text_table, model.cfg.max_tokens)
    was = model.training
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k in range(0, len(items), batch_size):
            codes, lengths, cond = col([(it.codes, it.text_ids[0]) for it in items[k:k + batch_size]])
            total += float(model.loss(codes.to(dev), lengths.to(dev), cond.to(dev))) * len(codes)
            n += len(codes)
    model.train(was)
    return total / max(n, 1)


def cross_entropy(model, items: list[TokenItem], text_table: np.ndarray, batch_size: int = 64,
                  uncond: bool = False) -> float:
    """Mean per-token cross-entropy (nats) over codes and END, with each item's primary text, no corruption."""
    import torch
    dev = next(model.parameters()).device
    col = make_collate(text_table, model.cfg.codebook_size, model.cfg.max_tokens)
    total, n = 0.0, 0
    was = model.training
    model.eval()
    with torch.no_grad():
        for k in range(0, len(items), batch_size):
            idx, cond, tgt = col([(it.codes, it.text_ids[0]) for it in items[k:k + batch_size]])
            flags = torch.ones(len(idx), dtype=torch.bool, device=dev) if uncond else None
            logits, _ = model(idx.to(dev), cond.to(dev), uncond=flags)
            t = tgt.to(dev)
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), t.reshape(-1),
                                                     ignore_index=-100, reduction="sum")
            total += float(loss)
            n += int((t != -100).sum())
    model.train(was)
    return total / max(n, 1)


def with_wrong_text(items: list[TokenItem]) -> list[TokenItem]:
    """The same code sequences, each conditioned on the labels of the next word (in sorted order)."""
    keys = sorted({it.class_key for it in items})
    if len(keys) < 2:
        return items
    texts = {k: next(it.text_ids for it in items if it.class_key == k) for k in keys}
    return [TokenItem(it.codes, texts[keys[(keys.index(it.class_key) + 1) % len(keys)]], it.class_key)
            for it in items]


def unigram_cross_entropy(train: list[TokenItem], test: list[TokenItem], codebook_size: int, max_tokens: int) -> float:
    """Cross-entropy of the test targets under the training frequencies of codes and END (add-one smoothing)."""
    counts = np.ones(codebook_size + 1)
    for it in train:
        c = it.codes[:max_tokens]
        np.add.at(counts, c, 1)
        if len(it.codes) <= max_tokens:
            counts[codebook_size] += 1
    logp = np.log(counts / counts.sum())
    total, n = 0.0, 0
    for it in test:
        c = it.codes[:max_tokens]
        total -= logp[c].sum()
        n += len(c)
        if len(it.codes) <= max_tokens:
            total -= logp[codebook_size]
            n += 1
    return float(total / max(n, 1))


def train_t2m(cfg: T2MTrainConfig) -> dict:
    """Tokenize with the VQ-VAE, train (or resume) the GPT, evaluate; returns the report (also written as JSON)."""
    import torch
    from accelerate import PartialState

    from syrisign.ml.checkpoint import CheckpointError, config_to_dict, load_checkpoint
    from syrisign.ml.device import pick_device
    from syrisign.ml.text import get_text_encoder
    from syrisign.ml.trainer import Trainer, TrainConfig
    from t2m_gpt.model import T2MConfig, T2MGPT, build_generator
    from vqvae.data import load_split
    from vqvae.model import load_vqvae

    t0 = time.perf_counter()
    PartialState()
    tcfg = TrainConfig(**{"epochs": 80, "batch_size": 32, "lr": 5e-4, "patience": 12, "weight_decay": 0.05,
                          **cfg.train})
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    vq_path = Path(cfg.vqvae) if cfg.vqvae else default_checkpoint(cfg.dataset, "vqvae")
    try:
        vq_ckpt = load_checkpoint(vq_path, "vqvae")
    except CheckpointError as e:
        if not vq_path.is_file():
            raise SyriSignError(vqvae_missing_message(cfg.dataset, vq_path)) from None
        raise e
    device = pick_device(tcfg.device)
    vq, _ = load_vqvae(vq_ckpt, device)
    feats, vsplit = vq_ckpt["features"], vq_ckpt["split"]
    split = load_split(cfg.dataset, vsplit["test_signers"], feats["layout"], feats["fps"], vsplit["val_frac"],
                       vsplit["seed"], max_frames=feats["max_frames"], trim_idle=feats["trim_idle"],
                       progress=cfg.progress, retarget=bool(vq_ckpt.get("retarget", False)),
                       exclude_classes=vsplit.get("exclude_classes"))

    # texts: every label of every item, embedded once by the frozen encoder
    enc = get_text_encoder(cfg.text_encoder)
    texts = sorted({t for part in (split.train, split.val, split.test) for it in part for t in it.texts})
    table = enc.encode(texts).astype(np.float32)  # (n_texts, D)
    tid = {t: i for i, t in enumerate(texts)}

    mcfg = T2MConfig(**{**cfg.model, "codebook_size": vq.cfg.codebook_size, "text_dim": int(table.shape[1]),
                        "text_encoder": cfg.text_encoder,
                        "num_quantizers": vq.cfg.num_quantizers if vq.cfg.residual else 1})
    stride = vq.cfg.stride
    plain = mcfg.generator == "gpt" and mcfg.num_quantizers <= 1  # the T2M-GPT model and checkpoint of before

    def token_items(items, copies, seed):
        seqs = tokenize(vq, items, copies, seed, progress=cfg.progress, one_body=bool(vq_ckpt.get("retarget", False)))
        return [TokenItem(s, [tid[t] for t in it.texts], it.class_key) for it, ss in zip(items, seqs) for s in ss]

    train_items = token_items(split.train, cfg.augment_copies, tcfg.seed)
    val_items = token_items(split.val, 0, 0)
    test_items = token_items(split.test, 0, 0)
    longest = max(len(it.codes) for it in train_items)
    if longest > mcfg.max_tokens:
        print(f"note: {sum(len(it.codes) > mcfg.max_tokens for it in train_items)} training sequences are longer "
              f"than --max-tokens {mcfg.max_tokens} ({mcfg.max_tokens * stride} frames) and are cut",
              file=sys.stderr)
    from syrisign.ml.device import seed_everything
    seed_everything(tcfg.seed)  # the same initial weights on every run and every process
    model = build_generator(mcfg)

    path = Path(cfg.out) if cfg.out else default_checkpoint(split.dataset, "t2m")
    if path.is_file() and not cfg.fresh:
        old = load_checkpoint(path, KIND)
        if old.get("config") != config_to_dict(mcfg) or old.get("vqvae_path") != str(vq_path) \
                or old.get("vqvae_epoch") != vq_ckpt.get("train_state", {}).get("best_epoch"):
            raise SyriSignError(f"{path} holds a GPT of another configuration or VQ-VAE; add --fresh to replace it "
                                f"or --out to write elsewhere")
    elif path.is_file():
        path.unlink()

    def step(m, batch):
        if not plain:
            codes, lengths, cond = batch
            return getattr(m, "module", m).loss(codes, lengths, cond), {}
        idx, cond, tgt = batch
        _, loss = m(idx, cond, tgt)
        return loss, {}

    def validate(m):
        if not plain:
            return {"val_loss": generator_loss(getattr(m, "module", m), val_items, table)}
        return {"val_loss": cross_entropy(m, val_items, table)}

    train_texts: dict[str, list[str]] = {}
    for it in split.train:
        train_texts.setdefault(it.class_key, it.texts)

    def extra():
        return {"vqvae": {"config": vq_ckpt["config"], "model": vq_ckpt["model"], "stats": vq_ckpt["stats"],
                          "features": feats, "split": vsplit},
                "vqvae_path": str(vq_path), "vqvae_epoch": vq_ckpt.get("train_state", {}).get("best_epoch"),
                "features": feats, "split": split.describe, "train_texts": train_texts,
                "retarget": bool(vq_ckpt.get("retarget", False)), "reference_body": vq_ckpt.get("reference_body"),
                "vqvae_pretrain": _pretrained_on(vq_ckpt),
                "token_lengths": {"max": min(longest, mcfg.max_tokens),
                                  "median": float(np.median([len(it.codes) for it in train_items]))},
                "run": {k: v for k, v in asdict(cfg).items() if k not in ("model", "train")}}

    trainer = Trainer(model, tcfg, TokenData(train_items, tcfg.seed), step, validate, path, KIND, mcfg,
                      checkpoint_extra=extra,
                      collate_fn=make_collate(table, mcfg.codebook_size, mcfg.max_tokens) if plain
                      else make_full_collate(table, mcfg.max_tokens),
                      progress=cfg.progress)
    resumed = trainer.resume()
    if resumed and cfg.progress:
        print(f"resuming {path} after epoch {trainer.start_epoch - 1}", file=sys.stderr)
    result = trainer.fit()
    train_seconds = result.seconds
    model = trainer._unwrapped().eval()

    if not plain:
        ce = {"val_loss": generator_loss(model, val_items, table),
              "test_loss": generator_loss(model, test_items, table) if test_items else None}
    else:
        ce = _plain_cross_entropy(model, mcfg, train_items, val_items, test_items, table)
    report = {"checkpoint": str(path), "vqvae": str(vq_path), "dataset": split.dataset, "split": split.describe,
              "layout": feats["layout"], "config": config_to_dict(mcfg), "train_config": asdict(tcfg),
              "augment_copies": cfg.augment_copies, "train_sequences": len(train_items),
              "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "stopped": result.stopped,
              "train_seconds": round(train_seconds, 1), "resumed": resumed, "cross_entropy": ce,
              "generator": mcfg.generator, "num_quantizers": mcfg.num_quantizers,
              "retarget": bool(vq_ckpt.get("retarget", False)), "vqvae_pretrain": _pretrained_on(vq_ckpt),
              "device": str(trainer.device), "threads": torch.get_num_threads()}
    from syrisign.ml.distributed import is_main
    if vq.cfg.residual and is_main():
        report["decode_layers"] = choose_decode_layers(path, device, split, cfg.decode_layers, cfg.eval_samples,
                                                       cfg.progress)
    return _finish_report(cfg, report, path, device, split, t0)


def choose_decode_layers(path: Path, device, split, choice: str = "auto", samples: int = 3, progress: bool = False
                         ) -> dict:
    """Which of a residual VQ-VAE's layers the generator's signs are decoded from, stamped into the checkpoint
    (``decode_layers``): ``all`` (the residual transformer's tokens too) or ``base`` (the base tokens alone);
    ``auto``: the one whose sampled signs have the lower DTW-MJE against the training signers' validation
    recordings (``t2m_gpt.evaluate``, references="val"). On KArSL and ISL the residual transformer's greedy
    tokens, trained on a few hundred recordings, measured worse than none (results/generative.md)."""
    from syrisign.ml.checkpoint import update_checkpoint
    if choice not in ("auto", "all", "base"):
        raise SyriSignError(f"decode_layers must be auto, all or base (got {choice!r})")
    out: dict = {"choice": choice}
    if choice == "auto":
        if not split.val:
            choice = "all"
            out["note"] = "no validation recordings to choose with: every layer"
        else:
            from t2m_gpt.evaluate import evaluate_generation
            from t2m_gpt.producer import GenerativeProducer, _decode_layers
            val = {}
            prod = GenerativeProducer(checkpoint=path, device=str(device))  # loaded once, decoded both ways
            for layers in ("all", "base"):
                prod.decode_layers = _decode_layers(layers, prod.vq.cfg)
                gen = evaluate_generation(prod, split, samples=samples, progress=progress, references="val")
                val[layers] = round(gen["rows"]["T2M-GPT sampled"]["dtw_mje"], 4)
            choice = min(val, key=lambda k: (val[k], k != "all"))  # a tie keeps every layer
            out["val_dtw_mje"] = val
    update_checkpoint(path, KIND, decode_layers=choice)
    out["chosen"] = choice
    return out


def _pretrained_on(vq_ckpt: dict) -> dict | None:
    """What the VQ-VAE was pretrained on (``train vqvae --pretrain``), None when it was not."""
    pre = vq_ckpt.get("pretrain")
    return {k: pre.get(k) for k in ("datasets", "counts", "excluded_signers")} if pre else None


def _plain_cross_entropy(model, mcfg, train_items, val_items, test_items, table) -> dict:
    ce = {"val": cross_entropy(model, val_items, table), "test": cross_entropy(model, test_items, table) if test_items else None,
          "unigram_val": unigram_cross_entropy(train_items, val_items, mcfg.codebook_size, mcfg.max_tokens),
          "unigram_test": unigram_cross_entropy(train_items, test_items, mcfg.codebook_size, mcfg.max_tokens)
          if test_items else None}
    if test_items:  # the text of another word: does the model use the text at all?
        ce["test_wrong_text"] = cross_entropy(model, with_wrong_text(test_items), table)
    if mcfg.cond_drop > 0:  # the null condition: how much the text helps
        ce["val_without_text"] = cross_entropy(model, val_items, table, uncond=True)
        if test_items:
            ce["test_without_text"] = cross_entropy(model, test_items, table, uncond=True)
    return ce


def _finish_report(cfg, report, path, device, split, t0) -> dict:
    if cfg.evaluate and split.test:
        from t2m_gpt.evaluate import evaluate_generation
        from t2m_gpt.producer import GenerativeProducer
        te = time.perf_counter()
        prod = GenerativeProducer(checkpoint=path, device=str(device))
        report["generation"] = evaluate_generation(prod, split, samples=cfg.eval_samples, progress=cfg.progress)
        report["generation_seconds"] = round(time.perf_counter() - te, 1)
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    report["peak_memory_mb"] = round(peak_memory_mb())
    from syrisign.ml.distributed import is_main
    from syrisign.pose import atomic_write_bytes
    if is_main():  # data parallel: the main process alone writes
        atomic_write_bytes(path.with_suffix(".metrics.json"), json.dumps(report, indent=2, ensure_ascii=False).encode())
    return report


# -- command line ------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Train the text-conditioned GPT over motion tokens (T2M-GPT stage 2) on the VQ-VAE of the same "
                     "dataset; reports test cross-entropy beside the unigram baseline and DTW-MJE of generated signs. "
                     "For a GPU e.g. --n-layer 8 --n-embd 512 --n-head 8 --batch-size 128.")
    add_common_arguments(p, epochs=80, batch_size=32, lr=5e-4, patience=12, max_minutes=12.0)
    m = p.add_argument_group("model")
    m.add_argument("--vqvae", default=None, help="VQ-VAE checkpoint (default: $SYRISIGN_HOME/checkpoints/vqvae-<dataset>.pt)")
    m.add_argument("--text-encoder", default="use",
                   help="frozen text encoder: use (multilingual, 512-d), e5, minilm, t5:<local dir> (e.g. AraT5), "
                        "or retrieval:<checkpoint> (a retrieval model's text tower: the shared text-pose space)")
    m.add_argument("--generator", default="gpt", choices=["gpt", "masked"],
                   help="base-token generator: gpt (autoregressive, T2M-GPT) or masked (MoMask: masked transformer, "
                        "cosine schedule, iterative decoding); a residual VQ-VAE adds the residual transformer")
    m.add_argument("--mask-steps", type=int, default=10, help="iterative decoding steps of the masked generator")
    m.add_argument("--residual-layers", type=int, default=2, help="transformer layers of the residual-token predictor")
    m.add_argument("--n-layer", type=int, default=3)
    m.add_argument("--n-head", type=int, default=4)
    m.add_argument("--n-embd", type=int, default=128)
    m.add_argument("--dropout", type=float, default=0.1)
    m.add_argument("--max-tokens", type=int, default=64, help="longest motion in tokens (x4 frames)")
    m.add_argument("--corrupt-prob", type=float, default=0.3, help="share of input codes replaced by random codes")
    m.add_argument("--cond-drop", type=float, default=0.1,
                   help="share of training steps without text (enables classifier-free guidance; 0 = off)")
    m.add_argument("--augment-copies", type=int, default=2,
                   help="extra token sequences per recording from rotated/scaled/stretched poses")
    e = p.add_argument_group("evaluation")
    e.add_argument("--no-eval", action="store_true", help="skip the DTW-MJE evaluation of generated signs")
    e.add_argument("--eval-samples", type=int, default=3, help="generated samples per word for DTW-MJE")
    m.add_argument("--decode-layers", default="auto", choices=["auto", "all", "base"],
                   help="residual VQ-VAE: decode the generated signs from every layer (the residual transformer's "
                        "tokens too) or the base tokens alone; auto: the better on the training signers' validation "
                        "recordings, measured after training")


def main(args) -> int:
    quiet_threads()
    cfg = T2MTrainConfig(
        dataset=args.dataset, vqvae=args.vqvae, text_encoder=args.text_encoder, augment_copies=args.augment_copies,
        out=args.out, fresh=args.fresh, progress=not args.no_progress, evaluate=not args.no_eval,
        eval_samples=args.eval_samples, decode_layers=args.decode_layers,
        model={"n_layer": args.n_layer, "n_head": args.n_head, "n_embd": args.n_embd, "dropout": args.dropout,
               "max_tokens": args.max_tokens, "corrupt_prob": args.corrupt_prob, "cond_drop": args.cond_drop,
               "generator": args.generator, "mask_steps": args.mask_steps, "residual_layers": args.residual_layers},
        train=train_overrides(args))
    if args.test_signers is not None or args.val_frac != 0.1:
        print("note: the GPT uses the held-out signers and validation share of its VQ-VAE", file=sys.stderr)
    report = train_t2m(cfg)
    print_report(report)
    return 0


def print_report(r: dict) -> None:
    ce = r["cross_entropy"]
    if "val_loss" in ce:
        print(f"generator {r.get('generator')} x{r.get('num_quantizers')} {r['dataset']} ({r['layout']}"
              + (", retargeted" if r.get("retarget") else "") + f"): best epoch {r['best_epoch']} of "
              f"{r['epochs_run']} ({r['stopped']}), {r['train_seconds'] / 60:.1f} min training, peak memory "
              f"{r['peak_memory_mb']} MB; loss val {ce['val_loss']:.3f}"
              + (f", test {ce['test_loss']:.3f}" if ce.get("test_loss") is not None else ""))
        dl = r.get("decode_layers")
        if dl:
            val = dl.get("val_dtw_mje")
            print(f"  decoded from {'every layer' if dl['chosen'] == 'all' else 'the base tokens alone'}"
                  + (f" (validation DTW-MJE: every layer {val['all']:.4f}, base tokens {val['base']:.4f})" if val
                     else f" ({dl.get('note') or 'as asked'})"))
        gen = r.get("generation")
        if gen:
            from t2m_gpt.evaluate import format_table
            print(format_table(gen))
        print(f"  checkpoint: {r['checkpoint']}")
        return
    print(f"T2M-GPT {r['dataset']} ({r['layout']}): best epoch {r['best_epoch']} of {r['epochs_run']} "
          f"({r['stopped']}), {r['train_seconds'] / 60:.1f} min training, peak memory {r['peak_memory_mb']} MB")
    print(f"  cross-entropy (nats/token): val {ce['val']:.3f} (unigram {ce['unigram_val']:.3f}"
          + (f", without text {ce['val_without_text']:.3f}" if "val_without_text" in ce else "") + ")"
          + (f", test {ce['test']:.3f} (unigram {ce['unigram_test']:.3f}" if ce.get("test") is not None else "")
          + (f", without text {ce['test_without_text']:.3f}" if "test_without_text" in ce else "")
          + (f", another word's text {ce['test_wrong_text']:.3f}" if "test_wrong_text" in ce else "")
          + (")" if ce.get("test") is not None else ""))
    gen = r.get("generation")
    if gen:
        from t2m_gpt.evaluate import format_table
        print(format_table(gen))
    print(f"  checkpoint: {r['checkpoint']}")
