"""One check of a device asked for, by every command and function that takes one: a device
this machine lacks, or one cnnzoo cannot run on (``meta``), is an error naming what there is;
and of the CPU threads asked for."""

from __future__ import annotations

import contextlib
import os
import warnings

import torch

from ._checks import SettingWarning, describe, positive_int

__all__ = ["resolve_device", "machine_threads", "check_threads", "native_bf16", "native_cpu_bf16",
           "module_device", "same_device", "floating_dtype", "eval_mode"]

KINDS = "cpu, cuda, cuda:N, mps or auto"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"``: CUDA when available, else the CPU; otherwise the device named,
    if this machine has it."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):  # torch.device(1) would mean cuda:1
        raise TypeError(f"device must be {KINDS} (a string or a torch.device), got {describe(device)}")
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


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` is a GPU that computes in bf16 natively (NVIDIA from Ampere, compute
    capability 8.0, on; ROCm's). ``torch.cuda.is_bf16_supported()`` also says yes for older
    GPUs that emulate it many times slower, where fp16 with loss scaling is the fast choice."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    if torch.version.hip:
        return torch.cuda.is_bf16_supported()
    return torch.cuda.get_device_capability(device) >= (8, 0)


def native_cpu_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AMX, or AVX-512 BF16: Intel Xeons from
    Cooper Lake and Sapphire Rapids, AMD from Zen 4), where bf16 autocast can train a network
    much faster than float32; elsewhere it is emulated, and slower."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, hence looked up
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def module_device(model: torch.nn.Module) -> torch.device:
    """Where a module's tensors are: its first parameter's device, else its first buffer's,
    else the CPU."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def same_device(a: str | torch.device, b: str | torch.device) -> bool:
    """Whether two devices are one: ``cuda`` is the current GPU (``cuda:0`` as a rule) and
    ``mps`` is ``mps:0``, which ``torch.device("cuda") != torch.device("cuda:0")`` does not know."""
    def indexed(device):
        device = torch.device(device)
        if device.type == "cpu" or device.index is not None:
            return device
        return torch.device(device.type, torch.cuda.current_device() if device.type == "cuda" else 0)
    return indexed(a) == indexed(b)


def floating_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype a module's input must have: its first floating-point parameter's (a model
    in float64 or float16 takes its batches so), else float32."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """``model`` in eval mode for the block, then every submodule back in the mode it was in
    (a caller's model in training stays in training, with the layers it had frozen still in
    eval mode), errors included."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def machine_threads() -> int:
    """The cores this process may use (its CPU affinity), shared among the processes of
    this machine under torchrun."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def check_threads(threads: int | None) -> int | None:
    """``threads`` if it is None or a positive count; more than this process's cores is
    allowed, with a note: the threads then take turns on the cores, which is slower."""
    if threads is None:
        return None
    threads = positive_int(threads, "threads")
    cores = machine_threads()
    if threads > cores:
        warnings.warn(f"{threads} threads asked for, but this process may use {cores} core"
                      f"{'s' if cores > 1 else ''}: the extra threads take turns on them, which is usually "
                      "slower than one thread per core", SettingWarning, stacklevel=3)
    return threads
