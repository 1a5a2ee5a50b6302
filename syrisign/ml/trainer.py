"""The training loop, kept apart from the models (minGPT's trainer pattern).

- Device, mixed precision and multi-GPU come from Hugging Face ``accelerate``: run a training
  command under ``accelerate launch`` (or ``torchrun``) to train data-parallel on several GPUs
  or CPU processes; on one device it is a plain loop. Mixed precision is bf16/fp16 on CUDA, off on
  the CPU. Data parallel: ``batch_size`` is per process (the global batch is ``batch_size`` x
  processes), each process gets its share of every global batch, gradients are averaged after the
  backward pass (not by DDP's wrapper, so step functions may call any method of the model), buffers
  follow rank 0, the learning-rate schedule counts optimizer steps, and only the main process
  writes the checkpoint (see ``syrisign.ml.distributed``).
- Validation every epoch, early stopping on a monitored metric, a time budget.
- One checkpoint file holds the best weights (what inference loads) and the training state
  (last weights, optimizer, epoch, history) so an interrupted run resumes where it stopped.
- A loss curve (PNG) is written next to the checkpoint.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from syrisign.ml import distributed as dist
from syrisign.ml.checkpoint import load_checkpoint, save_checkpoint
from syrisign.ml.device import pick_device, seed_everything


@dataclass
class TrainConfig:
    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 50
    grad_clip: float = 1.0
    patience: int = 10  # epochs without improvement of the monitored metric before stopping
    monitor: str = "val_loss"
    mode: str = "min"  # "min" or "max"
    seed: int = 0
    device: str = "auto"
    mixed_precision: str = "auto"  # auto: bf16 (or fp16) on CUDA, no on CPU/MPS
    max_minutes: float = 0.0  # 0 = no time budget
    num_workers: int = 0
    threads: int = 0  # torch CPU threads; 0 = torch default


@dataclass
class TrainResult:
    best_epoch: int
    best: float
    epochs_run: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    stopped: str = ""


def _mixed_precision(cfg: TrainConfig, device: torch.device) -> str:
    if cfg.mixed_precision != "auto":
        return cfg.mixed_precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def plot_history(history: list[dict], path: Path, title: str = "") -> None:
    """Loss curves of every numeric key containing 'loss' (train and validation)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for h in history for k in h if "loss" in k and isinstance(h[k], (int, float))})
    if not keys:
        return
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for k in keys:
        pts = [(h["epoch"], h[k]) for h in history if k in h and math.isfinite(h[k])]
        if pts:
            ax.plot(*zip(*pts), label=k, marker="." if len(pts) < 40 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


class Trainer:
    """Train ``model`` with ``step(model, batch) -> (loss, logs)`` and ``validate(model) -> metrics``.

    ``checkpoint_extra()`` returns what the model family needs to rebuild and use the model
    (kind, config, statistics); the trainer adds weights and training state.
    """

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, train_data, step: Callable,
                 validate: Callable[[torch.nn.Module], dict], checkpoint_path: str | Path, kind: str,
                 model_config: Any, checkpoint_extra: Callable[[], dict] | None = None,
                 collate_fn: Callable | None = None, progress: bool = True,
                 params: list | None = None):
        from accelerate import Accelerator

        self.cfg, self.kind, self.model_config = cfg, kind, model_config
        self.path = Path(checkpoint_path)
        self.step_fn, self.validate_fn = step, validate
        self.extra = checkpoint_extra or (lambda: {})
        self.progress = progress
        seed_everything(cfg.seed)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        device = pick_device(cfg.device)
        self.accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision=_mixed_precision(cfg, device))
        loader = torch.utils.data.DataLoader(train_data, batch_size=cfg.batch_size, shuffle=True, drop_last=False,
                                             collate_fn=collate_fn, num_workers=cfg.num_workers,
                                             generator=torch.Generator().manual_seed(cfg.seed))
        trainable = params if params is not None else [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.distributed = self.accelerator.num_processes > 1
        if self.distributed:
            # no DDP wrapper: the trainers' step functions call the model's own methods (encode_pose, ...),
            # which DDP would not see; gradients are averaged in fit() instead
            model = model.to(self.accelerator.device)
            dist.check_synced_codebooks(model)
            dist.broadcast_module(model)
            self.model = model
            self.opt, self.loader = self.accelerator.prepare(opt, loader)
        else:
            self.model, self.opt, self.loader = self.accelerator.prepare(model, opt, loader)
        self.params = [p for g in opt.param_groups for p in g["params"]]
        # the schedule counts optimizer steps of this run (the sharded loader's length), so one process
        # with a global batch of 2B and two processes with B each follow the same learning rates
        total = max(1, cfg.epochs * len(self.loader))
        warm = min(cfg.warmup_steps, total // 10 + 1)

        def schedule(step: int) -> float:  # linear warm-up, cosine decay to 10 %
            if step < warm:
                return (step + 1) / warm
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

        self.sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        self.device = self.accelerator.device
        self.history: list[dict] = []
        self.start_epoch, self.best, self.best_epoch, self.bad_epochs = 1, None, 0, 0
        self.best_state: dict | None = None

    # -- checkpointing ------------------------------------------------------------------------
    def _unwrapped(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def _save(self, epoch: int) -> None:
        if not self.accelerator.is_main_process:
            return
        last = {k: v.detach().cpu().clone() for k, v in self._unwrapped().state_dict().items()}
        best = self.best_state if self.best_state is not None else last
        state = {"last_model": last, "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                 "epoch": epoch, "best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                 "train_config": vars(self.cfg)}
        save_checkpoint(self.path, self.kind, self.model_config, best, train_state=state, history=self.history,
                        **self.extra())
        try:
            plot_history(self.history, self.path.with_suffix(".loss.png"), f"{self.kind}: {self.path.stem}")
        except Exception:  # a plot must never lose a checkpoint
            pass

    def resume(self) -> bool:
        """Continue from the checkpoint file if it holds a training state of the same kind."""
        if not self.path.is_file():
            return False
        ckpt = load_checkpoint(self.path, self.kind)
        st = ckpt.get("train_state")
        if not st:
            return False
        self._unwrapped().load_state_dict(st["last_model"])
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        self.start_epoch = st["epoch"] + 1
        self.best, self.best_epoch, self.bad_epochs = st["best"], st["best_epoch"], st["bad_epochs"]
        self.best_state = ckpt["model"]
        self.history = ckpt.get("history", [])
        return True

    # -- loop ----------------------------------------------------------------------------------------
    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.cfg.mode == "min" else value > self.best

    def fit(self) -> TrainResult:
        from tqdm import tqdm

        cfg = self.cfg
        t0 = time.perf_counter()
        stopped = "epochs"
        epoch = self.start_epoch - 1
        if self.bad_epochs >= cfg.patience and self.start_epoch > 1:
            stopped = "early stopping (already reached)"
        else:
            for epoch in range(self.start_epoch, cfg.epochs + 1):
                self.model.train()
                sums: dict[str, float] = {}
                n = 0
                bar = tqdm(self.loader, desc=f"{self.kind} epoch {epoch}/{cfg.epochs}", leave=False,
                           disable=not (self.progress and self.accelerator.is_main_process), dynamic_ncols=True)
                for batch in bar:
                    with self.accelerator.autocast():
                        loss, logs = self.step_fn(self.model, batch)
                    self.opt.zero_grad(set_to_none=True)
                    self.accelerator.backward(loss)
                    if self.distributed:
                        dist.average_gradients(self.params)
                    if cfg.grad_clip:
                        self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    self.opt.step()
                    self.sched.step()
                    if self.distributed:
                        dist.broadcast_module_buffers(self.model)
                    n += 1
                    logs = {"loss": float(loss.detach()), **{k: float(v) for k, v in logs.items()}}
                    for k, v in logs.items():
                        sums[k] = sums.get(k, 0.0) + v
                    bar.set_postfix(loss=f"{logs['loss']:.4f}")
                row = {"epoch": epoch, **{f"train_{k}": v / max(1, n) for k, v in sums.items()}}
                self.model.eval()
                with torch.no_grad():
                    row.update(self.validate_fn(self._unwrapped()))
                row["seconds"] = round(time.perf_counter() - t0, 1)
                self.history.append(row)
                value = row.get(cfg.monitor)
                if value is None:
                    raise KeyError(f"validation did not report the monitored metric {cfg.monitor!r}: {sorted(row)}")
                if self._better(value):
                    self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
                    self.best_state = {k: v.detach().cpu().clone() for k, v in self._unwrapped().state_dict().items()}
                else:
                    self.bad_epochs += 1
                self._save(epoch)
                if self.distributed:
                    self.accelerator.wait_for_everyone()  # the checkpoint is complete before anyone reads it
                if self.progress and self.accelerator.is_main_process:
                    shown = {k: v for k, v in row.items() if k != "epoch" and isinstance(v, float)}
                    tqdm.write(f"{self.kind} epoch {epoch}: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items())
                               + (" *" if self.best_epoch == epoch else ""))
                # the main process decides, so that every process stops after the same epoch
                stop = 1 if self.bad_epochs >= cfg.patience else (
                    2 if cfg.max_minutes and (time.perf_counter() - t0) / 60 > cfg.max_minutes else 0)
                stop = dist.broadcast_int(stop, self.device)
                if stop == 1:
                    stopped = f"early stopping: no better {cfg.monitor} for {cfg.patience} epochs"
                    break
                if stop == 2:
                    stopped = f"time budget of {cfg.max_minutes:g} minutes"
                    break
        if self.best_state is not None:
            self._unwrapped().load_state_dict(self.best_state)
        return TrainResult(self.best_epoch, float(self.best) if self.best is not None else float("nan"),
                           epoch, time.perf_counter() - t0, self.history, stopped)
