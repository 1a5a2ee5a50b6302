"""``syrisign train vqvae``: train the motion VQ-VAE (T2M-GPT stage 1) and report it on held-out signers.

Importing this module does not import torch (the CLI imports it to build its parser).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError

KIND = "vqvae"


@dataclass
class VQTrainConfig:
    dataset: str = "karsl-words"
    test_signers: list[str] | None = None  # None: the dataset's default held-out signers
    layout: str | None = None  # None: the dataset's default layout (syrisign193 for MediaPipe)
    fps: float = 25.0
    window: int = 64  # training window in frames (64/84/168); shorter samples are used whole
    val_frac: float = 0.1
    augment: bool = True
    arm_deg: float = 15.0  # augmentation: each arm turned about its shoulder by up to this (a new signer's style)
    retarget: bool = True  # every clip on the reference body and its dominant hand (vqvae.data)
    exclude_classes: list[str] = field(default_factory=list)  # class keys left out entirely (zero-shot)
    out: str | None = None  # checkpoint path; default $SYRISIGN_HOME/checkpoints/vqvae-<dataset>.pt
    fresh: bool = False
    progress: bool = True
    model: dict = field(default_factory=dict)  # VQVAEConfig overrides
    train: dict = field(default_factory=dict)  # TrainConfig overrides
    # pretraining (the motion prior): first train on these datasets' recordings together with this dataset's
    # training split (never its held-out signers), then fine-tune on this dataset alone
    pretrain: list[str] = field(default_factory=list)
    pretrain_train: dict = field(default_factory=dict)  # TrainConfig overrides of the pretraining stage
    pretrain_out: str | None = None  # default: <out>.pretrain.pt beside the fine-tuned checkpoint


def default_checkpoint(dataset: str, kind: str = "vqvae") -> Path:
    from syrisign.settings import get_settings
    return get_settings().checkpoints / f"{kind}-{Path(dataset).name}.pt"


def quiet_threads() -> None:
    """Let idle OpenMP threads sleep instead of spinning: on a CPU shared with other processes a spinning
    2-thread pool made a VQ-VAE step 20x slower (9.4 s vs 0.42 s measured). Effective only before torch loads."""
    import os
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    elif "OMP_WAIT_POLICY" not in os.environ:
        print("note: on a shared CPU run with OMP_WAIT_POLICY=PASSIVE in the environment (or --threads 1); "
              "spinning OpenMP threads can slow training many times", file=sys.stderr)


def peak_memory_mb() -> float:
    """Peak resident memory of this process (and finished children) in MB."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return float(r * scale)


