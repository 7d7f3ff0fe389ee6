"""Train, evaluate and predict.

``cnnzoo.train(model, data, ...)`` runs a whole training run into a run directory (this
module is callable: it is the :func:`~cnnzoo.train.run.train` function as well as the
package of the trainer). The pieces: :func:`fit` (the plain loop), :func:`evaluate`,
:func:`predict`, :mod:`~cnnzoo.train.recipes` (the papers' and the small-data recipes),
:mod:`~cnnzoo.train.checkpoint` (:func:`load_model`), :mod:`~cnnzoo.train.distributed`.
"""

import sys
import types

from .checkpoint import load_model, load_weights
from .evaluate import evaluate, predict, preprocess
from .loop import Trainer, TrainingDiverged, evaluate_loader, fit
from .optim import Schedule, build_optimizer
from .recipes import PAPER_RECIPES, SMALL_RECIPE, Recipe, get_recipe
from .run import RunResult, is_run, train

__all__ = [
    "train",
    "is_run",
    "RunResult",
    "fit",
    "evaluate",
    "evaluate_loader",
    "preprocess",
    "predict",
    "load_model",
    "load_weights",
    "Recipe",
    "get_recipe",
    "PAPER_RECIPES",
    "SMALL_RECIPE",
    "Schedule",
    "build_optimizer",
    "Trainer",
    "TrainingDiverged",
]


class _CallableModule(types.ModuleType):
    """``cnnzoo.train`` is both this package and the function that runs training."""

    def __call__(self, *args, **kwargs) -> RunResult:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
