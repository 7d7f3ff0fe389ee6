"""cnnzoo's inference path against torchvision's models, in one run on one machine.

For each architecture, cnnzoo's model on its fast path (eval, batch norm folded into the
convolutions, channels_last where a timed trial finds it faster, ``torch.inference_mode``,
bf16 autocast on a GPU, optionally ``torch.compile``) and torchvision's model of the same
architecture in plain eval mode (``torch.no_grad``, float32) are timed in interleaved rounds
(so that a busy machine slows both alike). Prints a Markdown table — images per second of
both, their ratio, and each one's fraction of the peak multiply-add rate measured in the same
run with a large matrix product — and optionally writes the JSON of ``cnnzoo.bench.bench``.

Which torchvision model each cnnzoo model is timed against (``cnnzoo.bench.torchvision_counterpart``):

    resnet50_tv  → torchvision resnet50     (torchvision's layout of ResNet-50, same state_dict)
    mobilenet_v2 → torchvision mobilenet_v2
    vgg16        → torchvision vgg16
    googlenet_tv → torchvision googlenet    (torchvision's GoogLeNet, with batch norm)
    densenet121  → torchvision densenet121

    python benchmarks/bench_inference.py                      # CPU, all threads
    python benchmarks/bench_inference.py --device cuda --batch 128
    python benchmarks/bench_inference.py --json out.json --markdown out.md
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import cnnzoo  # noqa: E402
from cnnzoo._files import write_atomic  # noqa: E402
from cnnzoo.bench import bench, torchvision_counterpart  # noqa: E402

MODELS = ["resnet50_tv", "mobilenet_v2", "vgg16", "googlenet_tv", "densenet121"]


def markdown(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    where = (f"{m['gpu']} (GPU), torch {m['torch']}" if m["gpu"] else
             f"{m['cpu']}, {m['cpu_count']} cores, {m['threads']} threads, torch {m['torch']}")
    peaks = ", ".join(f"{k} {v / 1e9:,.1f} GMAC/s" for k, v in report["peak_macs_per_s"].items())
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {where}; batch {s['batch']}, "
        f"input 3×224×224; measured peak (matrix product): {peaks}.",
        "",
        "| model | torchvision | cnnzoo images/s | torchvision images/s | ratio | cnnzoo % of peak "
        "(of same-round product) | torchvision % of peak (of same-round product) "
        "| latency b=1, cnnzoo / torchvision (ms) | cnnzoo path |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["results"]:
        tv = r["torchvision"]
        st = r["settings"]
        path = [f"{st['fold_bn']} BN folded"] if st.get("fold_bn") else []
        path.append("channels_last" if st.get("channels_last") else "contiguous")
        if st.get("amp"):
            path.append(st["amp"])
        if st.get("compile"):
            mode = st["compile"]
            path.append(f"compiled ({mode})" if isinstance(mode, str) else "compiled")
        lines.append(
            f"| {r['model']} | {tv['model'].removeprefix('torchvision.models.')} "
            f"| {r['images_per_s']:,.1f} | {tv['images_per_s']:,.1f} | {r['speedup']:.2f}× "
            f"| {_fractions(r)} | {_fractions(tv)} "
            f"| {r['latency_ms']['median']:.1f} / {tv['latency_ms']['median']:.1f} "
            f"| {', '.join(path)} |")
    return "\n".join(lines) + "\n"


def _fractions(result: dict) -> str:
    return (f"{100 * result['fraction_of_peak']:.0f} % "
            f"({100 * result['fraction_of_round_product']['median']:.0f} %)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=None, help="default 16 on a CPU, 128 on a GPU")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time cap per measurement")
    ap.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = ap.parse_args(argv)

    available = set(cnnzoo.list_models())
    models = [m for m in args.models if m in available]
    for m in args.models:
        if m not in available:
            print(f"skipping {m}: not registered in this checkout", file=sys.stderr)
        else:
            torchvision_counterpart(m)
    batch = args.batch or (128 if args.device.startswith("cuda") else 16)
    report = bench(models, batch=batch, device=args.device, threads=args.threads,
                   against="torchvision", compile=args.compile, repeats=args.repeats,
                   max_seconds=args.max_seconds, json_path=args.json, overwrite=args.overwrite,
                   progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    table = markdown(report)
    print(table)
    if args.markdown:
        write_atomic(args.markdown, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
