"""Data-parallel training helpers (``accelerate launch`` or ``torchrun``; gloo on CPU, NCCL on GPUs).

Every process runs the same training command. The trainer shards each batch across processes
(accelerate's data loader), averages gradients after the backward pass (:func:`average_gradients`)
and keeps buffers equal (:func:`broadcast_module`); only the main process writes the checkpoint.
Contrastive losses gather the embeddings of the whole global batch (:func:`gather_with_grad`) so
that their negatives are the same as in one process with the global batch. VQ codebooks updated
by EMA are all-reduced by vector-quantize-pytorch itself once the process group exists before the
model is built (:func:`init_distributed`).
"""
from __future__ import annotations

import os

import torch


def launched() -> bool:
    """This process is one of several started by ``accelerate launch`` or ``torchrun``."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed() -> bool:
    """Create the process group now (before any model is built) when launched on several processes."""
    if not launched():
        return False
    if not torch.distributed.is_initialized():
        from accelerate import PartialState
        # reads the launcher's environment; without cpu=True accelerate ignores the launcher on a machine
        # without GPUs (one process each); gloo on CPU, NCCL on CUDA
        PartialState(cpu=not torch.cuda.is_available())
    return True


def world_size() -> int:
    d = torch.distributed
    return d.get_world_size() if d.is_available() and d.is_initialized() else 1


def rank() -> int:
    d = torch.distributed
    return d.get_rank() if d.is_available() and d.is_initialized() else 0


def is_main() -> bool:
    """The process that writes files (rank 0; the only one without a launcher)."""
    return rank() == 0


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``(B, ...)`` on each process -> ``(world * B, ...)`` in rank order, gradients flowing back to
    every process's own rows (one process: ``x`` itself). All processes must pass the same shape."""
    if world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather
    return torch.cat(all_gather(x.contiguous()), dim=0)


def gather(x: torch.Tensor) -> torch.Tensor:
    """Like :func:`gather_with_grad`, without gradients (labels, indices)."""
    if world_size() == 1:
        return x
    out = [torch.empty_like(x) for _ in range(world_size())]
    torch.distributed.all_gather(out, x.contiguous())
    return torch.cat(out, dim=0)


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    """Mean of every gradient over the processes, in one flat all-reduce.

    A parameter without a gradient on every process stays without one (AdamW then skips it,
    as in one process); one with a gradient somewhere gets zeros where it had none.
    """
    n = world_size()
    if n == 1 or not params:
        return
    d = torch.distributed
    dev = params[0].device
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=dev)
    d.all_reduce(has, op=d.ReduceOp.MAX)
    live = [p for p, h in zip(params, has.tolist()) if h]
    if not live:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in live])
    d.all_reduce(flat)
    flat /= n
    i = 0
    for p in live:
        k = p.numel()
        p.grad = flat[i:i + k].view_as(p).clone()
        i += k


def broadcast_module(module: torch.nn.Module) -> None:
    """Parameters and buffers of rank 0 on every process (as DDP does at start and for buffers)."""
    if world_size() == 1:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            torch.distributed.broadcast(t.data, src=0)


def broadcast_module_buffers(module: torch.nn.Module) -> None:
    """Buffers of rank 0 on every process (running statistics; EMA codebooks already agree)."""
    if world_size() == 1:
        return
    with torch.no_grad():
        for t in module.buffers():
            torch.distributed.broadcast(t.data, src=0)


def check_synced_codebooks(module: torch.nn.Module) -> None:
    """Every EMA codebook of vector-quantize-pytorch all-reduces its updates across processes."""
    if world_size() == 1:
        return
    for name, m in module.named_modules():
        cb = getattr(m, "_codebook", None)
        if cb is not None and hasattr(cb, "all_reduce_fn") and cb.all_reduce_fn is not torch.distributed.all_reduce:
            raise RuntimeError(f"the codebook {name or 'quantizer'} was built before the process group existed, so its "
                               "EMA updates would differ across processes: call syrisign.ml.distributed."
                               "init_distributed() before building the model")


def broadcast_int(value: int, device: torch.device | str = "cpu") -> int:
    """Rank 0's integer on every process (decisions that must agree: stop or go on); ``device``: the
    process's own device (NCCL sends CUDA tensors only)."""
    if world_size() == 1:
        return value
    t = torch.tensor([int(value)], dtype=torch.int64, device=device)
    torch.distributed.broadcast(t, src=0)
    return int(t.item())
