"""``cnnzoo.train``: a whole training run, written to a run directory.

The run directory (layout in notes/CONTRACTS.md)::

    config.json        the resolved configuration: model and options, data, recipe, seed ...
    metrics.csv        one row per epoch (accuracies in percent)
    best.safetensors   weights of the epoch with the best test top-1, with their metadata
    last.ckpt          the full training state, to resume from
    curves.png         learning curves          confusion.png   the final confusion matrix
    summary.json       final metrics            summary.txt     the same for people

Everything random is a function of the seed: the model's initialisation, the data order and
augmentation (of ``(seed, epoch, step, rank)``), and dropout (the generator states are
saved in ``last.ckpt``), so a run resumed after being killed, even in the middle of an
epoch, ends where an uninterrupted run on the same machine ends — bit for bit on a CPU; on a
GPU up to the last bits, as cuDNN's fastest backward kernels add in no fixed order (cnnzoo
does not give up their speed for ``torch.use_deterministic_algorithms``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..data import Augment, ImageDataset, Loader, class_difference, default_input_size, load_dataset
from ..data.loader import _mix
from ..models.base import Classifier
from . import distributed
from .._checks import SettingWarning, check_flag_or_auto, describe, int_at_least, seed_value
from .._device import check_threads, machine_threads, resolve_device
from .._files import RUN_RECORDS, check_writable, write_atomic
from .checkpoint import (BEST, DROPPING, LAST, REPLACED, RETURNING, error_summary, load_checkpoint, model_meta,
                         save_checkpoint, save_weights)
from .loop import Trainer, TrainingDiverged, fastest_settings, resolve_precision
from .metrics import plot_confusion, plot_curves, write_metrics, write_summary
from .optim import Schedule, build_optimizer, renormalise_filters
from .recipes import Recipe, get_recipe
from ..registry import display_name

__all__ = ["train", "RunResult", "RunWarning", "RUN_FILES", "is_run"]

CONFIG = "config.json"
# Files a run writes (and --overwrite sets aside in .replaced until the new run's first
# checkpoint), with what other commands derive from them.
RUN_FILES = (*RUN_RECORDS, BEST, LAST, "bench.json", "report.html", "compression")
RUN_CONFIG_KEYS = ("model", "model_options", "dataset", "seed", "recipe")  # what --resume reads back


class RunWarning(UserWarning):
    """Something cnnzoo did to a run folder that its owner should hear of."""


@dataclass
class RunResult:
    """What a run produced. ``test_top1``/``test_top5`` are the final epoch's (percent);
    ``best_top1`` the best epoch's, whose weights are ``run_dir / "best.safetensors"``."""

    run_dir: Path
    model: nn.Module
    history: list[dict]
    test_top1: float
    test_top5: float
    best_top1: float
    best_epoch: int
    evaluation: dict = field(repr=False)
    config: dict = field(repr=False)
    summary: dict = field(repr=False)


def _data_name(data) -> str:
    if isinstance(data, (tuple, list)):
        return data[0].name
    text = os.fspath(data)
    return text if not os.path.exists(text) or text == "mnist-sample" else str(Path(text).resolve())


def _default_run_dir(model_name: str, data_name: str) -> Path:
    stem = Path(data_name).stem if os.sep in data_name else data_name
    base = Path("runs") / f"{model_name}-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> dict | None:
    """Check what is at ``run_dir``; return the saved configuration when resuming."""
    _settle_replaced(run_dir)
    if resume:
        if not (run_dir / CONFIG).is_file():
            raise FileNotFoundError(f"nothing to resume at {run_dir}: no {CONFIG} (start the run without --resume)")
        config = _read_run_config(run_dir)
        if isinstance(config, str):
            raise ValueError(f"cannot resume {run_dir}: {config}; expected the JSON object cnnzoo wrote when "
                             "the run started (start a new run instead)")
        # metrics.csv is written after the epoch's last.ckpt, so a run killed before its first
        # checkpoint has none; with it, training from the start would replace finished epochs.
        results = [name for name in ("metrics.csv", "summary.json") if (run_dir / name).exists()]
        if results and not (run_dir / LAST).is_file():
            raise FileNotFoundError(f"cannot resume {run_dir}: its {LAST} is missing, but the run has "
                                    f"results ({', '.join(results)}); put {LAST} back, or pass "
                                    "--overwrite instead of --resume to train it again from the start")
        return config
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} exists and is not a directory")
    check_writable(run_dir / CONFIG)
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not is_run(run_dir):
            raise FileExistsError(f"{run_dir} is not empty and is not a cnnzoo run; choose another --out")
        if not overwrite and not any((run_dir / name).exists() for name in (LAST, BEST, "metrics.csv")):
            # it stopped (diverged at once, was killed) before any checkpoint: nothing to continue
            raise FileExistsError(f"{run_dir} holds a run that stopped before its first checkpoint; pass "
                                  f"--overwrite to start it again with these settings")
        if not overwrite:
            raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it or "
                                  f"--overwrite to replace it")
    return None  # the old run is set aside by _clear_run, once the new one has checked out


