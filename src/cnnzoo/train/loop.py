"""The training and evaluation loops.

:class:`Trainer` runs one epoch at a time: the model's ``forward_train`` (so auxiliary heads
take part) and its own ``loss`` (GoogLeNet's weighted auxiliary losses, LeNet-5's eq. 9
criterion), any ``nn.Module`` with plain cross-entropy; mixed precision and channels_last
on a GPU; DistributedDataParallel when a process group is up. The losses are read back
every ``sync_every`` steps (every step on a CPU, where that costs nothing), and a loss that
is not finite stops training with the epoch and step where it happened.

:func:`fit` is the plain loop (no run directory) for code that trains a model it holds,
such as the compression pipeline's retraining; :func:`evaluate_loader` measures top-1,
top-5, per-class accuracy and the confusion matrix.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _malloc
from .._checks import check_chw, describe, positive_int
from .._device import floating_dtype, machine_threads, native_bf16, native_cpu_bf16, resolve_device
from .._timing import best_seconds
from ..models.base import Classifier

__all__ = [
    "Trainer",
    "TrainingDiverged",
    "fit",
    "evaluate_loader",
    "resolve_device",
    "resolve_precision",
    "fastest_settings",
    "machine_threads",
]


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, value: float):
        self.epoch, self.step, self.value = epoch, step, value
        super().__init__(
            f"training loss became {value} at epoch {epoch + 1}, step {step + 1}; stopped. "
            f"Lower the learning rate (--lr) or clip gradients (--set grad_clip=1.0)."
        )


# -- the machine ---------------------------------------------------------------------------
def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 on a GPU that computes in it natively (:func:`cnnzoo._device.native_bf16`),
    else fp16 (with loss scaling) on a GPU; fp32 on a CPU (where :func:`fastest_settings` may take bf16)."""
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ValueError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if native_bf16(device) else "fp16"
    return "fp32"


def _autocast(device: torch.device, precision: str):
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device.type, dtype=dtype)
    return contextlib.nullcontext()


def _step_seconds(model: nn.Module, x: Tensor, device: torch.device, repeats: int = 2,
                  precision: str = "fp32") -> float:
    """Best time of a forward and backward pass, after one warm-up run."""
    def step():
        with _autocast(device, precision):
            out = model(x)
        out.float().sum().backward()

    return best_seconds(step, device, repeats, warmup=1)


def _trial_input(model: nn.Module, input_size, device: torch.device, batch: int,
                 enough_seconds: float = 0.05) -> Tensor:
    """A random batch for the settings trial: the training ``batch``, or the first of 8, 32,
    128, ... whose step takes ``enough_seconds``. A tiny step times overheads, not the work:
    at batch 8 LeNet's step takes a millisecond on one thread or two, at 256 two threads
    take half the time of one, and the trial must see what training will."""
    size = min(8, batch)
    while True:
        x = torch.randn(size, *input_size, device=device)
        if size >= batch or _step_seconds(model, x, device, repeats=1) >= enough_seconds:
            return x
        size = min(batch, size * 4)


def _best_times(steps: dict, rounds: int = 3) -> dict:
    """The best time of each of ``steps`` (callables returning seconds) over alternating
    rounds: a moment of load that fell on one candidate's timing alone would otherwise decide."""
    times = {key: math.inf for key in steps}
    for _ in range(rounds):
        for key, step in steps.items():
            times[key] = min(times[key], step())
    return times


# bf16 autocast changes a run's numerics: the trial takes it for a large gain only (a ResNet-20 step
# 1.7x on the AMX Xeon we develop on; LeNet-5 0.9-1.1x, which must not flip from run to run).
BF16_GAIN = 1.5


