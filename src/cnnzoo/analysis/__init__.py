"""Explain a network layer by layer: ``summarize`` and its ``Summary`` (definitions of
every count in ``cnnzoo.analysis.rules``); ``filter_picture`` and ``feature_picture``: a
convolution's filters, and what a layer computes for an image, as pictures."""

from .pictures import FilterPicture, Picture, feature_picture, filter_picture
from .summary import LayerRecord, Summary, summarize

__all__ = ["summarize", "Summary", "LayerRecord", "filter_picture", "feature_picture", "Picture", "FilterPicture"]
