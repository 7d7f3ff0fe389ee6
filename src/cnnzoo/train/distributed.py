"""Distributed training with PyTorch's own engine.

Under ``torchrun --nproc-per-node=N`` (which sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``
and the rendezvous address), :func:`setup` starts the process group: NCCL when training on
GPUs, gloo on CPUs. Each rank then trains DistributedDataParallel on its own shard of the
data; rank 0 decides (run directory, configuration, checkpoint to resume) and writes; the
others receive its decisions through :func:`from_rank0`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "setup", "teardown", "from_rank0", "gather"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we started the process group, so we end it

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group torchrun describes (or the one the caller started); a single
    process without torchrun's variables gets ``DistInfo()``. On GPUs each local rank takes
    its own device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if dist.is_available() and dist.is_initialized():
        # the caller's group: torchrun's LOCAL_RANK, else the GPU the caller gave this process
        # (mp.spawn sets no LOCAL_RANK; cuda:0 for every rank would put them all on one GPU)
        local = os.environ.get("LOCAL_RANK")
        if local is None:  # the device asked for, or the one the caller set for this process
            local = (device.index if device.index is not None else torch.cuda.current_device()) \
                if device.type == "cuda" else 0
        info = DistInfo(dist.get_rank(), dist.get_world_size(), int(local))
    elif world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend)
        info = DistInfo(dist.get_rank(), dist.get_world_size(), local, owns_group=True)
    else:
        return DistInfo(), device
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    return info, device


def teardown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def from_rank0(info: DistInfo, fn: Callable[[], object]):
    """Run ``fn`` on rank 0 and hand its result (or its exception) to every rank."""
    if not info.active:
        return fn()
    box = [None]
    if info.main:
        try:
            box[0] = ("ok", fn())
        except Exception as err:  # every rank must learn of it, or the others hang
            box[0] = ("error", err)
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise value
    return value


def gather(info: DistInfo, obj) -> list:
    """``obj`` of every rank, in rank order (on every rank)."""
    if not info.active:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out
