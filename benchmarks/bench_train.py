"""Training throughput: the textbook loop against cnnzoo's trainer, in one run.

Two cases (``--model``), each as its textbook trains it; both sides start from the same
weights and use the same optimiser, batch size and augmentation:

* ``lenet5_textbook`` (sigmoid, average pooling; Zhang et al., Dive into Deep Learning,
  §7.6, or §6.6 of the 0.x editions) on the 4,000 training digits of ``mnist-sample``: plain
  SGD, lr 0.9, batch 256 (the 0.x editions' ``train_ch6``), no augmentation;
* ``resnet20`` (He et al. 2015, §4.2) on images of CIFAR-10's shape — the same digits padded
  to 32×32 and repeated on three channels (real images; this machine has no CIFAR, and only
  the shape matters for speed): SGD with momentum 0.9, weight decay 1e-4, lr 0.1, batch 128,
  4-pixel padding with random crops and horizontal flips (§4.2), normalised.

The textbook loop: a torchvision-style ``Dataset`` that makes a PIL image of each image and
converts it with torchvision's transforms (``RandomCrop(32, padding=4)``,
``RandomHorizontalFlip``, ``ToTensor``, ``Normalize`` for ResNet-20, as PyTorch's CIFAR
tutorials do), a ``DataLoader`` that shuffles and collates, and the plain forward / loss /
backward / step loop. cnnzoo: :class:`cnnzoo.data.Loader` (the whole set as one uint8
tensor, batches gathered, augmented and normalised with a few tensor operations) and
:func:`cnnzoo.train.fit`, with the thread count (one or all) and memory format that
``cnnzoo train`` settles by its timed trial before the first step
(:func:`cnnzoo.train.loop.fastest_settings`); the textbook loop runs on all threads
(``--threads`` sets both) in the default memory format.

It prints images per second of both (median of ``--repeats`` alternating epochs, after one
warm-up epoch each) and their ratio::

    python benchmarks/bench_train.py [--model lenet5_textbook|resnet20] [--threads N]
                                     [--workers W] [--repeats R] [--precision fp32|auto]
                                     [--json FILE]

``--precision auto`` lets cnnzoo's side train in bf16 autocast where ``cnnzoo train``'s
trial would (a CPU that computes bf16 natively, a step 1.5× faster); the textbook loop
stays in float32, so the ratio then includes the lower precision's gain.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Case:
    """One network as its textbook trains it."""

    batch_size: int
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    cifar_augment: bool = False  # He et al. 2015, §4.2: pad 4, random 32×32 crop, flip

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay)


CASES = {
    "lenet5_textbook": Case(batch_size=256, lr=0.9),  # d2l §6.6 (0.x editions), train_ch6
    "resnet20": Case(batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4, cifar_augment=True),
}


def textbook_epoch(model, case: Case, images, labels, mean, std, *, workers) -> float:
    """One epoch of the textbook loop; returns its wall time in seconds."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    steps = [transforms.ToTensor()]
    if case.cifar_augment:
        steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), *steps,
                 transforms.Normalize(mean, std)]
    transform = transforms.Compose(steps)

    class Images(Dataset):  # what torchvision.datasets.MNIST and CIFAR10 do per sample
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            array = images[i].permute(1, 2, 0).squeeze(2).numpy()  # H×W or H×W×3, as PIL reads it
            return transform(Image.fromarray(array)), int(labels[i])

    start = time.perf_counter()
    loader = DataLoader(Images(), batch_size=case.batch_size, shuffle=True, num_workers=workers)
    optimizer = case.optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def cnnzoo_epoch(model, case: Case, dataset, mean, std, *, epoch, settings) -> float:
    """One epoch of cnnzoo's loader and trainer, with the thread count and memory format
    ``cnnzoo train`` chose (``settings``); returns its wall time in seconds."""
    from cnnzoo.data import Loader
    from cnnzoo.train import fit

    threads, channels_last, precision = settings
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        loader = Loader(dataset, batch_size=case.batch_size, train=True, drop_last=False,
                        augment="cifar" if case.cifar_augment else "none", mean=mean, std=std)
        fit(model, loader, epochs=1, optimizer=case.optimizer(model), start_epoch=epoch,
            channels_last=channels_last, precision=precision)
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(saved)


