"""cnnzoo: the classic convolutional networks of image classification, faithful to their
papers, with the tools their readers want: explain, train, compress, measure, compare."""

from . import _hugepages

_hugepages.enable()  # before torch loads: PyTorch reads the setting at its first allocation

from .registry import (  # noqa: E402
    Figure,
    ModelInfo,
    Paper,
    count_parameters,
    create_model,
    inference_parameters,
    list_models,
    model_info,
    register_model,
)

__version__ = "0.1.0"

__all__ = [
    "create_model",
    "list_models",
    "model_info",
    "count_parameters",
    "inference_parameters",
    "register_model",
    "ModelInfo",
    "Paper",
    "Figure",
]
# Each capability adds its public entry points below (keep one import line per module).
from .data import ImageDataset, Loader, load_dataset  # noqa: E402
__all__ += ["load_dataset", "ImageDataset", "Loader"]
from .analysis import FilterPicture, LayerRecord, Picture, Summary, feature_picture, filter_picture, summarize  # noqa: E402,E501
__all__ += ["summarize", "Summary", "LayerRecord", "filter_picture", "feature_picture", "Picture", "FilterPicture"]
from . import train  # noqa: E402  (callable module: cnnzoo.train(model, data, ...) runs training)
from .train import evaluate, load_model, predict, preprocess  # noqa: E402
__all__ += ["train", "evaluate", "predict", "preprocess", "load_model"]
from .inference import fold_batchnorm, optimize_for_inference  # noqa: E402
from .bench import bench_model, count_macs, measure_peak  # noqa: E402  (cnnzoo.bench.bench: several models)
from .report import compare, write_report  # noqa: E402
__all__ += ["fold_batchnorm", "optimize_for_inference", "bench_model", "count_macs", "measure_peak",
            "compare", "write_report"]
from . import compress  # noqa: E402  (callable module: cnnzoo.compress(run, data, ...) compresses)
from .compress import is_compressed_file, load_compressed  # noqa: E402
__all__ += ["compress", "load_compressed", "is_compressed_file"]
from .pretrained import import_weights, load_published  # noqa: E402
__all__ += ["import_weights", "load_published"]
