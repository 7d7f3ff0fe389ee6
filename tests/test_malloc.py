"""``import cnnzoo`` keeps freed memory in the process (glibc's mallopt), so that the next
forward pass reuses its activations' pages instead of having the kernel map and zero them
again; ``CNNZOO_KEEP_FREED_MEMORY=0`` opts out."""

import os
import platform
import subprocess
import sys

import pytest

# Page faults of a 64 MB tensor written in full after a larger one was freed. Huge pages are
# off here, so that each fault is one 4 KB page: 64 MB / 4 KB = 16,384 faults when the memory
# is new.
PROBE = """
import resource, cnnzoo, torch
from cnnzoo import _malloc
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
torch.empty(20 * 2**20).fill_(1.0)  # 80 MB, freed at once: room for the 64 MB and its alignment
before = faults()
torch.empty(16 * 2**20).fill_(1.0)
print(_malloc.in_effect(), faults() - before)
"""


def probe(**env) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "CNNZOO_KEEP_FREED_MEMORY"}
    environ |= {"THP_MEM_ALLOC_ENABLE": "0"} | env
    out = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=True)
    on, faults = out.stdout.split()
    return on, int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_memory_is_reused_without_new_page_faults():
    on, faults = probe()
    assert on == "True" and faults < 16_384 // 10  # the pages were kept: next to no faults
    off, faults = probe(CNNZOO_KEEP_FREED_MEMORY="0")
    assert off == "False" and faults >= 16_384  # every page of the new tensor faulted in
