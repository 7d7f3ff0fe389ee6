"""Data: the bundled MNIST sample, torchvision's datasets, image folders and arrays, held in
memory as uint8 tensors, and the loader that batches and augments them on the device."""

from .datasets import ImageDataset, class_difference, data_root, holdout_split, list_datasets, load_dataset
from .loader import AUGMENTS, Augment, Loader, adapt_channels, default_input_size, fit_size

__all__ = [
    "ImageDataset",
    "load_dataset",
    "list_datasets",
    "data_root",
    "holdout_split",
    "class_difference",
    "Loader",
    "Augment",
    "AUGMENTS",
    "adapt_channels",
    "fit_size",
    "default_input_size",
]
