"""One module per family; importing this package registers every model, in the zoo's
chronological order."""

from . import (  # noqa: F401
    lenet,
    alexnet,
    vgg,
    nin,
    googlenet,
    inception,
    resnet,
    senet,
    highway,
    densenet,
    mobilenet,
)
from .base import Classifier

__all__ = ["Classifier"]
