"""Explain a network layer by layer: ``summarize`` and its ``Summary`` (definitions of
every count in ``cnnzoo.analysis.rules``)."""

from .summary import LayerRecord, Summary, summarize

__all__ = ["summarize", "Summary", "LayerRecord"]
