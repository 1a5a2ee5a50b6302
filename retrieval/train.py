"""``syrisign train retrieval``: train the contrastive text↔pose model.

Examples (the results document lists the exact commands behind its tables)::

    syrisign train retrieval                                   # Arabic product model (KArSL words,
                                                               # letters/numbers, jos letters; syrisign193)
    syrisign train retrieval --dataset isl                     # ISL, signers apurve+rajat held out
    syrisign train retrieval --dataset karsl-words --protocol karsl-01to03
    syrisign train retrieval --dataset isl --text bert         # SignCLIP tower: "<eng> <ins> rain", MiniLM+LoRA

The checkpoint (``$SYRISIGN_HOME/checkpoints/retrieval-<name>.pt`` unless ``--out``) holds the
config, the weights (LoRA adapters only for a LoRA text tower: the base BERT comes from its package),
the standardization statistics, the training classes and the test results. Rerunning the same command
resumes an interrupted run; ``--fresh`` starts over.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from syrisign.errors import SyriSignError
from syrisign.ml.features import AugmentConfig
from syrisign.ml.trainer import TrainConfig

DATASET_ALIASES = {"arabic": ("karsl-words", "karsl-letters", "jos")}
# MediaPipe datasets of word signs that get the "words view" pose tower (measured there, results/retrieval.md
# section 1b); letters and numbers (karsl-letters, jos, asl-app) need hand shape, and other datasets keep the
# general transformer view until measured
WORD_DATASETS = ("karsl-words",)


@dataclass
class RunConfig:
    datasets: list[str]
    name: str  # checkpoint name stem
    protocol: str = "auto"
    test_signers: list[str] = field(default_factory=list)
    val_signers: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    val_fraction: float = 0.15
    max_per_class: int = 0
    seed: int = 0
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    yaw_deg: float = 0.0
    crop: float = 0.0
    pitch_deg: float = 0.0
    limb_scale: float = 0.0
    jitter: float = 0.0
    arm_shift: float = 0.0
    text_lr: float = 1e-4
    out: str = ""
    model: object = None  # RetrievalConfig
    train: TrainConfig = field(default_factory=TrainConfig)

    def data_dict(self) -> dict:
        """What defines the data a checkpoint was trained on (a resumed run must match it)."""
        return {"datasets": self.datasets, "protocol": self.protocol, "test_signers": self.test_signers,
                "val_signers": self.val_signers, "classes": self.classes, "val_fraction": self.val_fraction,
                "max_per_class": self.max_per_class, "seed": self.seed,
                "augment": asdict(self.augment) if self.augment else None, "yaw_deg": self.yaw_deg, "crop": self.crop,
                "pitch_deg": self.pitch_deg, "limb_scale": self.limb_scale, "jitter": self.jitter,
                **({"arm_shift": self.arm_shift} if self.arm_shift else {})}


def _csv(s: str) -> list[str]:
    return [x.strip() for x in (s or "").split(",") if x.strip()]


def add_arguments(p, for_eval: bool = False) -> None:
    d = p.add_argument
    d("--dataset", default="" if for_eval else "arabic",
      help="dataset name(s), comma-separated, or 'arabic' (= karsl-words,karsl-letters,jos; the default)")
    d("--protocol", default="auto",
      help="auto (isl: signer, else holdout), holdout, split, signer, all, karsl-01to03, karsl-03to01")
    d("--test-signers", default="", help="signer protocol: held-out test signers (ISL default apurve,rajat)")
    d("--val-signers", default="", help="validate on these signers (default: a stratified share of training)")
    d("--val-fraction", type=float, default=0.15)
    d("--classes", default="", help="only these class keys (comma-separated)")
    d("--max-per-class", type=int, default=0, help="cap samples per class, split and signer (quick runs)")
    g = p.add_argument_group("model")
    g.add_argument("--text", default="frozen", choices=["frozen", "bert"],
                   help="frozen: multilingual encoder reads Arabic directly (CLIP-ArASL); bert: English prompt "
                        "'<eng> <sdl> lungs' through MiniLM (SignCLIP)")
    g.add_argument("--text-encoder", default="use+chars",
                   help="frozen tower: use, e5, chars (character n-grams) or a '+' combination; default use+chars")
    g.add_argument("--text-proj", default="mlp", choices=["mlp", "linear", "none"],
                   help="frozen tower: learnable projection (mlp, linear) or none (poses are projected into the "
                        "frozen encoder's space, CLIP-ArASL)")
    g.add_argument("--lora-rank", type=int, default=8, help="bert tower: LoRA rank (0 = full fine-tuning)")
    g.add_argument("--prompt", default="tags", choices=["tags", "plain"], help="bert tower: with language tags or not")
    g.add_argument("--loss", default="hybrid", choices=["hybrid", "infonce", "infonce-naive"])
    g.add_argument("--text-reg", type=float, default=1.0,
                   help="frozen tower: weight of the term keeping the projected text space shaped like the frozen "
                        "encoder's (glossary words); 0 = off")
    g.add_argument("--layout", default="auto", help="auto: kinect20 for ISL, else syrisign193")
    g.add_argument("--joints", default="auto", help="joint subset the pose tower reads: all, upper (Kinect without legs; ISL default), noface, face16 (every 8th face-contour point; MediaPipe default)")
    g.add_argument("--fps", type=float, default=0.0, help="frames per second the model sees (default 25; ISL 15)")
    g.add_argument("--max-frames", type=int, default=96)
    g.add_argument("--fixed-frames", type=int, default=-1,
                   help="resample every sign to this many frames inside the model (time-normalized; 0 = off; "
                        "default 16 for the mlp encoder, else 32)")
    g.add_argument("--encoder", default="auto", choices=["auto", "transformer", "mlp"],
                   help="pose tower: transformer over frames, or mlp over the flattened time-normalized frames "
                        "(a template of where each joint is when); auto: mlp for karsl-words, else "
                        "transformer")
    g.add_argument("--d-model", type=int, default=128)
    g.add_argument("--layers", type=int, default=3)
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--embed-dim", type=int, default=256)
    g.add_argument("--dropout", type=float, default=0.2)
    g.add_argument("--pool", default="mean", choices=["mean", "meanmax", "seg4"],
                   help="frame pooling: mean, meanmax, or seg4 (mean + means of 4 consecutive quarters: the "
                        "order of movements)")
    g.add_argument("--no-velocity", action="store_true")
    g.add_argument("--bones", default="auto", choices=["auto", "on", "off"],
                   help="limb directions (finger bones: hand shape as it faces the camera); auto: off for "
                        "karsl-words, on otherwise (letters need hand shape; Kinect has no fingers)")
    g.add_argument("--hand-shape", action="store_true",
                   help="add rotation- and size-invariant hand-shape features (finger bends, fingertip distances in "
                        "palm lengths)")
    g.add_argument("--standardize", default="auto", choices=["auto", "joint", "none"],
                   help="joint: per-joint training-set statistics (SignCLIP E6.1); none: positions stay in shoulder "
                        "widths (a still joint's tiny spread is not blown up); auto: none for karsl-words, else "
                        "joint")
    g.add_argument("--depth", default="auto", choices=["auto", "on", "off"],
                   help="read the z coordinate; auto: off for karsl-words (z is estimated from one "
                        "camera and differs between signers), else on")
    g.add_argument("--positions", default="auto", choices=["auto", "all", "body"],
                   help="joints whose positions/velocities are read: all, or body (the pose landmarks: arms, wrists, "
                        "head; hands and face only through limb directions if any); auto: body for karsl-words, "
                        "all otherwise")
    a = p.add_argument_group("augmentation")
    a.add_argument("--no-augment", action="store_true")
    a.add_argument("--rotate", type=float, default=12.0, help="degrees")
    a.add_argument("--scale", type=float, default=0.15)
    a.add_argument("--shear", type=float, default=0.15)
    a.add_argument("--speed", type=float, default=0.25)
    a.add_argument("--mirror-p", type=float, default=0.0,
                   help="mirror with hand swap (default 0: every signer here signs right-handed)")
    a.add_argument("--drop-joint", type=float, default=0.05)
    a.add_argument("--drop-frame", type=float, default=0.05)
    a.add_argument("--pitch", type=float, default=-1.0,
                   help="rotation about the horizontal axis, degrees (default 0; ISL 15)")
    a.add_argument("--limb-scale", type=float, default=0.15,
                   help="scale each limb by up to this share (another body; 0 = off)")
    a.add_argument("--arm-shift", type=float, default=-1.0,
                   help="move both hands by one random offset up to this many shoulder widths (elbows half): "
                        "another signer's signing space (default 0.25 for karsl-words, else 0)")
    a.add_argument("--jitter", type=float, default=-1.0,
                   help="Gaussian landmark noise, shoulder widths (default 0.005; ISL 0.01)")
    a.add_argument("--crop", type=float, default=0.1, help="drop up to this share of frames at each end")
    a.add_argument("--yaw", type=float, default=-1.0,
                   help="rotation about the vertical axis, degrees (default 0; ISL 30: Kinect depth is reliable)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=120)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--text-lr", type=float, default=1e-4, help="learning rate of a trainable BERT tower")
    t.add_argument("--weight-decay", type=float, default=0.05)
    t.add_argument("--patience", type=int, default=20)
    t.add_argument("--monitor", default="auto",
                   help="val_score (max; = val R@1 - 0.1 val loss), val_r1 (max), val_loss (min) or epoch (keep the "
                        "last epoch: no early stopping); auto: epoch when the validation recordings are of one "
                        "signer (they only tell how well the model knows that signer, and saturate), else val_score")
    t.add_argument("--max-minutes", type=float, default=14.0, help="time budget (0 = none)")
    t.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default 0: the cores not busy with other work, at least 1)")
    t.add_argument("--device", default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="", help="checkpoint path (default $SYRISIGN_HOME/checkpoints/retrieval-<name>.pt)")
    t.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    t.add_argument("--no-baselines", action="store_true", help="skip the baselines after training")
    t.add_argument("--quiet", action="store_true", help="no progress bars")


def _auto(choice: str, default: str) -> str:
    """An option's value, or ``default`` where it was left at ``auto``."""
    return default if choice == "auto" else choice


