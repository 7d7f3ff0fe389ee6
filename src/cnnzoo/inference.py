"""The fast inference path every cnnzoo model gets.

:func:`optimize_for_inference` turns a model into an :class:`InferenceModel`: eval mode,
batch norm folded into the preceding convolution (:func:`fold_batchnorm`), channels_last
memory format where it is faster on the device (decided by a short timed trial when asked
``channels_last="auto"``), calls under :func:`torch.inference_mode`, bf16 (or fp16)
autocast on a GPU, and optionally :func:`torch.compile`.

Folding is exact algebra for a batch-norm layer in eval mode that reads a convolution's
output and nothing else (Ioffe & Szegedy 2015, §3.1 give the eval-mode transform
``y = γ (x − μ) / √(σ² + ε) + β``, an affine map per channel that the convolution's weights
and bias absorb)::

    W' = W · γ / √(σ² + ε)          b' = (b − μ) · γ / √(σ² + ε) + β
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from . import _malloc
from ._checks import check_flag, check_flag_or_auto, describe, python_value
from ._device import eval_mode, module_device, native_bf16, resolve_device
from ._timing import best_seconds

__all__ = [
    "fold_batchnorm",
    "find_conv_bn_pairs",
    "optimize_for_inference",
    "InferenceModel",
    "autocast_dtype",
]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


# -- finding conv → batch-norm pairs ---------------------------------------------------------
def _check_example(example) -> None:
    if example is not None and not isinstance(example, Tensor):
        raise TypeError(f"example must be a tensor (a batch of inputs) or None, got {describe(example)}")


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (
        isinstance(conv, _CONVS)
        and isinstance(bn, _NORMS)
        and bn.track_running_stats
        and bn.running_mean is not None
        and bn.num_features == conv.out_channels
    )


_EVAL_IDENTITY = (F.dropout, torch.dropout, F.dropout2d, F.dropout1d, F.dropout3d)


def _identity_at_eval(node, root: nn.Module) -> bool:
    """Whether a traced node is the identity in eval mode (dropout, ``nn.Identity``), so a
    conv → dropout → BN chain folds like conv → BN (the folded model is for inference)."""
    if node.op == "call_module":
        return isinstance(root.get_submodule(node.target), (nn.Identity, nn.Dropout))
    return node.op == "call_function" and node.target in _EVAL_IDENTITY


def _pairs_from_fx(model: nn.Module) -> list[tuple[str, str]]:
    """Conv → BN pairs read off the traced graph: the BN node's input is the conv node, the
    conv's output has no other user, and each module is called exactly once. Raises what
    tracing raises when the model's Python cannot be traced (a cnnzoo model's input check
    steps aside for fx's proxies)."""
    from torch import fx

    root = model
    graph = fx.Tracer().trace(root)
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        src = node.args[0]
        while isinstance(src, fx.Node) and len(src.users) == 1 and _identity_at_eval(src, root):
            src = src.args[0]
        if not isinstance(src, fx.Node) or src.op != "call_module" or len(src.users) != 1:
            continue
        if calls[node.target] != 1 or calls[src.target] != 1:
            continue
        conv, bn = root.get_submodule(src.target), root.get_submodule(node.target)
        if _foldable(conv, bn):
            pairs.append((src.target, node.target))
    return pairs


def _sequential_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Conv → BN neighbours in a plain ``nn.Sequential`` (``ConvNormAct``, torchvision's
    ``Conv2dNormActivation`` and ``downsample``): the Sequential's own forward feeds each
    child's output to the next child only, so these pairs need no run to be sure of."""
    found = []
    for parent_name, parent in model.named_modules():
        if isinstance(parent, nn.Sequential) and type(parent).forward is nn.Sequential.forward:
            prefix = f"{parent_name}." if parent_name else ""
            children = list(parent.named_children())
            for (a, conv), (b, bn) in zip(children, children[1:]):
                if _foldable(conv, bn):
                    found.append((prefix + a, prefix + b))
    return found


