"""The back-translation recognizer: the judge of ``syrisign evaluate`` (``syrisign train recognizer``).

A landmark sequence classifier trained only on the training split of real recordings
(:mod:`syrisign.evaluation.splits`), independent of the retrieval model: the landmark branch of
the zero-shot sign recognition paper (ST-GCN over the body, BiLSTM over the hands, attention
pooling, stream self-attention; :mod:`syrisign.evaluation.recognizer_model`). Its default head
scores a pose embedding against projected text embeddings of the class names (Universal
Sentence Encoder), so it can also rank texts it never saw (zero-shot) and gives the shared
pose-text space used for R-precision.

This module imports torch only inside functions (the CLI imports it to build its parser).
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence

KIND = "recognizer"


class RecognizerError(SyriSignError):
    pass


def default_checkpoint(dataset: str, mode: str = "signer") -> Path:
    from syrisign.settings import get_settings
    return get_settings().checkpoints / f"recognizer-{Path(dataset).name}-{mode}.pt"


def default_layout(skeletons: list[str]) -> str:
    """Face-less input: ``upper65`` for MediaPipe skeletons, the native layout otherwise."""
    from syrisign.ml.features import default_layout as core_layout
    layout = core_layout(skeletons)
    return "upper65" if layout == "syrisign193" else layout


# -- the trained judge ------------------------------------------------------------------------------
@dataclass
class RecognizerOutput:
    logits: np.ndarray  # (N, C) against the class texts (or the given texts)
    features: np.ndarray  # (N, embed_dim) penultimate features
    pose_space: np.ndarray  # (N, joint_dim) L2-normalized, comparable with text_space()


@dataclass
class Recognizer:
    """A loaded recognizer: ``run(poses) -> RecognizerOutput``; classes are dataset class keys."""

    model: object  # LandmarkRecognizer
    config: object  # RecognizerConfig
    classes: list[str]
    class_texts: list[str]
    text_emb: np.ndarray  # (C, text_dim) frozen text-encoder vectors of class_texts
    meta: dict = field(default_factory=dict)
    device: str = "cpu"

    def feature_config(self):
        from syrisign.ml.features import FeatureConfig
        return FeatureConfig(layout=self.config.layout, fps=self.config.fps, max_frames=self.config.max_frames)

    def arrays(self, seqs: list[PoseSequence]) -> list[tuple[np.ndarray, np.ndarray]]:
        from syrisign.ml.features import prepare
        fc = self.feature_config()
        return [prepare(s, fc) for s in seqs]

    def run(self, items: list, texts: list[str] | None = None, batch_size: int = 64) -> RecognizerOutput:
        """Score PoseSequences (or prepared ``(x, mask)`` arrays) against the class texts, or
        against ``texts`` (zero-shot: encoded with the same frozen text encoder)."""
        import torch

        from syrisign.ml.features import collate

        arrays = [self.arrays([s])[0] if isinstance(s, PoseSequence) else s for s in items]
        temb = self.text_emb if texts is None else self._encode_texts(texts)
        model = self.model
        model.eval()
        logits, feats, space = [], [], []
        with torch.no_grad():
            t = torch.from_numpy(np.asarray(temb, dtype=np.float32)).to(self.device)
            for i in range(0, len(arrays), batch_size):
                x, m, f = (v.to(self.device) for v in collate(arrays[i:i + batch_size]))
                lg, emb = model(x, m, f, t)
                logits.append(lg.cpu().numpy())
                feats.append(emb.cpu().numpy())
                space.append(model.pose_space(emb).cpu().numpy())
        if not arrays:
            z = np.zeros((0, 0), np.float32)
            return RecognizerOutput(z, z, z)
        return RecognizerOutput(np.concatenate(logits), np.concatenate(feats), np.concatenate(space))

    def text_space(self, texts: list[str] | None = None) -> np.ndarray:
        """``(C, joint_dim)`` class vectors in the pose-text space (L2-normalized)."""
        import torch
        temb = self.text_emb if texts is None else self._encode_texts(texts)
        with torch.no_grad():
            t = torch.from_numpy(np.asarray(temb, dtype=np.float32)).to(self.device)
            return self.model.text_space(t).cpu().numpy()

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        if self.config.head != "text":
            raise RecognizerError("zero-shot scoring needs a recognizer trained with --head text")
        from syrisign.ml.text import get_text_encoder
        return get_text_encoder(self.config.text_encoder).encode(list(texts))

    def predict(self, items: list) -> list[str]:
        out = self.run(items)
        return [self.classes[i] for i in out.logits.argmax(1)]


def load_recognizer(path: str | Path, device: str | None = "cpu") -> Recognizer:
    """Rebuild a recognizer from its checkpoint."""
    from syrisign.evaluation.recognizer_model import LandmarkRecognizer, RecognizerConfig
    from syrisign.ml.checkpoint import config_from_dict, load_checkpoint
    from syrisign.ml.device import pick_device

    ckpt = load_checkpoint(path, KIND)
    cfg = config_from_dict(RecognizerConfig, ckpt["config"])
    model = LandmarkRecognizer(cfg)
    model.load_state_dict(ckpt["model"])
    dev = pick_device(device)
    model.to(dev).eval()
    return Recognizer(model, cfg, list(ckpt["classes"]), list(ckpt["class_texts"]),
                      np.asarray(ckpt["text_emb"], dtype=np.float32), dict(ckpt.get("meta", {})), str(dev))


# -- training ---------------------------------------------------------------------------------------
@dataclass
class RecognizerTrainConfig:
    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-3
    patience: int = 10
    label_smoothing: float = 0.1
    max_minutes: float = 5.0
    seed: int = 0
    device: str = "auto"
    threads: int = 1  # torch CPU threads: on a shared 2-core machine 2 threads were ~10x slower than 1


def class_texts(ds, classes: list[str]) -> list[str]:
    """The text of each class: its Arabic label when it has one, else the English one."""
    labels = ds.label_of()
    return [(labels[c][0] or labels[c][1] or c) for c in classes]


class _PoseSet:
    """Torch-style dataset of prepared arrays with SignCLIP augmentation for training."""

    def __init__(self, arrays, labels, layout: str, augment: bool, seed: int):
        from syrisign.ml.features import AugmentConfig
        self.arrays, self.labels, self.layout, self.augment = arrays, labels, layout, augment
        self.aug = AugmentConfig()
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i):
        from syrisign.ml.features import augment
        x, m = self.arrays[i]
        if self.augment:
            x, m = augment(x, m, self.layout, self.aug, self.rng)
        return x, m, self.labels[i]


def _collate(items):
    import torch

    from syrisign.ml.features import collate
    x, m, f = collate([(x, m) for x, m, _ in items])
    return x, m, f, torch.tensor([y for _, _, y in items], dtype=torch.long)


def train_recognizer(ds, split, path: str | Path | None = None, config=None,
                     train_config: RecognizerTrainConfig | None = None, progress: bool = True) -> tuple[Recognizer, dict]:
    """Train on ``split.train`` (early stopping on ``split.val``), write the checkpoint, return the
    loaded recognizer and a summary (times, epochs, validation and held-out test accuracy)."""
    import torch
    from torch.nn import functional as F

    from syrisign.evaluation.recognizer_model import LandmarkRecognizer, RecognizerConfig
    from syrisign.ml.features import FeatureConfig, prepare_many
    from syrisign.ml.text import get_text_encoder
    from syrisign.ml.trainer import TrainConfig, Trainer

    tc = train_config or RecognizerTrainConfig()
    t0 = time.perf_counter()
    classes = split.train_classes
    texts = class_texts(ds, classes)
    cfg = config or RecognizerConfig(layout=default_layout(sorted({s.skeleton for s in ds.samples})))
    cfg = replace(cfg, num_classes=len(classes))
    text_emb = get_text_encoder(cfg.text_encoder).encode(texts) if cfg.head == "text" else np.zeros((len(classes), 1))
    if cfg.head == "text":
        cfg = replace(cfg, text_dim=int(text_emb.shape[1]))
    index = {c: i for i, c in enumerate(classes)}
    fc = FeatureConfig(layout=cfg.layout, fps=cfg.fps, max_frames=cfg.max_frames)

    def load(samples, desc):
        return prepare_many([ds.load(s) for s in samples], fc, progress=progress, desc=desc)

    train_arrays = load(split.train, "recognizer: train poses")
    val_arrays = load(split.val, "recognizer: val poses") if split.val else []
    train_set = _PoseSet(train_arrays, [index[s.class_key] for s in split.train], cfg.layout, True, tc.seed)
    val_y = np.array([index[s.class_key] for s in split.val])
    torch.manual_seed(tc.seed)
    model = LandmarkRecognizer(cfg)
    temb = torch.from_numpy(np.asarray(text_emb, dtype=np.float32))

    def step(m, batch):
        x, jm, f, y = batch
        logits, _ = m(x, jm, f, temb.to(x.device))
        loss = F.cross_entropy(logits, y, label_smoothing=tc.label_smoothing)
        return loss, {"acc": (logits.argmax(1) == y).float().mean()}

    def validate(m) -> dict:
        if not val_arrays:
            return {"val_loss": 0.0, "val_acc": 0.0}
        rec = Recognizer(m, cfg, classes, texts, text_emb, device=str(next(m.parameters()).device))
        out = rec.run(val_arrays)
        lg = torch.from_numpy(out.logits)
        loss = float(F.cross_entropy(lg, torch.from_numpy(val_y)))
        return {"val_loss": loss, "val_acc": float((out.logits.argmax(1) == val_y).mean())}

    path = Path(path or default_checkpoint(split.dataset, split.mode))
    meta = {"dataset": split.dataset, "split": split.describe(ids=False)}
    trcfg = TrainConfig(epochs=tc.epochs, batch_size=tc.batch_size, lr=tc.lr, weight_decay=tc.weight_decay,
                        patience=tc.patience, monitor="val_loss",
                        mode="min", seed=tc.seed, device=tc.device,
                        max_minutes=tc.max_minutes, threads=tc.threads, warmup_steps=20)
    if path.exists():
        path.unlink()  # a recognizer is cheap: always train from scratch for the recorded split
    trainer = Trainer(model, trcfg, train_set, step, validate, path, KIND, cfg,
                      checkpoint_extra=lambda: {"classes": classes, "class_texts": texts,
                                                "text_emb": np.asarray(text_emb, dtype=np.float32), "meta": meta},
                      collate_fn=_collate, progress=progress)
    result = trainer.fit()
    rec = load_recognizer(path, tc.device)
    seconds = time.perf_counter() - t0
    summary = {"checkpoint": str(path), "seconds": round(seconds, 1), "epochs_run": result.epochs_run,
               "best_epoch": result.best_epoch, "val_acc": next((h["val_acc"] for h in result.history if h["epoch"] == result.best_epoch), math.nan)
               if val_arrays else math.nan, "val_loss": result.best,
               "stopped": result.stopped, "train_samples": len(split.train), "val_samples": len(split.val),
               "classes": len(classes)}
    # keep the summary in the checkpoint so `evaluate` can report how the judge was made
    from syrisign.ml.checkpoint import load_checkpoint, save_checkpoint
    ckpt = load_checkpoint(path, KIND)
    ckpt["meta"] = dict(ckpt.get("meta", {}), training=summary)
    save_checkpoint(path, KIND, ckpt["config"], ckpt["model"],
                    **{k: v for k, v in ckpt.items() if k not in ("kind", "format_version", "config", "model")})
    rec.meta = ckpt["meta"]
    return rec, summary


def ensure_recognizer(ds, split, path: str | Path | None = None, retrain: bool = False, progress: bool = True,
                      train_config: RecognizerTrainConfig | None = None) -> tuple[Recognizer, dict]:
    """Load the recognizer trained for exactly this split (same training ids), else train it."""
    path = Path(path or default_checkpoint(split.dataset, split.mode))
    if path.is_file() and not retrain:
        try:
            rec = load_recognizer(path)
        except SyriSignError:
            rec = None
        want = split.describe(ids=False)["train_sha256"]
        if rec is not None and rec.meta.get("split", {}).get("train_sha256") == want:
            return rec, dict(rec.meta.get("training", {}), loaded=True)
    return train_recognizer(ds, split, path, train_config=train_config, progress=progress)


def accuracy(rec: Recognizer, ds, samples) -> dict:
    """Top-1 / top-5 accuracy of the recognizer on real recordings."""
    from syrisign.evaluation.metrics import topk_hits
    index = {c: i for i, c in enumerate(rec.classes)}
    keep = [s for s in samples if s.class_key in index]
    out = rec.run([ds.load(s) for s in keep])
    y = np.array([index[s.class_key] for s in keep])
    return {"n": len(keep), "top1": float(topk_hits(out.logits, y, 1).mean()),
            "top5": float(topk_hits(out.logits, y, 5).mean())}


# -- command line -----------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Train the back-translation recognizer (ST-GCN + BiLSTM over landmarks, text head) on the "
                          "training split of real recordings; prints validation and held-out test accuracy.")
    parser.add_argument("--dataset", default="karsl-words", help="dataset name or folder (default karsl-words)")
    parser.add_argument("--split", choices=["signer", "random"], default="signer",
                        help="signer: held-out signers (KArSL: test 03, ISL: test apurve+rajat); random: 20%% per class")
    parser.add_argument("--test-signers", nargs="+", help="override the held-out signers")
    parser.add_argument("--out", help="checkpoint path (default $SYRISIGN_HOME/checkpoints/recognizer-<dataset>-<split>.pt)")
    parser.add_argument("--head", choices=["text", "linear"], default="text")
    parser.add_argument("--epochs", type=int, default=RecognizerTrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=RecognizerTrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=RecognizerTrainConfig.lr)
    parser.add_argument("--max-minutes", type=float, default=RecognizerTrainConfig.max_minutes)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a busy 2-core machine more threads were far slower; "
                             "0 = torch default)")


def main(args: argparse.Namespace) -> int:
    from syrisign.data import ensure_dataset
    from syrisign.evaluation.recognizer_model import RecognizerConfig
    from syrisign.evaluation.splits import evaluation_split

    ds = ensure_dataset(args.dataset)
    split = evaluation_split(ds, Path(args.dataset).name, args.split, args.test_signers, seed=args.seed)
    cfg = RecognizerConfig(layout=default_layout(sorted({s.skeleton for s in ds.samples})), head=args.head)
    tc = RecognizerTrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               max_minutes=args.max_minutes, seed=args.seed, device=args.device, threads=args.threads)
    rec, summary = train_recognizer(ds, split, args.out, cfg, tc)
    test = accuracy(rec, ds, split.test)
    print(f"recognizer for {split.dataset} ({split.mode} split, test signers {split.test_signers or '-'}): "
          f"{summary['classes']} classes, {summary['train_samples']} training samples, "
          f"{summary['epochs_run']} epochs in {summary['seconds']:.0f} s ({summary['stopped']})")
    print(f"validation top-1 {summary['val_acc']:.3f}; held-out real recordings: top-1 {test['top1']:.3f}, "
          f"top-5 {test['top5']:.3f} (n={test['n']})")
    print(f"checkpoint: {summary['checkpoint']}")
    return 0
