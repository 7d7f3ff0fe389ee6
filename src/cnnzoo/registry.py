"""The model registry: every network cnnzoo builds, with the paper it comes from.

A family module registers each builder with :func:`register_model`; users reach them
through :func:`create_model`, :func:`list_models` and :func:`model_info`.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ._checks import check_chw, describe, python_value, type_problem

__all__ = [
    "Paper",
    "Figure",
    "ModelInfo",
    "register_model",
    "create_model",
    "list_models",
    "model_info",
    "count_parameters",
    "inference_parameters",
    "model_label",
    "display_name",
]


@dataclass(frozen=True)
class Paper:
    """Bibliographic record of the paper a network comes from."""

    title: str
    authors: str
    year: int
    venue: str
    arxiv: str | None = None

    def cite(self) -> str:
        where = f"arXiv:{self.arxiv}" if self.arxiv else self.venue
        return f"{self.authors} ({self.year}). {self.title}. {where}."


@dataclass(frozen=True)
class Figure:
    """A published number about a network, with where it was published.

    ``metric`` is one of ``params``, ``macs``, ``top1``, ``top5`` (accuracies in percent,
    error rates are converted), ``error``; ``source`` names the table or page
    (``"He et al. 2015, Table 6"``, ``"torchvision weights metadata"``).
    """

    metric: str
    value: float
    source: str
    dataset: str = "ImageNet"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    paper: Paper
    input_size: tuple[int, int, int]
    description: str
    builder: Callable[..., nn.Module] = field(repr=False, compare=False)
    figures: tuple[Figure, ...] = ()
    layout: str = "paper"  # "paper" or "torchvision"

    @property
    def options(self) -> dict[str, object]:
        """The builder's keyword options and their defaults."""
        sig = inspect.signature(self.builder)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD
        }

    def figure(self, metric: str, dataset: str = "ImageNet") -> Figure | None:
        for f in self.figures:
            if f.metric == metric and f.dataset == dataset:
                return f
        return None


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    family: str,
    paper: Paper,
    input_size: tuple[int, int, int],
    description: str,
    figures: tuple[Figure, ...] | list[Figure] = (),
    layout: str = "paper",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder under ``name``.

    The builder must accept ``num_classes`` and ``in_chans`` as keyword arguments. The
    model it returns is labelled with ``name`` so that its error messages name it.
    """

    _check_registration(name, family, paper, input_size, description, figures, layout)

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise RuntimeError(f"model {name!r} is registered twice")
        taken = inspect.signature(builder).parameters if callable(builder) else {}
        missing = [k for k in ("num_classes", "in_chans") if k not in taken]
        if missing and not any(p.kind is p.VAR_KEYWORD for p in taken.values()):
            raise TypeError(f"model {name!r}: the builder must be a function taking num_classes= and in_chans=, "
                            f"got {describe(builder)}" + (f" without {' and '.join(missing)}" if callable(builder) else ""))

        @functools.wraps(builder)
        def build(*args, **kwargs):
            model = builder(*args, **kwargs)
            model.name = name
            return model

        _REGISTRY[name] = ModelInfo(
            name=name,
            family=family,
            paper=paper,
            input_size=tuple(input_size),
            description=description,
            builder=build,
            figures=tuple(figures),
            layout=layout,
        )
        return build

    return decorate


def _key(name: str) -> str:
    """How :func:`create_model` reads a name: ``ResNet-18`` is ``resnet_18``."""
    return name.strip().lower().replace("-", "_")


def _check_registration(name, family, paper, input_size, description, figures, layout) -> None:
    """A registration that could never be looked up, or that would break listing and
    lookups of every model after it, refused by what it should have been."""
    if not isinstance(name, str) or not name or _key(name) != name:
        hint = f"; register {_key(name)!r}" if isinstance(name, str) and _key(name) else ""
        raise ValueError("a model name must be lower case, with underscores for hyphens and no spaces around it, "
                         f"as create_model reads names (ResNet-18 is resnet_18), got {describe(name)}{hint}")
    check_chw(input_size, f"model {name!r}: input_size")
    problems = [
        (isinstance(family, str) and bool(family), "family must be a non-empty string", family),
        (isinstance(paper, Paper), "paper must be a cnnzoo.Paper", paper),
        (isinstance(description, str), "description must be a string", description),
        (isinstance(figures, (tuple, list)) and all(isinstance(f, Figure) for f in figures),
         "figures must be a list of cnnzoo.Figure", figures),
        (layout in ("paper", "torchvision"), "layout must be 'paper' or 'torchvision'", layout),
    ]
    for ok, expected, value in problems:
        if not ok:
            raise TypeError(f"model {name!r}: {expected}, got {describe(value)}")


def _ensure_loaded() -> None:
    # Importing the model package registers every family.
    from . import models  # noqa: F401


def _lookup(name: str) -> ModelInfo:
    _ensure_loaded()
    if not isinstance(name, str):
        raise TypeError(f"expected a model name (a string such as 'resnet18'; `cnnzoo list` shows them), "
                        f"got {describe(name)}")
    key = _key(name)
    if key in _REGISTRY:
        return _REGISTRY[key]
    close = difflib.get_close_matches(key, _REGISTRY, n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise ValueError(
        f"unknown model {name!r}{hint}. `cnnzoo list` shows all {len(_REGISTRY)} models."
    )


def create_model(name: str, **options) -> nn.Module:
    """Build the registered network ``name``.

    ``options`` are the builder's keywords: ``num_classes``, ``in_chans`` and the family's
    own options (``batch_norm=``, ``width_mult=``, ...). An option the builder does not take
    is a ``TypeError`` that names it and lists the ones it takes.
    """
    info = _lookup(name)
    accepted = info.options
    options = {k: python_value(v) for k, v in options.items()}  # numpy's numbers as Python's: options are written as JSON
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise TypeError(
            f"{info.name} got unknown option(s) {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(accepted)}"
        )
    for key, value in options.items():
        # judged by the default's type: string and None defaults also take callables from Python
        default = accepted[key]
        expected = type_problem(value, type(default)) if isinstance(default, (int, float)) else None
        if expected:
            raise TypeError(f"{info.name} option {key} must be {expected}, got {value!r}")
    return info.builder(**options)


def list_models(pattern: str | None = None, *, family: str | None = None) -> list[str]:
    """Registered model names in registration order (the zoo's chronology),
    optionally filtered by a shell-style ``pattern`` (``"resnet*"``) or a family."""
    _ensure_loaded()
    for what, value in (("pattern", pattern), ("family", family)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"list_models: {what} must be a string (e.g. 'resnet*', family='resnet'), "
                            f"got {describe(value)}")
    families = sorted({info.family for info in _REGISTRY.values()})
    if family and family not in families:  # a typo would list nothing, as if the zoo had none
        raise ValueError(f"list_models: unknown family {family!r}; the families are {', '.join(families)}")
    names = list(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern.lower())]
    if family:
        names = [n for n in names if _REGISTRY[n].family == family]
    return names


def model_info(name: str) -> ModelInfo:
    """The paper, default input size and published figures of a registered model."""
    return _lookup(name)


def model_label(name: str, options: dict) -> str:
    """A registered name (as registered, however it was typed) with the builder options it was
    built with, in name order, as tables and JSON name it: ``mobilenet_v1(width_mult=0.5)``;
    the name alone without options."""
    name = _lookup(name).name
    shown = ", ".join(f"{k}={python_value(options[k])!r}" for k in sorted(options))  # 0.5, not np.float64(0.5)
    return f"{name}({shown})" if options else name


def display_name(model) -> str:
    """A model as tables and messages name it: a name as given, a zoo model's registered name,
    any other module's class name (``Sequential``)."""
    if isinstance(model, str):
        return model
    name = getattr(model, "name", None)
    return name if isinstance(name, str) else type(model).__name__


def count_parameters(name: str, **options) -> int:
    """Trainable parameters of a registered model, built on the meta device (no memory,
    no initialisation cost), so that even SENet-154 is counted in milliseconds."""
    import torch

    with torch.device("meta"):
        model = create_model(name, **options)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def inference_parameters(name: str, **options) -> int:
    """:func:`count_parameters` of the network that makes the prediction: without the
    auxiliary heads, used only in training (torchvision's GoogLeNet: 13.0 M with them, 6.6 M
    without, the figure torchvision publishes and a comparison of networks should size)."""
    if "aux_logits" in model_info(name).options:
        options = {**options, "aux_logits": False}
    return count_parameters(name, **options)
