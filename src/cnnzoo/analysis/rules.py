"""What one operation costs: the counting rules of ``cnnzoo.summarize``.

These are the definitions cnnzoo uses everywhere (README, "Explain a network", repeats
them); each rule below implements one of them, once.

**multiply-adds (MACs)**
    The multiply-accumulates of convolutions and linear layers (and other matrix
    products), without the bias. A convolution whose N outputs each read
    K = (C_in / groups) · k_h · k_w inputs performs N · K; a linear layer with F inputs
    per output performs N · F. Padding positions are counted, as the hardware computes
    them. This is the convention of torchvision's published "GFLOPS": resnet50 at
    224×224 is 4,089,184,256, vgg16 15,470,264,320. Nothing else is a MAC.

**FLOPs**
    2 × MACs for convolutions and linear layers, plus one per element for: a bias
    (per output), a normalization (batch, layer, group, instance norm, per output), local
    response normalization (per output), an activation function (per output), an
    element-wise operation (add, sub, mul, div, ..., per output), a pooling or a reduction
    (per *input* element, ptflops' convention; fvcore counts adaptive average pooling so and
    skips the others). Each is counted under its
    operation's name in ``Summary.breakdown`` with the number of elements, so that any
    other convention (two FLOPs per normalized element, pooling per window tap, ...) can be
    rebuilt from it. Data movement (views, flatten, concatenation, padding, dropout at
    inference) costs nothing.

**connections** (LeCun et al. 1998, §II.B)
    For every output unit, the input units it reads plus one for its bias. A convolution
    output reads (C_in / groups) × its kernel taps that fall inside the input (padding is
    not a unit); a linear output its F inputs; a pooling output its window (inside the
    input); a bias added as an operation of its own (LeNet-5's trainable subsampling) is
    one more per output. Element-wise operations (activations, normalizations, residual
    additions) transform units rather than connect them: none. So LeNet-5's C1 has
    (5·5 + 1)·6·28·28 = 122,304 connections and S2 (2·2 + 1)·6·14·14 = 5,880. A module
    whose units are connected more sparsely than its operations say (LeNet-5's C3 with
    its partial connection table) states its count with a method
    ``connections(input_shape, output_shape) -> int`` (shapes without the batch
    dimension), which then replaces the count of the operations inside it.

**neurons**
    The output elements of a row. The total counts the outputs of the operations that have
    connections (the layers of units), so an activation applied to a convolution's output
    does not count its units twice.

**activation memory**
    The bytes a row's operations allocate for their outputs; an in-place operation, or a
    view, aliases its input and allocates none. The peak is the largest total of tensors
    alive at once during a forward pass at batch 1 (input included, parameters excluded),
    each tensor alive from the operation that makes it to the last one that reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["Call", "Cost", "canonical_name", "cost_of", "kind_of", "window_params"]


# -- operation names ---------------------------------------------------------------------
# Python's operator methods as torch reports them, to one name per operation.
_DUNDER = {
    "add": ("add", False), "radd": ("add", False), "iadd": ("add", True),
    "sub": ("sub", False), "rsub": ("sub", False), "isub": ("sub", True),
    "mul": ("mul", False), "rmul": ("mul", False), "imul": ("mul", True),
    "truediv": ("div", False), "rtruediv": ("div", False), "itruediv": ("div", True),
    "div": ("div", False), "rdiv": ("div", False), "idiv": ("div", True),
    "floordiv": ("floor_divide", False), "rfloordiv": ("floor_divide", False),
    "mod": ("remainder", False), "pow": ("pow", False), "rpow": ("pow", False),
    "ipow": ("pow", True), "matmul": ("matmul", False), "rmatmul": ("matmul", False),
    "neg": ("neg", False), "abs": ("abs", False), "getitem": ("getitem", False),
}
_ALIASES = {
    "multiply": "mul", "subtract": "sub", "divide": "div", "true_divide": "div",
    "concat": "cat", "concatenate": "cat", "clip": "clamp", "rsub": "sub",
    "max_pool1d_with_indices": "max_pool1d", "max_pool2d_with_indices": "max_pool2d",
    "max_pool3d_with_indices": "max_pool3d", "adaptive_max_pool1d_with_indices":
    "adaptive_max_pool1d", "adaptive_max_pool2d_with_indices": "adaptive_max_pool2d",
    "adaptive_max_pool3d_with_indices": "adaptive_max_pool3d", "conv_tbc": "conv1d",
}
# Tensor attributes that hand back a tensor without computing anything.
_NOT_OPERATIONS = {"data", "grad", "_base", "real", "imag", "grad_fn", "device", "dtype"}


def canonical_name(func) -> tuple[str, bool] | None:
    """``(operation, in_place)`` for a function torch dispatched, or ``None`` if it is no
    operation (an attribute read)."""
    name = getattr(func, "__name__", None)
    if name is None:
        return None
    if name == "__get__":  # a property such as ``x.T``
        name = getattr(getattr(func, "__self__", None), "__name__", None)
        if name is None or name in _NOT_OPERATIONS:
            return None
        return name, False
    if name.startswith("__") and name.endswith("__"):
        core = name[2:-2]
        name, inplace = _DUNDER.get(core, (core, False))
    elif name.endswith("_") and not name.startswith("_"):
        name, inplace = name[:-1], True
    else:
        inplace = False
    return _ALIASES.get(name, name), inplace


# -- kinds of operations -------------------------------------------------------------------
CONV = {"conv1d", "conv2d", "conv3d"}
CONV_TRANSPOSE = {"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
LINEAR = {"linear"}
MATMUL = {"matmul", "mm", "bmm"}
ADDMM = {"addmm", "baddbmm"}
NORM = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"}
LRN = {"local_response_norm"}
ACTIVATION = {
    "relu", "relu6", "hardtanh", "sigmoid", "tanh", "hardsigmoid", "hardswish", "silu",
    "gelu", "elu", "selu", "celu", "leaky_relu", "prelu", "rrelu", "softplus", "mish",
    "softmax", "log_softmax", "softmin", "softsign", "tanhshrink", "threshold",
    "logsigmoid", "glu",
}
POOL = {
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d",
}
ADAPTIVE_POOL = {
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
}
ELEMENTWISE = {
    "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "exp2", "expm1", "log",
    "log2", "log10", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "clamp",
    "clamp_min", "clamp_max", "maximum", "minimum", "sign", "erf", "sin", "cos",
    "floor_divide", "remainder", "addcmul", "addcdiv", "where", "lerp", "floor", "ceil",
    "round", "fmod", "hypot", "masked_fill",
}
REDUCTION = {"sum", "mean", "amax", "amin", "max", "min", "prod", "std", "var", "norm",
             "logsumexp", "nansum", "nanmean"}
RESAMPLE = {"interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
            "grid_sample"}
FREE = {
    "cat", "stack", "hstack", "vstack", "flatten", "unflatten", "view", "view_as",
    "reshape", "reshape_as", "permute", "transpose", "t", "T", "mT", "swapaxes",
    "movedim", "contiguous", "squeeze", "unsqueeze", "expand", "expand_as", "chunk",
    "split", "split_with_sizes", "tensor_split", "unbind", "narrow", "getitem", "select",
    "index_select", "gather", "repeat", "tile", "pad", "clone", "to", "type", "float",
    "double", "half", "bfloat16", "detach", "dropout", "dropout1d", "dropout2d",
    "dropout3d", "alpha_dropout", "feature_alpha_dropout", "identity", "channel_shuffle",
    "pixel_shuffle", "pixel_unshuffle", "roll", "flip", "as_strided", "zeros_like",
    "ones_like", "empty_like", "full_like", "requires_grad", "cpu", "cuda",
}


def kind_of(name: str) -> str:
    """The family of an operation, as the breakdown groups it."""
    for kind, names in (
        ("conv", CONV | CONV_TRANSPOSE), ("linear", LINEAR | MATMUL | ADDMM),
        ("norm", NORM), ("lrn", LRN), ("activation", ACTIVATION),
        ("pool", POOL | ADAPTIVE_POOL), ("elementwise", ELEMENTWISE),
        ("reduction", REDUCTION), ("resample", RESAMPLE), ("data", FREE),
    ):
        if name in names:
            return kind
    return "bias" if name == "bias" else "uncounted"


# -- one call ------------------------------------------------------------------------------
@dataclass
class Call:
    """One operation as the tracer saw it. ``inputs`` are the activation tensors among its
    arguments (those computed from the model's input), ``others`` the remaining tensors
    (parameters, buffers, constants); shapes include the batch dimension of 1."""

    name: str
    inplace: bool
    args: tuple
    kwargs: dict
    inputs: list[Tensor]
    others: list[Tensor]
    outputs: list[Tensor]

    def arg(self, index: int, name: str, default=None):
        if name in self.kwargs:
            return self.kwargs[name]
        if index < len(self.args):
            return self.args[index]
        return default

    @property
    def out(self) -> Tensor:
        return self.outputs[0]


@dataclass
class Cost:
    """What an operation costs: MACs, FLOPs and counted elements by breakdown name,
    connections, and whether its outputs are units (it has connections)."""

    macs: int = 0
    flops: dict[str, int] = field(default_factory=dict)
    elements: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    units: bool = False

    @property
    def total_flops(self) -> int:
        return sum(self.flops.values())


def _tuple(value, n: int) -> tuple:
    if isinstance(value, (list, tuple)):
        value = tuple(value)
        return value if len(value) == n else value * n if len(value) == 1 else value
    return (value,) * n


def window_params(call: Call) -> tuple[tuple, tuple, tuple, tuple] | None:
    """Kernel, stride, padding and dilation per spatial axis of a convolution or pooling
    call (``None`` for other operations). Padding ``"same"``/``"valid"`` is resolved to
    the padding PyTorch applies before the first position."""
    name = call.name
    if name in CONV:
        weight = call.arg(1, "weight")
        nd = weight.dim() - 2
        kernel = tuple(weight.shape[2:])
        stride = _tuple(call.arg(3, "stride", 1), nd)
        dilation = _tuple(call.arg(5, "dilation", 1), nd)
        padding = call.arg(4, "padding", 0)
        if padding == "valid":
            padding = (0,) * nd
        elif padding == "same":
            padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        return kernel, stride, _tuple(padding, nd), dilation
    if name in POOL:
        nd = int(name[-2])
        if name.startswith("lp_pool"):
            kernel = _tuple(call.arg(2, "kernel_size"), nd)
            stride = call.arg(3, "stride")
            padding, dilation = (0,) * nd, (1,) * nd
        else:
            kernel = _tuple(call.arg(1, "kernel_size"), nd)
            stride = call.arg(2, "stride")
            padding = _tuple(call.arg(3, "padding", 0), nd)
            dilation = _tuple(call.arg(4, "dilation", 1), nd) if "max" in name else (1,) * nd
        stride = kernel if stride is None or stride == [] or stride == () else _tuple(stride, nd)
        return kernel, stride, padding, dilation
    return None


def _valid_taps(n_in: int, n_out: int, k: int, s: int, p: int, d: int) -> int:
    """Σ over the outputs of one axis of the kernel taps that land inside the input."""
    total = 0
    for o in range(n_out):
        start = o * s - p
        lo = -(start // d) if start < 0 else 0  # first tap t with start + t·d ≥ 0
        hi = min(k - 1, (n_in - 1 - start) // d)
        total += max(0, hi - lo + 1)
    return total


def _spatial(t: Tensor, nd: int) -> tuple[int, ...]:
    return tuple(t.shape[-nd:]) if nd else ()


def _window_taps(call: Call) -> int:
    """Input units read by all outputs of a convolution or pooling, per (in, out) channel
    pair: the product over the axes of the taps that fall inside the input."""
    kernel, stride, padding, dilation = window_params(call)
    nd = len(kernel)
    n_in, n_out = _spatial(call.inputs[0], nd), _spatial(call.out, nd)
    return math.prod(
        _valid_taps(i, o, k, s, p, d)
        for i, o, k, s, p, d in zip(n_in, n_out, kernel, stride, padding, dilation)
    )


def _adaptive_taps(n_in: int, n_out: int) -> int:
    # PyTorch's adaptive windows: [floor(o·n/m), ceil((o+1)·n/m)).
    return sum(-((-(o + 1) * n_in) // n_out) - (o * n_in) // n_out for o in range(n_out))


def _channels(t: Tensor, nd: int) -> int:
    return t.numel() // max(1, math.prod(_spatial(t, nd)))


# -- the rules -------------------------------------------------------------------------------
def _weighted(call: Call, key: str, macs: int, connections: int, bias: bool) -> Cost:
    """A layer of weighted sums: its MACs, twice as many FLOPs, and a bias that adds one
    FLOP and one connection per output."""
    n = call.out.numel()
    cost = Cost(macs=macs, flops={key: 2 * macs}, elements={key: n}, connections=connections,
                units=True)
    if bias:
        cost.flops["bias"] = cost.elements["bias"] = n
        cost.connections += n
    return cost


def _conv(call: Call) -> Cost:
    weight, bias = call.arg(1, "weight"), call.arg(2, "bias")
    per_output = weight.shape[1] * math.prod(weight.shape[2:])  # (C_in/groups)·k_h·k_w
    c_out = _channels(call.out, weight.dim() - 2)
    conn = c_out * weight.shape[1] * _window_taps(call)
    return _weighted(call, call.name, call.out.numel() * per_output, conn, bias is not None)


def _conv_transpose(call: Call) -> Cost:
    weight, bias = call.arg(1, "weight"), call.arg(2, "bias")
    # every input scatters into (C_out/groups)·k_h·k_w outputs
    macs = call.inputs[0].numel() * weight.shape[1] * math.prod(weight.shape[2:])
    return _weighted(call, call.name, macs, macs, bias is not None)


def _linear(call: Call) -> Cost:
    weight, bias = call.arg(1, "weight"), call.arg(2, "bias")
    macs = call.out.numel() * weight.shape[-1]
    return _weighted(call, "linear", macs, macs, bias is not None)


def _matmul(call: Call) -> Cost:
    operands = [t for t in (call.arg(0, "input"), call.arg(1, "other")) if isinstance(t, Tensor)]
    if call.name in ADDMM:
        operands = [call.arg(1, "mat1" if call.name == "addmm" else "batch1"),
                    call.arg(2, "mat2" if call.name == "addmm" else "batch2")]
    inner = operands[0].shape[-1] if operands and operands[0].dim() else 1
    macs = call.out.numel() * inner
    return _weighted(call, call.name, macs, macs, call.name in ADDMM)


def _per_output(call: Call) -> Cost:
    n = sum(t.numel() for t in call.outputs[:1])
    return Cost(flops={call.name: n}, elements={call.name: n})


def _elementwise(call: Call) -> Cost:
    n = call.out.numel()
    # A parameter broadcast onto an activation by add/sub is a bias: one more connection
    # per output (LeNet-5's subsampling layers add theirs this way).
    if (call.name in ("add", "sub") and len(call.inputs) == 1 and call.others
            and tuple(call.inputs[0].shape) == tuple(call.out.shape)
            and all(o.numel() < n for o in call.others)):
        return Cost(flops={"bias": n}, elements={"bias": n}, connections=n)
    return Cost(flops={call.name: n}, elements={call.name: n})


def _per_input(call: Call, connections: int = 0) -> Cost:
    """One FLOP per input element (pooling, reductions); units where it connects."""
    n = call.inputs[0].numel()
    return Cost(flops={call.name: n}, elements={call.name: n}, connections=connections,
                units=connections > 0)


def _pool(call: Call) -> Cost:
    nd = int(call.name[-2])
    return _per_input(call, _channels(call.out, nd) * _window_taps(call))


def _adaptive_pool(call: Call) -> Cost:
    nd = int(call.name[-2])
    axes = zip(_spatial(call.inputs[0], nd), _spatial(call.out, nd))
    return _per_input(call, _channels(call.out, nd) * math.prod(_adaptive_taps(i, o) for i, o in axes))


def _reduction(call: Call) -> Cost:
    inp, out = call.inputs[0], call.out
    if len(call.inputs) > 1 or (call.others and call.name in ("max", "min")):
        return _elementwise(call)  # torch.max(a, b) is element-wise
    return _per_input(call, inp.numel() if out.numel() < inp.numel() else 0)


def _free(call: Call) -> Cost:
    return Cost(elements={call.name: call.out.numel()})


_RULES = [
    (CONV, _conv), (CONV_TRANSPOSE, _conv_transpose), (LINEAR, _linear),
    (MATMUL | ADDMM, _matmul), (POOL, _pool), (ADAPTIVE_POOL, _adaptive_pool),
    (REDUCTION, _reduction), (ELEMENTWISE, _elementwise),
    (NORM | LRN | ACTIVATION | RESAMPLE, _per_output),
]


def cost_of(call: Call) -> Cost:
    """The cost of one operation under the definitions of this module; data movement, and
    operations without a rule (``kind_of`` calls them "uncounted"), cost nothing."""
    for names, rule in _RULES:
        if call.name in names:
            return rule(call)
    return _free(call)
