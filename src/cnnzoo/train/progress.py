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

__all__ = ["TrainProgress", "format_epoch"]


def format_epoch(row: dict, epochs: int) -> str:
    text = (f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_top1']:6.2f}%")
    if row.get("test_top1") is not None:
        text += (f"  │ test loss {row['test_loss']:.4f} top-1 {row['test_top1']:6.2f}% "
                 f"top-5 {row['test_top5']:6.2f}%")
    return text + f"  │ lr {row['lr']:.3g}  {row['images_per_s']:,.0f} img/s  {row['seconds']:.1f} s"


class TrainProgress:
    """A bar over all the run's steps; :meth:`update` after each read-back of the losses,
    :meth:`epoch_done` prints the epoch's line above the bar."""

    def __init__(self, *, epochs: int, steps: int, start_epoch: int = 0, console: Console | None = None):
        self.epochs, self.steps = epochs, steps
        self.console = console or Console()
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f} · acc {task.fields[acc]:5.1f}% · {task.fields[ips]:,.0f} img/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task("train", total=epochs * steps, completed=start_epoch * steps,
                                           epoch=start_epoch + 1, epochs=epochs, loss=0.0, acc=0.0, ips=0.0)

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
            ips=totals["count"] / max(totals["seconds"], 1e-9),
        )

    def epoch_done(self, row: dict) -> None:
        self.progress.console.print(format_epoch(row, self.epochs), highlight=False)