def _example_input(model: nn.Module, example: Tensor | None) -> Tensor | None:
    """One image on the model's device: the example's first, else a random one."""
    device = module_device(model)
    if example is not None:
        return example[:1].to(device) if device.type != "meta" else example[:1]
    size = getattr(model, "default_input_size", None)
    if size is None or device.type == "meta":
        return None
    return torch.randn(1, *size, device=device)


class _UseCounter(TorchFunctionMode):
    """Counts the torch calls that read a watched tensor while no batch norm is running:
    a conv output read there has a consumer besides its BN (``bn(y) + y``, or an in-place
    ``y += 1`` before the BN), and folding would change what that consumer sees."""

    def __init__(self):
        super().__init__()
        self.watched: dict[int, tuple[Tensor, str]] = {}  # id → (tensor kept alive, conv)
        self.uses: dict[str, int] = {}
        self.in_bn = 0

    def watch(self, conv: str, tensor: Tensor) -> None:
        self.watched[id(tensor)] = (tensor, conv)
        self.uses.setdefault(conv, 0)

    def producer(self, tensor: Tensor) -> str | None:
        seen = self.watched.get(id(tensor))
        return seen[1] if seen is not None and seen[0] is tensor else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _EVAL_IDENTITY and args and isinstance(args[0], Tensor):
            conv = self.producer(args[0])
            out = func(*args, **kwargs)
            if conv is not None:  # dropout is the identity in eval: its output stands for y
                self.watched[id(out)] = (out, conv)
            return out
        if not self.in_bn:
            for leaf in tree_leaves((args, kwargs)):
                conv = self.producer(leaf) if isinstance(leaf, Tensor) else None
                if conv is not None:
                    self.uses[conv] += 1
        return func(*args, **kwargs)


def _pairs_by_run(model: nn.Module, example: Tensor | None, skip: set[str]) -> list[tuple[str, str]]:
    """Conv → BN pairs seen in one real forward pass (eval mode, batch 1): a BN called once
    whose input is the very tensor a conv called once returned, with no other call reading
    that tensor. Modules named in ``skip`` are left out."""
    x = _example_input(model, example)
    if x is None:
        return []
    counter = _UseCounter()
    calls: dict[str, int] = {}
    bn_input: dict[str, Tensor] = {}

    def conv_done(name):
        def hook(module, args, out):
            calls[name] = calls.get(name, 0) + 1
            counter.watch(name, out)
        return hook

    def bn_enter(name):
        def hook(module, args):
            calls[name] = calls.get(name, 0) + 1
            bn_input[name] = args[0]
            counter.in_bn += 1
        return hook

    def bn_leave(module, args, out):
        counter.in_bn -= 1

    hooks = []
    for name, m in model.named_modules():
        if name in skip:
            continue
        if isinstance(m, _CONVS):
            hooks.append(m.register_forward_hook(conv_done(name)))
        elif isinstance(m, _NORMS):
            hooks += [m.register_forward_pre_hook(bn_enter(name)), m.register_forward_hook(bn_leave)]
    try:
        with eval_mode(model), torch.no_grad(), counter:
            model(x)
    finally:
        for h in hooks:
            h.remove()
    pairs = []
    for bn, inp in bn_input.items():
        conv = counter.producer(inp)
        if (conv is not None and calls[bn] == 1 and calls[conv] == 1 and counter.uses[conv] == 0
                and _foldable(model.get_submodule(conv), model.get_submodule(bn))):
            pairs.append((conv, bn))
    return pairs


