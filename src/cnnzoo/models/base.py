"""The interface every cnnzoo network follows (see DESIGN.md, "One model interface").

A family subclasses :class:`Classifier`, builds its layers, and implements ``_features``
(the layers before the head) and ``forward_head``; the base class gives ``forward_features``
and ``forward`` (both with the input check), ``reset_classifier`` and the attributes the rest
of cnnzoo reads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._checks import positive_int
from .._device import floating_dtype

__all__ = ["Classifier", "format_chw"]


def format_chw(shape) -> str:
    return "×".join(str(int(s)) for s in shape)


class Classifier(nn.Module):
    """Base class of all cnnzoo models.

    Parameters
    ----------
    num_classes, in_chans:
        Output classes and input channels.
    input_size:
        The paper's input size ``(H, W)``; ``default_input_size`` is ``(in_chans, H, W)``.
    min_input_size:
        The smallest ``(H, W)`` the network can take. ``None`` means the network needs
        exactly ``input_size`` (its fully-connected layers fix the feature-map size).
    classifier:
        Dotted path of the final layer (a ``Linear`` or a 1×1 ``Conv2d``) that
        :meth:`reset_classifier` replaces.
    """

    name: str = "model"
    aux_loss_weight: float = 0.0

    def __init__(
        self,
        *,
        num_classes: int,
        in_chans: int,
        input_size: tuple[int, int],
        min_input_size: tuple[int, int] | None = None,
        classifier: str = "fc",
    ):
        super().__init__()
        self.num_classes = positive_int(num_classes, "num_classes")
        self.in_chans = in_chans = positive_int(in_chans, "in_chans")
        self.default_input_size = (in_chans, *input_size)
        self.min_input_size = None if min_input_size is None else tuple(min_input_size)
        self.classifier_path = classifier

    # -- input check -------------------------------------------------------------------
    def check_input(self, x: Tensor) -> None:
        """Raise ``ValueError`` naming the model, the expected C×H×W and what it got."""
        if isinstance(x, torch.fx.Proxy):  # torch.fx traces the layers; a shape test is no layer
            return
        if not isinstance(x, Tensor):
            raise TypeError(f"{self.name} expects a tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{self.name} expects floating-point input, got {x.dtype}: images as the "
                            "model was trained on them, e.g. x.float() / 255, normalised")
        dtype = floating_dtype(self)  # (autocast has no meta device: a shape probe is judged as it is)
        if x.dtype != dtype and (x.device.type == "meta" or not torch.is_autocast_enabled(x.device.type)):
            raise TypeError(f"{self.name} holds {dtype} weights and expects {dtype} input, got {x.dtype}: "
                            f"convert the input (x.to({dtype})) or the model")
        if x.dim() != 4:
            raise ValueError(
                f"{self.name} expects a batch N×C×H×W (4 dimensions), got shape "
                f"{format_chw(x.shape)}"
            )
        c, h, w = x.shape[1:]
        want = format_chw(self.default_input_size)
        if self.min_input_size is None:
            if (c, h, w) != self.default_input_size:
                raise ValueError(f"{self.name} expects {want} input, got {format_chw((c, h, w))}")
            return
        mh, mw = self.min_input_size
        if c != self.in_chans or h < mh or w < mw:
            raise ValueError(
                f"{self.name} expects {self.in_chans}×H×W input with H ≥ {mh} and W ≥ {mw} "
                f"(default {want}), got {format_chw((c, h, w))}"
            )

    # -- the interface ---------------------------------------------------------------
    def forward_features(self, x: Tensor) -> Tensor:
        """The feature maps the head reads, for an input the model can take (checked first)."""
        self.check_input(x)
        return self._features(x)

    def _features(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_train(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Main logits and the auxiliary heads' logits (none for most networks)."""
        return self(x), []

    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_path)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final layer with a freshly initialised one for ``num_classes``."""
        num_classes = positive_int(num_classes, "num_classes")  # checked before anything changes
        self._replace_layer(self.classifier_path, num_classes)
        self.num_classes = num_classes

    def _replace_layer(self, path: str, num_classes: int) -> None:
        old = self.get_submodule(path)
        if isinstance(old, nn.Linear):
            new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        elif isinstance(old, nn.Conv2d):
            new = nn.Conv2d(
                old.in_channels, num_classes, old.kernel_size, old.stride, old.padding,
                bias=old.bias is not None,
            )
        else:
            raise TypeError(f"{self.name}: cannot reset classifier layer of type {type(old).__name__}")
        new = new.to(device=old.weight.device, dtype=old.weight.dtype)
        parent_path, _, attr = path.rpartition(".")
        parent = self.get_submodule(parent_path) if parent_path else self
        setattr(parent, attr, new)

    def loss(self, logits: Tensor, target: Tensor, aux_logits: list[Tensor] | None = None,
             label_smoothing: float = 0.0) -> Tensor:
        """The paper's training loss: cross-entropy on the main logits plus the auxiliary
        heads' cross-entropy weighted by ``aux_loss_weight``. LeNet-5's RBF output
        overrides this with its own criterion."""
        ce = nn.functional.cross_entropy
        total = ce(logits, target, label_smoothing=label_smoothing)
        for aux in aux_logits or []:
            total = total + self.aux_loss_weight * ce(aux, target, label_smoothing=label_smoothing)
        return total

    def predict_scores(self, logits: Tensor) -> Tensor:
        """Class probabilities from the logits (softmax; RBF outputs override)."""
        return torch.softmax(logits, dim=-1)
