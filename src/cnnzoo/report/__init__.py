"""Comparison charts and the HTML run report.

- :func:`compare`: accuracy against multiply-adds (and measured throughput) as a bubble
  chart and a table, from published figures or the user's runs.
- :func:`write_report`: one self-contained HTML page for a training run.
"""

from .compare import Comparison, CompareRow, bubble_chart, compare, human_count
from .html import SECTIONS, render_report, write_report
from .runs import Run, load_run

__all__ = [
    "compare",
    "Comparison",
    "CompareRow",
    "bubble_chart",
    "human_count",
    "write_report",
    "render_report",
    "SECTIONS",
    "load_run",
    "Run",
]
