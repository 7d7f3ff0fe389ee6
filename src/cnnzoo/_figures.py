"""Figures drawn on matplotlib's Agg canvas without pyplot, so that a program's own backend
(a notebook's inline one) and its open figures are left as they were."""

from __future__ import annotations

import io


def new_figure(**options):
    """A ``matplotlib.figure.Figure(**options)`` that can be drawn without a display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**options)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig, **options) -> bytes:
    """``fig`` as PNG bytes (``options`` as ``savefig`` takes them)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **options)
    return buffer.getvalue()
