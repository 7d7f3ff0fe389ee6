"""Checkpoints: weights in safetensors, full training state through ``torch.load(weights_only=True)``.

A run directory holds ``best.safetensors`` (the weights of the epoch with the best test
accuracy, with a JSON description of the model and its data in the file's metadata) and
``last.ckpt`` (everything needed to continue: model, optimiser, schedule, loss scaler,
random-number-generator states of every rank, epoch and step, history, configuration).
Both are written atomically (a temporary file in the same folder, then a rename), so a
run killed while writing keeps its previous checkpoint; neither can execute code when
loaded. A truncated file, a file that is not a cnnzoo checkpoint, or the weights of
another model give a :class:`ValueError` that says which.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from .._checks import describe, type_problem
from ..data.datasets import IMAGE_EXTENSIONS
from .._files import as_path, write_atomic

__all__ = [
    "BEST",
    "LAST",
    "FORMAT",
    "save_weights",
    "read_weights",
    "save_checkpoint",
    "load_checkpoint",
    "resolve_checkpoint",
    "model_meta",
    "check_meta",
    "error_summary",
    "load_model",
    "load_weights",
    "CheckpointWarning",
    "unreadable",
]

FORMAT = "cnnzoo"
VERSION = 1
BEST = "best.safetensors"
LAST = "last.ckpt"
# Setting an --overwrite'd run aside (train.run._clear_run), in states that a kill at any moment
# leaves recoverable: REPLACED holds the whole old run while the new one has no checkpoint;
# RETURNING holds old files that all go back, over nothing (a set-aside or a give-back cut short);
# DROPPING is an old run the new one has replaced for good (its checkpoint is written).
REPLACED, RETURNING, DROPPING = ".replaced", ".returning", ".dropping"


class CheckpointWarning(UserWarning):
    """A run directory was read from another checkpoint than its best one."""


def _check_module(model, call: str) -> None:
    """Refuse a ``model`` argument of ``call`` (its signature) that is not a module."""
    if not isinstance(model, nn.Module):
        swapped = "; are the arguments swapped?" if isinstance(model, (str, os.PathLike)) else ""
        raise TypeError(f"{call}: model must be a torch.nn.Module, got {describe(model)}{swapped}")


def model_meta(model: nn.Module, **extra) -> dict:
    """What a checkpoint records about its model: registry name and builder options (so
    :func:`load_model` can rebuild it), classes, input size, preprocessing."""
    from ..registry import list_models

    _check_module(model, "model_meta(model)")
    cls = type(model)
    name = getattr(model, "name", None)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model": name if isinstance(name, str) and name in list_models() else None,
        "model_class": f"{cls.__module__}.{cls.__qualname__}",
        "model_options": dict(getattr(model, "model_options", {}) or {}),
        "num_classes": getattr(model, "num_classes", None),
        "in_chans": getattr(model, "in_chans", None),
        "input_size": list(getattr(model, "default_input_size", ()) or ()) or None,
    }
    data_config = getattr(model, "data_config", None)
    if data_config:
        meta["data_config"] = data_config
        meta["input_size"] = list(data_config.get("input_size") or meta["input_size"] or [])
        meta["dataset"] = data_config.get("dataset")
        meta["classes"] = data_config.get("classes")
    meta.update(extra)
    return json.loads(json.dumps(meta))  # plain JSON types only


# What each metadata field must be; everything that reads a checkpoint relies on these.
_META_TYPES = {"model": str, "model_class": str, "model_options": dict, "num_classes": int,
               "in_chans": int, "input_size": list, "data_config": dict, "dataset": str,
               "classes": list}


def check_meta(meta: dict, path) -> dict:
    """Refuse metadata with a field of the wrong type, or more or fewer class names than the
    model has outputs (a damaged or hand-edited file), naming the field, instead of failing
    later wherever the field is used."""
    def check(fields: dict, prefix: str = "") -> None:
        for key, expected in _META_TYPES.items():
            value = fields.get(key)
            if value is None:
                continue
            problem = type_problem(value, expected)
            if problem:
                raise refuse(f"field {prefix + key!r} is {value!r:.60}; expected {problem}")
            if key == "classes" and not all(isinstance(c, str) for c in value):
                raise refuse(f"field {prefix + key!r} holds something other than class names")
            if key == "classes" and meta.get("num_classes") not in (None, len(value)):
                raise refuse(f"field {prefix + key!r} names {len(value)} classes for a model with "
                             f"{meta['num_classes']} outputs")

    def refuse(what: str) -> ValueError:
        return ValueError(f"{path}: its metadata {what} (the file is damaged or was not written by cnnzoo)")

    check(meta)
    check(meta.get("data_config") or {}, "data_config.")
    return meta


# -- weights ------------------------------------------------------------------------------
def _plain_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as separate contiguous CPU tensors (safetensors refuses shared ones)."""
    seen, out = set(), {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        out[k] = v.clone().contiguous() if key in seen or not v.is_contiguous() else v
        seen.add(key)
    return out


def save_weights(path: str | os.PathLike, model: nn.Module, meta: dict | None = None) -> Path:
    """The model's weights as safetensors, with ``meta`` (JSON) in the file's metadata."""
    from safetensors.torch import save

    _check_module(model, "save_weights(path, model)")
    path = as_path(path, "the weights file to write")
    meta = meta if meta is not None else model_meta(model)
    return write_atomic(path, save(_plain_state(model), metadata={FORMAT: json.dumps(meta)}))


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """State dict and metadata of a cnnzoo safetensors file."""
    from safetensors import safe_open

    path = as_path(path, "a safetensors file")
    open(path, "rb").close()  # missing or unreadable: the system's own reason (safetensors says "No such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta_text = (f.metadata() or {}).get(FORMAT)
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for bad files
        raise ValueError(f"{path} is not a readable safetensors file (truncated or corrupt?): {err}") from None
    if meta_text is None:
        raise ValueError(f"{path} is a safetensors file but not a cnnzoo checkpoint (no '{FORMAT}' metadata); "
                         f"load its weights into your model with load_state_dict, or, for published weights "
                         f"(timm's), make it one with `cnnzoo import {path} --model NAME`")
    try:
        meta = json.loads(meta_text)
    except ValueError as err:  # json's own message names neither the file nor the metadata
        raise ValueError(f"{path}: its '{FORMAT}' metadata is not valid JSON ({err}); expected the JSON "
                         f"object save_weights writes (the file is damaged or was not written by cnnzoo)") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: its '{FORMAT}' metadata is a JSON {type(meta).__name__}, expected the "
                         f"JSON object save_weights writes")
    return state, check_meta(meta, path)