def _read_run_config(run_dir: Path) -> dict | str:
    """The run's configuration, or what is wrong with its config.json."""
    path = run_dir / CONFIG
    try:
        config = json.loads(path.read_text())
    except ValueError as err:  # json's own message names no file
        return f"{path} is not valid JSON ({err})"
    except OSError as err:
        return f"{path} cannot be read ({err.strerror or err})"
    if not isinstance(config, dict):
        return f"{path} holds a JSON {type(config).__name__}"
    missing = [key for key in RUN_CONFIG_KEYS if key not in config]
    if missing:
        return f"{path} is not a cnnzoo run's configuration (it has no {', '.join(map(repr, missing))})"
    return config


def is_run(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds a cnnzoo run: a config.json that cnnzoo wrote, not any file of
    that name (a web app's, a notebook's), since --overwrite replaces a run's files."""
    return isinstance(_read_run_config(Path(run_dir)), dict)


def _clear_run(run_dir: Path) -> None:
    """Make ``run_dir`` ready for a new run. An old run's files (``--overwrite``, which
    :func:`_prepare_run_dir` allowed) are set aside in ``run_dir/.replaced`` until the new run's
    first checkpoint (:func:`_drop_replaced`); a new run that fails before it gets them back
    (:func:`_give_back_replaced`), and so does the next command on a folder whose new run was
    killed first (:func:`_settle_replaced`). Called only after the model, data and recipe are
    built, so that a typo in the new command cannot cost the old run."""
    old = [name for name in RUN_FILES if os.path.lexists(run_dir / name)]
    if old:
        moving = run_dir / RETURNING  # until every file is in it, a kill means: put them back
        moving.mkdir(parents=True)
        try:
            for name in old:
                (run_dir / name).rename(moving / name)
        except BaseException:
            _return_all(run_dir)
            raise
        moving.rename(run_dir / REPLACED)
    run_dir.mkdir(parents=True, exist_ok=True)


def _settle_replaced(run_dir: Path) -> None:
    """Finish what a killed ``--overwrite`` left (SIGKILL, a machine that went down): the run
    it was replacing goes if the new one reached its first checkpoint, and comes back if not."""
    if (run_dir / DROPPING).is_dir():
        shutil.rmtree(run_dir / DROPPING)
    back = _return_all(run_dir)
    if (run_dir / REPLACED).is_dir():
        if (run_dir / LAST).is_file():
            _drop_replaced(run_dir)
        else:
            back = _give_back_replaced(run_dir)
    if back:
        warnings.warn(f"an --overwrite of {run_dir} stopped before its first checkpoint: the run it was "
                      "replacing is back in the folder, as it was", RunWarning, stacklevel=4)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _drop_replaced(run_dir: Path) -> None:
    """The new run has a checkpoint: the run it replaces is gone for good (renamed first, so
    that a kill while it is deleted cannot make what is left of it look like a run to restore)."""
    if (run_dir / REPLACED).is_dir():
        (run_dir / REPLACED).rename(run_dir / DROPPING)
        shutil.rmtree(run_dir / DROPPING)


def _give_back_replaced(run_dir: Path) -> bool:
    """Put the replaced run's files back (the new run failed before its first checkpoint):
    the new run's files go first, then the old ones return; True if there were any."""
    aside = run_dir / REPLACED
    if not aside.is_dir():
        return False
    for name in RUN_FILES:
        if os.path.lexists(run_dir / name):
            _remove(run_dir / name)
    aside.rename(run_dir / RETURNING)
    return _return_all(run_dir)


def _return_all(run_dir: Path) -> bool:
    """Move every file in ``run_dir/.returning`` back into ``run_dir``; True if there was one."""
    returning = run_dir / RETURNING
    if not returning.is_dir():
        return False
    for moved in returning.iterdir():
        moved.rename(run_dir / moved.name)
    returning.rmdir()
    return True


def _check_same(saved: dict, asked: dict, run_dir: Path) -> None:
    """A resumed run keeps its configuration: explicit arguments must agree with it."""
    clashes = [f"{k}: run has {saved.get(k)!r}, asked {v!r}" for k, v in asked.items()
               if v is not None and saved.get(k) != v]
    if clashes:
        raise ValueError(f"--resume continues {run_dir} with its own configuration; these differ: "
                         + "; ".join(clashes) + ". Start a new run (another --out) to change them.")


def _load_data(data, root, download, info) -> tuple[ImageDataset, ImageDataset]:
    if isinstance(data, (tuple, list)):
        return data[0], data[1]
    if download and info.active:  # rank 0 downloads, the others then read the files
        def fetch():
            load_dataset(data, train=True, root=root, download=True)

        distributed.from_rank0(info, fetch)
    return (load_dataset(data, train=True, root=root, download=download),
            load_dataset(data, train=False, root=root, download=download, to_train=True))


def _settings_text(dev: torch.device, threads: int | None, channels_last: bool, precision: str) -> str:
    """What a run trains with, for its first line: ``2 threads, channels_last, bf16 autocast``."""
    parts = [f"{threads} thread{'' if threads == 1 else 's'}"] if dev.type == "cpu" else []
    parts.append("channels_last" if channels_last else "contiguous memory format")
    parts.append("float32" if precision == "fp32" else f"{precision} autocast")
    return ", ".join(parts)


def _saved_model(config: dict, run_dir: Path) -> str:
    """The registered model a run trained, to resume it without naming it again; a run of a
    module (built with options the run cannot know, or a class of your own) needs that module."""
    from ..registry import list_models

    name = config["model"]
    if config.get("model_given") == "module" or name not in list_models():
        raise ValueError(f"{run_dir} trained a module ({name}) given to train(), not a model built by "
                         "name: pass that module to resume the run")
    return name


def _build_model(model, num_classes: int, options: dict, seed: int) -> tuple[nn.Module, str | None]:
    torch.manual_seed(seed)
    if isinstance(model, str):
        from ..registry import create_model

        asked = options.get("num_classes", num_classes)
        if asked != num_classes:
            raise ValueError(f"{model} with num_classes={asked!r} cannot train on data with "
                             f"{num_classes} classes; leave num_classes out (it follows the data)")
        built = create_model(model, **{"num_classes": num_classes, **options})
        built.model_options = {"num_classes": num_classes, **options}
        return built, built.name
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a registered name or an nn.Module, got {type(model).__name__}")
    if options:
        raise ValueError("model_options apply to registered models built by name, not to a module")
    k = getattr(model, "num_classes", None)
    if k is not None and k != num_classes:
        raise ValueError(f"the model has {k} outputs but the data has {num_classes} classes; "
                         f"call model.reset_classifier({num_classes}) first")
    return model, getattr(model, "name", None) if isinstance(model, Classifier) else None


def _input_size(model: nn.Module, recipe: Recipe, train_ds: ImageDataset) -> tuple[int, int, int]:
    if recipe.input_size:
        return tuple(recipe.input_size)
    if isinstance(model, Classifier):
        return default_input_size(model.default_input_size, train_ds.image_size, model.min_input_size)
    return train_ds.image_size


def _augment(recipe: Recipe, train_ds: ImageDataset):
    if recipe.augment != "auto":
        return recipe.augment
    if train_ds.image_size[0] == 1:
        return "digits"
    if recipe.augment_rgb == "cifar" and min(train_ds.image_size[1:]) > 64:
        return "resnet"  # 4-pixel shifts are for CIFAR-sized images
    return recipe.augment_rgb


def _macs(model: nn.Module, input_size) -> int | None:
    try:
        from ..analysis import summarize

        return int(summarize(model, input_size=tuple(input_size)).totals["macs"])
    except Exception:  # a user module the summary cannot walk: leave the figure out
        return None


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _still_settled(runtime: dict, dev: torch.device) -> dict:
    """The settings a resumed run keeps: none from another kind of device (a GPU run resumed
    on a CPU), no thread count from a machine with another number of cores (or one that did
    not record it); the rest is settled again."""
    if runtime.get("device") and torch.device(runtime["device"]).type != dev.type:
        return {}
    if runtime.get("cores") != machine_threads():
        return {k: v for k, v in runtime.items() if k != "threads"}
    return runtime


def _restore(last: dict, path: Path, config: dict, parts: dict, state: dict, info, dev) -> dict:
    """Load a ``last.ckpt`` into the run's model, optimiser, schedule and loss scaler and
    return its counters; a checkpoint of another run, or a damaged one, is one clear error."""
    found = last.get("meta", {}).get("model_class") if isinstance(last.get("meta"), dict) else None
    if found != config["model_class"]:
        raise ValueError(f"cannot resume from {path}: it holds a {found}, not this run's {config['model_class']}")
    expected = "expected the training state cnnzoo writes (the file is damaged, or another run's)"
    missing = [key for key in [*parts, "rng", *state] if key not in last]
    if missing:
        raise ValueError(f"cannot resume from {path}: it has no {', '.join(missing)}; {expected}")
    counters = {k: last[k] for k in state}
    if not all(isinstance(counters[k], int) and counters[k] >= 0 for k in ("epoch", "step")) \
            or not isinstance(counters["history"], list):
        raise ValueError(f"cannot resume from {path}: its epoch, step or history is not a count "
                         f"(epoch {counters['epoch']!r:.40}, step {counters['step']!r:.40}); {expected}")
    for key, part in parts.items():
        if key == "scaler" and last[key] == {}:
            continue  # a run without loss scaling saved none: a scaler now enabled starts afresh
        try:
            part.load_state_dict(last[key])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as err:
            raise ValueError(f"cannot resume from {path}: its {key} state does not fit this run "
                             f"({error_summary(err)}); {expected}") from None
    rngs = last["rng"]
    if isinstance(rngs, list) and len(rngs) == info.world_size:
        try:
            _set_rng_state(rngs[info.rank], dev)
        except (RuntimeError, KeyError, TypeError) as err:
            raise ValueError(f"cannot resume from {path}: its random-generator state is damaged "
                             f"({error_summary(err)})") from None
    return counters


def train(
    model=None,
    data=None,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    recipe: str | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    seed: int | None = None,
    data_root: str | None = None,
    download: bool = False,
    model_options: dict | None = None,
    precision: str | None = None,
    channels_last: bool | str | None = None,
    compile: bool = False,
    threads: int | None = None,
    checkpoint_every: int = 0,
    progress: bool = True,
    console=None,
    **overrides,
) -> RunResult:
    """Train ``model`` (a registered name or an ``nn.Module``; default ``lenet5``, or the
    resumed run's) on ``data`` (a dataset name,
    folder or ``.npz``; see :func:`cnnzoo.data.load_dataset`; or a ``(train, test)`` pair of
    :class:`~cnnzoo.data.ImageDataset`; default ``mnist-sample``, or the resumed run's) and
    write the run directory ``out`` (default ``runs/MODEL-DATA-TIME``).

    ``recipe`` is ``"small"`` (default) or ``"paper"``; ``epochs``, ``batch_size`` (the
    global batch, split over distributed ranks), ``lr`` and any other :class:`Recipe` field
    given as a keyword override it. ``model_options`` go to the model's builder.
    ``resume=True`` continues the run in ``out`` from its last checkpoint; ``overwrite=True``
    replaces the run there. ``device``: ``cpu``, ``cuda`` or None (CUDA when present);
    ``precision``: ``auto`` (bf16/fp16 autocast on a GPU; on a CPU fp32, or bf16 where the CPU computes
    it natively and a timed trial finds it clearly faster), ``fp32``,
    ``bf16`` or ``fp16``; ``channels_last``: ``auto`` (on a GPU; on a CPU where a timed trial
    finds it faster), True or False; ``compile``: :func:`torch.compile` the training step;
    ``threads``: CPU threads (default: one or all of this process's share of the machine's
    cores, whichever a timed trial finds faster; see :func:`~cnnzoo.train.loop.fastest_settings`);
    ``checkpoint_every``: also checkpoint every N steps within an epoch.
    Under ``torchrun`` the run is distributed (see :mod:`cnnzoo.train.distributed`).
    """
    if model_options is not None and not isinstance(model_options, dict):
        raise TypeError(f"model_options must be a dict of the model builder's options, got {describe(model_options)}")
    dev = resolve_device(device)
    info, dev = distributed.setup(dev)
    old_threads = torch.get_num_threads()
    args = dict(
        epochs=epochs, batch_size=batch_size, lr=lr, recipe=recipe, out=out, resume=resume,
        overwrite=overwrite, seed=seed, data_root=data_root, download=download,
        model_options=dict(model_options or {}), precision=precision, channels_last=channels_last,
        compile=compile, threads=threads, checkpoint_every=checkpoint_every, progress=progress,
        console=console, overrides=overrides)
    try:
        return _train(model, data, info, dev, locals_=args)
    except BaseException as err:
        # _train records the run folder once it has set an --overwrite'd run aside
        if info.main and args.get("run_dir") and _give_back_replaced(args["run_dir"]):
            err.gave_back = args["run_dir"]  # for the message: the earlier run is there again
        err.settings = args.get("settings", {})  # the batch and input it ran with, for an out-of-memory message
        if isinstance(err, KeyboardInterrupt) and not hasattr(err, "run_dir"):
            err.run_dir = args.get("run_dir")  # stopped while starting: the run there may be resumable
        raise
    finally:
        torch.set_num_threads(old_threads)
        distributed.teardown(info)


def _train(model, data, info, dev, locals_) -> RunResult:
    a = locals_
    main = info.main
    if data is None and not a["resume"]:
        data = "mnist-sample"
    if model is None and not a["resume"]:
        model = "lenet5"
    a["checkpoint_every"] = int_at_least(a["checkpoint_every"], "checkpoint_every (steps)", 0)
    if a["resume"] and a["overwrite"]:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    if a["seed"] is not None:
        a["seed"] = seed_value(a["seed"])
    if a["channels_last"] is not None:
        a["channels_last"] = check_flag_or_auto(a["channels_last"], "channels_last")
    pair = isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(d, ImageDataset) for d in data)
    paths = {"data": (None if pair else data, "a dataset name or path, or a (train, test) pair of ImageDatasets"),
             "out": (a["out"], "the run folder's path (left out: runs/MODEL-DATA-TIME)")}
    for what, (value, expected) in paths.items():
        if value is None:
            continue
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{what} must be {expected}, got {describe(value)}")
        if not os.fspath(value).strip():
            raise ValueError(f"{what} is empty; give {expected}")
    data_name = _data_name(data) if data is not None else None
    model_label = display_name(model)

    # -- the run directory and the configuration (rank 0 decides) ------------------------
    def decide():
        if a["resume"] and not a["out"]:
            raise ValueError("--resume needs --out RUN_DIR, the run to continue")
        run_dir = Path(a["out"]).expanduser() if a["out"] else _default_run_dir(model_label, data_name)
        return run_dir.resolve(), _prepare_run_dir(run_dir, resume=a["resume"], overwrite=a["overwrite"])

    run_dir, saved = distributed.from_rank0(info, decide)
    a["run_dir"] = run_dir  # for train(): where a failure gives back what --overwrite set aside
    recipe_fields = {k: a[k] for k in ("epochs", "batch_size", "lr")} | a["overrides"]
    if saved is not None:
        _check_same({"model": saved["model"], "dataset": saved["dataset"], "seed": saved["seed"],
                     "recipe": saved["recipe"]["name"], "model_options": saved["model_options"]},
                    {"model": model if isinstance(model, str) else None, "dataset": data_name,
                     "seed": a["seed"], "recipe": a["recipe"],
                     "model_options": a["model_options"] or None}, run_dir)
        _check_same(saved["recipe"], {k: list(v) if isinstance(v, tuple) else v
                                      for k, v in recipe_fields.items()}, run_dir)
        recipe = Recipe.from_dict(saved["recipe"])
        seed, options = saved["seed"], saved["model_options"]
        if model is None:
            model = _saved_model(saved, run_dir)
        if data is None:
            data = data_name = saved["dataset"]
    else:
        seed = 0 if a["seed"] is None else a["seed"]
        options = a["model_options"]
        recipe = None

    # -- data and model (every rank, identically) -----------------------------------------
    train_ds, test_ds = _load_data(data, a["data_root"], a["download"], info)
    if saved is not None and saved.get("classes", train_ds.classes) != train_ds.classes:
        # the same label would mean another class from here on: the run's epochs would not add up
        raise ValueError(f"cannot resume {run_dir}: {data_name} no longer holds the classes the run was "
                         f"trained on; {class_difference(saved['classes'], train_ds.classes, 'the run', 'the data')}")
    if train_ds.classes != test_ds.classes:
        raise ValueError(f"{data_name}: the training and test splits must have the same classes, in the same "
                         f"order; {class_difference(train_ds.classes, test_ds.classes, 'the training split', 'the test split')}")
    if recipe is None:
        recipe = get_recipe(model if isinstance(model, str) else None, a["recipe"] or "small",
                            **{k: v for k, v in recipe_fields.items() if v is not None})
        options = {**recipe.model_options, **options}
    net, registered = _build_model(model, train_ds.num_classes, options, seed)
    if recipe.aux_weight is not None and hasattr(net, "aux_loss_weight"):
        net.aux_loss_weight = recipe.aux_weight
    input_size = _input_size(net, recipe, train_ds)

    # -- the machine ---------------------------------------------------------------------
    runtime = distributed.from_rank0(info, lambda: _still_settled((saved or {}).get("runtime", {}), dev))
    # a resumed run keeps its own (an "auto" asked again would time a trial that may choose otherwise)
    asked = a["precision"] if a["precision"] not in (None, "auto") else runtime.get("precision") or "auto"
    # on a CPU, "auto" is left to the trial (rank 0's): a CPU with AMX may train faster in bf16
    precision = asked if asked == "auto" and dev.type == "cpu" else resolve_precision(asked, dev)
    cl = a["channels_last"] if a["channels_last"] is not None else runtime.get("channels_last", "auto")
    threads = check_threads(a["threads"]) or runtime.get("threads")
    per_rank_batch = max(1, recipe.batch_size // info.world_size)
    if cl == "auto" or (threads is None and dev.type == "cpu") or precision == "auto":
        threads, cl, precision = distributed.from_rank0(info, lambda: fastest_settings(
            net, input_size, dev, threads=threads, channels_last=None if cl == "auto" else bool(cl),
            precision=precision, batch=min(per_rank_batch, len(train_ds))))
    cl = bool(cl)
    if dev.type == "cpu":
        torch.set_num_threads(threads)
    before = runtime.get("precision")  # kept on this kind of device
    if before and precision != before and main:  # allowed (a resumed run may need loss scaling), but said
        warnings.warn(f"{run_dir} trained in {before} so far; it goes on in {precision}, and its record says "
                      f"{precision} from now on", SettingWarning, stacklevel=4)

    a["settings"] = {"batch_size": recipe.batch_size, "input": tuple(input_size)}
    if recipe.batch_size > len(train_ds) and main and saved is None:
        warnings.warn(f"batch size {recipe.batch_size} is larger than the {len(train_ds):,} training images: "
                      f"each epoch is one step over all of them", SettingWarning, stacklevel=4)
    augment = augment_name = _augment(recipe, train_ds)
    began_with = (saved or {}).get("augment_fields")  # recorded since 2026-11-24
    if began_with is not None and Augment.from_spec(augment) != Augment.from_spec(began_with):
        if main:  # a preset redefined since the run began (the resnet preset's scale_jitter)
            warnings.warn(f"the augmentation {augment!r} has changed since {run_dir} began; it goes on with the "
                          "one it began with", SettingWarning, stacklevel=4)
        augment = Augment.from_spec(began_with)
    train_loader = Loader(train_ds, batch_size=per_rank_batch, input_size=input_size, train=True, device=dev,
                          seed=seed, augment=augment, rank=info.rank, world_size=info.world_size)
    test_loader = Loader(test_ds, batch_size=max(per_rank_batch, 256), input_size=input_size, train=False,
                         device=dev, augment=augment, mean=train_loader.mean, std=train_loader.std,
                         rank=info.rank, world_size=info.world_size)
    net.data_config = {**train_loader.data_config, "dataset": data_name, "classes": list(train_ds.classes)}

    config = {
        "model": registered or model_label,
        "model_given": "name" if isinstance(model, str) else "module",  # what a resume must be given
        "model_class": f"{type(net).__module__}.{type(net).__qualname__}",
        "model_options": options,
        "dataset": data_name,
        "classes": list(train_ds.classes),
        "train_images": len(train_ds),
        "test_images": len(test_ds),
        "seed": seed,
        "recipe": recipe.to_dict(),
        "augment": augment_name if isinstance(augment_name, str) else Augment.from_spec(augment_name).to_dict(),
        "augment_fields": Augment.from_spec(augment).to_dict(),  # what a preset meant when the run began
        "input_size": list(input_size),
        "data_config": net.data_config,
        "world_size": info.world_size,
        "batch_size_per_rank": per_rank_batch,
        "checkpoint_every": a["checkpoint_every"],
        "runtime": {"device": str(dev), "precision": precision, "channels_last": cl, "compile": a["compile"],
                    "threads": threads if dev.type == "cpu" else None, "cores": machine_threads(),
                    "torch": torch.__version__},
    }
    config = json.loads(json.dumps(config))
    if main:
        if saved is None:
            _clear_run(run_dir)
        write_atomic(run_dir / CONFIG, (json.dumps(config, indent=2) + "\n").encode())

    # -- the trainer ---------------------------------------------------------------------
    optimizer = build_optimizer(net, recipe)  # a module: its groups may take their own decay
    schedule = Schedule(optimizer, recipe, len(train_loader))
    after_step = None if recipe.filter_rms is None else partial(renormalise_filters, radius=recipe.filter_rms)
    trainer = Trainer(net, optimizer, schedule=schedule, device=dev, precision=precision, channels_last=cl,
                      compile=a["compile"], label_smoothing=recipe.label_smoothing, grad_clip=recipe.grad_clip,
                      mask_hook=after_step)
    state = {"epoch": 0, "step": 0, "totals": None, "history": [], "best_top1": -1.0, "best_epoch": 0}
    torch.manual_seed(_mix("train", seed, info.rank))
    ckpt = run_dir / LAST
    if saved is not None and distributed.from_rank0(info, ckpt.is_file):
        last = distributed.from_rank0(info, lambda: load_checkpoint(ckpt))
        parts = {"model": net, "optimizer": optimizer, "schedule": schedule, "scaler": trainer.scaler}
        state = _restore(last, ckpt, config, parts, state, info, dev)
    metas = dict(epoch=0, test_top1=None)

    def save_last(epoch: int, step: int, totals: dict | None) -> None:
        rngs = distributed.gather(info, _rng_state(dev))
        if not main:
            return
        save_checkpoint(ckpt, {
            "meta": model_meta(net, **metas), "model": net.state_dict(), "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(), "scaler": trainer.scaler.state_dict(), "rng": rngs,
            "epoch": epoch, "step": step, "totals": totals, "history": state["history"],
            "best_top1": state["best_top1"], "best_epoch": state["best_epoch"], "config": config,
        })
        _drop_replaced(run_dir)

    # -- the epochs ----------------------------------------------------------------------
    show = a["progress"] and main
    bar = None
    if show:
        from .progress import TrainProgress

        bar = TrainProgress(epochs=recipe.epochs, steps=len(train_loader), start_epoch=state["epoch"],
                            console=a["console"])
        if state["epoch"] >= recipe.epochs:
            bar.console.print(f"{run_dir} has finished its {recipe.epochs} epochs: nothing to train, its final "
                              "model is measured again", soft_wrap=True, markup=False)
            bar = None
        elif state["epoch"] or state["step"]:
            bar.console.print(f"resuming {run_dir} at epoch {state['epoch'] + 1}, step {state['step']}",
                              soft_wrap=True, markup=False)
        elif saved is not None:  # killed before its first checkpoint: nothing to continue from
            bar.console.print(f"{run_dir} has no {LAST} yet: training it from the start",
                              soft_wrap=True, markup=False)
        if bar:
            chosen = (" (faster here in a timed trial; --precision fp32 trains in float32)"
                      if precision == "bf16" and asked == "auto" and dev.type == "cpu" else "")
            bar.console.print(f"on {dev}: {_settings_text(dev, threads, cl, precision)}{chosen}",
                              soft_wrap=True, markup=False, highlight=False)
    evaluation = None
    start_epoch = state["epoch"]
    try:
        if bar:
            bar.__enter__()
        for epoch in range(start_epoch, recipe.epochs):
            lr = schedule.lr_at(epoch * len(train_loader))  # the epoch's first step, also when resumed mid-epoch
            row = trainer.train_epoch(
                train_loader, epoch, start_step=state["step"], totals=state["totals"],
                checkpoint_every=a["checkpoint_every"],
                on_sync=(lambda s, t, e=epoch: bar.update(e, s, t)) if bar else None,
                on_checkpoint=lambda s, t, e=epoch: save_last(e, s, t),
            )
            evaluation = trainer.evaluate(test_loader)
            row = {"epoch": epoch + 1, **row, "test_loss": evaluation["loss"], "test_top1": evaluation["top1"],
                   "test_top5": evaluation["top5"], "lr": lr}
            state["history"].append(row)
            state.update(epoch=epoch + 1, step=0, totals=None)
            schedule.epoch_end(evaluation["top1"], row["train_top1"])
            metas.update(epoch=epoch + 1, test_top1=evaluation["top1"])
            if evaluation["top1"] > state["best_top1"]:
                state.update(best_top1=evaluation["top1"], best_epoch=epoch + 1)
                if main:
                    save_weights(run_dir / BEST, net, model_meta(net, **metas))
            save_last(epoch + 1, 0, None)
            if main:
                write_metrics(run_dir / "metrics.csv", state["history"])
            if bar:
                bar.epoch_done(row)
    except (TrainingDiverged, KeyboardInterrupt) as err:
        err.run_dir = run_dir  # where the last good checkpoint stays
        raise
    finally:
        if bar:
            bar.__exit__(None, None, None)

    # -- the end -------------------------------------------------------------------------
    if evaluation is None:  # the run had already finished: measure its final model again
        evaluation = trainer.evaluate(test_loader)
    net.eval()
    history = state["history"]
    final = history[-1]
    summary = {
        "model": config["model"], "dataset": data_name, "recipe": recipe.name,
        "test_top1": final["test_top1"], "test_top5": final["test_top5"], "test_loss": final["test_loss"],
        "best_top1": state["best_top1"], "best_epoch": state["best_epoch"], "epochs": len(history),
        "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "macs": _macs(net, input_size) if main else None,
        "train_images": len(train_ds), "test_images": len(test_ds),
        "train_seconds": sum(r["seconds"] for r in history), "images_per_s": final["images_per_s"],
        "device": str(dev), "world_size": info.world_size, "seed": seed,
        "files": {"config": CONFIG, "metrics": "metrics.csv", "best": BEST, "last": LAST,
                  "curves": "curves.png", "confusion": "confusion.png", "summary": "summary.json",
                  "summary_text": "summary.txt"},
    }
    if main:
        write_metrics(run_dir / "metrics.csv", history)
        title = f"{config['model']} on {Path(data_name).name}"
        plot_curves(run_dir / "curves.png", history, title)
        plot_confusion(run_dir / "confusion.png", evaluation["confusion"], list(train_ds.classes),
                       f"{title}: test top-1 {evaluation['top1']:.2f}%")
        write_summary(run_dir, summary)
    return RunResult(run_dir=run_dir, model=net, history=history, test_top1=final["test_top1"],
                     test_top5=final["test_top5"], best_top1=state["best_top1"], best_epoch=state["best_epoch"],
                     evaluation=evaluation, config=config, summary=summary)