def find_conv_bn_pairs(model: nn.Module, example: Tensor | None = None) -> tuple[list[tuple[str, str]], str]:
    """The (conv, batch norm) module names that can be folded, and how they were found:
    ``"fx"`` when the model traces with :mod:`torch.fx` (the graph proves each conv feeds
    only its BN), else ``"modules"``: neighbours in a plain ``nn.Sequential``, and every other
    pair (torchvision's ``conv1``/``bn1``, DenseNet's ``conv1``/``norm2``) confirmed by one
    forward pass on ``example`` (or a random input of the model's default size; without
    either, only the Sequential neighbours)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"find_conv_bn_pairs expects an nn.Module, got {describe(model)}")
    _check_example(example)
    try:
        return _pairs_from_fx(model), "fx"
    except Exception:  # tracing fails on data-dependent Python; fall back to module pairs
        sure = _sequential_pairs(model)
        skip = {name for pair in sure for name in pair}
        return sure + _pairs_by_run(model, example, skip), "modules"


@torch.no_grad()
def _fold_into(conv: nn.Module, bn: nn.Module) -> None:
    scale = bn.running_var.add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    w = conv.weight
    # Transposed convs keep output channels on dim 1; _CONVS has only forward convs.
    conv.weight = nn.Parameter((w * scale.reshape(-1, *([1] * (w.dim() - 1)))).to(w.dtype))
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.bias = nn.Parameter(bias.to(w.dtype))


def fold_batchnorm(model: nn.Module, *, inplace: bool = False, example: Tensor | None = None) -> nn.Module:
    """Fold every batch norm that directly follows a convolution into that convolution
    (the BN becomes ``nn.Identity``). Returns the folded model — a copy unless ``inplace``.

    The folded model computes the eval-mode function of the original (to float rounding);
    it is meant for inference: folded BNs no longer update statistics in training.
    ``model.folded_bn`` records how many pairs were folded and ``model.fold_method`` how
    they were found (see :func:`find_conv_bn_pairs`).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"fold_batchnorm expects an nn.Module, got {type(model).__name__}")
    _check_example(example)
    # a truthy string such as "no" would fold the caller's own model
    if not check_flag(inplace, "inplace"):
        model = copy.deepcopy(model)
    pairs, method = find_conv_bn_pairs(model, example)
    for conv_name, bn_name in pairs:
        _fold_into(model.get_submodule(conv_name), model.get_submodule(bn_name))
        parent_name, _, attr = bn_name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, nn.Identity())
    model.folded_bn = len(pairs)
    model.fold_method = method
    return model