# -- full training state ------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """``state`` (tensors, numbers, strings, lists, dicts) with the cnnzoo format tag."""
    path = as_path(path, "the checkpoint to write")
    if not isinstance(state, dict):
        raise TypeError(f"save_checkpoint expects a dict of the training state, got {describe(state)}")
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    return write_atomic(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """A checkpoint written by :func:`save_checkpoint`, loaded without executing code."""
    path = as_path(path, "a checkpoint")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with open(path, "rb") as f:  # a file object: torch reads a path named *.safetensors as safetensors
            state = torch.load(f, map_location=map_location, weights_only=True)
    except Exception as err:  # zip, pickle and EOF errors alike: a bad file
        raise ValueError(unreadable(path, err, "checkpoint", "truncated, corrupt, not written by torch.save, "
                                    "or holding objects a weights-only load refuses")) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is a PyTorch file but not a cnnzoo checkpoint; for published weights "
                         f"(torchvision's resnet50-11ad3fa6.pth), make it one with `cnnzoo import {path}`")
    return state


def unreadable(path: Path, err: BaseException, what: str, why: str, expected: str | None = None) -> str:
    """One line for a file that torch.load (or safetensors) could not read as ``what``: what it
    plainly is and what to give instead (``expected``), else the likely ``why`` and the first
    sentence of the library's reason (the rest advises weights_only=False, which would execute
    whatever code the file holds); a torch.save zip cut short is named so."""
    looks = _looks_like(path, expected)
    if looks:
        return f"{path} is not a readable {what}: {looks}"
    reason = str(err).split(". ")[0].splitlines()[0] if str(err).strip() else type(err).__name__
    if _kind_by_content(path) == "torch" and not zipfile.is_zipfile(path):  # torch's word: "Errno 22"
        reason = "the zip archive that torch.save writes has no end (its central directory): cut short"
    return f"{path} is not a readable {what} ({why}): {reason}"


