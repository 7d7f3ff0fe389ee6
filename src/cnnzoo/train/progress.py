"""The progress bar of a training run (rich): loss, accuracy and images per second as the
epoch goes, and one line per finished epoch."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["TrainProgress", "format_epoch", "epoch_header"]


# One line per epoch under one header, as a table: 80 characters (up to 9999/9999 epochs and
# 9,999,999 images/s), so that an 80-column terminal does not wrap it (named fields,
# "train loss 0.1234 acc ...", took 115).
_COLUMNS = (("epoch", 9), ("train loss", 10), ("acc %", 6), ("test loss", 9), ("top-1 %", 7),
            ("top-5 %", 7), ("lr", 8), ("img/s", 9), ("s", 6))


def epoch_header() -> str:
    return " ".join(f"{name:>{width}}" for name, width in _COLUMNS)


def format_epoch(row: dict, epochs: int) -> str:
    tested = row.get("test_top1") is not None
    cells = (f"{row['epoch']}/{epochs}", f"{row['train_loss']:.4f}", f"{row['train_top1']:.2f}",
             f"{row['test_loss']:.4f}" if tested else "—", f"{row['test_top1']:.2f}" if tested else "—",
             f"{row['test_top5']:.2f}" if tested else "—", f"{row['lr']:.3g}", f"{row['images_per_s']:,.0f}",
             f"{row['seconds']:.1f}")
    return " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, _COLUMNS))


class TrainProgress:
    """A bar over all the run's steps; :meth:`update` after each read-back of the losses,
    :meth:`epoch_done` prints the epoch's line above the bar."""

    def __init__(self, *, epochs: int, steps: int, start_epoch: int = 0, console: Console | None = None):
        self.epochs, self.steps, self._headed = epochs, steps, False
        self.console = console or Console()
        self.progress = Progress(
            # 80 columns at most, as the epoch lines: images per second are in those lines
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=12),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f} · acc {task.fields[acc]:5.1f}%"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task("train", total=epochs * steps, completed=start_epoch * steps,
                                           epoch=start_epoch + 1, epochs=epochs, loss=0.0, acc=0.0)

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()
        return False

    def update(self, epoch: int, step: int, totals: dict) -> None:
        count = max(totals["count"], 1.0)
        self.progress.update(
            self.task, completed=epoch * self.steps + step, epoch=epoch + 1,
            loss=totals["loss_sum"] / count, acc=100 * totals["correct"] / count,
        )

    def epoch_done(self, row: dict) -> None:
        if not self._headed:  # above the first line this command prints (a resumed run's too)
            self.progress.console.print(epoch_header(), style="bold", highlight=False)
            self._headed = True
        self.progress.console.print(format_epoch(row, self.epochs), highlight=False)