def load_images(model: str):
    """The 4,000 training digits, as the case's network takes them."""
    from cnnzoo import load_dataset

    data = load_dataset("mnist-sample", train=True)
    if model == "resnet20":  # CIFAR-10's shape: 3×32×32
        images = nn.functional.pad(data.images, (2, 2, 2, 2)).repeat(1, 3, 1, 1).contiguous()
        data = type(data)(images, data.labels, data.classes, "mnist-sample digits as 3×32×32")
    mean, std = data.channel_stats()
    if model == "lenet5_textbook":
        mean, std = [0.0], [1.0]  # the book feeds ToTensor's [0, 1] as it is
    return data, mean, std


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(CASES), default="lenet5_textbook")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the textbook loop")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=["fp32", "auto"], default="fp32",
                        help="cnnzoo's precision: fp32 (as the textbook loop), or auto: bf16 autocast "
                        "where `cnnzoo train`'s trial takes it (a CPU with AMX, a clear gain)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    from cnnzoo import create_model
    from cnnzoo.train.loop import fastest_settings

    case = CASES[args.model]
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    data, mean, std = load_images(args.model)
    torch.manual_seed(0)
    start = create_model(args.model).state_dict()
    nets = {}
    for name in ("textbook", "cnnzoo"):
        nets[name] = create_model(args.model)
        nets[name].load_state_dict(start)
    # what `cnnzoo train` settles before its first step: one thread or all, and the memory format
    settings = fastest_settings(nets["cnnzoo"], tuple(data.images.shape[1:]), torch.device("cpu"),
                                threads=args.threads, precision=args.precision, batch=case.batch_size)
    if settings[1]:
        nets["cnnzoo"] = nets["cnnzoo"].to(memory_format=torch.channels_last)

    def run(name: str, epoch: int) -> float:
        if name == "textbook":
            return textbook_epoch(nets[name], case, data.images, data.labels, mean, std, workers=args.workers)
        return cnnzoo_epoch(nets[name], case, data, mean, std, epoch=epoch, settings=settings)

    times = {"textbook": [], "cnnzoo": []}
    for name in times:  # warm-up
        run(name, 0)
    for r in range(args.repeats):
        for name in times:
            times[name].append(run(name, r + 1))
    n = len(data)
    result = {name: n / statistics.median(t) for name, t in times.items()}
    ratio = result["cnnzoo"] / result["textbook"]
    shape = "×".join(map(str, data.images.shape[1:]))
    print(f"{args.model}, one epoch of {n:,} images ({shape}), batch {case.batch_size}, {threads} thread(s), "
          f"{args.workers} DataLoader worker(s), torch {torch.__version__}")
    print(f"  textbook loop (Dataset + transforms + DataLoader): {result['textbook']:10,.0f} images/s")
    chosen = f"{settings[0]} thread(s){', channels_last' if settings[1] else ''}{', bf16' if settings[2] == 'bf16' else ''}"
    print(f"  cnnzoo (Loader + fit, {chosen + '):':28}{result['cnnzoo']:10,.0f} images/s")
    print(f"  ratio: {ratio:.2f}×")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmark": "benchmarks/bench_train.py " + " ".join(argv or sys.argv[1:]),
                       "model": args.model, "data": data.name, "torch": torch.__version__,
                       "images_per_s": result, "ratio": ratio, "threads": threads, "workers": args.workers,
                       "cnnzoo_settings": {"threads": settings[0], "channels_last": settings[1],
                                           "precision": settings[2]},
                       "batch_size": case.batch_size, "seconds": times}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
