"""``syrisign train motionclip``: train the MotionCLIP motion autoencoder aligned with a frozen text encoder.

The checkpoint ``$SYRISIGN_HOME/checkpoints/motionclip-<dataset>.pt`` holds the model config,
the best weights, the feature config, the training split, a *class bank* (per class: label
texts, typical length, mean motion latent) used for generation lengths and retrieval, and the
training state (a rerun resumes; ``--fresh`` starts over). A loss curve is written beside it.

torch is imported inside the functions only, so that ``syrisign --help`` stays fast.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path

KIND = "motionclip"


def default_checkpoint(dataset: str) -> Path:
    from syrisign.settings import get_settings
    return get_settings().checkpoint(f"motionclip-{Path(dataset).name}.pt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="karsl-words", help="dataset name or directory (default karsl-words)")
    g.add_argument("--layout", default="auto",
                   help="pose layout (auto: face-less upper65 for MediaPipe, kinect20 for ISL; or e.g. syrisign193)")
    g.add_argument("--fps", type=float, default=12.5, help="model frame rate (default 12.5)")
    g.add_argument("--max-frames", type=int, default=48,
                   help="longer recordings are subsampled evenly to this many frames")
    g.add_argument("--test-signers", default=None,
                   help="comma-separated held-out signers (default: 03 for karsl-words, apurve,rajat for isl; "
                        "'none' trains on every signer, 'manifest' uses the manifest's split)")
    g.add_argument("--val-frac", type=float, default=0.1)
    g.add_argument("--joints", choices=["auto", "upper", "all"], default="auto",
                   help="auto/upper: leave out the Kinect lower body (legs); all: every joint of the layout")
    g.add_argument("--text-encoder", default="use", help="frozen text encoder (use, e5, minilm, t5:<dir>)")
    g.add_argument("--no-augment", action="store_true", help="train without spatial/temporal augmentation")
    m = p.add_argument_group("model")
    m.add_argument("--d-model", type=int, default=128)
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--enc-layers", type=int, default=3)
    m.add_argument("--dec-layers", type=int, default=3)
    m.add_argument("--dropout", type=float, default=0.1)
    m.add_argument("--latent-dim", type=int, default=0, help="0 = the text encoder's size (shared space)")
    m.add_argument("--text-map", choices=["direct", "mlp"], default=None,
                   help="text->latent map for generation (default mlp: measured better, see results/motionclip.md)")
    for name, default in (("w-recon", 1.0), ("w-vel", 1.0), ("w-latent", 1e-3), ("w-align", 0.5), ("w-map", 1.0)):
        m.add_argument(f"--{name}", type=float, default=None, help=f"loss weight (default {default})")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--patience", type=int, default=12)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cuda, cpu ...")
    t.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0 = automatic: the cores other work leaves free, at least 1)")
    t.add_argument("--max-minutes", type=float, default=18.0, help="time budget (0 = none)")
    t.add_argument("--out", default=None, help="checkpoint path (default $SYRISIGN_HOME/checkpoints/motionclip-<dataset>.pt)")
    t.add_argument("--fresh", action="store_true", help="start over instead of resuming an existing checkpoint")
    t.add_argument("--no-progress", action="store_true")


def auto_threads(requested: int = 0) -> int:
    """CPU threads for torch: ``requested`` if given, else the cores not busy with other work.

    On a shared 2-core machine running other jobs, 2 torch threads made a training step ~25x
    slower than 1 thread (threads wait for each other while the cores are taken), so a busy
    machine gets one thread.
    """
    import os
    if requested > 0:
        return requested
    n = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(n, int(n - busy + 0.5)))


def default_epochs(n_train: int) -> int:
    """About 2000 optimizer steps at batch 32, between 40 and 150 epochs: small sets get more epochs."""
    return int(min(150, max(40, round(2000 * 32 / max(1, n_train)))))


def parse_test_signers(value: str | None) -> list[str] | str | None:
    """``--test-signers``: None (dataset default), "none", "manifest", or a comma-separated list."""
    if value is None:
        return None
    v = value.strip()
    if v.lower() in ("none", ""):
        return "none"
    if v.lower() == "manifest":
        return "manifest"
    return [s.strip() for s in v.split(",") if s.strip()]


class _Items:
    """Training items with on-the-fly augmentation: ``(x (T, J, 3), mask (T, J), label index)``."""

    def __init__(self, arrays, labels, layout: str, augment_cfg=None, seed: int = 0):
        import numpy as np
        self.arrays, self.labels, self.layout, self.aug = arrays, labels, layout, augment_cfg
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i):
        from syrisign.ml.features import augment
        x, m = self.arrays[i]
        if self.aug is not None:
            x, m = augment(x, m, self.layout, self.aug, self.rng)
        return x, m, self.labels[i]


def make_collate(text_table, max_frames: int):
    """Pad a list of items to ``x (B, T, J, 3)``, ``mask (B, T, J)``, ``frames (B, T)``, ``text (B, D)``."""
    import torch

    from syrisign.ml.features import collate
    table = torch.as_tensor(text_table, dtype=torch.float32)

    def fn(items):
        items = [(x[:max_frames], m[:max_frames], k) for x, m, k in items]
        x, m, f = collate([(x, m) for x, m, _ in items])
        return x, m, f, table[torch.tensor([k for _, _, k in items])]
    return fn


def encode_arrays(model, arrays, batch_size: int = 64):
    """Motion latents ``(N, D)`` (numpy) of prepared arrays, in eval mode."""
    import numpy as np
    import torch

    from syrisign.ml.features import collate
    dev = next(model.parameters()).device
    out = []
    was = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(arrays), batch_size):
            x, m, f = collate(arrays[i:i + batch_size])
            out.append(model.encode_motion(x.to(dev), m.to(dev), f.to(dev)).cpu().numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros((0, model.cfg.latent_dim), np.float32)


def class_bank(model, arrays, samples, fps: float) -> dict:
    """Per class of the training set: labels, median length (frames at the model fps), mean latent."""
    import numpy as np

    from motionclip.data import label_text
    lat = encode_arrays(model, arrays)
    keys = sorted({s.class_key for s in samples})
    bank = {"keys": keys, "label_ar": [], "label_en": [], "text": [], "length": [], "latent": [], "count": []}
    for k in keys:
        idx = [i for i, s in enumerate(samples) if s.class_key == k]
        s0 = samples[idx[0]]
        bank["label_ar"].append(s0.label_ar)
        bank["label_en"].append(s0.label_en)
        bank["text"].append(label_text(s0))
        bank["length"].append(int(np.median([len(arrays[i][0]) for i in idx])))
        bank["latent"].append(lat[idx].mean(0).astype(np.float32))
        bank["count"].append(len(idx))
    bank["latent"] = np.stack(bank["latent"]).tolist()
    bank["default_length"] = int(np.median([len(a[0]) for a in arrays]))
    bank["fps"] = fps
    return bank


def main(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from motionclip.data import apply_keep, joint_keep, label_text, load_arrays, make_split, open_dataset
    from motionclip.model import MotionCLIP, MotionCLIPConfig
    from syrisign.ml.checkpoint import config_to_dict, load_checkpoint, save_checkpoint
    from syrisign.ml.features import AugmentConfig, FeatureConfig, Standardizer, default_layout
    from syrisign.ml.text import get_text_encoder
    from syrisign.ml.trainer import Trainer, TrainConfig

    progress = not args.no_progress
    ds = open_dataset(args.dataset)
    dname = ds.root.name
    layout = args.layout
    if layout == "auto":  # measured: face-less upper65 retrieves and reconstructs hands better than syrisign193
        layout = default_layout(sorted({s.skeleton for s in ds.samples}))
        layout = "upper65" if layout == "syrisign193" else layout
    fcfg = FeatureConfig(layout=layout, fps=args.fps, max_frames=args.max_frames)
    ts = parse_test_signers(args.test_signers)
    split = make_split(ds, ts, args.val_frac, args.seed)
    train_arr, train_s = load_arrays(ds, split.train, fcfg, progress, "train poses")
    val_arr, val_s = load_arrays(ds, split.val, fcfg, progress, "val poses")
    stats = Standardizer.fit(train_arr)  # on every joint, so that left-out joints decode to their mean
    keep = joint_keep(layout, args.joints)
    train_arr, val_arr = apply_keep(train_arr, keep), apply_keep(val_arr, keep)

    enc = get_text_encoder(args.text_encoder)
    texts = sorted({label_text(s) for s in train_s + val_s})
    table = enc.encode(texts)  # (C, text_dim)
    tindex = {t: i for i, t in enumerate(texts)}
    text_dim = int(table.shape[1])

    mcfg = MotionCLIPConfig(n_joints=train_arr[0][0].shape[1], d_model=args.d_model, n_heads=args.heads,
                            enc_layers=args.enc_layers, dec_layers=args.dec_layers, dropout=args.dropout,
                            text_dim=text_dim, latent_dim=args.latent_dim or text_dim)
    if args.text_map:
        mcfg.text_map = args.text_map
    for f in fields(MotionCLIPConfig):
        v = getattr(args, f.name, None)
        if f.name.startswith("w_") and v is not None:
            setattr(mcfg, f.name, v)
    model = MotionCLIP(mcfg)
    model.set_stats(stats.mean, stats.std)

    epochs = args.epochs or default_epochs(len(train_arr))
    tcfg = TrainConfig(epochs=epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience, seed=args.seed,
                       device=args.device, max_minutes=args.max_minutes, threads=auto_threads(args.threads),
                       monitor="val_loss")
    out = Path(args.out) if args.out else default_checkpoint(dname)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.fresh and out.exists():
        out.unlink()

    items = _Items(train_arr, [tindex[label_text(s)] for s in train_s], layout,
                   None if args.no_augment else AugmentConfig(), seed=args.seed)
    collate_fn = make_collate(table, args.max_frames)
    if not val_arr:  # no validation share: monitor the (unaugmented) training recordings instead
        val_arr, val_s = train_arr, train_s
    val_batches = [collate_fn([(x, m, tindex[label_text(s)]) for (x, m), s in
                               zip(val_arr[i:i + 64], val_s[i:i + 64])]) for i in range(0, len(val_arr), 64)]

    def step(model, batch):
        x, m, f, t = batch
        _, _, losses = model(x, m, f, t)
        return losses["total"], {k: v.detach() for k, v in losses.items() if k != "total"}

    val_labels = [tindex[label_text(s)] for s in val_s]

    def validate(model) -> dict:
        return validation_metrics(model, val_batches, table, val_labels)

    extra = {"features": asdict(fcfg), "dataset": dname, "text_encoder": args.text_encoder,
             "split": {"test_signers": split.test_signers if ts != "manifest" else "manifest",
                       "val_frac": args.val_frac, "seed": args.seed,
                       "counts": {"train": len(train_s), "val": len(val_s), "test": len(split.test)}},
             "label_field": "label_ar" if any(s.label_ar for s in train_s) else "label_en",
             "stats": stats.state(), "keep_joints": keep.tolist()}
    trainer = Trainer(model, tcfg, items, step, validate, out, KIND, mcfg, checkpoint_extra=lambda: extra,
                      collate_fn=collate_fn, progress=progress)
    resumed = False if args.fresh else trainer.resume()
    if resumed and progress:
        print(f"resuming {out} at epoch {trainer.start_epoch}")
    if progress:
        print(f"motionclip on {dname}: {len(train_s)} train / {len(val_s)} val / {len(split.test)} test samples "
              f"(held-out signers {split.test_signers or '-'}), layout {layout} ({mcfg.n_joints} joints), "
              f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {epochs} epochs, "
              f"device {trainer.device}")
    result = trainer.fit()

    # the class bank (lengths and mean latents per class) from the best weights, then the final file
    best = trainer._unwrapped()
    best.eval()
    bank = class_bank(best, train_arr, train_s, fcfg.fps)
    ckpt = load_checkpoint(out, KIND)
    ckpt["model"] = {k: v.detach().cpu() for k, v in best.state_dict().items()}
    ckpt["class_bank"] = bank
    ckpt["result"] = {"best_epoch": result.best_epoch, "best_val_loss": result.best, "epochs_run": result.epochs_run,
                      "seconds": round(result.seconds, 1), "stopped": result.stopped}
    rest = {k: v for k, v in ckpt.items() if k not in ("kind", "format_version", "config", "model")}
    from syrisign.ml.distributed import is_main
    if is_main():  # data parallel: the main process alone writes
        save_checkpoint(out, KIND, config_to_dict(mcfg), ckpt["model"], **rest)
    last = result.history[-1] if result.history else {}
    summary = {"checkpoint": str(out), **ckpt["result"],
               **{k: round(v, 4) for k, v in last.items() if k.startswith("val_") and isinstance(v, float)}}
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def validation_metrics(model, batches, table, label_idx) -> dict:
    """Loss terms, MPJPE (shoulder widths) and motion->text R@1 among the validation texts."""
    import numpy as np
    import torch
    dev = next(model.parameters()).device
    sums, n, err, cnt, lats = {}, 0, 0.0, 0.0, []
    for x, m, f, t in batches:
        x, m, f, t = x.to(dev), m.to(dev), f.to(dev), t.to(dev)
        y, lat, losses = model(x, m, f, t)
        b = x.shape[0]
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v) * b
        n += b
        w = (m & f[..., None]).float()
        err += float(((y - x).norm(dim=-1) * w).sum())
        cnt += float(w.sum())
        lats.append(lat)
    out = {f"val_{'loss' if k == 'total' else k}": v / max(1, n) for k, v in sums.items()}
    out["val_mpjpe"] = err / max(1.0, cnt)
    if lats:
        used = sorted(set(label_idx))
        sim = model.text_similarity(torch.cat(lats), torch.as_tensor(np.asarray(table)[used], device=dev))
        gold = torch.as_tensor([used.index(i) for i in label_idx], device=dev)
        out["val_m2t_r1"] = float((sim.argmax(1) == gold).float().mean())
    return out