def fastest_settings(model: nn.Module, input_size, device: torch.device, *, threads: int | None = None,
                     channels_last: bool | None = None, precision: str = "fp32",
                     batch: int = 8) -> tuple[int | None, bool, str]:
    """Settle the CPU thread count (one, or all of ``machine_threads()``), the memory format
    left open (None) and, for ``precision="auto"`` on a CPU that computes in bf16 natively
    (:func:`cnnzoo._device.native_cpu_bf16`), fp32 or bf16 autocast (bf16 where its step is
    :data:`BF16_GAIN` times faster: a ResNet-20 step is 1.7× faster in it on a Xeon with AMX,
    LeNet-5 no faster), by timing forward and backward passes on a copy of the model. On a
    GPU channels_last is taken (its tensor cores want it), threads do not matter and
    ``precision`` is resolved without a trial (:func:`resolve_precision`). One thread
    can win on a CPU: for a small network, or on a machine whose cores are busy with other
    work, where threads that wait for each other make every step many times slower. The
    trial runs at ``batch`` (the per-process training batch) or at a smaller batch whose
    step already takes a while (see :func:`_trial_input`); rounds alternate, the best of each
    kept, so that a moment of load does not decide the whole run. The global random state and
    thread count are left as they were."""
    import copy

    if not isinstance(model, nn.Module):
        raise TypeError(f"fastest_settings times a model (an nn.Module), got {describe(model)}")
    device = resolve_device(device)
    threads = None if threads is None else positive_int(threads, "threads")
    input_size, batch = check_chw(input_size, "input_size"), positive_int(batch, "batch")
    if device.type != "cpu":
        return threads, True if channels_last is None else channels_last, resolve_precision(precision, device)
    if precision == "auto" and not native_cpu_bf16():
        precision = "fp32"
    if threads is not None and channels_last is not None and precision != "auto":
        return threads, channels_last, resolve_precision(precision, device)  # nothing to time
    old = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        m = copy.deepcopy(model).to(device).train()
        try:
            x = _trial_input(m, input_size, device, batch)
            counts = sorted({1, machine_threads()})
            if threads is None and len(counts) == 1:
                threads = counts[0]  # one core: nothing to choose
            if threads is None:
                def on(n):
                    torch.set_num_threads(n)
                    return _step_seconds(m, x, device, repeats=1)

                times = _best_times({n: lambda n=n: on(n) for n in counts})
                threads = min(times, key=times.get)
            torch.set_num_threads(threads)
            if channels_last is None:
                plain = _step_seconds(m, x, device)
                m = m.to(memory_format=torch.channels_last)
                channels_last = _step_seconds(m, x.contiguous(memory_format=torch.channels_last), device) < plain
            if precision == "auto":
                layout = torch.channels_last if channels_last else torch.contiguous_format
                m, x = m.to(memory_format=layout), x.contiguous(memory_format=layout)
                times = _best_times({p: lambda p=p: _step_seconds(m, x, device, repeats=1, precision=p)
                                     for p in ("fp32", "bf16")})
                precision = "bf16" if times["bf16"] * BF16_GAIN < times["fp32"] else "fp32"
        finally:
            torch.set_num_threads(old)
    return threads, channels_last, resolve_precision(precision, device)


# -- the model's loss ---------------------------------------------------------------------
class _TrainForward(nn.Module):
    """``forward_train`` as a module's forward, so DistributedDataParallel sees it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor):
        if isinstance(self.model, Classifier):
            logits, aux = self.model.forward_train(x)
            return logits, list(aux)
        return self.model(x), []


def model_loss(model: nn.Module, logits: Tensor, target: Tensor, aux: list[Tensor] | None = None,
               label_smoothing: float = 0.0) -> Tensor:
    """The model's own training loss (``Classifier.loss``), else cross-entropy."""
    if isinstance(model, Classifier):
        return model.loss(logits, target, aux, label_smoothing)
    return F.cross_entropy(logits, target, label_smoothing=label_smoothing)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


