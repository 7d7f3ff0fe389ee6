"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``, so a
reader never sees half a file and an error leaves any earlier file as it was."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["as_path", "write_atomic", "write_json", "check_writable", "check_new"]


def as_path(path, what: str) -> Path:
    """``path`` as a Path; anything but a str or os.PathLike is a TypeError that says what it
    should have been (``Path(5)``'s own message names neither the argument nor that)."""
    if not isinstance(path, (str, os.PathLike)):
        from ._checks import describe

        raise TypeError(f"expected the path of {what} (a str or os.PathLike), got {describe(path)}")
    return Path(path)


def check_writable(path: str | os.PathLike, *, probe: bool = True) -> Path:
    """Raise a clear error if a file cannot be written at ``path`` (it is a folder, a folder on
    its way is a file, or, with ``probe``, the nearest existing folder takes no files);
    commands call it before long work."""
    path = Path(path)
    if path.is_dir():
        raise FileExistsError(f"cannot write {path}: it is a folder; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise FileExistsError(f"cannot write {path}: {parent} is a file, not a folder")
            if not probe:
                break
            try:  # a real file: permissions, read-only and virtual file systems alike
                fd, probe_file = tempfile.mkstemp(prefix=".cnnzoo-probe.", dir=parent)
            except OSError as err:
                raise PermissionError(f"cannot write {path}: cannot create files in {parent} "
                                      f"({err.strerror or err})") from None
            os.close(fd)
            os.unlink(probe_file)
            break
    return path


WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".cnnzc")  # what training and compression produce
RUN_RECORDS = ("config.json", "metrics.csv", "summary.json", "summary.txt", "curves.png", "confusion.png")


def check_new(paths, overwrite: bool, *, replaces: tuple[str, ...] = ()) -> None:
    """Raise unless ``overwrite`` when any of ``paths`` exists: every command replaces an
    earlier result (a run, a compressed file, a benchmark, a report, a comparison) only when
    asked to, so a repeated command cannot cost a user an earlier measurement. Weights, and a
    run's records and compression reports, are not replaced even then, except by their own kind
    (``replaces``: the endings of the names this command writes, ``.cnnzc`` and ``report.json``
    for compress): a mistyped output path must not cost hours of training."""
    for path in map(Path, paths):
        kept = _training_result(path)
        if kept and not path.name.endswith(tuple(replaces)):
            raise FileExistsError(f"{path} holds {kept}; no command writes over it, even with --overwrite: "
                                  "choose another output")
    existing = [str(p) for p in paths if os.path.lexists(p)]
    if existing and not overwrite:
        what = f"{existing[0]} exists" if len(existing) == 1 else f"{', '.join(existing)} exist"
        raise FileExistsError(f"{what}; pass --overwrite (overwrite=True) to replace "
                              f"{'it' if len(existing) == 1 else 'them'}, or choose another output")


def _training_result(path: Path) -> str | None:
    """What an existing ``path`` holds that only training or compression makes, if anything."""
    if not path.is_file():
        return None
    if path.suffix in WEIGHT_SUFFIXES:
        return "trained weights"
    if path.name in RUN_RECORDS and (path.parent / RUN_RECORDS[0]).is_file():
        return f"a training run's {path.name}"
    # compress's report: beside its .cnnzc (X.report.json), or in a run's compression/ folder
    beside = path.with_name(path.name.removesuffix(".report.json") + ".cnnzc")
    in_folder = path.name == "report.json" and path.parent.name == "compression" and any(path.parent.glob("*.cnnzc"))
    if (path.name.endswith(".report.json") and beside.is_file()) or in_folder:
        return "a compression report"
    return None


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; create its folder."""
    path = check_writable(path, probe=False)  # the temporary file below is the probe
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:  # e.g. a read-only or virtual file system (/proc)
        raise PermissionError(f"cannot write {path}: {err.strerror or err}") from None
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        # mkstemp makes the file private (0600); give it the permissions open() would
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, data) -> Path:
    """``data`` as indented JSON, written atomically."""
    return write_atomic(path, json.dumps(data, indent=2) + "\n")