def config_from_args(args) -> RunConfig:
    from retrieval.model import PoseEncoderConfig, RetrievalConfig, TextConfig
    from syrisign.ml.features import default_layout
    from syrisign.settings import get_settings

    ds_arg = args.dataset or "arabic"
    datasets = list(DATASET_ALIASES.get(ds_arg, _csv(ds_arg)))
    kinect = datasets == ["isl"]
    layout = args.layout
    if layout == "auto":
        if kinect:
            layout = "kinect20"
        else:
            from retrieval.data import open_dataset
            sks = sorted({s.skeleton for n in datasets for s in open_dataset(n).samples})
            layout = "kinect20" if sks == ["kinect20"] else (
                "syrisign193" if "kinect20" not in sks else default_layout(sks))
    kinect_layout = layout == "kinect20"
    joints = _auto(args.joints, "upper" if kinect_layout else "face16")
    fps = args.fps or (15.0 if kinect_layout else 25.0)
    mirror = args.mirror_p
    yaw = args.yaw if args.yaw >= 0 else (30.0 if kinect_layout else 0.0)
    pitch = args.pitch if args.pitch >= 0 else (15.0 if kinect_layout else 0.0)
    # Measured on KArSL words across signers (results/retrieval.md): MediaPipe's z (a guess from one camera),
    # per-joint standardization (it blows up still joints' signer-specific offsets) and finger and face
    # positions make a one-signer model worse on the other signer; the body's 2-D movement carries the word,
    # and an MLP over 16 time-normalized frames transfers better than the transformer (a template, like the
    # baselines, with less room to learn the one signer's manner).
    words_view = not kinect_layout and all(Path(d).name in WORD_DATASETS for d in datasets)
    encoder = _auto(args.encoder, "mlp" if words_view else "transformer")
    model = RetrievalConfig(
        layout=layout, joint_subset=joints, fps=fps, max_frames=args.max_frames, embed_dim=args.embed_dim,
        fixed_frames=args.fixed_frames if args.fixed_frames >= 0 else (16 if encoder == "mlp" else 32),
        pose=PoseEncoderConfig(d_model=args.d_model, layers=args.layers, heads=args.heads, dropout=args.dropout,
                               max_frames=args.max_frames, velocity=not args.no_velocity,
                               bones=_auto(args.bones, "off" if words_view else "on") == "on",
                               positions=_auto(args.positions, "body" if words_view else "all"),
                               pool=args.pool, hand_shape=args.hand_shape, encoder=encoder,
                               standardize=_auto(args.standardize, "none" if words_view else "joint"),
                               depth=_auto(args.depth, "off" if words_view else "on") == "on"),
        text=TextConfig(kind=args.text, encoder=args.text_encoder, lora_rank=args.lora_rank, prompt=args.prompt,
                        proj=args.text_proj),
        loss=args.loss, text_reg=args.text_reg)
    aug = None if args.no_augment else AugmentConfig(
        rotate_deg=args.rotate, scale=args.scale, shear=args.shear, speed=args.speed, mirror_p=mirror,
        drop_joint_p=args.drop_joint, drop_frame_p=args.drop_frame)
    protocol = args.protocol
    name = ds_arg if ds_arg in DATASET_ALIASES else "+".join(Path(d).name for d in datasets)
    if protocol not in ("auto", "holdout") and not (protocol == "signer" and kinect):
        name += f"-{protocol.replace('karsl-', '')}"
    if args.text == "bert":
        name += "-bert"
    elif args.text_encoder != "use+chars":
        name += f"-{args.text_encoder.replace('+', '')}"
    if args.text == "frozen" and args.text_proj != "mlp":
        name += f"-proj{args.text_proj}"
    monitor = args.monitor
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                        patience=args.patience, monitor=monitor, mode="min" if "loss" in monitor else "max",
                        seed=args.seed, device=args.device, max_minutes=args.max_minutes,
                        threads=auto_threads(args.threads))
    out = args.out or str(get_settings().checkpoint(f"retrieval-{name}.pt"))
    return RunConfig(datasets=datasets, name=name, protocol=protocol, test_signers=_csv(args.test_signers),
                     val_signers=_csv(args.val_signers), classes=_csv(args.classes), val_fraction=args.val_fraction,
                     max_per_class=args.max_per_class, seed=args.seed, augment=aug, yaw_deg=yaw, crop=args.crop, pitch_deg=pitch,
                     limb_scale=args.limb_scale,
                     jitter=args.jitter if args.jitter >= 0 else (0.01 if kinect_layout else 0.005),
                     arm_shift=args.arm_shift if args.arm_shift >= 0 else (0.25 if words_view else 0.0),
                     text_lr=args.text_lr, out=out, model=model, train=train)


