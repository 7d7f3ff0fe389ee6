"""Wall-clock timing of a call on a CPU or a GPU: the one helper that bench, the inference
path's channels_last trial and the trainer's settings trial share."""

from __future__ import annotations

import time
from typing import Callable

import torch


def sync(device: torch.device) -> None:
    """Wait for a GPU's queued work (a CUDA call returns before its kernels finish)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], object], device: torch.device) -> float:
    """Wall time of one call of ``fn``, synchronised on a GPU before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def best_seconds(fn: Callable[[], object], device: torch.device, runs: int, *, warmup: int = 0) -> float:
    """The fastest of ``runs`` timed calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    return min(seconds(fn, device) for _ in range(runs))
