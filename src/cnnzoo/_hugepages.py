"""Transparent huge pages for PyTorch's large CPU tensors, switched on before torch loads.

PyTorch's CPU allocator hands each tensor its own memory and gives it back when the tensor
dies; glibc returns blocks of more than 32 MB to the system at once, and smaller ones often
too. The next forward pass then faults every 4 KB page of its activations in again: a
ResNet-50 forward pass at batch 16 took ~130,000 page faults in eager mode (~25,000
compiled) on our 2-core CPU. With ``THP_MEM_ALLOC_ENABLE=1`` the allocator aligns each tensor
of 2 MB or more to 2 MB and asks the kernel for huge pages (``madvise(MADV_HUGEPAGE)``): 20-30×
fewer faults, and the same forward pass ~10 % faster (README, Measure speed).

PyTorch reads the variable once, at its first allocation, so this must run before ``import
torch``; ``import cnnzoo`` does it first thing. A user's own ``THP_MEM_ALLOC_ENABLE`` (``0``
to opt out) is left as it is, and nothing is set where the kernel has huge pages switched off.
"""

from __future__ import annotations

import os
import sys

_THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"


def _kernel_allows_huge_pages() -> bool:
    try:
        with open(_THP_SETTING) as f:
            return "[never]" not in f.read()
    except OSError:  # not Linux, or no THP support in this kernel
        return False


def enable() -> None:
    """Set ``THP_MEM_ALLOC_ENABLE=1``, unless the user set it, torch has loaded already (too
    late to matter), or the kernel has huge pages switched off."""
    if ("THP_MEM_ALLOC_ENABLE" not in os.environ and "torch" not in sys.modules
            and _kernel_allows_huge_pages()):
        os.environ["THP_MEM_ALLOC_ENABLE"] = "1"


def in_effect() -> bool:
    """Whether PyTorch's CPU allocator asks for huge pages, as far as the environment tells."""
    value = os.environ.get("THP_MEM_ALLOC_ENABLE", "0").strip().lower()
    return value not in ("", "0", "false", "off", "no") and _kernel_allows_huge_pages()