def auto_threads(requested: int = 0) -> int:
    """``requested`` if given, else the idle cores (at least one): on the shared 2-core machine two torch
    threads made a step 2-4x slower than one thread while other jobs held the cores."""
    import os
    if requested > 0:
        return requested
    n = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(n, int(n - busy + 0.5)))


def _norm(d) -> str:
    return json.dumps(d, sort_keys=True, default=str)


def train_on_splits(run: RunConfig, splits, out: str | Path, fresh: bool = False, evaluate_test: bool = True,
                    quiet: bool = False, baselines: bool = False):
    """Train on prepared splits; returns ``(model with the best weights, results dict)``."""
    import copy

    import numpy as np
    import torch

    from retrieval.data import TrainSet, collate_items, text_vocabulary
    from retrieval.evaluate import embed_classes, embed_items, evaluate_items, retrieval_metrics
    from retrieval.model import KIND, RetrievalConfig, RetrievalModel, batch_loss, joint_indices
    from syrisign.ml.checkpoint import config_to_dict, load_checkpoint
    from syrisign.ml.features import Standardizer
    from syrisign.ml.trainer import Trainer

    cfg = copy.deepcopy(run.model)
    torch.manual_seed(run.seed)
    if run.train.threads:
        torch.set_num_threads(run.train.threads)
    train_keys = splits.class_keys(splits.train)
    class_index = {k: i for i, k in enumerate(train_keys)}
    infos = [splits.classes[k] for k in train_keys]
    model = RetrievalModel(cfg)
    idx = joint_indices(cfg.layout, cfg.joint_subset)
    if cfg.pose.standardize == "joint":
        st = Standardizer.fit([(it.x[:, idx], it.mask[:, idx]) for it in splits.train])
        model.pose.set_stats(st.mean, st.std)
    texts = [model.prompt(c.label_ar, c.label_en, c.signed_language) for c in infos]
    langs = [c.signed_language for c in infos]
    val_items = [it for it in splits.val if it.cls in class_index]

    vocab: list[str] = []
    if cfg.text.kind == "frozen" and cfg.text_reg:
        # the geometry term: glossary words (cheap with USE; other frozen encoders are slow per text,
        # so they keep only the class texts' geometry)
        vocab = text_vocabulary(2000, run.seed) if set(cfg.text.encoder.split("+")) <= {"use", "chars"} else []
        vocab = sorted(set(vocab) | set(texts))
        model.text.frozen(vocab)  # encode (and cache) once
    reg_rng = np.random.default_rng(run.seed)

    def step(m, batch):
        x, jm, fm, y = batch
        reg = [vocab[i] for i in reg_rng.choice(len(vocab), size=min(128, len(vocab)), replace=False)] if vocab else None
        o = batch_loss(m, x, jm, fm, y, texts, langs, cfg.loss, reg_texts=reg)
        return o.loss, o.logs

    def validate(m) -> dict:
        if not val_items:
            return {}
        p = embed_items(m, val_items)
        t = embed_classes(m, infos)
        sim = p @ t.T
        y = torch.tensor([class_index[it.cls] for it in val_items])
        loss = torch.nn.functional.cross_entropy(float(m.scale()) * torch.from_numpy(sim), y)
        met = retrieval_metrics(sim, [it.cls for it in val_items], train_keys)
        # val_score: R@1, ties (a saturated R@1) broken by the loss
        return {"val_loss": float(loss), "val_r1": met["V2T_R@1"], "val_r5": met["V2T_R@5"],
                "val_score": met["V2T_R@1"] - 0.1 * float(loss)}

    tcfg = copy.deepcopy(run.train)
    if tcfg.monitor == "auto":
        one_signer = len({it.sample.signer for it in val_items}) <= 1
        tcfg.monitor, tcfg.mode = ("epoch", "max") if one_signer else ("val_score", "max")
    if not val_items:
        tcfg.monitor, tcfg.mode = "train_loss", "min"
    text_params = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("text.")
                   and "tower." in n]
    other = [p for n, p in model.named_parameters() if p.requires_grad and not (n.startswith("text.") and "tower." in n)]
    groups = [{"params": other, "lr": tcfg.lr}] + ([{"params": text_params, "lr": run.text_lr}] if text_params else [])
    run_info = run.data_dict()
    extra = {"classes": [c.to_dict() for c in infos], "run": run_info, "skeleton": cfg.layout,
             "text_in_dim": getattr(model.text, "in_dim", None), "splits": splits.describe(),
             "train_config": asdict(tcfg)}
    trainer = Trainer(model, tcfg, TrainSet(splits.train, class_index, cfg.layout, run.augment, run.yaw_deg, run.seed,
                                    cfg.max_frames, run.crop, run.pitch_deg, run.limb_scale, run.jitter,
                                    run.arm_shift),
                      step, validate, out, KIND, cfg, checkpoint_extra=lambda: extra, collate_fn=collate_items,
                      progress=not quiet, params=groups)
    out = Path(out)
    if out.is_file() and not fresh:
        old = load_checkpoint(out, KIND)
        # options added since the checkpoint was made read as their defaults (the behaviour it was trained with)
        old_cfg = config_to_dict(RetrievalConfig.from_dict(old.get("config") or {}))
        if _norm(old_cfg) != _norm(config_to_dict(cfg)) or _norm(old.get("run")) != _norm(run_info):
            raise SyriSignError(f"{out} holds a model trained with other settings; use --fresh to overwrite it "
                                "or --out for another file")
        if trainer.resume() and not quiet:
            print(f"resuming {out} after epoch {trainer.start_epoch - 1}")
    t0, c0 = time.perf_counter(), time.process_time()
    result = trainer.fit()
    model = trainer._unwrapped()
    model.eval()
    res: dict = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "stopped": result.stopped,
                 "train_seconds": round(time.perf_counter() - t0, 1),
                 "train_cpu_seconds": round(time.process_time() - c0, 1),
                 "total_seconds": result.history[-1]["seconds"] if result.history else 0.0,
                 "splits": splits.describe(), "threads": torch.get_num_threads()}
    if evaluate_test and splits.test:
        res["test"] = evaluate_items(model, splits.test, splits.classes)
        if baselines:
            from retrieval.baselines import run_baselines
            res["baselines"] = run_baselines(splits)
    # store the results beside the weights (data parallel: the main process alone writes)
    from syrisign.ml.checkpoint import save_checkpoint
    from syrisign.ml.distributed import is_main
    if is_main():
        ck = load_checkpoint(out, KIND)
        ck["results"] = res
        save_checkpoint(out, KIND, ck.pop("config"), ck.pop("model"), **{k: v for k, v in ck.items()
                                                                          if k not in ("kind", "format_version")})
    return model, res


