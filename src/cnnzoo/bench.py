"""Speed: latency, throughput and the fraction of the machine's peak a model reaches.

:func:`bench` times each model on cnnzoo's inference path (:mod:`cnnzoo.inference`): a
warm-up, then repeated timed runs — latency at batch 1 (median and interquartile range) and
throughput at batch ``B`` — and the achieved multiply-add rate as a fraction of the peak,
measured in the same run with a large matrix product (:func:`measure_peak`; float32, and on
a GPU also the autocast dtype). With ``against="torchvision"`` it times torchvision's model
of the same architecture (:func:`torchvision_counterpart`) in plain eval mode in the same
run, interleaving the two models' runs so that a busy machine slows both alike, and reports
the ratio.

Definitions (what the JSON holds):

* ``latency_ms``: wall time of one forward pass at batch 1, synchronised on a GPU.
* ``batch_ms``: wall time of one forward pass at batch ``B``;
  ``images_per_s = B / (batch_ms.median / 1000)``.
* ``macs_per_image``: multiply-adds of one image at the input size (see :func:`count_macs`);
  ``macs_per_s = macs_per_image × images_per_s``.
* ``peak_macs_per_s``: the best rate of the peak product over the whole run, per dtype —
  measured once before any model, then sampled again in every round of every model's
  throughput timing.
* ``fraction_of_peak``: ``macs_per_s / peak_macs_per_s``, the model's median rate against the
  best product of the run. Conservative on a shared machine: it reads low by as much as the
  machine was busier during the model than at its quietest moment.
* ``fraction_of_round_product``: the model's rate in each timed round divided by the
  product's rate in the same round — ``median``, ``q1``, ``q3`` and every round's ratio
  (``rounds``). A round is one call of each model (cnnzoo's, then torchvision's with
  ``against``) followed by the product in the dtype the model ran in, repeated to last about
  half cnnzoo's call, at least once and at most a second (``peak_product_calls_per_round``).
  The two sides of a ratio run one after the other, so load that changes from round to round
  falls on both; load that changes within a round does not cancel, and a heavy load can slow
  the product (pure arithmetic) more than a model that also waits on memory, so on a very
  busy machine this figure reads high (a round's ratio can exceed 1) where
  ``fraction_of_peak`` reads low.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from . import _hugepages, _malloc, _timing
from ._checks import check_chw, check_flag, check_flag_or_auto, describe, int_at_least, positive_int, python_value, type_problem
from ._device import check_threads, eval_mode, floating_dtype, module_device, native_bf16, resolve_device, same_device
from ._files import check_new, check_writable, write_json
from .inference import autocast_dtype, check_compile_mode, optimize_for_inference

__all__ = [
    "bench",
    "bench_model",
    "measure_peak",
    "count_macs",
    "torchvision_counterpart",
    "machine_info",
    "read_bench_json",
    "Timing",
]


# -- timing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """Summary of repeated wall times, in milliseconds."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    runs: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> "Timing":
        ms = sorted(s * 1e3 for s in seconds)
        if not ms:
            raise ValueError("Timing.of needs at least one time")
        if len(ms) >= 2:
            q1, _, q3 = statistics.quantiles(ms, n=4, method="inclusive")
        else:
            q1 = q3 = ms[0]
        return cls(statistics.median(ms), q1, q3, ms[0], ms[-1], len(ms))

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("median", "q1", "q3", "min", "max", "runs")}


