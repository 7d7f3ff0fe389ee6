"""Freed memory kept in the process for the next forward pass, on glibc.

PyTorch's CPU allocator takes each tensor's memory from ``malloc`` and frees it when the
tensor dies. glibc serves blocks of more than 128 KB to 32 MB with ``mmap`` and unmaps them on
``free``, and gives the free top of its heap back to the system: every forward pass then had
the kernel map and zero its activations' pages again (ResNet-50's 64→256 1×1 convolutions
at batch 16 write 51 MB each). On our 2-core Xeon that cost a third of an eager ResNet-50
pass: ``M_MMAP_MAX`` 0 (every block from the heap) and ``M_TRIM_THRESHOLD`` 2 GB (the heap's
free top kept) took it from 19.5 to 29.4 images/s, and its system time from 60 s to 8 s over
the benchmark (README, Measure speed). jemalloc and tcmalloc, which PyTorch's CPU tuning
guide suggests preloading, likewise keep freed memory for reuse rather than unmapping it at
once (they give it back after a while; this keeps it).

The price: the process keeps the memory of its busiest moment (ResNet-50 at batch 16: 1.5 GB
where it would settle at 1.1 GB) until it exits. So it is not set by ``import cnnzoo``, which
must not change how a user's own program allocates, but by the paths that ask for speed on a
CPU: the ``cnnzoo`` command, :func:`cnnzoo.optimize_for_inference`, the trainer and
:func:`cnnzoo.bench`. ``CNNZOO_KEEP_FREED_MEMORY=0`` opts out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's malloc.h
_KEEP = 2**31 - 1  # the largest value mallopt takes: 2 GB of free heap top kept before trimming
_state = {"on": False}


def enable() -> bool:
    """Keep freed memory for reuse (see the module's text), unless the user opted out or the C
    library is not glibc; whether it is in effect."""
    if os.environ.get("CNNZOO_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "off", "no"):
        return False
    if platform.libc_ver()[0] != "glibc" or _state["on"]:
        return _state["on"]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _state["on"] = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP))
    except (OSError, AttributeError):  # no C library to ask, or one without mallopt
        _state["on"] = False
    return _state["on"]


def in_effect() -> bool:
    """Whether this process keeps freed memory (``enable`` succeeded)."""
    return _state["on"]