SIGNER_PROTOCOLS = ("signer", "karsl-01to03", "karsl-03to01")


def resolve_protocol(run: RunConfig, splits) -> None:
    """Record the protocol ``auto`` resolved to and, for signer-independent protocols, the held-out
    signers actually used, so that the checkpoint itself says which signers it never saw (the
    evaluation compares them with its own test signers)."""
    run.protocol = splits.protocol
    if splits.protocol in SIGNER_PROTOCOLS and not run.test_signers:
        run.test_signers = sorted({it.sample.signer for it in splits.test})


def main(args: argparse.Namespace) -> int:
    from retrieval.data import make_splits
    from retrieval.evaluate import format_metrics

    run = config_from_args(args)
    t0 = time.perf_counter()
    splits = make_splits(run.datasets, run.protocol, run.model.features(), test_signers=run.test_signers or None,
                         val_signers=run.val_signers or None, val_fraction=run.val_fraction, seed=run.seed,
                         classes=run.classes or None, max_per_class=run.max_per_class, progress=not args.quiet)
    resolve_protocol(run, splits)
    print(f"retrieval: {', '.join(run.datasets)} ({splits.protocol}); {splits.describe()}")
    for n in splits.notes:
        print(f"  note: {n}")
    _, res = train_on_splits(run, splits, run.out, fresh=args.fresh, quiet=args.quiet,
                             baselines=not args.no_baselines)
    print(f"trained in {time.perf_counter() - t0:.0f} s, {res['train_cpu_seconds']:.0f} CPU s (best epoch {res['best_epoch']} of {res['epochs_run']}, "
          f"{res['stopped']}); checkpoint {run.out}")
    if "test" in res:
        print(f"test   {format_metrics(res['test'])}")
        for k, v in res.get("baselines", {}).items():
            print(f"{k:6s} " + "  ".join(f"V2T_{m} {x:.3f}" for m, x in v.items() if m != "n"))
    return 0


if __name__ == "__main__":
    import sys
    ap = argparse.ArgumentParser(prog="python -m retrieval.train")
    add_arguments(ap)
    sys.exit(main(ap.parse_args()))
