"""``import cnnzoo`` switches on PyTorch's huge-page allocation (THP_MEM_ALLOC_ENABLE) only
where it can matter: before torch loads, with the user's own setting left alone, and never
where the kernel has transparent huge pages switched off."""

import os
import subprocess
import sys

import pytest

from cnnzoo import _hugepages

PROBE = "import os; {first}import cnnzoo; print(os.environ.get('THP_MEM_ALLOC_ENABLE'))"


def probe(first: str = "", **env) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"} | env
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], env=environ,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not _hugepages._kernel_allows_huge_pages(), reason="kernel THP is off")
def test_set_before_torch_loads():
    assert probe() == "1"


def test_left_alone_after_torch_or_when_the_user_chose():
    assert probe(first="import torch; ") == "None"  # too late: torch read it already
    assert probe(THP_MEM_ALLOC_ENABLE="0") == "0"


@pytest.mark.parametrize("setting, allowed", [
    ("always [madvise] never\n", True),
    ("[always] madvise never\n", True),
    ("always madvise [never]\n", False),
])
def test_kernel_setting_is_read(tmp_path, monkeypatch, setting, allowed):
    path = tmp_path / "enabled"
    path.write_text(setting)
    monkeypatch.setattr(_hugepages, "_THP_SETTING", str(path))
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "")  # recorded, so the test's value is undone
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE")
    monkeypatch.delitem(sys.modules, "torch")  # as if torch had not loaded yet
    _hugepages.enable()
    assert os.environ.get("THP_MEM_ALLOC_ENABLE") == ("1" if allowed else None)
    assert _hugepages.in_effect() is allowed


def test_missing_kernel_setting_means_no_huge_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(_hugepages, "_THP_SETTING", str(tmp_path / "absent"))
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "1")
    assert _hugepages.in_effect() is False
