"""Training throughput: the textbook loop against cnnzoo's trainer, in one run.

Both train the textbook LeNet (``lenet5_textbook``: sigmoid, average pooling; Zhang et al.,
Dive into Deep Learning, §7.6) for one epoch on the 4,000 training digits of
``mnist-sample``, from the same initial weights, with the same optimiser (SGD, lr 0.9, the
book's) and batch size (256, the book's):

* the textbook loop: a torchvision-style ``Dataset`` that makes a PIL image of each digit
  and converts it with ``transforms.ToTensor()``, a ``DataLoader`` that shuffles and
  collates, and the plain forward / loss / backward / step loop of the book's ``train_ch6``;
* cnnzoo: :class:`cnnzoo.data.Loader` (the whole set as one uint8 tensor, batches gathered
  and normalised with a few tensor operations) and :func:`cnnzoo.train.fit`.

It prints images per second of both (median of ``--repeats`` alternating epochs, after one
warm-up epoch each) and their ratio::

    python benchmarks/bench_train.py [--threads N] [--workers W] [--repeats R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn


def textbook_epoch(model, images, labels, *, batch_size, lr, workers) -> float:
    """One epoch of the textbook loop; returns its wall time in seconds."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    class Digits(Dataset):  # what torchvision.datasets.MNIST does per sample
        def __init__(self, images, labels):
            self.images, self.labels, self.transform = images, labels, transforms.ToTensor()

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            img = Image.fromarray(self.images[i].numpy(), mode="L")
            return self.transform(img), int(self.labels[i])

    start = time.perf_counter()
    loader = DataLoader(Digits(images, labels), batch_size=batch_size, shuffle=True, num_workers=workers)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def cnnzoo_epoch(model, dataset, *, batch_size, lr, epoch) -> float:
    """One epoch of cnnzoo's loader and trainer; returns its wall time in seconds."""
    from cnnzoo.data import Loader
    from cnnzoo.train import fit

    start = time.perf_counter()
    loader = Loader(dataset, batch_size=batch_size, input_size=(1, 28, 28), train=True, augment="none",
                    drop_last=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    fit(model, loader, epochs=1, optimizer=optimizer, start_epoch=epoch)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers of the textbook loop")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.9)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    from cnnzoo import create_model, load_dataset

    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    data = load_dataset("mnist-sample", train=True)
    images, labels = data.images[:, 0], data.labels
    torch.manual_seed(0)
    start = create_model("lenet5_textbook").state_dict()
    nets = {}
    for name in ("textbook", "cnnzoo"):
        nets[name] = create_model("lenet5_textbook")
        nets[name].load_state_dict(start)

    def run(name: str, epoch: int) -> float:
        if name == "textbook":
            return textbook_epoch(nets[name], images, labels, batch_size=args.batch_size, lr=args.lr,
                                  workers=args.workers)
        return cnnzoo_epoch(nets[name], data, batch_size=args.batch_size, lr=args.lr, epoch=epoch)

    times = {"textbook": [], "cnnzoo": []}
    for name in times:  # warm-up
        run(name, 0)
    for r in range(args.repeats):
        for name in times:
            times[name].append(run(name, r + 1))
    n = len(data)
    result = {name: n / statistics.median(t) for name, t in times.items()}
    ratio = result["cnnzoo"] / result["textbook"]
    print(f"lenet5_textbook, one epoch of {n:,} digits, batch {args.batch_size}, {threads} thread(s), "
          f"{args.workers} DataLoader worker(s), torch {torch.__version__}")
    print(f"  textbook loop (Dataset + ToTensor + DataLoader): {result['textbook']:10,.0f} images/s")
    print(f"  cnnzoo (Loader + fit):                           {result['cnnzoo']:10,.0f} images/s")
    print(f"  ratio: {ratio:.2f}×")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"images_per_s": result, "ratio": ratio, "threads": threads, "workers": args.workers,
                       "batch_size": args.batch_size, "seconds": times}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