def _timed_rounds(fns: dict[str, Callable[[], object]], device: torch.device, *, warmup: int,
                  repeats: int, max_seconds: float) -> dict[str, list[float]]:
    """Warm each function up, then time them in interleaved rounds (one call of each per
    round) until ``repeats`` rounds, or ``max_seconds`` have passed with at least 3 rounds."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _timing.sync(device)
    times: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    for r in range(repeats):
        for key, fn in fns.items():
            times[key].append(_timing.seconds(fn, device))
        if r + 1 >= 3 and time.perf_counter() - start > max_seconds:
            break
    return times


# -- the machine -------------------------------------------------------------------------
def _conv_fp32_precision() -> str:
    """What float32 convolutions run in on a GPU: ``"tf32"`` or ``"ieee"``, read through
    PyTorch's fp32_precision settings (cuDNN's convolutions, else cuDNN's, else the global one;
    ``"none"`` defers to the next, and is IEEE float32 at the last). Reading the older ``allow_tf32`` flags raises once a user
    has set any of these, so the new ones are the ones to read."""
    b = torch.backends
    for level in (b.cudnn.conv.fp32_precision, b.cudnn.fp32_precision, b.fp32_precision):
        if level != "none":
            return level
    return "ieee"


def _matmul(device: torch.device, dtype: torch.dtype, size: int | None = None
            ) -> tuple[Callable[[], None], int]:
    """A product of two ``size``×``size`` matrices on ``device`` and its multiply-adds.

    On a GPU, float32 convolutions run on TF32 tensor cores when cuDNN's fp32 precision is
    ``tf32`` (PyTorch's default), so the float32 product runs under that same setting — the
    peak a float32 network can actually reach."""
    # A CPU without native bf16/fp16 units emulates them ~50x slower: a smaller product there.
    size = size or (8192 if device.type == "cuda" else 2048 if dtype == torch.float32 else 512)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)

    def product() -> None:
        if device.type != "cuda":
            torch.mm(a, b)
            return
        matmul = torch.backends.cuda.matmul
        saved = matmul.fp32_precision
        matmul.fp32_precision = _conv_fp32_precision()
        try:
            torch.mm(a, b)
        finally:
            matmul.fp32_precision = saved

    return product, size**3


# The dtypes a peak is measured in, by the names results and ``peaks`` use.
_DTYPES = {str(d).removeprefix("torch."): d
           for d in (torch.float32, torch.bfloat16, torch.float16, torch.float64)}


def _check_dtype(dtype: torch.dtype | str) -> torch.dtype:
    """A floating dtype, or its name (``"float32"``, as ``peaks`` and results name it)."""
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch dtype (torch.float32, torch.bfloat16, ...) "
                        f"or its name ({', '.join(_DTYPES)}), got {describe(dtype)}")
    return dtype


def measure_peak(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 size: int | None = None, repeats: int = 5) -> float:
    """The machine's peak multiply-add rate (MAC/s) in ``dtype``: the best of ``repeats``
    products of two ``size``×``size`` matrices (``size³`` multiply-adds each), after a warm-up.
    ``dtype`` may be given by name, as ``peaks`` and results name it (``"bfloat16"``).
    :func:`bench_model` runs the same product again in its timed rounds and keeps the best
    rate it sees, so a peak measured at a busy moment cannot flatter ``fraction_of_peak``."""
    dtype = _check_dtype(dtype)
    size = None if size is None else positive_int(size, "size")  # 0 would mean the default
    repeats = positive_int(repeats, "repeats")
    device = resolve_device(device)
    product, macs = _matmul(device, dtype, size)
    return macs / _timing.best_seconds(product, device, repeats, warmup=1)


def machine_info(device: str | torch.device = "cpu") -> dict:
    """What the numbers were measured on."""
    device = resolve_device(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "huge_pages": _hugepages.in_effect(),  # THP_MEM_ALLOC_ENABLE: see cnnzoo._hugepages
        "freed_memory_kept": _malloc.in_effect(),  # see cnnzoo._malloc
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    return info


# -- the model's cost --------------------------------------------------------------------
def count_macs(model: str | nn.Module, input_size: Sequence[int] | None = None) -> tuple[int, str]:
    """Multiply-adds of one image and where the count comes from.

    The count is cnnzoo's own layer table (``cnnzoo.summarize(...).totals["macs"]``) where
    that module is installed; otherwise PyTorch's ``torch.utils.flop_counter``, which counts
    2 FLOPs per multiply-add of convolutions and matrix products, so its total is halved.
    Both run on the meta device for a model name (no memory, no initialisation).
    """
    size = tuple(input_size) if input_size is not None else None
    try:
        from .analysis import summarize
    except ImportError:
        summarize = None
    if summarize is not None:
        summary = summarize(model, input_size=size) if size else summarize(model)
        return int(summary.totals["macs"]), "cnnzoo.summarize"
    from torch.utils.flop_counter import FlopCounterMode

    from .registry import create_model

    if isinstance(model, str):
        with torch.device("meta"):
            model = create_model(model)
    size = size or model.default_input_size
    x = torch.zeros(1, *size, device=module_device(model))
    with eval_mode(model), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2, "torch.utils.flop_counter (FLOPs / 2)"


def torchvision_counterpart(name: str) -> str:
    """torchvision's model of the same architecture as the registered model ``name``.

    ``<arch>_tv`` (torchvision's layout, e.g. ``resnet50_tv``, ``googlenet_tv``) maps to
    torchvision's ``<arch>``; a name torchvision also uses maps to itself (``vgg16``,
    ``densenet121``, ``mobilenet_v2``, and ``resnet50``, whose paper layout differs from
    torchvision's only in where the stride-2 sits in a bottleneck). Raises ``ValueError``
    for a model torchvision has no counterpart of.
    """
    import torchvision

    from .registry import model_info

    info = model_info(name)
    available = set(torchvision.models.list_models(module=torchvision.models))
    arch = info.name.removesuffix("_tv")
    if arch in available:
        return arch
    raise ValueError(
        f"{info.name} has no torchvision counterpart: torchvision.models has no {arch!r}. "
        "--against torchvision needs one of torchvision's classification architectures "
        "(e.g. resnet50_tv, vgg16, googlenet_tv, densenet121, mobilenet_v2)."
    )


def _torchvision_model(arch: str, num_classes: int) -> nn.Module:
    import torchvision

    kwargs = {"weights": None, "num_classes": num_classes}
    if arch in ("googlenet", "inception_v3"):
        kwargs["init_weights"] = True  # silences torchvision's warning; weights are random anyway
    return torchvision.models.get_model(arch, **kwargs)


# -- one model -----------------------------------------------------------------------------
def _checked_size(net: nn.Module, input_size: Sequence[int] | None) -> tuple[int, ...]:
    """The C×H×W the model runs at (its default unless given), refused with the model's own
    message where it cannot take it."""
    default = getattr(net, "default_input_size", None)
    channels_open = isinstance(input_size, (list, tuple)) and len(input_size) == 3 and input_size[0] is None
    if default is None and (input_size is None or channels_open):
        # the words summarize and count_macs use for such a module
        raise ValueError(f"{type(net).__name__} has no default_input_size: pass input_size=(C, H, W)")
    if input_size is None:
        input_size = default
    elif channels_open:  # H×W at the model's own channels
        input_size = (default[0], *input_size[1:])
    size = check_chw(input_size, "input size")  # numpy's ints as Python's: the JSON takes no others
    if hasattr(net, "check_input"):
        net.check_input(torch.empty(1, *size, device="meta", dtype=floating_dtype(net)))
    return size


def _checked_options(batch, warmup, repeats, max_seconds, fast, compile, against) -> tuple:
    """The options :func:`bench` and :func:`bench_model` share, checked before any work and
    returned as Python values (numpy's ints pass; a string "no" is truthy and does not)."""
    batch = positive_int(batch, "batch")
    repeats = positive_int(repeats, "repeats")
    warmup = int_at_least(warmup, "warmup", 0)
    max_seconds = python_value(max_seconds)
    if isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float)) or not max_seconds >= 0:
        raise ValueError(f"max_seconds must be a number of seconds ≥ 0, got {describe(max_seconds)}")
    if against not in (None, "torchvision"):
        raise ValueError(f"against must be 'torchvision' or None, got {against!r}")
    return batch, warmup, repeats, max_seconds, check_flag(fast, "fast"), check_compile_mode(compile)


def _checked_peaks(peaks) -> dict[str, float]:
    """Given peaks, checked before the timing that compares with them: dtype names to rates."""
    if peaks is None:
        return {}
    if not isinstance(peaks, dict):
        raise TypeError(f'peaks must map dtype names to MAC/s, e.g. {{"float32": 1e11}}, '
                        f'got {describe(peaks)}')
    checked = {}
    for key, rate in peaks.items():
        if key not in _DTYPES:
            raise ValueError(f"peaks: {key!r} is not a dtype name; expected one of {', '.join(_DTYPES)}")
        rate = python_value(rate)
        if type_problem(rate, float) or rate <= 0:
            raise ValueError(f"peaks[{key!r}] must be a positive number of multiply-adds per second, "
                             f"got {describe(rate)}")
        checked[key] = float(rate)
    return checked


def _throughput(timing: Timing, batch: int) -> float:
    return batch / (timing.median / 1e3)


def bench_model(
    model: str | nn.Module,
    *,
    batch: int = 16,
    input_size: Sequence[int] | None = None,
    device: str | torch.device | None = "cpu",
    fast: bool = True,
    amp: str | None = "auto",
    channels_last: bool | str = "auto",
    compile: bool | str = False,
    against: str | None = None,
    peaks: dict[str, float] | None = None,
    warmup: int = 2,
    repeats: int = 10,
    max_seconds: float = 20.0,
) -> dict:
    """Time one model (a registered name or a module) and return a JSON-ready dict.

    ``fast=False`` times the model as built, in plain eval mode under ``torch.no_grad``.
    ``peaks`` maps a dtype name (``"float32"``, ``"bfloat16"``) to a measured MAC/s, for the
    fraction of peak (measured here when omitted). ``warmup`` calls precede each timing; at
    batch ``B`` there is at least one, after which one more call sets how many products make
    a round's window. Everything else as in :func:`bench`.
    """
    from .registry import create_model, display_name, model_info

    if not isinstance(model, (str, nn.Module)):
        raise TypeError(f"model must be a registered name or an nn.Module, got {describe(model)}")
    batch, warmup, repeats, max_seconds, fast, compile = _checked_options(
        batch, warmup, repeats, max_seconds, fast, compile, against)
    channels_last = check_flag_or_auto(channels_last, "channels_last")
    peaks = _checked_peaks(peaks)
    device = resolve_device(device)
    autocast_dtype(device, amp)  # refuses an unknown amp before any work
    # the registered name, as runs record it ("LeNet5" typed is lenet5), so report and compare find it
    name = model_info(model).name if isinstance(model, str) else display_name(model)
    tv_arch = torchvision_counterpart(name) if against else None  # fails before any work
    net = create_model(model) if isinstance(model, str) else model
    size = _checked_size(net, input_size)
    params = sum(p.numel() for p in net.parameters())
    macs, macs_source = count_macs(model, size)  # a name is counted on the meta device

    # The plain path runs the caller's module in eval mode: every submodule's train/eval
    # mode comes back as it was when the timing ends, errors included.
    with eval_mode(net):
        x1 = torch.randn(1, *size, device=device, dtype=floating_dtype(net))  # a bf16 module takes bf16
        xb = torch.randn(batch, *size, device=device, dtype=floating_dtype(net))
        if fast:
            runner = optimize_for_inference(net, device=device, amp=amp, channels_last=channels_last,
                                            compile=compile, example=xb,
                                            inplace=isinstance(model, str))
            settings = runner.settings
            dtype = runner.amp_dtype or torch.float32
        else:
            # a caller's module on another device is timed as a copy, not moved there
            moved = not isinstance(model, str) and not same_device(module_device(net), device)
            as_built = (copy.deepcopy(net) if moved else net).to(device).eval()

            def runner(x):
                with torch.no_grad():
                    return as_built(x)

            settings = {"plain_eval": True}
            dtype = torch.float32
        fns1 = {"cnnzoo": lambda: runner(x1)}
        fnsb = {"cnnzoo": lambda: runner(xb)}
        if tv_arch:
            tv = _torchvision_model(tv_arch, net.num_classes).to(device).eval()

            def tv_run(x):
                with torch.no_grad():
                    return tv(x.float())

            fns1["torchvision"] = lambda: tv_run(x1)
            fnsb["torchvision"] = lambda: tv_run(xb)
        # The peak product runs in the same interleaved rounds as the models, so the load of each
        # round falls on both. It repeats to last about half the model's call (at most a second):
        # its rate is then an average over a stretch of the round, not one short sample. The
        # length is chosen after at least one warm-up call at batch B (compiles happen there).
        opts = {"warmup": warmup, "repeats": repeats, "max_seconds": max_seconds}
        lat = {k: Timing.of(v) for k, v in _timed_rounds(fns1, device, **opts).items()}
        for fn in fnsb.values():
            for _ in range(max(warmup, 1)):
                fn()
        model_s = _timing.seconds(fnsb["cnnzoo"], device)
        samplers = {}  # dtype → multiply-adds of one timed product window
        windows = {}  # dtype → product calls per round
        for d in dict.fromkeys([torch.float32, dtype]):  # ordered, without a repeat
            key = str(d).removeprefix("torch.")
            product, product_macs = _matmul(device, d)
            product()
            one_product_s = max(_timing.seconds(product, device), 1e-9)
            calls = max(1, min(round(min(model_s / 2, 1.0) / one_product_s), 1000))
            fnsb[f"peak:{key}"] = lambda product=product, calls=calls: [product() for _ in range(calls)]
            samplers[key] = calls * product_macs
            windows[key] = calls
        rounds = _timed_rounds(fnsb, device, **{**opts, "warmup": 0})
        thr = {k: Timing.of(v) for k, v in rounds.items()}
        for key, window_macs in samplers.items():
            peaks[key] = max(peaks.get(key, 0.0), window_macs / (thr[f"peak:{key}"].min / 1e3))

    dtype_name = str(dtype).removeprefix("torch.")

    def round_product(model_key: str, dtype_key: str) -> dict:
        """The model's rate over the product's, round by round (see the module docstring)."""
        ratios = [(macs * batch / t) / (samplers[dtype_key] / p)
                  for t, p in zip(rounds[model_key], rounds[f"peak:{dtype_key}"])]
        q = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
        return {"median": statistics.median(ratios), "q1": q[0], "q3": q[2], "rounds": ratios}

    ips = _throughput(thr["cnnzoo"], batch)
    result = {
        "model": name,
        "input_size": list(size),
        "batch": batch,
        "device": str(device),
        "params": params,
        "macs_per_image": macs,
        "macs_source": macs_source,
        "mode": "fast" if fast else "plain",
        "settings": settings,
        "dtype": dtype_name,
        "latency_ms": lat["cnnzoo"].to_dict(),
        "batch_ms": thr["cnnzoo"].to_dict(),
        "images_per_s": ips,
        "macs_per_s": macs * ips,
        "fraction_of_round_product": round_product("cnnzoo", dtype_name),
        "peak_product_calls_per_round": windows,
    }
    if tv_arch:
        tv_ips = _throughput(thr["torchvision"], batch)
        tv_params = sum(p.numel() for p in tv.parameters())
        result["torchvision"] = {
            "model": f"torchvision.models.{tv_arch}",
            "mode": "plain eval, torch.no_grad, float32",
            "params": tv_params,
            "same_parameter_count": tv_params == params,
            "latency_ms": lat["torchvision"].to_dict(),
            "batch_ms": thr["torchvision"].to_dict(),
            "images_per_s": tv_ips,
            # torchvision's model runs in float32
            "fraction_of_round_product": round_product("torchvision", "float32"),
        }
        result["speedup"] = ips / tv_ips
        result["latency_speedup"] = lat["torchvision"].median / lat["cnnzoo"].median
    result["peaks_seen"] = dict(peaks)  # the best rate per dtype, this model's rounds included
    _set_peaks(result, peaks)
    return result


def _set_peaks(result: dict, peaks: dict[str, float]) -> None:
    """Record the peaks a result is measured against and its fractions of them."""
    result["peak_macs_per_s"] = peaks[result["dtype"]]
    result["fraction_of_peak"] = result["macs_per_s"] / peaks[result["dtype"]]
    tv = result.get("torchvision")
    if tv is not None:  # torchvision's model runs in float32
        tv["fraction_of_peak"] = result["macs_per_image"] * tv["images_per_s"] / peaks["float32"]


# -- several models ------------------------------------------------------------------------
def bench(
    models: Sequence[str | nn.Module],
    *,
    batch: int = 16,
    input_size: Sequence[int] | None = None,
    device: str | torch.device | None = "cpu",
    threads: int | None = None,
    against: str | None = None,
    fast: bool = True,
    amp: str | None = "auto",
    compile: bool | str = False,
    warmup: int = 2,
    repeats: int = 10,
    max_seconds: float = 20.0,
    json_path: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Benchmark ``models`` in one run and return (and, with ``json_path``, write atomically)
    ``{"machine": ..., "peak_macs_per_s": {...}, "settings": ..., "results": [...]}``.

    ``batch``: the throughput batch (latency is always batch 1). ``input_size``: C×H×W for
    every model (default: each model's own); C may be None, each model's own channels
    (``--input H``), which ``settings`` records as null. ``threads``: CPU threads (``torch.set_num_threads``).
    ``against="torchvision"``: also time torchvision's model of each architecture in plain
    eval mode. ``fast=False``: time cnnzoo's models in plain eval mode too. ``amp``:
    autocast on a GPU (see :func:`cnnzoo.inference.autocast_dtype`). ``compile``: use
    ``torch.compile`` on the fast path. Models are checked (names, torchvision
    counterparts) before anything is timed. An existing ``json_path`` is replaced only
    with ``overwrite``.
    """
    from .registry import create_model, model_info

    if isinstance(models, (str, nn.Module)):  # one model, not the letters of its name
        models = [models]
    models = list(models)  # a generator would be used up by the checks below
    if not models:
        raise ValueError("bench needs at least one model name")
    batch, warmup, repeats, max_seconds, fast, compile = _checked_options(
        batch, warmup, repeats, max_seconds, fast, compile, against)
    overwrite = check_flag(overwrite, "overwrite")  # "no" would replace the file
    if json_path is not None:
        check_writable(json_path)  # before the timing, not after it
        check_new([json_path], overwrite)
    if not fast and compile:
        raise ValueError("compile applies to the fast path, and fast=False (--plain) times the model as "
                         "built: choose one")
    threads = check_threads(threads)
    device = resolve_device(device)
    amp_dtype = autocast_dtype(device, amp) if fast else None
    _malloc.enable()  # before the first timing, so that every model runs alike (cnnzoo._malloc)
    seen = {}
    for m in models:  # fail on a name, a counterpart or an input size before timing anything
        if not isinstance(m, (str, nn.Module)):
            raise TypeError(f"bench's models are registered names or nn.Modules, got {describe(m)}")
        if isinstance(m, str):
            name = model_info(m).name
            if name in seen:  # LENET5 and lenet5: one model, timed twice, two rows
                raise ValueError(f"{m} is given twice (also as {seen[name]}); give each model once")
            seen[name] = m
            if against:
                torchvision_counterpart(m)
        if not isinstance(m, str):  # a module may have no default size
            _checked_size(m, input_size)
        elif input_size is not None:
            with torch.device("meta"):
                _checked_size(create_model(m), input_size)
    if threads is not None:  # only once every check has passed: it is the process's setting
        torch.set_num_threads(threads)
    say = progress or (lambda msg: None)
    say(f"measuring the peak on {device}")
    peaks = {"float32": measure_peak(device, torch.float32)}
    if amp_dtype is not None:
        peaks[str(amp_dtype).removeprefix("torch.")] = measure_peak(device, amp_dtype)
    if "bfloat16" not in peaks and native_bf16(device):
        peaks["bfloat16"] = measure_peak(device, torch.bfloat16)
    results = []
    for m in models:
        say(f"timing {m if isinstance(m, str) else getattr(m, 'name', type(m).__name__)}")
        results.append(bench_model(
            m, batch=batch, input_size=input_size, device=device, fast=fast, amp=amp,
            compile=compile, against=against, peaks=peaks, warmup=warmup, repeats=repeats,
            max_seconds=max_seconds,
        ))
        for key, rate in results[-1]["peaks_seen"].items():
            peaks[key] = max(peaks.get(key, 0.0), rate)
    for r in results:  # every model against the best peak seen in the whole run
        _set_peaks(r, peaks)
    report = {
        "machine": machine_info(device),
        "peak_macs_per_s": peaks,
        "settings": {"batch": batch, "input_size": [python_value(s) for s in input_size] if input_size else None,
                     "device": str(device), "against": against, "fast": fast, "amp": amp,
                     "compile": compile, "warmup": warmup, "repeats": repeats},
        "results": results,
    }
    if json_path is not None:
        write_json(json_path, report)
    return report


def read_bench_json(path: str | os.PathLike) -> dict:
    """A file :func:`bench` wrote (``cnnzoo bench --json``), checked: a JSON object whose
    ``results`` are objects with a ``model`` name and a positive ``images_per_s`` (one such
    result on its own, as :func:`bench_model` returns it, counts as a file of one). Anything
    else is one error that names the file and says what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; expected a `cnnzoo bench --json` file")
    if not path.is_file():
        raise FileNotFoundError(f"bench file {path} does not exist")
    expected = ('expected the JSON object `cnnzoo bench --json` writes ({"machine": {...}, "results": '
                '[{"model": ..., "images_per_s": ...}, ...]})')
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); {expected}") from None
    if isinstance(data, dict) and "results" not in data and "images_per_s" in data:
        data = {"results": [data]}
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        found = "an object without a results list" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
        raise ValueError(f"{path} holds {found}; {expected}")
    if not isinstance(data.get("machine", {}), dict) or not isinstance(data.get("settings", {}), dict):
        raise ValueError(f"{path}: its machine or settings is not a JSON object; {expected}")
    for i, r in enumerate(data["results"]):
        rate = r.get("images_per_s") if isinstance(r, dict) else None
        if not isinstance(r, dict) or not isinstance(r.get("model"), str) or type_problem(rate, float) or rate <= 0:
            raise ValueError(f"{path}: result {i} is {r!r:.80}; {expected}")
    return data