def _looks_like(path: Path, expected: str | None = None) -> str | None:
    """What a file that torch.load cannot read plainly is, and what to give instead (``expected``,
    by default a checkpoint); None when it is nothing recognisable (then it is a damaged file, as
    far as one can tell)."""
    expected = expected or f"a run directory, its {BEST} or {LAST}, or a .cnnzc file"
    with open(path, "rb") as f:
        start = f.read(4096)
    head = start[:16]
    if head.startswith(b"\x93NUMPY") or (zipfile.is_zipfile(path) and path.suffix.lower() == ".npz"):
        return f"it is a NumPy array file (a dataset?), not a model; expected {expected} (data goes to --data)"
    if path.suffix.lower() in IMAGE_EXTENSIONS or _image_format(path):
        return (f"it is an image, not a model; expected {expected}. Where a command takes both, the "
                f"checkpoint comes first: cnnzoo predict CHECKPOINT IMAGE...")
    if head.lstrip()[:1] in (b"{", b"["):
        try:
            json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            return None
        folder = path.parent
        if any((folder / name).is_file() for name in (BEST, LAST)):  # a run's config.json, summary.json...
            return f"it is a JSON file of the run {folder}; give the run folder itself or its {BEST}"
        return f"it is a JSON file, not a model; expected {expected}"
    try:  # text (a CSV, a log, a script) is not a model either
        codecs.getincrementaldecoder("utf-8")().decode(start)  # a character cut at 4096 is fine
    except UnicodeDecodeError:
        return None
    return f"it is a text file, not a model; expected {expected}" if start and b"\0" not in start else None


def _image_format(path: Path) -> str | None:
    """The image format Pillow recognises in ``path``, without decoding it."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            return image.format
    except Exception:  # not an image (Pillow raises many types), or no Pillow
        return None


def interrupted_overwrite(run_dir: Path) -> str | None:
    """What to say of a run folder whose ``--overwrite`` was killed before its first checkpoint
    (the old run waits in ``.replaced``, see ``train.run._clear_run``); None for any other."""
    if (run_dir / RETURNING).is_dir():  # a kill while files were moved in or out
        return (f"an --overwrite of it was stopped while it set the earlier run aside or gave it back: part of "
                f"that run is in {run_dir / RETURNING}; the next `cnnzoo train ... --out {run_dir}` puts it back")
    if (run_dir / REPLACED).is_dir() and not (run_dir / LAST).is_file():
        return (f"an --overwrite of it was stopped before its first checkpoint, and the run it was replacing "
                f"is in {run_dir / REPLACED}; the next `cnnzoo train ... --out {run_dir}` puts it back")
    return None


# -- models -------------------------------------------------------------------------------
def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run directory's best checkpoint (its last one if no best,
    with a :class:`CheckpointWarning`: those weights may be of an unfinished epoch)."""
    path = as_path(path, "a run directory or checkpoint").expanduser()
    if path.is_dir():
        if (path / RETURNING).is_dir():  # what is in the folder is not the whole run
            raise FileNotFoundError(f"{path} is not whole: {interrupted_overwrite(path)}")
        if (path / BEST).is_file():
            return path / BEST
        if (path / LAST).is_file():
            warnings.warn(f"{path} has no {BEST} (the run stopped before its first test, or the file was "
                          f"removed): reading {path / LAST}, the weights of its last checkpoint, which may be "
                          f"in the middle of an epoch", CheckpointWarning, stacklevel=3)
            return path / LAST
        replaced = interrupted_overwrite(path)
        if replaced:
            raise FileNotFoundError(f"{path} holds no checkpoint: {replaced}")
        raise FileNotFoundError(f"{path} holds no checkpoint ({BEST} or {LAST}); is it a cnnzoo run directory?")
    if not path.exists():
        raise FileNotFoundError(f"no run directory or checkpoint at {path}")
    return path