# -- data ------------------------------------------------------------------------------------------
class WindowData:
    """Map-style training data: a random window of each sample (and optional augmentation) per visit."""

    def __init__(self, items, window: int, layout: str, augment: bool, seed: int, arm_deg: float = 0.0):
        self.items, self.window, self.layout, self.augment = items, window, layout, augment
        self.arm_deg = arm_deg
        self.seed = seed
        self.visits = np.zeros(len(items), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        from syrisign.ml.features import AugmentConfig, augment
        from vqvae.data import crop
        import torch
        # the window and augmentation of a sample depend on (seed, sample, visit), not on which process
        # or in which order it is read: data-parallel ranks draw independent windows, and N processes
        # with batch B see what one process sees with batch N * B (a loader worker adds its own seed,
        # since its copy of the visit counts starts over every epoch)
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng((self.seed, i, int(self.visits[i]), info.seed if info else 0))
        self.visits[i] += 1
        it = self.items[i]
        x, m = it.x, it.mask
        if self.augment:
            cfg = AugmentConfig(speed=0.15, drop_frame_p=0.0, arm_deg=self.arm_deg)
            x, m = augment(x, m, self.layout, cfg, rng)
        return crop(x, m, self.window, rng)


def batches(items, batch_size: int):
    """Items sorted by length in batches (less padding), each a collated ``(x, joint mask, frame mask)``."""
    from syrisign.ml.features import collate
    order = sorted(range(len(items)), key=lambda i: len(items[i].x))
    for k in range(0, len(order), batch_size):
        chunk = order[k:k + batch_size]
        yield chunk, collate([(items[i].x, items[i].mask) for i in chunk])


def evaluate_vqvae(model, items, batch_size: int = 64) -> dict:
    """MPJPE (shoulder widths; overall and per skeleton component), perplexity, usage, commitment, loss."""
    import torch

    from syrisign.skeletons import get_skeleton
    from vqvae.metrics import code_counts, perplexity, usage
    cfg = model.cfg
    dev = next(model.parameters()).device
    comps = get_skeleton(cfg.layout).slices
    err_sum, err_n, err2_sum = 0.0, 0, 0.0
    static_sum, static2_sum, mean_sum = 0.0, 0.0, 0.0  # baselines: each sequence's own mean pose held still; the training mean pose
    comp_sum = {c: 0.0 for c in comps}
    comp_n = {c: 0 for c in comps}
    loss_sum, commit_sum, pose_sum, nb = 0.0, 0.0, 0.0, 0
    all_idx = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for _, (x, jm, fm) in batches(items, batch_size):
            x, jm, fm = x.to(dev), jm.to(dev), fm.to(dev)
            out = model(x, jm, fm)
            jm = jm & fm.unsqueeze(-1)
            d = torch.linalg.vector_norm(out.recon.float() - x, dim=-1)  # (b, t, j)
            err_sum += float((d * jm).sum())
            err2_sum += float((torch.linalg.vector_norm(out.recon.float()[..., :2] - x[..., :2], dim=-1) * jm).sum())
            w = jm.unsqueeze(-1).float()
            own = (x * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp(min=1)  # (b, 1, j, 3)
            static_sum += float((torch.linalg.vector_norm(x - own, dim=-1) * jm).sum())
            static2_sum += float((torch.linalg.vector_norm(x[..., :2] - own[..., :2], dim=-1) * jm).sum())
            mean_sum += float((torch.linalg.vector_norm(x - model.mean, dim=-1) * jm).sum())
            err_n += int(jm.sum())
            for c, sl in comps.items():
                comp_sum[c] += float((d[:, :, sl] * jm[:, :, sl]).sum())
                comp_n[c] += int(jm[:, :, sl].sum())
            loss_sum += float(out.loss)
            commit_sum += out.logs["commit"]
            pose_sum += out.logs["pose"]
            nb += 1
            all_idx.append(out.indices[out.token_mask].cpu().numpy())  # (N,) or (N, q)
    model.train(was_training)
    flat = np.concatenate(all_idx) if all_idx else np.zeros((0,) + ((cfg.num_quantizers,) if cfg.residual else ()), int)
    layers = [code_counts(flat[:, k], cfg.codebook_size) for k in range(flat.shape[1])] if flat.ndim == 2 else None
    counts = layers[0] if layers else code_counts(flat, cfg.codebook_size)  # the base layer for a residual VQ
    res = {"loss": loss_sum / max(nb, 1), "pose_loss": pose_sum / max(nb, 1), "mpjpe": err_sum / max(err_n, 1),
           "mpjpe_2d": err2_sum / max(err_n, 1), "mpjpe_own_static_pose": static_sum / max(err_n, 1),
           "mpjpe_2d_own_static_pose": static2_sum / max(err_n, 1),
           "mpjpe_training_mean_pose": mean_sum / max(err_n, 1),
           "perplexity": perplexity(counts), "usage": usage(counts), "commit": commit_sum / max(nb, 1),
           "tokens": int(counts.sum()), "samples": len(items)}
    if layers:
        res["perplexity_layers"] = [perplexity(c) for c in layers]
        res["usage_layers"] = [usage(c) for c in layers]
    if len(comps) > 1:
        res["mpjpe_by_component"] = {c: comp_sum[c] / comp_n[c] for c in comps if comp_n[c]}
    return res


# -- training ------------------------------------------------------------------------------------
def train_vqvae(cfg: VQTrainConfig) -> dict:
    """Train (or resume) and evaluate; returns the report that is also written as JSON beside the checkpoint."""
    import torch
    from accelerate import PartialState

    from syrisign.ml.checkpoint import config_to_dict, load_checkpoint
    from syrisign.ml.features import Standardizer
    from syrisign.ml.trainer import Trainer, TrainConfig
    from syrisign.skeletons import get_skeleton
    from vqvae.data import load_split
    from vqvae.model import MotionVQVAE, VQVAEConfig

    t0 = time.perf_counter()
    PartialState()  # sets up the process group first under `accelerate launch`, so the codebook syncs across GPUs
    tcfg = TrainConfig(**{"epochs": 150, "batch_size": 16, "lr": 1e-3, "patience": 20, "monitor": "val_loss",
                          "weight_decay": 0.0, **cfg.train})
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    split = load_split(cfg.dataset, cfg.test_signers, cfg.layout, cfg.fps, cfg.val_frac, tcfg.seed,
                       progress=cfg.progress, retarget=cfg.retarget, exclude_classes=cfg.exclude_classes or None)
    layout = split.features.layout
    mcfg = VQVAEConfig(**{**cfg.model, "layout": layout, "num_joints": get_skeleton(layout).num_joints,
                          "fps": split.features.fps})
    pool, pre_desc = split.train, None
    if cfg.pretrain:
        from vqvae.data import load_pretrain
        others = [d for d in cfg.pretrain if Path(d).name != split.dataset]  # this dataset joins as its training split
        extra_items, pre_desc = load_pretrain(others, split.features, split.test_signers, split.body,
                                              progress=cfg.progress)
        pool = split.train + extra_items
        pre_desc = {**pre_desc, "requested": list(cfg.pretrain),
                    "counts": {f"{split.dataset} (training split)": len(split.train), **pre_desc["counts"]}}
    # with pretraining the statistics are those of all the pretraining recordings, kept by the fine-tuning
    stats = Standardizer.fit([(it.x, it.mask) for it in pool], min_std=0.05)
    from syrisign.ml.device import seed_everything
    seed_everything(tcfg.seed)  # the same initial weights on every run and every process
    model = MotionVQVAE(mcfg)
    model.set_stats(stats.mean, stats.std)

    path = Path(cfg.out) if cfg.out else default_checkpoint(split.dataset)
    ppath = Path(cfg.pretrain_out) if cfg.pretrain_out else path.with_name(path.stem + ".pretrain.pt")
    if path.is_file() and not cfg.fresh:
        old = load_checkpoint(path, KIND)
        if old.get("config") != config_to_dict(mcfg) or old.get("features") != asdict(split.features) \
                or bool(old.get("retarget")) != cfg.retarget \
                or list((old.get("pretrain") or {}).get("requested", [])) != list(cfg.pretrain):
            raise SyriSignError(f"{path} holds a VQ-VAE with another configuration; add --fresh to replace it "
                                f"or --out to write elsewhere")
    elif cfg.fresh:
        for p in (path, ppath if cfg.pretrain else None):
            if p is not None and p.is_file():
                p.unlink()

    def step(m, batch):
        x, jm, fm = batch
        out = m(x, jm, fm)
        return out.loss, {k: v for k, v in out.logs.items() if k != "mpjpe"}

    def validate(m):
        r = evaluate_vqvae(m, split.val)
        return {"val_loss": r["loss"], "val_mpjpe": r["mpjpe"], "val_perplexity": r["perplexity"],
                "val_usage": r["usage"], "val_commit": r["commit"]}

    def extra():
        return {"stats": stats.state(), "features": asdict(split.features), "split": split.describe,
                "retarget": cfg.retarget, "reference_body": split.body, "pretrain": pretrained,
                "run": {k: v for k, v in asdict(cfg).items() if k not in ("model", "train")}}

    from syrisign.ml.features import collate
    pretrained = None
    if cfg.pretrain:
        pretrained = pretrain_stage(cfg, model, mcfg, tcfg, pool, pre_desc, ppath, path, step, validate, extra)
        seed_everything(tcfg.seed)
        model = MotionVQVAE(mcfg)
        model.load_state_dict(load_checkpoint(ppath, KIND)["model"])  # the fine-tuning starts from the prior
    data = WindowData(split.train, cfg.window, layout, cfg.augment, tcfg.seed, cfg.arm_deg)
    trainer = Trainer(model, tcfg, data, step, validate, path, KIND, mcfg, checkpoint_extra=extra,
                      collate_fn=collate, progress=cfg.progress)
    resumed = trainer.resume()
    if resumed and cfg.progress:
        print(f"resuming {path} after epoch {trainer.start_epoch - 1}", file=sys.stderr)
    result = trainer.fit()
    model = trainer._unwrapped().eval()
    test = evaluate_vqvae(model, split.test) if split.test else {}
    val = evaluate_vqvae(model, split.val)
    report = {"checkpoint": str(path), "dataset": split.dataset, "split": split.describe, "layout": layout,
              "config": config_to_dict(mcfg), "train_config": asdict(tcfg),
              "window": cfg.window, "retarget": cfg.retarget, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "stopped": result.stopped, "train_seconds": round(result.seconds, 1), "resumed": resumed,
              "total_seconds": round(time.perf_counter() - t0, 1), "peak_memory_mb": round(peak_memory_mb()),
              "threads": torch.get_num_threads(), "device": str(trainer.device), "pretrain": pretrained,
              "val": val, "test": test}
    from syrisign.ml.distributed import is_main
    from syrisign.pose import atomic_write_bytes
    if is_main():  # data parallel: the main process alone writes
        atomic_write_bytes(path.with_suffix(".metrics.json"), json.dumps(report, indent=2, ensure_ascii=False).encode())
    return report


def pretrain_stage(cfg: VQTrainConfig, model, mcfg, tcfg, pool, pre_desc: dict, ppath: Path, path: Path,
                   step, validate, extra) -> dict:
    """Train ``model`` on the pretraining pool (validated on the fine-tuning dataset's validation clips) into
    ``ppath`` with its own budget; resumable, and skipped once finished. Returns what the fine-tuned checkpoint
    records of it."""
    from dataclasses import replace

    from syrisign.ml.checkpoint import config_to_dict, load_checkpoint
    from syrisign.ml.features import collate
    from syrisign.ml.trainer import Trainer
    ptcfg = replace(tcfg, **cfg.pretrain_train)
    if ppath.is_file():
        old = load_checkpoint(ppath, KIND)
        if old.get("config") != config_to_dict(mcfg) or (old.get("pretrain") or {}).get("requested") != pre_desc["requested"] \
                or bool(old.get("retarget")) != cfg.retarget:
            raise SyriSignError(f"{ppath} holds a pretrained VQ-VAE of another configuration; add --fresh")
        if (old.get("pretrain") or {}).get("finished"):
            return old["pretrain"]
    elif path.is_file():  # a fine-tuning without its prior cannot go on
        raise SyriSignError(f"{path} was fine-tuned from {ppath}, which is gone; add --fresh")
    done: dict = {}

    def pextra():
        return {**extra(), "pretrain": {**pre_desc, "checkpoint": str(ppath), **done}}

    data = WindowData(pool, cfg.window, mcfg.layout, cfg.augment, ptcfg.seed, cfg.arm_deg)
    trainer = Trainer(model, ptcfg, data, step, validate, ppath, KIND, mcfg, checkpoint_extra=pextra,
                      collate_fn=collate, progress=cfg.progress)
    resumed = trainer.resume()
    if cfg.progress:
        n = ", ".join(f"{k} {v}" for k, v in pre_desc["counts"].items())
        print(f"pretraining on {len(pool)} recordings ({n})" + (f", resuming {ppath} after epoch "
              f"{trainer.start_epoch - 1}" if resumed else ""), file=sys.stderr)
    r = trainer.fit()
    done.update({"finished": True, "best_epoch": r.best_epoch, "epochs_run": r.epochs_run, "stopped": r.stopped,
                 "train_seconds": round(r.seconds, 1),  # of the last run when resumed
                 "best_val_loss": r.best, "resumed": resumed, "train_config": asdict(ptcfg)})
    trainer._save(r.epochs_run)  # the best weights, marked finished
    return {**pre_desc, "checkpoint": str(ppath), **done}


# -- command line ------------------------------------------------------------------------------------
def _signers(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_common_arguments(p: argparse.ArgumentParser, epochs: int, batch_size: int, lr: float, patience: int,
                         max_minutes: float = 15.0) -> None:
    """Options every T2M-GPT stage shares (data, split, device, budget, checkpoint)."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="karsl-words", help="dataset name or path (default: karsl-words)")
    g.add_argument("--test-signers", type=_signers, default=None, metavar="A,B",
                   help="held-out signers (default: 03 for karsl-words, apurve,rajat for isl)")
    g.add_argument("--val-frac", type=float, default=0.1, help="share of the training signers' samples for validation")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=epochs)
    t.add_argument("--batch-size", type=int, default=batch_size)
    t.add_argument("--lr", type=float, default=lr)
    t.add_argument("--patience", type=int, default=patience, help="epochs without improvement before stopping")
    t.add_argument("--max-minutes", type=float, default=max_minutes,
                   help=f"time budget of the training loop (default {max_minutes:g}, so that a CPU run stays under "
                        "20 minutes; 0 = none)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cuda, cuda:1, mps, cpu")
    t.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "fp16", "bf16"])
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    t.add_argument("--num-workers", type=int, default=0, help="data loader worker processes")
    t.add_argument("--out", default=None, help="checkpoint path (default: $SYRISIGN_HOME/checkpoints/<kind>-<dataset>.pt)")
    t.add_argument("--fresh", action="store_true", help="start over instead of resuming an existing checkpoint")
    t.add_argument("--no-progress", action="store_true")


def train_overrides(args) -> dict:
    return {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "patience": args.patience,
            "max_minutes": args.max_minutes, "seed": args.seed, "device": args.device,
            "mixed_precision": args.mixed_precision, "threads": args.threads, "num_workers": args.num_workers}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Train the motion VQ-VAE (T2M-GPT stage 1) on a dataset, holding out signers for the test. "
                     "Defaults are sized for a CPU; for a GPU e.g. --codebook-size 512 --code-dim 512 --width 512 "
                     "--depth 3 --batch-size 256.")
    add_common_arguments(p, epochs=150, batch_size=16, lr=1e-3, patience=20)
    m = p.add_argument_group("model")
    m.add_argument("--layout", default=None, help="skeleton layout (default: syrisign193 for MediaPipe, kinect20 for ISL)")
    m.add_argument("--face-less", action="store_true", help="the SyriSign face-less variant: --layout upper65")
    m.add_argument("--fps", type=float, default=25.0)
    m.add_argument("--window", type=int, default=64, help="training window in frames, e.g. 64, 84 or 168")
    m.add_argument("--codebook-size", type=int, default=64)
    m.add_argument("--code-dim", type=int, default=64)
    m.add_argument("--width", type=int, default=128, help="convolution channels")
    m.add_argument("--depth", type=int, default=2, help="residual blocks per resolution")
    m.add_argument("--down-t", type=int, default=2, help="temporal downsampling by 2**down_t")
    m.add_argument("--ema-decay", type=float, default=0.99)
    m.add_argument("--commit", type=float, default=0.02, help="commitment weight")
    m.add_argument("--vel-weight", type=float, default=0.5, help="lambda of the velocity loss")
    m.add_argument("--dead-code", type=float, default=0.2,
                   help="a code whose EMA count per batch falls below this is re-seeded from the batch")
    m.add_argument("--recon-loss", default="l1", choices=["l1", "l2", "smooth_l1"])
    m.add_argument("--cosine", action="store_true", help="l2-normalized codes (cosine-similarity lookup)")
    m.add_argument("--no-kmeans-init", dest="kmeans_init", action="store_false",
                   help="random codebook instead of k-means on the first batch")
    m.add_argument("--quantizer", default="residual", choices=["single", "residual"],
                   help="residual VQ (MoMask: --num-quantizers layers; the default, by measurement: "
                        "results/generative.md) or a single codebook (T2M-GPT)")
    m.add_argument("--num-quantizers", type=int, default=4, help="layers of the residual quantizer")
    m.add_argument("--retarget", dest="retarget", action="store_true", default=True,
                   help="train and test on clips moved onto the reference body and its dominant hand (the default)")
    m.add_argument("--no-retarget", dest="retarget", action="store_false", help="clips as they were signed")
    m.add_argument("--exclude-classes", type=_signers, default=[], metavar="K1,K2",
                   help="leave these class keys out of every split (the zero-shot protocol's held-out classes)")
    m.add_argument("--no-augment", dest="augment", action="store_false",
                   help="no random rotation, scale, shear and speed change of training windows")
    m.add_argument("--arm-deg", type=float, default=15.0,
                   help="augmentation: turn each arm about its shoulder by up to this many degrees, once per "
                        "window (signers hold their elbows differently; 0: off)")
    pt = p.add_argument_group("pretraining (a motion prior from other datasets of the same layout)")
    pt.add_argument("--pretrain", type=_signers, default=[], metavar="A,B",
                    help="first train on these datasets (every signer except the held-out ones) together with "
                         "this dataset's training split, then fine-tune on this dataset; e.g. karsl-letters,esharah")
    pt.add_argument("--pretrain-epochs", type=int, default=None, help="epochs of the pretraining (default: --epochs)")
    pt.add_argument("--pretrain-minutes", type=float, default=None,
                    help="time budget of the pretraining (default: --max-minutes); the fine-tuning has its own")
    pt.add_argument("--pretrain-lr", type=float, default=None, help="learning rate of the pretraining (default: --lr)")
    pt.add_argument("--pretrain-out", default=None, help="pretrained checkpoint (default: <out>.pretrain.pt)")


def main(args) -> int:
    quiet_threads()
    layout = "upper65" if args.face_less else args.layout
    cfg = VQTrainConfig(
        dataset=args.dataset, test_signers=args.test_signers, layout=layout, fps=args.fps, window=args.window,
        val_frac=args.val_frac, augment=args.augment, arm_deg=args.arm_deg, retarget=args.retarget,
        exclude_classes=args.exclude_classes, out=args.out, fresh=args.fresh, progress=not args.no_progress,
        model={"codebook_size": args.codebook_size, "code_dim": args.code_dim, "width": args.width,
               "depth": args.depth, "down_t": args.down_t, "ema_decay": args.ema_decay,
               "commitment_weight": args.commit, "vel_weight": args.vel_weight,
               "dead_code_threshold": args.dead_code, "recon_loss": args.recon_loss, "cosine": args.cosine,
               "kmeans_init": args.kmeans_init,
               "quantizer": args.quantizer,
               "num_quantizers": args.num_quantizers if args.quantizer == "residual" else 1},
        train=train_overrides(args), pretrain=args.pretrain, pretrain_out=args.pretrain_out,
        pretrain_train={k: v for k, v in (("epochs", args.pretrain_epochs), ("max_minutes", args.pretrain_minutes),
                                          ("lr", args.pretrain_lr)) if v is not None})
    report = train_vqvae(cfg)
    print_report(report)
    return 0


def print_report(r: dict) -> None:
    cs = r["config"]["codebook_size"]
    q = r["config"].get("quantizer", "single")
    print(f"VQ-VAE {r['dataset']} ({r['layout']}, window {r['window']}, {q} quantizer"
          + (f" x{r['config']['num_quantizers']}" if q == "residual" else "")
          + (", retargeted" if r.get("retarget") else "") + f"): best epoch {r['best_epoch']} of "
          f"{r['epochs_run']} ({r['stopped']}), {r['train_seconds'] / 60:.1f} min training, "
          f"peak memory {r['peak_memory_mb']} MB, {r['threads']} threads on {r['device']}")
    pre = r.get("pretrain")
    if pre:
        print("  pretrained on " + ", ".join(f"{k} {v}" for k, v in pre["counts"].items())
              + f" recordings (held-out signers {', '.join(pre['excluded_signers'])} left out): best epoch "
              f"{pre['best_epoch']} of {pre['epochs_run']} ({pre['stopped']}), {pre['train_seconds'] / 60:.1f} min")
    for name in ("val", "test"):
        m = r.get(name) or {}
        if not m:
            continue
        comps = ", ".join(f"{c} {v:.4f}" for c, v in (m.get("mpjpe_by_component") or {}).items())
        print(f"  {name:4s}: MPJPE {m['mpjpe']:.4f} shoulder widths" + (f" ({comps})" if comps else "")
              + f", x-y only {m['mpjpe_2d']:.4f} (own mean pose x-y {m['mpjpe_2d_own_static_pose']:.4f}; "
              f"3-D baselines: own mean pose {m['mpjpe_own_static_pose']:.4f}, "
              f"training mean pose {m['mpjpe_training_mean_pose']:.4f})"
              + f", perplexity {m['perplexity']:.1f} of {cs} codes ({m['perplexity'] / cs:.0%}), "
              f"usage {m['usage']:.0%}, commitment {m['commit']:.4f}, {m['tokens']} tokens"
              + (" (base layer; all layers " + ", ".join(f"{v:.1f}" for v in m["perplexity_layers"]) + ")"
                 if m.get("perplexity_layers") else ""))
    print(f"  checkpoint: {r['checkpoint']}")
