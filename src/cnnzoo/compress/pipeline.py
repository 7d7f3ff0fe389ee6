"""The Deep Compression pipeline: prune → retrain, quantize → fine-tune, Huffman-code → file.

Han, Mao & Dally, "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained
Quantization and Huffman Coding", ICLR 2016 (Figure 1). :func:`compress` takes a trained
model (a run directory, a checkpoint or a module), measures its test accuracy after every
stage, writes the compressed file and a report, and loads the file back to check that it
holds exactly the compressed model.

Defaults, from the paper:

- sparsity: the per-layer weights kept of Tables 2-5 for ``lenet_300_100``,
  ``lenet5_caffe``, ``alexnet``, ``alexnet_tv`` and ``vgg16`` (:mod:`.presets`); for other
  models 60% of a convolution's weights and 90% of a fully-connected layer's are pruned, close
  to AlexNet's Table 4 (convolutions keep 35–84%, fully-connected layers 9–25%);
- cluster-index bits ``b``: 8 for convolutions, 5 for fully-connected layers (§3);
- relative-index bits ``g``: per layer, the width that makes its section smallest (the
  paper's 4, 5 or 8 bits are a storage choice; ``g`` never changes the model);
- centroid initialization: linear (§3.2).

Retraining (Han et al. 2015, §3): iterative pruning (§3.4); the dropout that acts on a
pruned layer's neurons is lowered to D_o·√(C_r/C_o), C its connections kept and at first
(§3.2, Eq. 2), and put back when the file is written; L2 regularization (§3.1: "gives the
best pruning results") by ``weight_decay``. The paper retrains AlexNet at 1/100 of its
original learning rate (§4.2) with Caffe's solvers; the defaults here — five prune → retrain
rounds of eight epochs, eight epochs of centroid fine-tuning, Adam at 1e-3 and 1e-4 with a
cosine decay per phase, no weight decay, the run's own augmentation — are what kept the LeNets
of the bundled MNIST sample within 0.5 points of their accuracy (README). Not done: §3.3's
retraining of the convolutions and the fully-connected layers in turns (all layers are pruned
and retrained together), and §3.5's removal of dead neurons.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .._checks import SettingWarning, check_flag, describe, fraction, positive_int, seed_value
from .._files import check_new, check_writable
from .fileformat import SUFFIX, is_compressed_file, load_compressed, write_compressed
from .presets import paper_preset
from .prune import Pruner, compressible_layers, parse_layer_spec, resolve_per_layer, sparsity_schedule
from .quantize import INITS, WeightSharing
from .report import layer_rows, print_report

__all__ = ["compress", "CompressionResult", "DEFAULT_SPARSITY", "DEFAULT_BITS", "DEFAULT_INDEX_BITS"]

DEFAULT_SPARSITY = {"conv": 0.6, "fc": 0.9}
DEFAULT_BITS = {"conv": 8, "fc": 5}  # §3: "8 bits for each CONV layer, 5 bits for each FC layer"
# §2 gives relative indices of 8 (conv) and 5 (fc) bits, Tables 2-5 use 4 or 5: the width is a
# storage choice (it never changes the model), so by default each layer gets the one that makes
# its Huffman-coded section smallest; an integer or "conv=8,fc=5" fixes it.
DEFAULT_INDEX_BITS = "auto"


@dataclass
class CompressionResult:
    """What :func:`compress` made: the file, its report, and the model loaded back from it."""

    path: Path
    report: dict
    report_path: Path
    model: nn.Module
    meta: dict

    @property
    def ratio(self) -> float:
        return self.report["ratio"]

    def print(self, console=None) -> None:
        print_report(self.report, console)


# -- inputs -------------------------------------------------------------------------------
def _resolve_model(source, meta: dict | None, device) -> tuple[nn.Module, dict, Path | None]:
    """The model to compress (a copy; the caller's is left alone), its meta and, for a run
    directory, the directory."""
    if isinstance(source, nn.Module):
        from ..registry import create_model

        model = copy.deepcopy(source).to(device)
        meta = dict(meta or {})
        meta.setdefault("model", getattr(model, "name", None))
        meta.setdefault("model_options", dict(getattr(model, "model_options", None) or {}))
        meta.setdefault("num_classes", getattr(model, "num_classes", None))
        meta.setdefault("in_chans", getattr(model, "in_chans", None))
        meta.setdefault("input_size", getattr(model, "default_input_size", None))
        if getattr(model, "data_config", None):
            meta.setdefault("data_config", model.data_config)
        if None in (meta["model"], meta["num_classes"], meta["input_size"]):
            raise TypeError("compress expects a cnnzoo model (from create_model) or meta= naming "
                            "its model, num_classes, in_chans and input_size")
        with torch.device("meta"):
            rebuilt = create_model(meta["model"], **{"num_classes": meta["num_classes"],
                                                     "in_chans": meta["in_chans"], **meta["model_options"]})
        want = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
        have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        if want != have:
            raise ValueError(f"the module's tensors differ from {meta['model']!r} built with "
                             f"model_options={meta['model_options']}; pass meta={{'model_options': ...}}")
        return model, meta, None
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"compress expects a run directory, a checkpoint path or a cnnzoo model, "
                        f"got {describe(source)}")
    path = Path(source)
    if is_compressed_file(path):
        raise ValueError(f"{path} is already a compressed model; compress the run or checkpoint it came from")
    from ..train.checkpoint import load_model

    model, meta = load_model(path, device=device)
    return model, dict(meta), path if path.is_dir() else None


def _resolve_data(data, meta: dict):
    from ..data import ImageDataset, load_dataset

    if data is None:
        data = meta.get("dataset")
        if not data:
            raise ValueError("no data given and the model's meta names no dataset: pass data=")
    if isinstance(data, (tuple, list)):
        if len(data) != 2 or not all(isinstance(d, ImageDataset) for d in data):
            raise TypeError("data must be a dataset name or path, or a (train, test) pair of ImageDataset")
        return tuple(data)
    return load_dataset(str(data), train=True), load_dataset(str(data), train=False)


def _as_trained(sets, meta: dict):
    """The (train, test) pair as the model saw its training data: labels numbered as it numbers
    its classes, images at its training images' size; so that retraining sees what scoring
    (evaluate, which does the same) sees."""
    from ..data.datasets import at_training_size, match_classes

    config = meta.get("data_config") or {}  # class_ids: ImageNet's WordNet IDs, for imported weights
    return tuple(at_training_size(match_classes(ds, meta.get("classes"), config.get("class_ids")),
                                  config.get("image_size")) for ds in sets)


def _resolve_out(out, source, run_dir: Path | None, name: str, overwrite: bool) -> tuple[Path, Path]:
    """The compressed file and its report: ``RUN/compression/`` for a run directory,
    beside the checkpoint for a checkpoint, the report beside an explicit ``out``."""
    if out is not None:
        out = Path(out)
        report = out.with_suffix(".report.json")
    elif run_dir is not None:
        out, report = run_dir / "compression" / f"{name}{SUFFIX}", run_dir / "compression" / "report.json"
    else:
        out = Path(source).with_suffix(SUFFIX) if source is not None else Path(f"{name}{SUFFIX}")
        report = out.with_suffix(".report.json")
    for path in (out, report):
        check_writable(path)  # before any retraining, not after it
        if source is not None and path.resolve() == Path(source).resolve():
            raise ValueError(f"{path} is the checkpoint being compressed; writing there would "
                             "replace the model it reads: choose another --out")
    check_new([out], overwrite, replaces=(SUFFIX,))  # each over its own kind only: weights over
    check_new([report], overwrite, replaces=("report.json",))  # weights, a report over a report
    return out, report


def _run_augment(run_dir: Path | None):
    """The augmentation a run was trained with (its ``config.json``), else none."""
    config = run_dir / "config.json" if run_dir is not None else None
    if config is None or not config.is_file():
        return None
    return json.loads(config.read_text()).get("augment")


def _int_or_auto(text: str):
    return "auto" if text.strip() == "auto" else int(text)


def _train_loader(model: nn.Module, meta: dict, train_set, *, batch_size: int, device, seed: int,
                  augment):
    """The retraining loader, with the preprocessing the model was trained with (its
    ``data_config``: input size and normalisation) and ``augment``. A model that records
    none gets the training set's, so that evaluation and the compressed file agree."""
    from ..data import Loader, default_input_size

    config = dict(getattr(model, "data_config", None) or meta.get("data_config") or {})
    size = tuple(config.get("input_size") or default_input_size(
        model.default_input_size, train_set.image_size, model.min_input_size))
    loader = Loader(train_set, batch_size=batch_size, input_size=size, train=True, device=device,
                    seed=seed, mean=config.get("mean"), std=config.get("std"), augment=augment)
    if "mean" not in config:
        config.update(loader.data_config, dataset=train_set.name, classes=list(train_set.classes))
    model.data_config = meta["data_config"] = config
    meta["input_size"] = list(size)
    return loader


def _top1(model: nn.Module, test_set, device) -> float:
    """Test top-1 accuracy in percent, measured as ``cnnzoo eval`` measures a dataset already read
    (a folder's images at the training size, then the test view's crop: for imported weights a
    pixel from their publisher's one crop at most, and resized bilinearly)."""
    from ..train import evaluate

    return evaluate(model, test_set, device=device)["top1"]


def dropouts_on(model: nn.Module, layers: dict[str, nn.Module], example: torch.Tensor) -> dict[nn.Dropout, str]:
    """Each dropout module and the compressible layer whose neurons it drops: the last of
    ``layers`` to run before it in a forward pass of ``example`` (in eval mode, so that
    auxiliary heads, which run only in training, are not taken for the main path; after a
    concatenation, its last branch's, whose share kept is the others' unless set per layer),
    gates left out (a module's ``gate_layers``: squeeze-and-excitation, highway's T).
    Dropout called as a function inside ``forward`` is not seen."""
    gates = {id(getattr(m, g)) for m in model.modules() for g in getattr(m, "gate_layers", ())
             if hasattr(m, g)}
    order, hooks = [], []
    for module in model.modules():
        if isinstance(module, nn.Dropout) or any(module is m for m in layers.values() if id(m) not in gates):
            hooks.append(module.register_forward_hook(lambda m, _i, _o: order.append(m)))
    names = {id(m): n for n, m in layers.items()}
    try:
        was_training = model.training
        with torch.no_grad():
            model.eval()(example)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    found, last = {}, None
    for module in order:
        if isinstance(module, nn.Dropout):
            if last is not None and module.p > 0:
                found.setdefault(module, last)
        else:
            last = names[id(module)]
    return found


def _retrain(model: nn.Module, loader, *, epochs: int, param_groups: list[dict], optimizer: str,
             lr: float, first_epoch: int, label_smoothing: float,
             after_step: Callable[[], None] | None = None) -> None:
    """One retraining phase through the trainer's :func:`~cnnzoo.train.fit` (the model's own
    loss, auxiliary heads included): Adam, or SGD with momentum 0.9, with a cosine decay
    over the phase; ``after_step`` runs after every optimizer step."""
    from ..train import fit

    if epochs == 0:
        return
    groups = [dict(group) for group in param_groups]  # optimizers write lr etc. into the dicts
    opt = torch.optim.Adam(groups, lr=lr) if optimizer == "adam" else \
        torch.optim.SGD(groups, lr=lr, momentum=0.9)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    fit(model, loader, epochs=epochs, optimizer=opt, scheduler=schedule, start_epoch=first_epoch,
        label_smoothing=label_smoothing, mask_hook=None if after_step is None else (lambda _m: after_step()))


# -- the pipeline -----------------------------------------------------------------------------
def compress(model, data=None, *, sparsity=None, quality=None, bits=None, index_bits=None,
             init: str = "linear", prune_iterations: int = 5, retrain_epochs: int = 8,
             finetune_epochs: int = 8, optimizer: str = "adam", lr: float = 1e-3,
             finetune_lr: float = 1e-4, weight_decay: float = 0.0, label_smoothing: float = 0.0,
             augment="auto", batch_size: int = 64, float16: bool = False,
             out=None, overwrite: bool = False, device=None, seed: int = 0,
             meta: dict | None = None, log: Callable[[str], None] | None = None) -> CompressionResult:
    """Compress a trained model with Deep Compression and write the compressed file.

    ``model``: a run directory, a checkpoint, or a cnnzoo model. ``data``: a dataset name or
    path (default: the one the model was trained on) or a ``(train, test)`` pair of
    ``ImageDataset``.

    What is compressed: ``sparsity`` (fraction of a layer's weights pruned) or ``quality``
    (prune below quality × the layer's weight standard deviation), ``bits`` (cluster-index
    bits ``b``: ``2**b`` shared weights) and ``index_bits`` (relative-index bits ``g``, or
    ``"auto"``: the width that makes the layer's section smallest) each take one value, a
    dict by kind (``{"conv": 8, "fc": 5}``) or by layer path or shell pattern, or the same
    as a string (``"conv=8,fc=5"``). ``init``: centroid initialization (``linear``,
    ``random``, ``density``). ``float16`` stores codebooks, biases and the other raw tensors
    in half precision.

    How it retrains: ``prune_iterations`` rounds of prune → retrain (``retrain_epochs``
    each, at ``lr``), then ``finetune_epochs`` of centroid fine-tuning at ``finetune_lr``;
    ``optimizer`` ``"adam"`` or ``"sgd"`` (momentum 0.9), a cosine decay in every phase,
    ``weight_decay``, ``label_smoothing``, ``batch_size``; ``augment`` is a preset of
    :data:`cnnzoo.data.AUGMENTS` or ``"auto"`` (the augmentation the run was trained with,
    none for a bare checkpoint or module). ``device`` None picks CUDA when available.

    Where it writes: ``out`` defaults to ``RUN/compression/<model>.cnnzc`` for a run
    directory, the checkpoint's name with ``.cnnzc`` beside a checkpoint, and
    ``<model>.cnnzc`` for a module; the report goes beside the file (``.report.json``), or to
    ``RUN/compression/report.json`` for a run directory compressed without ``out``. Existing
    files are replaced only with ``overwrite``.
    ``log`` receives a line after every stage.
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if init not in INITS:
        raise ValueError(f"unknown centroid initialization {init!r}; expected one of {', '.join(INITS)}")
    if sparsity is not None and quality is not None:
        raise ValueError("give either sparsity or quality, not both")
    for what, n in (("prune_iterations", prune_iterations), ("retrain_epochs", retrain_epochs),
                    ("finetune_epochs", finetune_epochs)):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    batch_size = positive_int(batch_size, "batch_size")
    from .._device import resolve_device

    log = log or (lambda message: None)
    device = resolve_device(device)
    source = model
    model, meta, run_dir = _resolve_model(model, meta, device)
    name = meta["model"]
    layers = compressible_layers(model)
    if not layers:
        raise ValueError(f"{name} has no convolutional or fully-connected layer to compress")
    preset = paper_preset(name, layers)  # the paper's Tables 2-5, else the generic defaults
    sparsity = resolve_per_layer(parse_layer_spec(sparsity, float, "sparsity"), layers,
                                 preset or DEFAULT_SPARSITY, "sparsity")
    quality = None if quality is None else resolve_per_layer(parse_layer_spec(quality, float, "quality"),
                                                             layers, 0.0, "quality")
    bits = resolve_per_layer(parse_layer_spec(bits, int, "bits"), layers, DEFAULT_BITS, "bits")
    gap_bits = resolve_per_layer(parse_layer_spec(index_bits, _int_or_auto, "index_bits"), layers,
                                 DEFAULT_INDEX_BITS, "index_bits")
    pruner = Pruner(model, layers)  # before any work: it judges the quality parameters below
    # Every setting is checked here, before the first retraining epoch, not where it is used.
    for n, g in gap_bits.items():
        if g != "auto" and (not isinstance(g, int) or not 1 <= g <= 12):
            raise ValueError(f"index_bits of {n} must be an integer in 1..12 or 'auto', got {g!r}")
    for n in layers:
        if not isinstance(bits[n], int) or not 1 <= bits[n] <= 12:
            raise ValueError(f"bits of {n} must be an integer in 1..12, got {bits[n]!r}")
        if quality is None:
            fraction(sparsity[n], f"sparsity of {n}")
        if quality is not None:
            pruner.check_quality(n, quality[n])  # refuses one that would prune the whole layer
    seed = seed_value(seed)
    float16 = check_flag(float16, "float16")  # "yes" would be true, and "no" too
    for what, value in (("lr", lr), ("finetune_lr", finetune_lr)):
        if not value > 0:
            raise ValueError(f"{what} must be positive, got {value}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be ≥ 0, got {weight_decay}")
    out, report_path = _resolve_out(out, None if isinstance(source, nn.Module) else source, run_dir, name,
                                    overwrite)
    train_set, test_set = _as_trained(_resolve_data(data, meta), meta)
    if augment == "auto":
        augment = _run_augment(run_dir)
    if train_set.num_classes != meta["num_classes"]:
        raise ValueError(f"{train_set.name} has {train_set.num_classes} classes; {name} predicts "
                         f"{meta['num_classes']}")

    if batch_size > len(train_set):  # as train notes it: each retraining epoch is one step
        warnings.warn(f"batch size {batch_size} is larger than the {len(train_set):,} training images: each "
                      "retraining epoch is one step over all of them", SettingWarning, stacklevel=2)
    torch.manual_seed(seed)
    train_loader = _train_loader(model, meta, train_set, batch_size=batch_size, device=device, seed=seed,
                                 augment=augment)
    phase = dict(optimizer=optimizer, label_smoothing=label_smoothing)
    top1 = {"original": _top1(model, test_set, device)}
    log(f"{name}: test top-1 {top1['original']:.2f}% before compression")

    # 1. Pruning (§2): iterated prune → retrain, masks held through retraining, dropout lowered.
    history, epoch = [], 0
    groups = [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}]
    dropouts = dropouts_on(model, layers, torch.zeros(1, *meta["input_size"], device=device,
                                                      dtype=next(model.parameters()).dtype))
    original_p = {d: d.p for d in dropouts}
    with pruner.masked_gradients():
        for i in range(1, prune_iterations + 1):
            for n in layers:
                if quality is not None:
                    pruner.prune_below(n, quality[n])
                else:
                    pruner.prune_to_sparsity(n, sparsity_schedule(sparsity[n], i, prune_iterations))
            pruner.apply()
            for d, n in dropouts.items():  # Han et al. 2015, Eq. 2: D_r = D_o·sqrt(C_r / C_o)
                d.p = original_p[d] * float(pruner.masks[n].float().mean().sqrt())
            _retrain(model, train_loader, epochs=retrain_epochs, param_groups=groups, lr=lr,
                     first_epoch=epoch, after_step=pruner.apply, **phase)
            epoch += retrain_epochs
            kept = sum(int(m.sum()) for m in pruner.masks.values()) / sum(m.numel() for m in pruner.masks.values())
            history.append({"stage": "prune", "iteration": i, "kept_pct": 100 * kept,
                            "top1": _top1(model, test_set, device)})
            lowered = "".join(f", dropout on {n} {original_p[d]:g} → {d.p:.2f}" for d, n in dropouts.items())
            log(f"prune {i}/{prune_iterations}: {100 * kept:.1f}% of the weights kept, "
                f"test top-1 {history[-1]['top1']:.2f}%{lowered}")
    top1["pruned"] = history[-1]["top1"] if history else top1["original"]

    # 2. Trained quantization (§3): k-means weight sharing, then centroid fine-tuning.
    sharing = WeightSharing(layers, pruner.masks, bits, init=init, seed=seed)
    top1["quantized"] = _top1(model, test_set, device)
    log(f"quantized: test top-1 {top1['quantized']:.2f}% before fine-tuning the centroids")
    books = {id(p) for p in sharing.parameters()}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in books]
    groups = [{"params": sharing.parameters(), "weight_decay": 0.0},
              {"params": others, "weight_decay": weight_decay}]
    _retrain(model, train_loader, epochs=finetune_epochs, param_groups=groups, lr=finetune_lr,
             first_epoch=epoch, **phase)
    sharing.remove()
    module_names = {id(m): n for n, m in model.named_modules()}
    retrain_dropout = {module_names[id(d)]: {"on": n, "p": original_p[d], "retraining_p": d.p}
                       for d, n in dropouts.items()}
    for d, p in original_p.items():  # the model as it predicts: dropout is its own again
        d.p = p
    if float16:  # the model the file holds: codebooks and raw tensors in half precision
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.half().float())
    top1["finetuned"] = _top1(model, test_set, device)
    log(f"centroids fine-tuned: test top-1 {top1['finetuned']:.2f}%")

    # 3. Huffman coding and the file (§4).
    shared = {f"{n}.weight": layer for n, layer in sharing.export().items()}
    state = {k: shared.get(k, v) for k, v in model.state_dict().items()}
    header = {key: meta[key] for key in ("model", "model_options", "num_classes", "in_chans",
                                         "input_size", "data_config")}
    header["compression"] = {"method": "deep-compression", "init": init, "float16": float16}
    widths = {f"{n}.weight": None if g == "auto" else g for n, g in gap_bits.items()}
    stats = write_compressed(out, header, state, gap_bits=widths, float16=float16)
    file_bytes = os.path.getsize(out)
    loaded, loaded_meta = load_compressed(out, device=device)
    top1["file"] = _top1(loaded, test_set, device)
    x, _ = next(iter(train_loader))
    with torch.no_grad():
        exact = torch.equal(loaded(x), model.eval()(x))
    log(f"wrote {out}: {file_bytes:,} bytes, test top-1 {top1['file']:.2f}%")

    report = _report(model, layers, pruner, bits, stats, file_bytes, top1, exact)
    report.update(model=name, dataset=train_set.name, source=None if isinstance(source, nn.Module) else str(source),
                  file=str(out), history=history,
                  threads=torch.get_num_threads(),  # on a CPU the retraining repeats exactly at the same count
                  options={"preset": name if preset else None,
                      "sparsity": None if quality is not None else sparsity, "quality": quality,
                      "bits": bits, "index_bits": gap_bits, "init": init, "float16": float16,
                      "prune_iterations": prune_iterations,
                      "retrain_epochs": retrain_epochs, "finetune_epochs": finetune_epochs,
                      "optimizer": optimizer, "lr": lr, "finetune_lr": finetune_lr,
                      "weight_decay": weight_decay, "label_smoothing": label_smoothing,
                      "retrain_dropout": retrain_dropout,
                      "augment": augment if augment is None or isinstance(augment, str) else str(augment),
                      "batch_size": batch_size, "seed": seed})
    from .._files import write_json

    write_json(report_path, report)
    return CompressionResult(path=out, report=report, report_path=report_path, model=loaded, meta=loaded_meta)


def _report(model, layers, pruner, bits, stats, file_bytes, top1, exact) -> dict:
    """The report's numbers: per layer, the total, and each stage's size, ratio and accuracy."""
    by_name = {s.name: s for s in stats}
    rows = layer_rows(layers, by_name, bits, pruner.masks)
    state = model.state_dict()
    raw = [s for s in stats if s.kind == "raw"]
    raw32 = sum(state[s.name].numel() * state[s.name].element_size() for s in raw)
    original = 4 * sum(p.numel() for p in model.parameters())
    sizes = {stage: sum(r["bytes"][stage] for r in rows) + raw32 for stage in ("pruned", "quantized")}
    sections = sum(s.bytes for s in stats)
    entries = max(sum(r["entries"] for r in rows), 1)
    total = {
        "weights": sum(r["weights"] for r in rows),
        "kept": sum(r["kept"] for r in rows),
        "weight_bits_huffman": sum(by_name[f"{n}.weight"].index_stream_bits for n in layers) / entries,
        "index_bits_huffman": sum(by_name[f"{n}.weight"].gap_stream_bits for n in layers) / entries,
        "entries": entries,
        "fillers": sum(r["fillers"] for r in rows),
        "raw_bytes": sum(s.bytes for s in raw),
        "header_bytes": file_bytes - sections,
        "rate_pq_pct": 100.0 * sizes["quantized"] / original,
        "rate_pqh_pct": 100.0 * file_bytes / original,
    }
    total["kept_pct"] = 100.0 * total["kept"] / total["weights"]
    stages = [
        ("original", original, top1["original"]),
        ("pruned (P)", sizes["pruned"], top1["pruned"]),
        ("quantized, k-means (P+Q)", sizes["quantized"], top1["quantized"]),
        ("quantized, fine-tuned (P+Q)", sizes["quantized"], top1["finetuned"]),
        ("Huffman-coded file (P+Q+H)", file_bytes, top1["file"]),
    ]
    return {
        "original_bytes": original,
        "file_bytes": file_bytes,
        "ratio": original / file_bytes,
        "top1": top1,
        "top1_drop": top1["original"] - top1["file"],
        "exact": exact,
        "layers": rows,
        "total": total,
        "stages": [{"stage": s, "bytes": b, "ratio": original / b, "top1": a} for s, b, a in stages],
    }