def _kind_by_content(path: Path) -> str | None:
    """``"torch"`` for torch.save's zip, ``"safetensors"`` for a safetensors file (8 bytes of
    header length, then its JSON), else None: a file renamed to another suffix is read as what
    it is."""
    with open(path, "rb") as f:
        head = f.read(9)
    if head.startswith(b"PK\x03\x04"):
        return "torch"
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < os.path.getsize(path):
        return "safetensors"
    return None


def _read_any(path: Path) -> tuple[dict, dict]:
    kind = _kind_by_content(path) or ("safetensors" if path.suffix == ".safetensors" else "torch")
    if kind == "safetensors":
        return read_weights(path)
    state = load_checkpoint(path)
    if not isinstance(state.get("model"), dict) or not isinstance(state.get("meta"), dict):
        raise ValueError(f"{path} is a cnnzoo checkpoint without model weights")
    return state["model"], check_meta(state["meta"], path)


def error_summary(err: BaseException, limit: int = 240) -> str:
    """The gist of a library's error for a one-line message: torch's ``load_state_dict``
    lists every missing key on one line (thousands of characters for a big model), so
    the first lines that say something, cut at ``limit`` characters."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
        lines = lines[1:]
    text = " ".join(lines[:2]) or type(err).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _fit_state(model: nn.Module, state: dict, meta: dict, path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        what = meta.get("model") or meta.get("model_class")
        from ..registry import display_name

        raise ValueError(f"{path} holds weights of {what}, which do not fit {display_name(model)}: {error_summary(err)}") from None


def load_weights(model: nn.Module, path: str | os.PathLike) -> dict:
    """Load a checkpoint's weights into ``model`` (strictly) and return its metadata."""
    _check_module(model, "load_weights(model, path)")
    path = resolve_checkpoint(path)
    state, meta = _read_any(path)
    _fit_state(model, state, meta, path)
    if meta.get("data_config"):
        model.data_config = meta["data_config"]
    return meta


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the registered model a checkpoint (or run directory: its best checkpoint)
    holds, load its weights, and return ``(model in eval mode, metadata)``. The metadata
    has ``model``, ``model_options``, ``num_classes``, ``in_chans``, ``input_size``,
    ``dataset``, ``classes`` and ``data_config`` (the preprocessing)."""
    from .._device import resolve_device
    from ..compress.fileformat import SUFFIX, is_compressed_file, load_compressed
    from ..registry import create_model

    path = resolve_checkpoint(path)
    device = resolve_device(device)  # before the weights are read: a bad device is the cheaper error
    # A Deep Compression file (`cnnzoo compress`, issue 7); by its name too, so that a damaged
    # or empty one gets the compressed format's error, not torch.load's.
    if is_compressed_file(path) or (path.suffix.lower() == SUFFIX and not _kind_by_content(path)):
        return load_compressed(path, device=device)
    state, meta = _read_any(path)
    if not meta.get("model"):
        raise ValueError(f"{path} holds the weights of a user module ({meta.get('model_class')}), which "
                         f"cnnzoo cannot rebuild; build it and call cnnzoo.train.load_weights(module, path)")
    options = dict(meta.get("model_options") or {})
    model = create_model(meta["model"], **options)
    _fit_state(model, state, meta, path)
    model.model_options = options
    if meta.get("data_config"):
        model.data_config = meta["data_config"]
    meta.setdefault("dataset", (meta.get("data_config") or {}).get("dataset"))
    meta.setdefault("classes", (meta.get("data_config") or {}).get("classes"))
    return model.to(device).eval(), meta
