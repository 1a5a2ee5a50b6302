"""Single-file checkpoints: kind, format version, config, weights and whatever the model needs to run
(skeleton, normalization statistics, vocabulary), written atomically."""
from __future__ import annotations

import io
import os
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch

from syrisign.errors import SyriSignError
from syrisign.pose import atomic_write_bytes

FORMAT_VERSION = 1


class CheckpointError(SyriSignError):
    """A checkpoint that is missing, of the wrong kind, or not a SyriSign checkpoint at all."""


def config_to_dict(config: Any) -> dict:
    return asdict(config) if is_dataclass(config) else dict(config)


def config_from_dict(cls, d: dict):
    """Rebuild a config dataclass, ignoring keys it no longer has (older checkpoints stay loadable)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: (tuple(v) if isinstance(v, list) and isinstance(getattr(cls, k, None), tuple) else v)
                  for k, v in d.items() if k in names})


def save_checkpoint(path: str | os.PathLike, kind: str, config: Any, model_state: dict, **extra) -> Path:
    """Write ``{"kind", "format_version", "config", "model", **extra}`` atomically."""
    payload = {"kind": kind, "format_version": FORMAT_VERSION, "config": config_to_dict(config),
               "model": {k: v.detach().cpu() for k, v in model_state.items()}, **extra}
    return _write(path, payload)


def update_checkpoint(path: str | os.PathLike, kind: str, **entries) -> Path:
    """Add or replace top-level entries of a checkpoint, rewritten atomically."""
    ckpt = load_checkpoint(path, kind)
    ckpt.update(entries)
    return _write(path, ckpt)


def _write(path: str | os.PathLike, payload: dict) -> Path:
    buf = io.BytesIO()
    torch.save(payload, buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict:
    """Read a checkpoint on the CPU; the error says what is wrong and what to do."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train one first (see `syrisign train --help`)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e}); delete it and retrain")
    if not isinstance(ckpt, dict) or "kind" not in ckpt or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a SyriSign checkpoint (no kind/model entries)")
    if kind is not None and ckpt["kind"] != kind:
        raise CheckpointError(f"{path} holds a {ckpt['kind']!r} model, not {kind!r}")
    if ckpt.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer SyriSign (format {ckpt['format_version']}); upgrade")
    return ckpt
