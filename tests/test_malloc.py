"""The paths that ask for speed on a CPU keep freed memory in the process (glibc's mallopt),
so that the next pass reuses its activations' pages instead of having the kernel map and zero
them again; ``import cnnzoo`` alone leaves a program's allocation as it was, and
``CNNZOO_KEEP_FREED_MEMORY=0`` opts out."""

import os
import platform
import subprocess
import sys

import pytest

# Page faults of a 64 MB tensor written in full after a larger one was freed. Huge pages are
# off for PyTorch here, so that each fault is one 4 KB page where the kernel does not make
# them itself: 64 MB / 4 KB = 16,384 faults when the memory is new.
PROBE = """
import resource, cnnzoo, torch
from cnnzoo import _malloc
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
imported = _malloc.in_effect()
cnnzoo.optimize_for_inference(cnnzoo.create_model("lenet5"))
torch.empty(20 * 2**20).fill_(1.0)  # 80 MB, freed at once: room for the 64 MB and its alignment
before = faults()
torch.empty(16 * 2**20).fill_(1.0)
print(imported, _malloc.in_effect(), faults() - before)
"""


def probe(**env) -> tuple[str, str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "CNNZOO_KEEP_FREED_MEMORY"}
    environ |= {"THP_MEM_ALLOC_ENABLE": "0"} | env
    out = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=True)
    imported, on, faults = out.stdout.split()
    return imported, on, int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_fast_path_reuses_freed_memory_without_new_page_faults():
    imported, on, kept = probe()
    assert (imported, on) == ("False", "True")  # set by optimize_for_inference, not by the import
    imported, on, fresh = probe(CNNZOO_KEEP_FREED_MEMORY="0")
    assert (imported, on) == ("False", "False")
    # kept pages: next to no faults; new ones: a fault per page (per huge page where the
    # kernel backs every mapping with them: 64 MB / 2 MB = 32)
    assert kept * 10 < fresh and fresh >= 32
