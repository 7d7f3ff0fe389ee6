"""Explain a network layer by layer: ``summarize`` and its ``Summary`` (definitions of
every count in ``cnnzoo.analysis.rules``); ``filter_picture``: a convolution's filters."""

from .filters import FilterPicture, filter_picture
from .summary import LayerRecord, Summary, summarize

__all__ = ["summarize", "Summary", "LayerRecord", "filter_picture", "FilterPicture"]
