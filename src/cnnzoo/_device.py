"""One check of a device asked for, by every command and function that takes one: a device
this machine lacks, or one cnnzoo cannot run on (``meta``), is an error naming what there is."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]

KINDS = "cpu, cuda, cuda:N, mps or auto"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"``: CUDA when available, else the CPU; otherwise the device named,
    if this machine has it."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):  # torch.device(1) would mean cuda:1
        raise TypeError(f"device must be {KINDS} (a string or a torch.device), got {device!r} "
                        f"({type(device).__name__})")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be {KINDS}, got {device!r}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise ValueError(f"device {str(device)!r} asked for, but this machine has no CUDA GPU "
                             "(torch.cuda.is_available() is False); use --device cpu")
        if dev.index is not None and dev.index >= count:
            there = "only cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise ValueError(f"device {str(device)!r} asked for, but this machine's CUDA GPUs are {there}")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {str(device)!r} asked for, but this machine has no Apple GPU "
                             "(torch.backends.mps.is_available() is False); use --device cpu")
    elif dev.type != "cpu":
        raise ValueError(f"device must be {KINDS}, got {str(device)!r}")
    return dev
