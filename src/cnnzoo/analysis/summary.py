"""``cnnzoo.summarize``: a network explained layer by layer.

The model runs once, on a batch of one, by default on PyTorch's meta device: shapes
without arithmetic, so a ResNet-152 is summarized in well under a second and without
memory (a model that cannot run on the meta device, one that reads its data with
``.item()`` for instance, runs on real tensors instead). Forward hooks on every module
give the module tree; a ``TorchFunctionMode`` sees every torch operation, functional
calls included (``F.relu``, ``torch.cat``, ``+``, ``torch.flatten``, ``x.mean``), and
attributes it to the innermost module running. Tensors are followed by identity and
storage from the input on, so that each operation is costed (``rules.py``, which holds
the definitions of MACs, FLOPs, connections, neurons and activation memory), its
receptive field propagated (``receptive.py``), and the memory alive at each step known.

Rows: one per module call whose module has no submodules (or at ``depth``, the modules
at that depth with everything inside them), and one per functional operation a module
calls itself (``layer1.0.add()``, the residual addition of a ResNet block). Every
parameter is counted once, at the row of the module that owns it (a module called twice
counts at its first call); modules that the forward pass never calls (the auxiliary
heads of GoogLeNet at inference) get a row of their own, so that the parameters of the
rows always sum to ``sum(p.numel() for p in model.parameters())``.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from .._device import eval_mode, floating_dtype, module_device
from .receptive import WHOLE, initial, propagate
from .rules import Call, Cost, canonical_name, cost_of, kind_of

__all__ = ["LayerRecord", "Summary", "summarize"]


# -- records -----------------------------------------------------------------------------
@dataclass
class LayerRecord:
    """One row of a summary. Shapes are C×H×W (no batch dimension); a row with several
    outputs has a list of shapes. ``receptive_field``, ``stride`` and ``padding`` are
    per spatial axis, ``"whole"`` where every output sees the whole input, ``None``
    where unknown."""

    name: str
    type: str
    depth: int
    input_shape: Any = None
    output_shape: Any = None
    neurons: int = 0
    params: int = 0
    frozen_params: int = 0
    buffers: int = 0
    connections: int = 0
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0
    receptive_field: Any = None
    stride: Any = None
    padding: Any = None
    notes: list[str] = field(default_factory=list)


# -- the traced call tree -----------------------------------------------------------------
class _Node:
    __slots__ = ("kind", "name", "type", "path", "depth", "children", "inputs", "outputs",
                 "cost", "alloc", "field", "notes", "own", "override", "repeated",
                 "has_modules", "sums")

    def __init__(self, kind, name, type_, path, depth):
        self.kind, self.name, self.type, self.path, self.depth = kind, name, type_, path, depth
        self.children: list[_Node] = []
        self.inputs: list[tuple] = []
        self.outputs: list[tuple] = []
        self.cost = Cost()
        self.alloc = 0
        self.field = None
        self.notes: list[str] = []
        self.own = (0, 0, 0)  # trainable, frozen, buffer elements owned directly
        self.override: int | None = None
        self.repeated = False
        self.has_modules = False
        self.sums: dict[str, int] = {}


@dataclass
class _Tensor:
    tensor: Tensor  # held so that its id is not reused while tracing
    field: Any
    storage: int


@dataclass
class _ModuleInfo:
    path: str
    own: tuple[int, int, int]
    called: bool = False


def _tensors(obj) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape[1:])


def _storage(t: Tensor) -> tuple[int, int]:
    try:
        s = t.untyped_storage()
        return s._cdata, s.nbytes()
    except (RuntimeError, NotImplementedError):  # tensors without storage
        return id(t), t.numel() * t.element_size()


class _Tracer(TorchFunctionMode):
    """Records every torch operation that reads an activation, under its module."""

    def __init__(self, model: nn.Module, nd: int, meta: bool):
        super().__init__()
        self.nd = nd
        self.meta = meta
        self.tensors: dict[int, _Tensor] = {}
        self.storages: dict[int, list[int]] = {}  # key -> [bytes, created, last use]
        self.step = 0
        self.top = _Node("module", "", "", "", -1)
        self.stack = [self.top]
        self.quiet = False
        # What each module owns directly; a parameter registered in two modules belongs
        # to the first, in the order of named_modules (as named_parameters counts it).
        self.modules: dict[int, _ModuleInfo] = {}
        seen: set[int] = set()
        for path, m in model.named_modules():
            own = [0, 0, 0]
            for p in m.parameters(recurse=False):
                if id(p) not in seen:
                    seen.add(id(p))
                    own[0 if p.requires_grad else 1] += p.numel()
            for b in m.buffers(recurse=False):
                if id(b) not in seen:
                    seen.add(id(b))
                    own[2] += b.numel()
            self.modules[id(m)] = _ModuleInfo(path, tuple(own))

    # -- tensors ---------------------------------------------------------------------
    def add_input(self, x: Tensor) -> None:
        key, nbytes = _storage(x)
        self.storages[key] = [nbytes, 0, float("inf")]
        self.tensors[id(x)] = _Tensor(x, initial(self.nd), key)

    def keep_outputs(self, out) -> None:
        for t in _tensors(out):
            info = self.tensors.get(id(t))
            if info is not None:
                self.storages[info.storage][2] = float("inf")

    def field_of(self, t: Tensor):
        info = self.tensors.get(id(t))
        return None if info is None else info.field

    # -- operations ------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.batch_norm and self.meta:
            # PyTorch's meta batch norm runs a slow Python decomposition; its output is
            # simply a tensor like its input.
            out = torch.empty_like(args[0] if args else kwargs["input"])
        else:
            out = func(*args, **kwargs)
        if self.quiet or not isinstance(out, (Tensor, tuple, list)):
            return out
        outputs = _tensors(out)
        if not outputs:
            return out
        args_tensors = _tensors(args) + _tensors(kwargs)
        inputs = [t for t in args_tensors if id(t) in self.tensors]
        if not inputs:
            return out  # parameters or constants alone (a weight mask): no per-input work
        named = canonical_name(func)
        if named is None:
            return out
        self._record(named, args, kwargs, inputs, args_tensors, outputs)
        return out

    def _record(self, named, args, kwargs, inputs, args_tensors, outputs) -> None:
        self.quiet = True
        try:
            ids = {id(t) for t in inputs}
            others = [t for t in args_tensors if id(t) not in ids]
            call = Call(named[0], named[1], args, kwargs, inputs, others, outputs)
            node = _Node("op", call.name, call.name, self.stack[-1].path, self.stack[-1].depth + 1)
            try:
                node.cost = cost_of(call)
            except Exception as err:  # noqa: BLE001 - an odd call must not stop the summary
                node.notes.append(f"not counted ({type(err).__name__}: {err})")
            try:
                node.field, note = propagate(call, [self.field_of(t) for t in inputs], self.nd)
            except Exception as err:  # noqa: BLE001
                node.field, note = None, f"receptive field not traced ({err})"
            if note:
                node.notes.append(note)
            self.step += 1
            for t in inputs:
                entry = self.storages[self.tensors[id(t)].storage]
                entry[2] = max(entry[2], self.step)
            for o in outputs:
                known = self.tensors.get(id(o))
                if known is not None:  # in place, or handed back unchanged
                    known.field = node.field
                    continue
                key, nbytes = _storage(o)
                if key not in self.storages:
                    self.storages[key] = [nbytes, self.step, self.step]
                    node.alloc += nbytes
                self.tensors[id(o)] = _Tensor(o, node.field, key)
            node.inputs = [_shape(t) for t in inputs]
            node.outputs = [_shape(t) for t in outputs]
            self.stack[-1].children.append(node)
        finally:
            self.quiet = False

    # -- modules ---------------------------------------------------------------------
    def pre_hook(self, module, args, kwargs):
        self.quiet = True
        info = self.modules[id(module)]
        parent = self.stack[-1]
        node = _Node("module", info.path, type(module).__name__, info.path,
                     info.path.count(".") + 1 if info.path else 0)
        if info.called:
            node.repeated = True
            if any(info.own):
                node.notes.append("called again: parameters counted at its first call")
        else:
            node.own = info.own
            info.called = True
        node.inputs = [_shape(t) for t in _tensors((args, kwargs)) if id(t) in self.tensors]
        parent.children.append(node)
        parent.has_modules = True
        self.stack.append(node)
        self.quiet = False

    def post_hook(self, module, args, kwargs, output):
        self.quiet = True
        node = self.stack.pop()
        outputs = [t for t in _tensors(output) if id(t) in self.tensors]
        node.outputs = [_shape(t) for t in outputs]
        node.field = self.field_of(outputs[0]) if outputs else None
        if node.inputs and node.outputs:
            self._module_counts(module, node)
        self.quiet = False

    @staticmethod
    def _module_counts(module: nn.Module, node: _Node) -> None:
        """A module's own ``connections(input_shape, output_shape)`` replaces the count of
        its operations; its own ``macs(...)`` replaces the MACs of its one convolution or
        linear operation (a sparse layer computed densely)."""
        shapes = (node.inputs[0], node.outputs[0])
        method = getattr(module, "connections", None)
        if inspect.ismethod(method):
            node.override = int(method(*shapes))
        method = getattr(module, "macs", None)
        if inspect.ismethod(method):
            weighted = [op for op in _walk_ops(node) if op.cost.macs]
            if len(weighted) != 1:
                node.notes.append("macs() ignored: the module has no single weighted operation")
                return
            op = weighted[0]
            macs = int(method(*shapes))
            op.cost.flops[op.name] += 2 * (macs - op.cost.macs)
            op.cost.macs = macs

    def peak(self) -> int:
        delta = [0] * (self.step + 2)
        for nbytes, created, last in self.storages.values():
            delta[created] += nbytes
            delta[int(min(last, self.step)) + 1] -= nbytes
        live = peak = 0
        for d in delta:
            live += d
            peak = max(peak, live)
        return peak


# -- running the model ---------------------------------------------------------------------
@contextlib.contextmanager
def _on_meta(model: nn.Module):
    """Replace parameters and buffers by meta tensors of the same shapes (float32 where
    floating), restoring the originals afterwards; tied parameters stay tied."""
    swapped, memo = [], {}

    def meta(t: Tensor, parameter: bool) -> Tensor:
        if id(t) not in memo:
            dtype = torch.float32 if t.is_floating_point() else t.dtype
            new = torch.empty(t.shape, dtype=dtype, device="meta")
            memo[id(t)] = nn.Parameter(new, requires_grad=t.requires_grad) if parameter else new
        return memo[id(t)]

    try:
        for m in model.modules():
            for table, parameter in ((m._parameters, True), (m._buffers, False)):
                for key, t in list(table.items()):
                    if t is not None and t.device.type != "meta":
                        swapped.append((table, key, t))
                        table[key] = meta(t, parameter)
        yield
    finally:
        for table, key, t in reversed(swapped):
            table[key] = t


def _trace(model: nn.Module, size: tuple[int, ...], real: bool) -> tuple[_Tracer, Any]:
    tracer = _Tracer(model, len(size) - 1, meta=not real)
    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(tracer.pre_hook, with_kwargs=True))
        handles.append(m.register_forward_hook(tracer.post_hook, with_kwargs=True))
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(eval_mode(model))
            stack.enter_context(torch.no_grad())
            if real:
                x = torch.randn(1, *size, generator=torch.Generator().manual_seed(0))
                x = x.to(module_device(model), floating_dtype(model))
            else:
                stack.enter_context(_on_meta(model))
                x = torch.zeros(1, *size, device="meta")
            tracer.add_input(x)
            with tracer:
                out = model(x)
            tracer.keep_outputs(out)
    finally:
        for h in handles:
            h.remove()
    return tracer, out


def _meta_specific(err: Exception) -> bool:
    return isinstance(err, NotImplementedError) or "meta" in str(err).lower()


# -- rows ---------------------------------------------------------------------------------
def _sum_up(node: _Node) -> dict[str, int]:
    """Additive totals of a node's subtree (connections replaced by a module's own count)."""
    if node.kind == "op":
        c = node.cost
        s = {"macs": c.macs, "flops": c.total_flops, "connections": c.connections,
             "alloc": node.alloc, "trainable": 0, "frozen": 0, "buffers": 0}
    else:
        s = dict.fromkeys(("macs", "flops", "connections", "alloc"), 0)
        s["trainable"], s["frozen"], s["buffers"] = node.own
        for child in node.children:
            for k, v in _sum_up(child).items():
                s[k] += v
        if node.override is not None:
            s["connections"] = node.override
    node.sums = s
    return s


def _field_columns(fld):
    if fld == WHOLE:
        return WHOLE, None, None
    if not isinstance(fld, tuple):
        return None, None, None
    return tuple(a.r for a in fld), tuple(a.j for a in fld), tuple(a.p for a in fld)


def _one_or_many(shapes: list[tuple]):
    if not shapes:
        return None
    return shapes[0] if len(shapes) == 1 else list(shapes)


def _record(node: _Node, name: str) -> LayerRecord:
    s = node.sums
    rf, stride, padding = _field_columns(node.field)
    notes = list(node.notes)
    if node.kind == "module":
        notes += [n for c in _walk_ops(node) for n in c.notes]
    return LayerRecord(
        name=name, type=node.type, depth=node.depth,
        input_shape=_one_or_many(node.inputs), output_shape=_one_or_many(node.outputs),
        neurons=sum(_numel(sh) for sh in node.outputs),
        params=s["trainable"], frozen_params=s["frozen"], buffers=s["buffers"],
        connections=s["connections"], macs=s["macs"], flops=s["flops"],
        activation_bytes=s["alloc"], receptive_field=rf, stride=stride, padding=padding,
        notes=list(dict.fromkeys(notes)),
    )


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _walk_ops(node: _Node):
    for c in node.children:
        if c.kind == "op":
            yield c
        else:
            yield from _walk_ops(c)


def _op_name(node: _Node) -> str:
    return f"{node.path}.{node.name}()" if node.path else f"{node.name}()"


def _rows(node: _Node, depth: int | None, root_name: str, out: list[LayerRecord],
          aggregated: list[str]) -> None:
    expand = (node.has_modules and node.override is None
              and (depth is None or node.depth < depth))
    if not expand:
        out.append(_record(node, node.path or root_name))
        aggregated.append(node.path)
        return
    start = len(out)
    first_own_op = None
    for child in node.children:
        if child.kind == "op":
            if first_own_op is None:
                first_own_op = len(out)
            out.append(_record(child, _op_name(child)))
        else:
            _rows(child, depth, root_name, out, aggregated)
    if any(node.own):  # parameters a module uses in its own operations
        trainable, frozen, buffers = node.own
        if first_own_op is None:
            out.insert(start, LayerRecord(node.path or root_name, node.type, node.depth,
                                          notes=["parameters of the module itself"]))
            first_own_op = start
        rec = out[first_own_op]
        rec.params += trainable
        rec.frozen_params += frozen
        rec.buffers += buffers


def _uncalled(model: nn.Module, tracer: _Tracer) -> dict[str, list]:
    """Modules never called that own parameters or buffers, grouped under the outermost
    module that was not called: {path: [type, trainable, frozen, buffers]}."""
    by_path = {path: m for path, m in model.named_modules()}
    groups: dict[str, list] = {}
    for m in model.modules():
        info = tracer.modules[id(m)]
        if info.called or not any(info.own):
            continue
        top = info.path
        while "." in top and not tracer.modules[id(by_path[top.rsplit(".", 1)[0]])].called:
            top = top.rsplit(".", 1)[0]
        if top and not tracer.modules[id(by_path[""])].called:
            top = ""
        g = groups.setdefault(top, [type(by_path[top]).__name__, 0, 0, 0])
        for i in range(3):
            g[i + 1] += info.own[i]
    return groups


# -- the summary ----------------------------------------------------------------------------
class Summary:
    """A network explained layer by layer: ``layers`` (one :class:`LayerRecord` per row),
    ``totals`` (a dict), ``breakdown`` (FLOPs and elements per operation) and
    ``warnings``. Render it with :meth:`to_markdown`, :meth:`to_csv`, :meth:`to_json`,
    :meth:`to_rich` or :meth:`print`; :meth:`at_depth` regroups the rows."""

    def __init__(self, model_name: str, input_size: tuple, depth: int | None,
                 layers: list[LayerRecord], totals: dict, breakdown: dict,
                 warnings: list[str], regroup=None):
        self.model_name = model_name
        self.input_size = input_size
        self.depth = depth
        self.layers = layers
        self.totals = totals
        self.breakdown = breakdown
        self.warnings = warnings
        self._regroup = regroup

    def __getitem__(self, name: str) -> LayerRecord:
        """The first row called ``name`` (``summary["features.0"]``)."""
        for rec in self.layers:
            if rec.name == name:
                return rec
        raise KeyError(f"no row {name!r}; rows: {', '.join(r.name for r in self.layers[:8])}, ...")

    def at_depth(self, depth: int | None) -> "Summary":
        """The same summary with rows grouped at another depth (no new trace)."""
        return self._regroup(depth)

    def to_markdown(self, columns=None) -> str:
        from .render import to_markdown

        return to_markdown(self, columns)

    def to_csv(self, columns=None) -> str:
        from .render import to_csv

        return to_csv(self, columns)

    def to_json(self, columns=None, indent: int | None = 2) -> str:
        from .render import to_json

        return to_json(self, columns, indent)

    def to_dict(self, columns=None) -> dict:
        from .render import to_dict

        return to_dict(self, columns)

    def to_rich(self, columns=None):
        from .render import to_rich

        return to_rich(self, columns)

    def print(self, columns=None, console=None) -> None:
        from .render import print_rich

        print_rich(self, columns, console)

    def __str__(self) -> str:
        from .render import to_text

        return to_text(self)

    def __repr__(self) -> str:
        t = self.totals
        return (f"Summary({self.model_name}, input {'×'.join(map(str, self.input_size))}, "
                f"{len(self.layers)} rows, {t['params']:,} parameters, {t['macs']:,} MACs)")


def _breakdown(root: _Node) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for op in _walk_ops(root):
        c = op.cost
        keys = list(dict.fromkeys([*c.elements, *c.flops])) or [op.name]
        for key in keys:  # a bias added by its own operation is listed as "bias"
            e = table.setdefault(key, {"kind": kind_of(key), "calls": 0, "elements": 0,
                                       "macs": 0, "flops": 0})
            e["calls"] += 1
            e["elements"] += c.elements.get(key, 0)
            e["flops"] += c.flops.get(key, 0)
            e["macs"] += c.macs if key == keys[0] else 0
    return dict(sorted(table.items(), key=lambda kv: (-kv[1]["flops"], -kv[1]["calls"], kv[0])))


def _input_size(model: nn.Module, input_size) -> tuple[int, ...]:
    size = input_size if input_size is not None else getattr(model, "default_input_size", None)
    if size is None:
        raise ValueError(
            f"{type(model).__name__} has no default_input_size: pass input_size=(C, H, W)"
        )
    if isinstance(size, (tuple, list)) and size and size[0] is None:  # H×W at the model's own channels
        size = (_input_size(model, None)[0], *size[1:])
    if isinstance(size, int) or not all(isinstance(s, int) and not isinstance(s, bool)
                                        for s in size):
        raise ValueError(f"input_size must be a tuple of integers like (3, 224, 224), got {size!r}")
    size = tuple(size)
    if len(size) < 2 or min(size) < 1:
        raise ValueError(
            f"input_size must be C×H×W (channels then spatial sizes, all ≥ 1), got "
            f"{'×'.join(map(str, size))}"
        )
    return size


def summarize(model, input_size=None, depth: int | None = None, *, real: bool = False,
              **options) -> Summary:
    """Explain ``model`` (a registered name or any ``nn.Module``) layer by layer.

    ``input_size`` is C×H×W (default: the model's ``default_input_size``); ``depth``
    groups everything below that module depth into one row (``None``: down to the
    modules without submodules). ``real=True`` runs real arithmetic on the model's device
    instead of the meta device. ``options`` go to :func:`cnnzoo.create_model` when
    ``model`` is a name. The definitions of every column are in ``cnnzoo.analysis.rules``.
    """
    from ..registry import create_model, display_name, model_label

    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be a non-negative integer or None, got {depth!r}")
    if isinstance(model, str):
        name = model
        with torch.device("meta"):
            net = create_model(name, **options)
    elif isinstance(model, nn.Module):
        if options:
            raise TypeError(f"model options ({', '.join(options)}) apply to a registered name, "
                            "not to a module")
        net = model
        name = display_name(model)
    else:
        raise TypeError(f"summarize takes a model name or an nn.Module, got {type(model).__name__}")
    size = _input_size(net, input_size)
    chw = "×".join(map(str, size))
    all_meta = all(t.device.type == "meta" for t in list(net.parameters()) + list(net.buffers()))
    try:
        try:
            tracer, _ = _trace(net, size, real=real)
        except (RuntimeError, NotImplementedError) as err:
            if real or not _meta_specific(err):
                raise
            if all_meta and isinstance(model, str):
                net = create_model(name, **options)
            elif all_meta:
                raise ValueError(f"{name} cannot run on the meta device ({err}); build it on "
                                 "a real device to summarize it") from err
            tracer, _ = _trace(net, size, real=True)
    except (RuntimeError, IndexError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{name} cannot take a {chw} input: {msg}") from err

    root = tracer.top.children[0]
    _sum_up(root)
    params = {
        "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "frozen": sum(p.numel() for p in net.parameters() if not p.requires_grad),
        "buffers": sum(b.numel() for b in net.buffers()),
    }
    ops = list(_walk_ops(root))
    totals = {
        "params": params["trainable"] + params["frozen"],
        "trainable_params": params["trainable"],
        "frozen_params": params["frozen"],
        "buffers": params["buffers"],
        "macs": root.sums["macs"],
        "flops": root.sums["flops"],
        "connections": root.sums["connections"],
        "neurons": sum(_numel(sh) for op in ops if op.cost.units for sh in op.outputs),
        "activation_bytes": root.sums["alloc"],
        "peak_activation_bytes": tracer.peak(),
        "input_size": size,
        "output_shape": _one_or_many(root.outputs),
    }
    warnings = []
    for op in ops:
        for note in op.notes:
            warnings.append(f"{_op_name(op)}: {note}")
    uncounted = sorted({op.name for op in ops if kind_of(op.name) == "uncounted"})
    if uncounted:
        warnings.append("no counting rule (counted as 0 FLOPs): " + ", ".join(uncounted))
    uncalled = _uncalled(net, tracer)
    for path, (type_, *_) in uncalled.items():
        warnings.append(f"{path or name} ({type_}) is not called in the forward pass; its "
                        "parameters are listed in a row of their own")
    breakdown = _breakdown(root)
    root_name = name

    def regroup(d: int | None) -> Summary:
        if d is not None and (not isinstance(d, int) or d < 0):
            raise ValueError(f"depth must be a non-negative integer or None, got {d!r}")
        rows: list[LayerRecord] = []
        aggregated: list[str] = []
        _rows(root, d, root_name, rows, aggregated)
        for path, (type_, trainable, frozen, buffers) in uncalled.items():
            cover = next((r for r in rows if _covers(r, path, aggregated, root_name)), None)
            if cover is None:
                cover = LayerRecord(path or root_name, type_, path.count(".") + 1 if path else 0,
                                    notes=["not called in the forward pass"])
                rows.append(cover)
            cover.params += trainable
            cover.frozen_params += frozen
            cover.buffers += buffers
        # the options in the title and the JSON: a saved summary says which network it explains
        title = model_label(name, options) if isinstance(model, str) else name
        return Summary(title, size, d, rows, totals, breakdown, warnings, regroup)

    return regroup(depth)


def _covers(rec: LayerRecord, path: str, aggregated: list[str], root_name: str) -> bool:
    """Whether row ``rec`` is a module grouped with everything under it that holds ``path``."""
    row_path = "" if rec.name == root_name and "" in aggregated else rec.name
    if row_path not in aggregated:
        return False
    return row_path == "" or path.startswith(row_path + ".")
