"""Time of ``cnnzoo.summarize`` against torchinfo's ``summary`` on the same model, in one run.

    .venv/bin/pip install -e '.[bench]'     # torchinfo
    .venv/bin/python benchmarks/bench_summary.py [--model resnet152] [--repeats 3]

cnnzoo traces on the meta device by default (shapes without arithmetic); the real-tensor
path (``real=True``, what torchinfo does) is timed too, so that the ratio shows both what
the meta device buys and what the tracer itself costs. The multiply-adds each tool reports
are printed beside torchvision's published figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torchvision

import cnnzoo


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet152", help="a torchvision model name")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    try:
        import torchinfo
    except ImportError:
        raise SystemExit("torchinfo is not installed: .venv/bin/pip install -e '.[bench]'")

    torch.set_num_threads(args.threads)
    size = (3, args.size, args.size)
    model = torchvision.models.get_model(args.model).eval()

    ours_meta = _median_time(lambda: cnnzoo.summarize(model, size), args.repeats)
    ours_real = _median_time(lambda: cnnzoo.summarize(model, size, real=True), args.repeats)
    theirs = _median_time(
        lambda: torchinfo.summary(model, input_size=(1, *size), verbose=0, device="cpu"),
        args.repeats,
    )
    ours = cnnzoo.summarize(model, size)
    info = torchinfo.summary(model, input_size=(1, *size), verbose=0, device="cpu")
    published = [w.meta["_ops"] for w in torchvision.models.get_model_weights(args.model)]
    result = {
        "model": args.model,
        "input": list(size),
        "threads": args.threads,
        "seconds": {"cnnzoo_meta": ours_meta, "cnnzoo_real": ours_real, "torchinfo": theirs},
        "speedup_vs_torchinfo": {"meta": theirs / ours_meta, "real": theirs / ours_real},
        "macs": {"cnnzoo": ours.totals["macs"], "torchinfo": info.total_mult_adds,
                 "torchvision_published_gflops": published[0] if published else None},
        "params": {"cnnzoo": ours.totals["params"], "torchinfo": info.total_params},
    }
    print(f"{args.model} at {'×'.join(map(str, size))}, {args.threads} threads, median of "
          f"{args.repeats}")
    print(f"  cnnzoo.summarize (meta device)   {ours_meta:8.3f} s   "
          f"torchinfo takes {theirs / ours_meta:6.1f}× as long")
    print(f"  cnnzoo.summarize (real tensors)  {ours_real:8.3f} s   "
          f"torchinfo takes {theirs / ours_real:6.1f}× as long")
    print(f"  torchinfo.summary                {theirs:8.3f} s")
    print(f"  MACs: cnnzoo {ours.totals['macs']:,}; torchinfo {info.total_mult_adds:,}; "
          f"torchvision publishes {published[0] if published else '?'} G")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