# -- training ---------------------------------------------------------------------------
class Trainer:
    """One epoch at a time, from any step. See the module docstring.

    ``schedule`` has ``step()`` (called after every optimiser step); ``mask_hook(model)``
    runs after every optimiser step (the compression pipeline re-applies pruning masks; ZFNet's
    recipe rescales its filters).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        schedule=None,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        label_smoothing: float = 0.0,
        grad_clip: float = 0.0,
        mask_hook: Callable[[nn.Module], None] | None = None,
        sync_every: int | None = None,
    ):
        self.device = torch.device(device)
        if self.device.type == "cpu":
            _malloc.enable()  # each step's activations reuse the last step's memory
        self.precision = resolve_precision(precision, self.device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(device=self.device, memory_format=self.memory_format)
        self.optimizer, self.schedule = optimizer, schedule
        self.label_smoothing, self.grad_clip, self.mask_hook = label_smoothing, grad_clip, mask_hook
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.sync_every = sync_every or (1 if self.device.type == "cpu" else 25)
        forward = _TrainForward(self.model)
        if _distributed():
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()] \
                if self.device.type == "cuda" else None
            forward = DistributedDataParallel(forward, device_ids=ids)
        self.forward = torch.compile(forward) if compile else forward

    def _to_input(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=self.memory_format)

    def train_epoch(self, loader, epoch: int, *, start_step: int = 0, totals: dict | None = None,
                    checkpoint_every: int = 0, on_sync: Callable[[int, dict], None] | None = None,
                    on_checkpoint: Callable[[int, dict], None] | None = None) -> dict:
        """Train on ``loader``'s epoch ``epoch`` from ``start_step``. ``totals`` (loss sum,
        correct, count, seconds over all ranks) carries a partly done epoch over from a
        checkpoint. ``on_sync(step, totals)`` follows each read-back (progress bars);
        ``on_checkpoint(step, totals)`` every ``checkpoint_every`` steps. Returns the
        epoch's ``train_loss``, ``train_top1`` (percent), ``images_per_s`` and ``seconds``."""
        self.model.train()
        loader.set_epoch(epoch, start_step)
        steps = len(loader)
        totals = dict(totals or {"loss_sum": 0.0, "correct": 0.0, "count": 0.0, "seconds": 0.0})
        pending: list[Tensor] = []
        first = start_step
        clock = time.perf_counter()
        for step, (x, y) in enumerate(loader, start=start_step):
            with _autocast(self.device, self.precision):
                logits, aux = self.forward(self._to_input(x))
            loss = model_loss(self.model, logits.float(), y, [a.float() for a in aux], self.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if self.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.schedule is not None:
                self.schedule.step()
            if self.mask_hook is not None:
                self.mask_hook(self.model)
            n = float(y.shape[0])
            correct = (logits.detach().argmax(1) == y).sum()
            pending.append(torch.stack([loss.detach().float() * n, correct.float(), torch.full((), n, device=y.device)]))
            done = step + 1
            due_ckpt = checkpoint_every and done % checkpoint_every == 0 and done < steps
            if done % self.sync_every == 0 or done == steps or due_ckpt:
                self._sync(pending, first, epoch, totals)
                totals["seconds"] += time.perf_counter() - clock
                clock = time.perf_counter()
                pending, first = [], done
                if on_sync is not None:
                    on_sync(done, totals)
                if due_ckpt and on_checkpoint is not None:
                    on_checkpoint(done, totals)
                    clock = time.perf_counter()
        count = max(totals["count"], 1.0)
        return {
            "train_loss": totals["loss_sum"] / count,
            "train_top1": 100.0 * totals["correct"] / count,
            "images_per_s": totals["count"] / max(totals["seconds"], 1e-9),
            "seconds": totals["seconds"],
        }

    def _sync(self, pending: list[Tensor], first: int, epoch: int, totals: dict) -> None:
        """Read back (and sum over ranks) the steps since the last read-back; stop at the
        first loss that is not finite."""
        if not pending:
            return
        window = torch.stack(pending).double()
        if _distributed():
            dist.all_reduce(window)
        window = window.cpu()
        bad = (~torch.isfinite(window[:, 0])).nonzero()
        if len(bad):
            i = int(bad[0])
            raise TrainingDiverged(epoch, first + i, float(window[i, 0]))
        totals["loss_sum"] += float(window[:, 0].sum())
        totals["correct"] += float(window[:, 1].sum())
        totals["count"] += float(window[:, 2].sum())

    def evaluate(self, loader) -> dict:
        if _distributed():  # rank 0's batch-norm statistics are the model's, as DDP treats them
            for buffer in self.model.buffers():
                dist.broadcast(buffer, src=0)
        return evaluate_loader(self.model, loader, precision=self.precision, memory_format=self.memory_format)


# -- evaluation ---------------------------------------------------------------------------
@torch.no_grad()
def evaluate_loader(model: nn.Module, loader, *, precision: str = "fp32",
                    memory_format=torch.contiguous_format, num_classes: int | None = None) -> dict:
    """Top-1 and top-5 accuracy (percent), per-class accuracy (percent, None for a class
    with no test image), the confusion matrix (rows: true class, columns: predicted), the
    mean loss (the model's own criterion; the ten-crop test scores the averaged
    probabilities) and the number of images. Under distributed training every rank
    evaluates its shard and the counts are summed."""
    model.eval()
    device = loader.device
    k = num_classes or getattr(model, "num_classes", None) or loader.dataset.num_classes
    confusion = torch.zeros(k * k, dtype=torch.float64, device=device)
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, top-5 hits, images
    crops, dtype = loader.crops, floating_dtype(model)
    for x, y in loader:
        with _autocast(device, precision):
            logits = model(x.to(dtype=dtype, memory_format=memory_format))
        logits = logits.float()
        if logits.shape[1] != k:
            raise ValueError(f"the model gives {logits.shape[1]} class scores, the data has {k} classes")
        if crops > 1:
            probs = _scores(model, logits).view(-1, crops, k).mean(1)
            loss_sum = -probs.gather(1, y[:, None]).clamp_min(1e-12).log().sum()
            logits = probs
        else:
            loss_sum = model_loss(model, logits, y) * y.shape[0]
        top = logits.topk(min(5, k), dim=1).indices
        confusion += torch.bincount(y * k + top[:, 0], minlength=k * k).double()
        sums += torch.stack([loss_sum.double(), (top == y[:, None]).any(1).sum().double(),
                             torch.full((), y.shape[0], dtype=torch.float64, device=device)])
    if _distributed():
        dist.all_reduce(confusion)
        dist.all_reduce(sums)
    confusion = confusion.view(k, k).cpu().round().long()
    loss_sum, top5, n = sums.tolist()
    per_class = confusion.diagonal().double() / confusion.sum(1).double() * 100
    return {
        "top1": 100.0 * float(confusion.diagonal().sum()) / max(n, 1),
        "top5": 100.0 * top5 / max(n, 1),
        "per_class": [None if math.isnan(v) else v for v in per_class.tolist()],
        "confusion": confusion.tolist(),
        "loss": loss_sum / max(n, 1),
        "n": int(n),
    }


def _scores(model: nn.Module, logits: Tensor) -> Tensor:
    fn = getattr(model, "predict_scores", None)
    return fn(logits) if callable(fn) else torch.softmax(logits, dim=1)


# -- the plain loop -------------------------------------------------------------------------
def fit(
    model: nn.Module,
    train_loader,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    scheduler=None,
    mask_hook: Callable[[nn.Module], None] | None = None,
    test_loader=None,
    label_smoothing: float = 0.0,
    grad_clip: float = 0.0,
    precision: str = "fp32",
    channels_last: bool = False,
    start_epoch: int = 0,
    progress: bool = False,
) -> list[dict]:
    """Train ``model`` for ``epochs`` on ``train_loader`` (a :class:`cnnzoo.data.Loader`)
    and return one dict per epoch (``train_loss``, ``train_top1``, ``images_per_s``,
    ``seconds``, ``lr`` and, with ``test_loader``, ``test_loss``, ``test_top1``,
    ``test_top5``).

    ``scheduler``: a :class:`~cnnzoo.train.optim.Schedule` (stepped every optimiser step),
    a ``torch.optim.lr_scheduler`` one (OneCycleLR and CyclicLR every step, the others
    every epoch; ReduceLROnPlateau with the test loss, else the training loss), or None.
    ``mask_hook(model)`` runs after every optimiser step. The model trains on the loader's
    device; no run directory is written (see :func:`cnnzoo.train` for that).
    """
    from torch.optim import lr_scheduler as sch

    per_step = scheduler is not None and (
        hasattr(scheduler, "epoch_end") or isinstance(scheduler, (sch.OneCycleLR, sch.CyclicLR))
    )
    trainer = Trainer(model, optimizer, schedule=scheduler if per_step else None, device=train_loader.device,
                      precision=precision, channels_last=channels_last, label_smoothing=label_smoothing,
                      grad_clip=grad_clip, mask_hook=mask_hook)
    history = []
    bar = None
    if progress:
        from .progress import TrainProgress

        bar = TrainProgress(epochs=start_epoch + epochs, steps=len(train_loader), start_epoch=start_epoch)
    with bar or contextlib.nullcontext():
        for epoch in range(start_epoch, start_epoch + epochs):
            lr = optimizer.param_groups[0]["lr"]
            row = {"epoch": epoch + 1, **trainer.train_epoch(
                train_loader, epoch, on_sync=(lambda s, t, e=epoch: bar.update(e, s, t)) if bar else None)}
            if test_loader is not None:
                ev = trainer.evaluate(test_loader)
                row.update(test_loss=ev["loss"], test_top1=ev["top1"], test_top5=ev["top5"])
            row["lr"] = lr
            history.append(row)
            if bar:
                bar.epoch_done(row)
            if scheduler is not None and not per_step:
                if isinstance(scheduler, sch.ReduceLROnPlateau):
                    scheduler.step(row.get("test_loss", row["train_loss"]))
                else:
                    scheduler.step()
            elif hasattr(scheduler, "epoch_end"):
                scheduler.epoch_end(row.get("test_top1"), row["train_top1"])
    model.eval()
    return history