# -- the inference wrapper ---------------------------------------------------------------
def autocast_dtype(device: torch.device | str, amp: str | None = "auto") -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``: ``"auto"`` means bf16 on a GPU that
    supports it (fp16 otherwise) and none on a CPU; ``"bf16"``/``"fp16"`` force one;
    ``None``/``"none"``/``"fp32"`` disable autocast."""
    device = torch.device(device)
    if amp in (None, "none", "fp32", "float32"):
        return None
    if amp == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if native_bf16(device) else torch.float16
    table = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp16": torch.float16, "float16": torch.float16}
    if not isinstance(amp, str) or amp not in table:
        raise ValueError(f"amp must be one of auto, bf16, fp16, none; got {amp!r}")
    return table[amp]


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@dataclass
class InferenceModel:
    """A model prepared for inference; call it like the model. ``settings`` records what was
    applied (folded BNs, memory format, autocast dtype, compile)."""

    model: nn.Module
    device: torch.device
    channels_last: bool
    amp_dtype: torch.dtype | None
    compiled: bool
    settings: dict = field(default_factory=dict)
    _fn: Callable | None = field(default=None, repr=False)
    _graph_output: bool = field(default=False, repr=False)  # CUDA graphs own the output's memory

    def __call__(self, x: Tensor) -> Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), _autocast(self.device, self.amp_dtype):
            y = self._fn(x)
        out = y if self.amp_dtype is None else y.float()
        # A CUDA graph writes every call's output into the same memory: the caller's tensor
        # from an earlier call would change under it (or raise) unless it is a copy.
        return y.clone() if self._graph_output and out is y else out


def _faster_channels_last(model: nn.Module, example: Tensor, amp_dtype, runs: int = 3) -> tuple[bool, dict]:
    """Time the model on ``example`` in both memory formats (one warm-up, best of ``runs``)
    and say whether channels_last was faster."""
    times = {}
    for cl in (False, True):
        fmt = torch.channels_last if cl else torch.contiguous_format
        model.to(memory_format=fmt)
        x = example.contiguous(memory_format=fmt)

        def fn(inp):
            with torch.inference_mode(), _autocast(inp.device, amp_dtype):
                return model(inp)

        times["channels_last" if cl else "contiguous"] = best_seconds(lambda: fn(x), x.device, runs, warmup=1)
    return times["channels_last"] < times["contiguous"], times


def check_compile_mode(compile: bool | str) -> bool | str:
    """``compile`` if it is True, False or a mode :func:`torch.compile` knows, else one clear
    error, before any work."""
    compile = python_value(compile)
    if not isinstance(compile, (bool, str)):
        raise TypeError(f"compile must be True, False or a torch.compile mode name, got {describe(compile)}")
    if isinstance(compile, str):
        import torch._inductor

        modes = list(torch._inductor.list_mode_options())
        if compile not in modes:
            raise ValueError(f"unknown compile mode {compile!r}: torch.compile's modes are "
                             f"{', '.join(modes)}")
    return compile



def optimize_for_inference(
    model: nn.Module,
    *,
    device: str | torch.device | None = None,
    fold_bn: bool = True,
    channels_last: bool | str = "auto",
    amp: str | None = "auto",
    compile: bool | str = False,
    example: Tensor | None = None,
    inplace: bool = False,
) -> InferenceModel:
    """Prepare ``model`` for fast inference (see the module docstring).

    ``channels_last``: ``True``/``False``, or ``"auto"`` to time both memory formats on
    ``example`` (a batch of the size you will run; a random batch of 8 at the model's default
    input size when omitted) and keep the faster. ``amp``: see :func:`autocast_dtype`.
    ``compile``: wrap the prepared model in :func:`torch.compile` (the first calls compile);
    a string is the compile mode (``"reduce-overhead"`` uses CUDA graphs, ``"max-autotune"``).
    Shapes are static: each new batch size compiles once more (up to dynamo's recompile limit,
    ``torch._dynamo.config.recompile_limit``, after which calls run uncompiled).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"optimize_for_inference expects an nn.Module, got {type(model).__name__}")
    compile = check_compile_mode(compile)
    channels_last = check_flag_or_auto(channels_last, "channels_last")
    fold_bn, inplace = check_flag(fold_bn, "fold_bn"), check_flag(inplace, "inplace")
    _check_example(example)
    device = resolve_device(device or module_device(model))
    if device.type == "cpu":
        _malloc.enable()  # each pass's activations reuse the last pass's memory
    if not inplace:
        model = copy.deepcopy(model)
    model = model.to(device).eval()
    folded, method = 0, None
    if fold_bn:
        model = fold_batchnorm(model, inplace=True, example=example)
        folded, method = model.folded_bn, model.fold_method
    amp_dtype = autocast_dtype(device, amp)
    trial = None
    if channels_last == "auto":
        if example is None:
            size = getattr(model, "default_input_size", None)
            if size is None:
                raise ValueError("channels_last='auto' needs an example input for a model "
                                 "without default_input_size")
            example = torch.randn(8, *size)
        channels_last, trial = _faster_channels_last(model, example.to(device), amp_dtype)
    model = model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    if compile and device.type == "cpu":
        # Inductor's freezing folds the (now constant) weights into the graph and prepacks them
        # for oneDNN; it applies to inference graphs only, so training compiles are unaffected.
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
    # Static shapes: each batch size gets its own graph, with kernels and oneDNN weight layouts
    # chosen for it. Left to guess, dynamo turns the batch dimension symbolic at the second size
    # it sees (benchmarks run batch 1, then B), and the generic graph ran ResNet-50 at batch
    # 16 about 10 % slower on a 2-core CPU (benchmarks/bench_inference.py).
    fn = (torch.compile(model, mode=compile if isinstance(compile, str) else None, dynamic=False)
          if compile else model)
    settings = {
        "fold_bn": folded,
        "fold_method": method,
        "channels_last": bool(channels_last),
        "channels_last_trial_s": trial,
        "amp": str(amp_dtype).removeprefix("torch.") if amp_dtype else None,
        "compile": compile if isinstance(compile, str) else bool(compile),
        "inference_mode": True,
    }
    graphs = device.type == "cuda" and compile in ("reduce-overhead", "max-autotune")
    return InferenceModel(model, device, bool(channels_last), amp_dtype, bool(compile), settings, fn, graphs)
