"""The optimiser and the learning-rate schedule a :class:`~cnnzoo.train.recipes.Recipe` names.

The schedule is a pure function of the optimiser step count (plus, for ``plateau``, the
decays taken so far), so its whole state is a few numbers that a checkpoint stores.
"""

from __future__ import annotations

import bisect
import math

import torch
from torch import nn

from .recipes import Recipe

__all__ = ["build_optimizer", "param_groups", "renormalise_filters", "Schedule"]


def _is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups == module.in_channels


_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.InstanceNorm1d,
          nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)


def param_groups(model: nn.Module, recipe: Recipe) -> list[dict]:
    """The model's parameters as optimiser groups by weight decay: one, unless the recipe
    gives depthwise convolution filters (``depthwise_decay``) or normalisation parameters and
    biases (``norm_bias_decay``) their own; the recipe's ``weight_decay`` group first."""
    depthwise = {id(m.weight) for m in model.modules() if _is_depthwise(m)}
    plain = {id(p) for m in model.modules() for name, p in m.named_parameters(recurse=False)
             if name == "bias" or isinstance(m, _NORMS)}

    def decay(p) -> float:
        if id(p) in depthwise and recipe.depthwise_decay is not None:
            return recipe.depthwise_decay
        if id(p) in plain and recipe.norm_bias_decay is not None:
            return recipe.norm_bias_decay
        return recipe.weight_decay

    by_decay: dict[float, list] = {recipe.weight_decay: []}
    for p in model.parameters():
        by_decay.setdefault(decay(p), []).append(p)
    return [{"params": params} if d == recipe.weight_decay else {"params": params, "weight_decay": d}
            for d, params in by_decay.items() if params]


@torch.no_grad()
def renormalise_filters(model: nn.Module, radius: float) -> None:
    """Scale each convolution filter (one output channel's weights) whose root mean square
    exceeds ``radius`` back to ``radius`` (Zeiler & Fergus 2013, §3, with radius 10⁻¹). A
    weight computed by a parametrisation (``torch.nn.utils.parametrize``, weight norm) is
    recomputed on each access and is left as it is."""
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not 0 < radius < math.inf:
        raise ValueError(f"radius must be a positive number, got {radius!r}")
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            rms = m.weight.flatten(1).pow(2).mean(1).sqrt()
            m.weight.mul_((radius / rms).clamp(max=1.0)[:, None, None, None])


def build_optimizer(params, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), RMSProp, Adam or AdamW with the recipe's settings.

    ``params``: parameters or parameter groups, or a module, whose parameters are then grouped
    by :func:`param_groups` (the recipe's ``depthwise_decay`` and ``norm_bias_decay``, which
    plain parameters or groups cannot take).
    PyTorch's RMSProp adds ε outside the square root (TensorFlow, which the Inception and
    MobileNet papers used, adds it inside); with the papers' ε = 1.0 both damp the first
    steps strongly, which is what that setting is for.
    """
    if isinstance(params, nn.Module):
        params = param_groups(params, recipe)
    r = recipe
    if r.optimizer == "sgd":
        return torch.optim.SGD(params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay,
                               nesterov=r.nesterov and r.momentum > 0)
    if r.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=r.lr, alpha=r.rmsprop_decay, eps=r.eps or 1e-8,
                                   momentum=r.momentum, weight_decay=r.weight_decay)
    cls = torch.optim.Adam if r.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=r.lr, weight_decay=r.weight_decay, eps=r.eps or 1e-8)


class Schedule:
    """Sets the optimiser's learning rate before every step from the recipe's schedule.

    Call :meth:`step` after each optimiser step and :meth:`epoch_end` with the epoch's test
    and training accuracies (``plateau`` watches the one the recipe's ``plateau_on`` names).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int):
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be ≥ 1, got {steps_per_epoch}")
        self.optimizer, self.recipe, self.steps_per_epoch = optimizer, recipe, steps_per_epoch
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.t = 0
        self.decays, self.best, self.bad = 0, -math.inf, 0
        self._apply()

    def _units(self, steps: float) -> float:
        return steps / self.steps_per_epoch if self.recipe.unit == "epoch" else steps

    def factor(self, t: int) -> float:
        """Multiplier of the base learning rate at optimiser step ``t`` (0-based)."""
        r = self.recipe
        u, w = self._units(t), r.warmup
        if u < w:
            return r.warmup_factor if r.warmup_mode == "constant" else r.warmup_factor + (1 - r.warmup_factor) * u / w
        if r.schedule == "multistep":
            k = bisect.bisect_right(r.milestones, u)
            return (r.factors[k - 1] if k else 1.0) if r.factors else r.gamma**k
        if r.schedule == "exponential":
            return r.gamma ** math.floor(u / r.step_size)
        if r.schedule == "inv":
            return (1 + r.gamma * u) ** -r.power
        if r.schedule == "plateau":
            return r.gamma**self.decays
        if r.schedule in ("cosine", "linear"):
            total = self._units(r.epochs * self.steps_per_epoch)
            p = min(1.0, max(0.0, (u - w) / max(total - w, 1e-12)))
            return 0.5 * (1 + math.cos(math.pi * p)) if r.schedule == "cosine" else 1 - p
        return 1.0

    def _apply(self) -> None:
        f = self.factor(self.t)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * f

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def lr_at(self, t: int) -> float:
        """The (first parameter group's) learning rate at optimiser step ``t``."""
        return self.optimizer.param_groups[0]["initial_lr"] * self.factor(t)

    def step(self) -> None:
        self.t += 1
        self._apply()

    def epoch_end(self, test_top1: float | None, train_top1: float | None = None) -> None:
        """``plateau``: divide by 1/gamma once the accuracy ``plateau_on`` names (test or
        training) has not improved for ``patience`` epochs (at most ``max_decays`` times)."""
        top1 = train_top1 if self.recipe.plateau_on == "train" else test_top1
        if self.recipe.schedule != "plateau" or top1 is None:
            return
        if top1 > self.best + 1e-9:
            self.best, self.bad = top1, 0
        else:
            self.bad += 1
            if self.bad >= self.recipe.patience and self.decays < self.recipe.max_decays:
                self.decays, self.bad = self.decays + 1, 0
        self._apply()

    def state_dict(self) -> dict:
        return {"t": self.t, "decays": self.decays, "best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict) -> None:
        self.t, self.decays = int(state["t"]), int(state["decays"])
        self.best, self.bad = float(state["best"]), int(state["bad"])
        self._apply()
