"""What a run directory shows people: ``metrics.csv``, ``curves.png``, ``confusion.png``,
``summary.json`` and ``summary.txt``. Charts are drawn with matplotlib's Agg canvas (no
display, no global pyplot state); every file is written atomically."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .._figures import new_figure, png_bytes
from .._files import write_atomic

__all__ = ["METRIC_COLUMNS", "write_metrics", "read_metrics", "plot_curves", "plot_confusion",
           "curves_figure", "confusion_figure", "figure_png", "write_summary"]

# The columns of metrics.csv (see notes/CONTRACTS.md); accuracies in percent.
METRIC_COLUMNS = ("epoch", "train_loss", "train_top1", "test_loss", "test_top1", "test_top5", "lr",
                  "images_per_s", "seconds")


def write_metrics(path: Path, history: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_atomic(path, buffer.getvalue().encode())


def read_metrics(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v) if v else None) for k, v in row.items()}
                for row in csv.DictReader(f)]


def _numbers(history: list[dict], key: str) -> list:
    """A column of ``history`` with anything but a number (a missing or damaged value) as a gap."""
    return [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
            for v in (r.get(key) for r in history)]


def curves_figure(history: list[dict], title: str):
    """Loss and top-1 accuracy per epoch, training and test (columns a damaged or partial
    ``metrics.csv`` lacks are left out)."""
    fig = new_figure(figsize=(10, 4))
    epochs = _numbers(history, "epoch")
    if None in epochs:  # a damaged epoch column: the rows in order
        epochs = list(range(1, len(history) + 1))
    for ax, key, label in zip(fig.subplots(1, 2), ("loss", "top1"), ("loss", "top-1 accuracy (%)")):
        shown = []
        for split, style in (("train", "o-"), ("test", "s-")):
            values = _numbers(history, f"{split}_{key}")
            if any(v is not None for v in values):
                ax.plot(epochs, values, style, label=split)
                shown += values
        if key == "loss" and any(v is not None for v in shown) and all(v > 0 for v in shown if v is not None):
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if shown:
            ax.legend()
    fig.suptitle(title)
    return fig


def confusion_figure(confusion: list[list[int]], classes: list[str] | None, title: str):
    """The confusion matrix (rows: true class, columns: predicted), counts written in the
    cells when there are at most 20 classes; classes numbered when not named."""
    k = len(confusion)
    classes = [str(c) for c in classes] if classes and len(classes) == k else [str(i) for i in range(k)]
    side = min(12, 3 + 0.45 * k)
    fig = new_figure(figsize=(side + 1, side))
    ax = fig.subplots()
    im = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if k <= 20:
        ticks = range(k)
        ax.set_xticks(ticks, classes, rotation=90 if max(map(len, classes), default=0) > 3 else 0)
        ax.set_yticks(ticks, classes)
        top = max(max(row) for row in confusion) or 1
        for i, row in enumerate(confusion):
            for j, v in enumerate(row):
                if v:
                    ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                            color="white" if v > top / 2 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return fig


def figure_png(fig) -> bytes:
    """A run's chart as its PNG file holds it."""
    return png_bytes(fig, dpi=110, bbox_inches="tight")


def plot_curves(path: Path, history: list[dict], title: str) -> None:
    write_atomic(path, figure_png(curves_figure(history, title)))


def plot_confusion(path: Path, confusion: list[list[int]], classes: list[str], title: str) -> None:
    write_atomic(path, figure_png(confusion_figure(confusion, classes, title)))


def write_summary(run_dir: Path, summary: dict) -> None:
    """``summary.json`` and its human version ``summary.txt``."""
    write_atomic(run_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    lines = [
        f"model        {summary['model']}",
        f"dataset      {summary['dataset']} ({_count(summary.get('train_images'))} training, "
        f"{_count(summary.get('test_images'))} test images)",
        f"recipe       {summary.get('recipe', '?')}",
        f"epochs       {summary['epochs']}",
        f"test top-1   {summary['test_top1']:.2f}%  (final epoch)",
        f"test top-5   {summary['test_top5']:.2f}%",
        f"best top-1   {summary['best_top1']:.2f}%  (epoch {summary['best_epoch']})",
        f"parameters   {summary['params']:,}",
    ]
    if summary.get("macs") is not None:
        lines.append(f"MACs         {summary['macs']:,} multiply-adds per image")
    lines += [
        f"train time   {summary['train_seconds']:.1f} s ({summary['images_per_s']:,.0f} images/s in the last epoch)",
        f"device       {summary.get('device', '?')} × {summary.get('world_size', 1)}",
        f"files        {', '.join(summary.get('files', {}).values())}",
    ]
    write_atomic(run_dir / "summary.txt", ("\n".join(lines) + "\n").encode())


def _count(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"
