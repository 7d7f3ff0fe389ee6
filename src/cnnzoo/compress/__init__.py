"""Deep Compression (Han, Mao & Dally, ICLR 2016): pruning, trained quantization and Huffman
coding of a trained cnnzoo model into a real compressed file.

``cnnzoo.compress(model_or_run, data, ...)`` runs the whole pipeline (this package is
callable: calling it calls :func:`~cnnzoo.compress.pipeline.compress`);
:func:`load_compressed` rebuilds the dense model from the file.
"""

import sys
import types

from .fileformat import (CompressedFileError, is_compressed_file, load_compressed,
                         read_compressed, write_compressed)
from .huffman import HuffmanError
from .pipeline import (DEFAULT_BITS, DEFAULT_INDEX_BITS, DEFAULT_SPARSITY, CompressionResult,
                       compress)
from .presets import PAPER_PRESETS, paper_preset
from .prune import Pruner, compressible_layers
from .quantize import WeightSharing, centroid_gradients, kmeans_1d
from .report import print_report
from .sparse import SharedLayer

__all__ = [
    "compress",
    "CompressionResult",
    "load_compressed",
    "is_compressed_file",
    "read_compressed",
    "write_compressed",
    "CompressedFileError",
    "HuffmanError",
    "Pruner",
    "WeightSharing",
    "SharedLayer",
    "compressible_layers",
    "kmeans_1d",
    "centroid_gradients",
    "print_report",
    "PAPER_PRESETS",
    "paper_preset",
    "DEFAULT_SPARSITY",
    "DEFAULT_BITS",
    "DEFAULT_INDEX_BITS",
]


class _CallableModule(types.ModuleType):
    """Lets ``cnnzoo.compress`` be both this package and the pipeline function."""

    def __call__(self, *args, **kwargs):
        return compress(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
