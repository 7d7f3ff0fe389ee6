"""The ``cnnzoo`` command. It parses arguments and calls the public API, nothing more."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import signal
import sys
import threading
import warnings
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
errors = Console(stderr=True)  # so that an error never lands in --json or --format csv output


def say(text: str, *, to: Console | None = None) -> None:
    """Print one message line. Soft-wrapped: a long path is never split by a newline, so the
    line stays whole for whoever copies or greps it (the terminal wraps it for display)."""
    (to or console).print(text, highlight=False, soft_wrap=True)


def fail(text: str) -> None:
    """Print an error line (on stderr)."""
    say(f"[red]error:[/red] {escape(text)}", to=errors)


def _parse_chw(text: str) -> tuple[int | None, int, int]:
    """``3x224x224`` (or ``3×224×224``) as a C×H×W tuple; ``224`` as ``(None, 224, 224)``,
    at the model's own number of channels."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        nums = tuple(int(p) for p in parts)
    except ValueError:
        nums = ()
    if len(nums) not in (1, 3) or min(nums) < 1:
        raise argparse.ArgumentTypeError(f"expected an input size like 3x224x224 or 224, got {text!r}")
    return (None, nums[0], nums[0]) if len(nums) == 1 else nums


def _integer_at_least(minimum: int, kind: str):
    """An argparse type for counts: a clear usage error below ``minimum`` or for a non-integer."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
        return value

    return parse


_non_negative = _integer_at_least(0, "a non-negative integer")
_positive = _integer_at_least(1, "a positive integer")


# -- models (issue 2) ------------------------------------------------------------------
def cmd_list(args) -> int:
    from . import count_parameters, list_models, model_info

    table = Table(title="cnnzoo models")
    for col in ("name", "family", "year", "paper", "input", "parameters"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"no model matches {args.pattern!r}; `cnnzoo list` shows all of them "
                         "(patterns are shell-style: 'resnet*', '*_tv')")
    for name in names:
        info = model_info(name)
        table.add_row(
            name, info.family, str(info.paper.year), info.paper.title,
            "×".join(map(str, info.input_size)), f"{count_parameters(name):,}",
        )
    console.print(table)
    return 0


def cmd_info(args) -> int:
    from . import count_parameters, inference_parameters, model_info
    from .pretrained import published_sources

    info = model_info(args.name)
    console.print(f"[bold]{info.name}[/bold] — {info.description}")
    console.print(f"paper:      {info.paper.cite()}")
    console.print(f"layout:     {info.layout}")
    console.print(f"input:      {'×'.join(map(str, info.input_size))}")
    total, predicting = count_parameters(info.name), inference_parameters(info.name)
    console.print(f"parameters: {total:,}" + (f" ({predicting:,} without the auxiliary heads, used only "
                                               "in training)" if predicting != total else ""))
    opts = ", ".join(f"{k}={v!r}" for k, v in info.options.items())
    console.print(f"options:    {opts}")
    weights = published_sources().get(info.name)
    if weights:
        console.print(f"weights:    {', '.join(weights)} (bring the file; `cnnzoo import FILE`)")
    if info.figures:
        table = Table(title="published figures")
        for col in ("metric", "value", "dataset", "source"):
            table.add_column(col)
        for f in info.figures:
            value = f"{f.value:,.0f}" if f.value >= 1000 else f"{f.value:g}"
            table.add_row(f.metric, value, f.dataset, f.source)
        console.print(table)
    return 0


# -- explain a network (issue 5) -----------------------------------------------------------
def _name_or_trained(model: str):
    """A registered model's name as it is, or the trained model of a run or checkpoint."""
    from . import list_models

    if model in list_models() and os.sep not in model:  # the name wins over a file of that name
        if os.path.exists(model):
            say(f"note: {escape(model)} is a registered model; for the run or file of that name in "
                f"this folder, write ./{escape(model)}", to=errors)
    elif os.path.exists(model):  # a trained run or checkpoint
        from .train.checkpoint import load_model

        model, _ = load_model(model, device="cpu")
    elif os.sep in model or Path(model).suffix in (".safetensors", ".ckpt", ".pt", ".pth", ".cnnzc"):
        raise FileNotFoundError(f"no such run or checkpoint: {model} (a model name has no "
                                "folder or file extension; `cnnzoo list` shows them)")
    return model


def cmd_summary(args) -> int:
    from . import summarize

    model = _name_or_trained(args.model)
    from .train.recipes import parse_overrides

    options = parse_overrides(args.option, flag="--option")
    if args.num_classes is not None:
        if "num_classes" in options:
            raise ValueError("the number of classes is given twice (--num-classes and --option num_classes=); "
                             "give it once")
        options["num_classes"] = args.num_classes
    if options and not isinstance(model, str):
        raise ValueError("--num-classes and --option apply to a model name, not to a checkpoint "
                         "(which records its own)")
    summary = summarize(model, input_size=args.input, depth=args.depth, **options)
    if args.format == "table":
        summary.print(columns=args.columns, console=console)
    else:
        render = {"md": summary.to_markdown, "csv": summary.to_csv, "json": summary.to_json}
        sys.stdout.write(render[args.format](args.columns))
    return 0


def cmd_filters(args) -> int:
    from . import create_model, filter_picture

    model = _name_or_trained(args.model)
    if isinstance(model, str):  # a name: its filters as initialised, which says little
        say(f"note: {escape(model)} is untrained here: its filters are random (give a run or a checkpoint "
            "for learnt ones)", to=errors)
        model = create_model(model)
    picture = filter_picture(model, args.layer)
    return _write_picture(args, picture, f"filters-{picture.layer}")


def _write_picture(args, picture, name: str) -> int:
    """Save ``picture`` at --out, by default into the run it shows (RUN/NAME.png), else here,
    named by the model (MODEL-NAME.png); an earlier picture is replaced only with --overwrite."""
    given = Path(args.model)
    out = Path(args.out) if args.out else (given / f"{name}.png" if given.is_dir() else
                                           Path(f"{picture.model}-{name}.png"))
    picture.save(out, overwrite=args.overwrite)
    say(f"{escape(picture.title)}\nwrote {escape(str(out))}")
    return 0


def cmd_features(args) -> int:
    from . import feature_picture, preprocess

    model = _name_or_trained(args.model)
    if isinstance(model, str):
        raise ValueError(f"{model} is a model name: give a run directory or a checkpoint, whose weights have "
                         "learnt something to show")
    x = preprocess(model, [args.image])
    picture = feature_picture(model, x, args.layer, image=Path(args.image).name)
    return _write_picture(args, picture, f"maps-{picture.layer}-{Path(args.image).stem}")


# -- train, evaluate, predict (issue 6) ----------------------------------------------------
def _is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def cmd_train(args) -> int:
    from .train import TrainingDiverged, train
    from .train.recipes import NOT_OVERRIDDEN, parse_overrides

    cl = {"auto": None, "on": True, "off": False}[args.channels_last]
    fields = parse_overrides(args.set)  # recipe fields; the flags below win
    if "model_options" in fields:  # also train()'s own argument: refused here, not as a TypeError
        raise ValueError(f"model_options is not a setting to override: {NOT_OVERRIDDEN['model_options']}")
    fields.update({k: getattr(args, k) for k in ("epochs", "batch_size", "lr") if getattr(args, k) is not None})
    try:
        with _terminate_as_interrupt():
            result = train(
                args.model, args.data, recipe=args.recipe, out=args.out, resume=args.resume,
                overwrite=args.overwrite, device=args.device, seed=args.seed, data_root=args.data_root,
                download=args.download, model_options=parse_overrides(args.option, flag="--option"),
                precision=args.precision, channels_last=cl, compile=args.compile, threads=args.threads,
                checkpoint_every=args.checkpoint_every, progress=not args.no_progress, console=console,
                **fields,
            )
    except TrainingDiverged as err:
        from .train.checkpoint import LAST

        fail(str(err))
        if getattr(err, "gave_back", None):
            _gave_back(err)
        elif (err.run_dir / LAST).is_file():
            say(f"the last good checkpoint stays in {escape(str(err.run_dir))}", to=errors)
        else:
            say("it stopped before its first checkpoint: no weights were kept", to=errors)
        return 1
    except KeyboardInterrupt as err:  # Ctrl-C: say how to go on, not where Python was
        if _is_main_rank():
            if getattr(err, "gave_back", None):
                say("interrupted before the first checkpoint", to=errors)
                _gave_back(err)
            else:
                _interrupted(args.model, getattr(err, "run_dir", None))
        return _interrupted_status(err)
    if _is_main_rank():
        _print_result(result)
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM, stopping a run as Ctrl-C does; the command then exits with 143 (128 + 15), as
    a process ended by SIGTERM does, so a job scheduler can tell a kill from Ctrl-C's 130."""


def _interrupted_status(err: KeyboardInterrupt) -> int:
    return 143 if isinstance(err, _Terminated) else 130


@contextlib.contextmanager
def _terminate_as_interrupt():
    """A kill (`timeout`, a job scheduler, torchrun stopping its ranks) stops a run as Ctrl-C
    does, so that an --overwrite that has not reached its first checkpoint gives the old run
    back. Only where Python takes signals: the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(model: str, run_dir: Path | None) -> None:
    import shlex

    from .train.checkpoint import LAST

    if run_dir is not None and (run_dir / "summary.json").is_file():  # e.g. before --overwrite set it aside
        say(f"interrupted; {escape(str(run_dir))} holds a finished run: nothing to resume", to=errors)
    elif run_dir is not None and (run_dir / LAST).is_file():
        say("interrupted; the run stops at its last checkpoint. Continue it with: "
            f"cnnzoo train {shlex.quote(model)} --out {escape(shlex.quote(str(run_dir)))} --resume", to=errors)
    else:
        say("interrupted before the first checkpoint: nothing to resume", to=errors)


def _gave_back(err: BaseException) -> None:
    say(f"the run that --overwrite was replacing is back in {escape(str(err.gave_back))}, as it was",
        to=errors)


def _print_result(result) -> None:
    say(f"test top-1 [bold]{result.test_top1:.2f}%[/bold], top-5 {result.test_top5:.2f}% "
        f"on {result.summary['test_images']:,} test images (best {result.best_top1:.2f}%, epoch "
        f"{result.best_epoch})")  # 80 columns
    say(f"run directory: {escape(str(result.run_dir))}")


def cmd_demo(args) -> int:
    from . import summarize
    from .train import is_run, train

    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir() and any(out.iterdir()):  # checked before the demo prints anything
        if not is_run(out):
            raise FileExistsError(f"{out} is not empty and is not a cnnzoo run; choose another --out")
        if not args.overwrite:
            raise FileExistsError(f"{out} is not empty; pass --overwrite to replace the run there, "
                                  "or choose another --out")
    console.rule("cnnzoo demo: LeNet-5 (LeCun et al. 1998) on 4,000 real MNIST digits, on the CPU")
    summarize("lenet5").print(console=console)
    with _terminate_as_interrupt():
        # float32 on every machine: the figures README gives for the demo are float32's
        result = train("lenet5", "mnist-sample", recipe="small", out=args.out, device="cpu", seed=args.seed,
                       epochs=args.epochs, threads=args.threads, overwrite=args.overwrite, precision="fp32",
                       console=console)
    _print_result(result)
    return 0


def cmd_eval(args) -> int:
    import json

    from .train import evaluate

    r = evaluate(args.run, args.data, batch_size=args.batch_size, device=args.device, split=args.split,
                 ten_crop=args.ten_crop, root=args.data_root, download=args.download)
    if args.json:
        sys.stdout.write(json.dumps(r, indent=2) + "\n")
        return 0
    top5 = f"top-5 {r['top5']:.2f}%, " if len(r["classes"]) > 5 else ""  # of 5 classes or fewer: always 100
    say(f"{escape(r['dataset'])} ({r['split']}; {r['n']:,} images): top-1 [bold]{r['top1']:.2f}%[/bold], "
        f"{top5}loss {r['loss']:.4f}")
    classes, confusion = r["classes"], r["confusion"]
    if len(classes) <= 20:
        table = Table(title="confusion matrix (rows: true class, columns: predicted) and per-class accuracy")
        table.add_column("class")
        for c in classes:
            table.add_column(escape(c), justify="right")
        table.add_column("accuracy", justify="right")
        for c, row, acc in zip(classes, confusion, r["per_class"]):
            table.add_row(escape(c), *[str(v) if v else "·" for v in row], "—" if acc is None else f"{acc:.1f}%")
    else:
        absent = sum(acc is None for acc in r["per_class"])  # ImageNet's 1,000 against a few class folders
        if absent:
            say(f"{absent} of the model's classes have no images here and are not shown")
        table = Table(title="per-class accuracy")
        for col in ("class", "images", "accuracy"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for c, row, acc in zip(classes, confusion, r["per_class"]):
            if acc is not None:
                table.add_row(escape(c), str(sum(row)), f"{acc:.1f}%")
    console.print(table)
    return 0


def cmd_predict(args) -> int:
    import json

    from .train import predict

    results = predict(args.checkpoint, args.images, topk=args.topk, device=args.device)
    if args.json:
        out = [{"image": str(p), "top": [{"class": c, "probability": v} for c, v in r]}
               for p, r in zip(args.images, results)]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    for path, top in zip(args.images, results):
        say(f"[bold]{escape(str(path))}[/bold]")  # a line, not the table's title: that wraps at the table's width
        table = Table()
        table.add_column("class")
        table.add_column("probability", justify="right")
        for c, v in top:
            table.add_row(escape(c), f"{100 * v:.2f}%")
        console.print(table)
    return 0


def cmd_import(args) -> int:
    from .pretrained import import_weights, published_sources

    if args.list and args.file is not None:
        raise ValueError("give a weight file to import, or --list to see which cnnzoo reads, not both")
    if args.list:
        table = Table(title="published weights cnnzoo reads (bring the file: cnnzoo downloads nothing)")
        table.add_column("model")
        table.add_column("weights")
        for name, sources in sorted(published_sources().items()):
            table.add_row(name, ", ".join(sources))
        console.print(table)
        return 0
    if args.file is None:
        raise ValueError("cnnzoo import needs a weight file (or --list)")
    path, meta = import_weights(args.file, args.model, args.out)
    top1 = (meta.get("published") or {}).get("top1")
    cfg = meta["data_config"]
    published = f", published ImageNet top-1 {top1:g} %" if top1 else ""
    say(f"{escape(str(args.file))}: weights of [bold]{meta['model']}[/bold] ({escape(meta['weights'])}{published})")
    say(f"preprocessing: resize to {cfg['image_size'][-1]}, centre crop {cfg['input_size'][-1]}, "
        f"mean {cfg['mean']}, std {cfg['std']}; {len(meta['classes'])} classes")
    say(f"wrote {escape(str(path))}: cnnzoo eval, predict, compress and summary read it")
    return 0


# -- compress (issue 7) ---------------------------------------------------------------------
def cmd_compress(args) -> int:
    import torch

    from ._device import check_threads
    from .compress import compress

    options = {
        key: getattr(args, key) for key in (
            "sparsity", "quality", "bits", "index_bits", "init", "prune_iterations", "retrain_epochs",
            "finetune_epochs", "optimizer", "lr", "finetune_lr", "weight_decay", "augment", "batch_size", "seed",
        ) if getattr(args, key) is not None
    }
    if check_threads(args.threads) is not None:
        torch.set_num_threads(args.threads)
    result = compress(args.source, args.data, out=args.out, overwrite=args.overwrite, device=args.device,
                      float16=args.float16, log=lambda msg: say(f"[dim]{escape(str(msg))}[/dim]"), **options)
    result.print(console)
    say(f"wrote {escape(str(result.path))} ({result.report['file_bytes']:,} bytes, "
        f"{result.ratio:.1f}× smaller than float32) and {escape(str(result.report_path))}")
    return 0


# -- speed and comparison (issue 8) -------------------------------------------------------
def _print_whole(table) -> None:
    """Print a table as wide as it needs (a narrow terminal wraps lines; no cell is cut)."""
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    Console(file=console.file, width=max(console.width, natural), no_color=console.no_color,
            color_system=console.color_system, force_terminal=console.is_terminal).print(table)


def cmd_bench(args) -> int:
    from .bench import bench
    from .registry import create_model, model_info, model_label
    from .report import human_count
    from .train.recipes import parse_overrides

    models, options = args.models, parse_overrides(args.option, flag="--option")
    if options:  # each model built with them, named with them in the table and the JSON
        if args.against:
            raise ValueError("--against times torchvision's model as it publishes it; it takes no --option")
        names = [model_info(name).name for name in args.models]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:  # bench checks the names it is given; these are built first
            raise ValueError(f"{', '.join(twice)} given twice; give each model once")
        models = []
        for name in args.models:
            net = create_model(name, **options)
            net.name = model_label(name, options)
            models.append(net)
    report = bench(
        models, batch=args.batch, input_size=args.input, device=args.device,
        threads=args.threads, against=args.against, fast=not args.plain, amp=args.amp,
        compile=args.compile, repeats=args.repeats, json_path=args.json, overwrite=args.overwrite,
        progress=lambda msg: say(f"[dim]{escape(str(msg))}…[/dim]"),
    )
    m = report["machine"]
    where = m["gpu"] or f"{m['cpu']} ({m['threads']} threads)"
    peaks = ", ".join(f"{k} {v / 1e9:,.1f} GMAC/s" for k, v in report["peak_macs_per_s"].items())
    table = Table(title=f"cnnzoo bench on {where} — measured peak: {peaks}")
    cols = ["model", "params", "MACs", "latency b=1 ms (IQR)", f"images/s b={args.batch}",
            "% of peak", "% of same-round product (IQR)"]
    if args.against:
        cols += ["torchvision images/s", "ratio"]
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in report["results"]:
        lat = r["latency_ms"]
        row = [r["model"], human_count(r["params"]), human_count(r["macs_per_image"]),
               f"{lat['median']:.2f} ({lat['q1']:.2f}–{lat['q3']:.2f})",
               f"{r['images_per_s']:,.1f}", f"{100 * r['fraction_of_peak']:.1f}",
               _percent_with_iqr(r["fraction_of_round_product"])]
        if args.against:
            row += [f"{r['torchvision']['images_per_s']:,.1f}", f"{r['speedup']:.2f}×"]
        table.add_row(*row)
    _print_whole(table)
    console.print("[dim]% of peak: the model's median rate over the best matrix-product rate "
                  "of the run; % of same-round product: its rate over the product's rate in "
                  "the same timed round (median of the rounds).[/dim]")
    if args.json:
        say(f"wrote {escape(str(args.json))}")
    return 0


def _percent_with_iqr(fraction: dict) -> str:
    return (f"{100 * fraction['median']:.1f} "
            f"({100 * fraction['q1']:.1f}–{100 * fraction['q3']:.1f})")  # one precision: 0.2 (0–0) read oddly


def cmd_compare(args) -> int:
    from .report import compare, human_count

    result = compare(
        args.models or None, runs=args.runs, evals=args.evals, out=args.out, bench_json=args.bench,
        measure_speed=args.speed, device=args.device, batch=args.batch, overwrite=args.overwrite,
        progress=lambda msg: say(f"[dim]{escape(str(msg))}…[/dim]"),
    )
    table = Table(title=f"accuracy: {escape(str(result.accuracy))}")
    for col in ("model", "family", "params", "MACs", "top-1 %", "images/s"):
        table.add_column(col, justify="left" if col in ("model", "family") else "right")
    for r in result.rows:
        table.add_row(escape(r.label), r.family, human_count(r.params), human_count(r.macs),
                      "—" if r.top1 is None else f"{r.top1:.2f}",
                      "—" if r.images_per_s is None else f"{r.images_per_s:,.1f}")
    _print_whole(table)
    for note in result.notes:
        say(f"note: {escape(str(note))}")
    for path in result.files.values():
        say(f"wrote {escape(str(path))}")
    return 0


def cmd_report(args) -> int:
    from .report import write_report

    path = write_report(args.run, args.out, measure_speed=not args.no_speed, overwrite=args.overwrite)
    say(f"wrote {escape(str(path))}")
    return 0


# -- subcommands of the other capabilities are added above this line ---------------------


def _picture_arguments(p: argparse.ArgumentParser, layer: str, name: str) -> None:
    """--layer, --out and --overwrite of the commands that draw a picture (_write_picture)."""
    p.add_argument("--layer", default=None, help=f"{layer}, by module name as `cnnzoo summary` names it "
                   "(default: the first convolution)")
    p.add_argument("--out", default=None, help=f"PNG file (default: RUN/{name}.png for a run, else "
                   f"MODEL-{name}.png here)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier picture at --out")


def build_parser() -> argparse.ArgumentParser:
    from .train.evaluate import SPLITS

    parser = argparse.ArgumentParser(
        prog="cnnzoo",
        description="The classic CNNs of image classification: list, explain, train, "
        "compress, benchmark and compare them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the registered models")
    p.add_argument("pattern", nargs="?", help="shell-style filter, e.g. 'resnet*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="paper, input size, options and published figures of a model")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "summary", help="explain a network layer by layer: shapes, neurons, parameters, "
        "connections, multiply-adds, memory, receptive field",
    )
    p.add_argument("model", help="a registered model name (or a trained run / checkpoint)")
    p.add_argument("--input", type=_parse_chw, default=None, metavar="CxHxW",
                   help="input size, e.g. 3x224x224, or one side (64: 64×64 at the model's channels; "
                   "default: the model's)")
    p.add_argument("--depth", type=_non_negative, default=None,
                   help="group everything below this module depth into one row")
    p.add_argument("--format", choices=("table", "md", "csv", "json"), default="table")
    p.add_argument("--columns", default=None,
                   help="comma-separated columns, or 'all' (name, type, input, output, "
                   "neurons, params, frozen, buffers, connections, macs, flops, memory, "
                   "rf, stride, padding, notes)")
    p.add_argument("--num-classes", type=_positive, default=None, help="build with this many classes")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a model builder option, e.g. --option width_mult=0.5 (`cnnzoo info MODEL` lists them)")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("filters", help="a convolution's learnt filters as a picture, as the papers show "
                       "them (AlexNet's Fig. 3)")
    p.add_argument("model", help="a run directory or checkpoint (or a registered name: random filters)")
    _picture_arguments(p, "the convolution", "filters-LAYER")
    p.set_defaults(func=cmd_filters)

    p = sub.add_parser("features", help="the feature maps a layer of a trained model computes for an image")
    p.add_argument("model", help="a run directory or checkpoint")
    p.add_argument("image", help="an image file, preprocessed as the model's test images were")
    _picture_arguments(p, "the layer", "maps-LAYER-IMAGE")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("train", help="train a model on a dataset into a run directory")
    p.add_argument("model", help="a registered model name (`cnnzoo list`)")
    p.add_argument("--data", default=None,
                   help="mnist-sample (bundled), mnist, fashion-mnist, cifar10, cifar100, a folder "
                   "of class sub-folders, or an .npz with x and y (default mnist-sample; on --resume the run's)")
    p.add_argument("--epochs", type=_positive, default=None)
    p.add_argument("--batch-size", type=_positive, default=None, help="global batch size")
    p.add_argument("--lr", type=float, default=None, help="base learning rate")
    p.add_argument("--recipe", choices=["small", "paper"], default=None,
                   help="small-data recipe (default) or the paper's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set optimizer=adam --set milestones=[30,60]")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a model builder option, e.g. --option batch_norm=true")
    p.add_argument("--out", default=None, help="run directory (default runs/MODEL-DATA-TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto (default: auto, cuda when available)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--data-root", default=None, help="dataset cache (default $CNNZOO_DATA or ~/.cache/cnnzoo)")
    p.add_argument("--download", action="store_true", help="download a torchvision dataset if missing")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default=None,
                   help="auto: bf16/fp16 autocast on a GPU; on a CPU fp32, or bf16 where it computes bf16 natively and a timed trial finds it clearly faster")
    p.add_argument("--channels-last", choices=["auto", "on", "off"], default="auto",
                   help="auto: on a GPU; on a CPU where a short trial finds it faster")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    p.add_argument("--threads", type=_positive, default=None,
                   help="CPU threads (default: one or all cores, whichever a short trial finds faster)")
    p.add_argument("--checkpoint-every", type=_non_negative, default=0, metavar="STEPS",
                   help="also checkpoint every STEPS steps within an epoch (0: only at epoch ends)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo", help="train LeNet-5 on the bundled MNIST digits (about a minute on a CPU)")
    p.add_argument("--out", default=None, help="run directory (default runs/lenet5-mnist-sample-TIME)")
    p.add_argument("--epochs", type=_positive, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=_positive, default=None)
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("eval", help="top-1, top-5, per-class accuracy and confusion matrix of a trained model")
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--data", default=None, help="dataset (default: the one the model was trained on)")
    p.add_argument("--split", choices=list(SPLITS), default="test",
                   help="the part of the data to score; all: every image, for data the model never saw "
                   "(ImageNet's validation images for imported weights)")
    p.add_argument("--batch-size", type=_positive, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--ten-crop", action="store_true", help="average AlexNet's ten crops")
    p.add_argument("--data-root", default=None)
    p.add_argument("--download", action="store_true")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="the most probable classes of image files")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--topk", type=_positive, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("import", help="published ImageNet weights (torchvision's, timm's) as a cnnzoo "
                       "checkpoint")
    p.add_argument("file", nargs="?", help="the weight file, e.g. torchvision's resnet50-11ad3fa6.pth")
    p.add_argument("--model", default=None,
                   help="the network it holds (found from the content for torchvision's files)")
    p.add_argument("--out", default=None, help="checkpoint to write (default: MODEL.safetensors)")
    p.add_argument("--list", action="store_true", help="the networks and weights cnnzoo reads")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("compress", help="Deep Compression: prune, quantize and Huffman-code a "
                       "trained model into a small file")
    p.add_argument("source", metavar="RUN_OR_CHECKPOINT", help="a run directory or a checkpoint")
    p.add_argument("--data", default=None, help="dataset for retraining and testing (default: the "
                   "one the model was trained on)")
    p.add_argument("--sparsity", default=None, help="fraction of weights pruned: 0.9, conv=0.6,fc=0.92 "
                   "or per layer (classifier.fc1=0.93); default: the paper's per-layer figures for "
                   "lenet_300_100, lenet5_caffe, alexnet, alexnet_tv and vgg16, else conv=0.6,fc=0.9")
    p.add_argument("--quality", default=None, help="prune below quality × the layer's weight std "
                   "instead (e.g. 1.5 or conv=1,fc=2)")
    p.add_argument("--bits", default=None, help="cluster-index bits b, 2^b shared weights per layer "
                   "(default conv=8,fc=5)")
    p.add_argument("--index-bits", default=None, help="relative-index bits g, e.g. 5 or conv=8,fc=5 "
                   "(default auto: per layer, the width that makes the file smallest)")
    p.add_argument("--init", choices=("linear", "random", "density"), default=None,
                   help="centroid initialization (default linear)")
    p.add_argument("--prune-iterations", type=_non_negative, default=None)
    p.add_argument("--retrain-epochs", type=_non_negative, default=None, help="epochs per pruning round")
    p.add_argument("--finetune-epochs", type=_non_negative, default=None,
                   help="epochs of centroid fine-tuning")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=None)
    p.add_argument("--lr", type=float, default=None, help="learning rate of the pruning retraining")
    p.add_argument("--finetune-lr", type=float, default=None, help="learning rate of the centroids")
    p.add_argument("--weight-decay", type=float, default=None, help="L2 regularization while retraining "
                   "(Han et al. 2015, §3.1; default 0)")
    p.add_argument("--augment", default=None, help="augmentation preset for retraining (default: "
                   "the run's own)")
    p.add_argument("--batch-size", type=_positive, default=None)
    p.add_argument("--float16", action="store_true",
                   help="store codebooks, biases and other raw tensors in half precision")
    p.add_argument("--out", default=None, help="compressed file (default RUN/compression/MODEL.cnnzc)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file and report")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto (default: auto, cuda when available)")
    p.add_argument("--threads", type=_positive, default=None,
                   help="CPU threads (default: torch's; the retraining is deterministic for a given count)")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("bench", help="latency, throughput and fraction of peak of models")
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--batch", type=_positive, default=16, help="throughput batch size (default 16)")
    p.add_argument("--input", type=_parse_chw, default=None, metavar="CxHxW",
                   help="input size (default: each model's own)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default cpu)")
    p.add_argument("--threads", type=_positive, default=None, help="CPU threads for torch")
    p.add_argument("--against", choices=["torchvision"], default=None,
                   help="also time torchvision's model of the same architecture")
    p.add_argument("--json", default=None, metavar="FILE", help="write the results as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE",
                   help="use torch.compile on the fast path (optional mode: reduce-overhead, "
                   "max-autotune)")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "none"],
                   help="autocast dtype (auto: bf16 on a GPU, none on a CPU)")
    p.add_argument("--plain", action="store_true",
                   help="time the model as built, in plain eval mode (no fast path)")
    p.add_argument("--repeats", type=_positive, default=10, help="timed runs per measurement")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a model builder option for every model named, e.g. --option width_mult=0.5")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("compare", help="accuracy against multiply-adds: table and bubble charts")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="names or patterns ('resnet*'); default: all models (or all --runs/--evals)")
    p.add_argument("--runs", nargs="+", default=None, metavar="DIR",
                   help="run directories: accuracy from your runs instead of published figures")
    p.add_argument("--evals", nargs="+", default=None, metavar="FILE",
                   help="results of `cnnzoo eval --json` (imported weights on your ImageNet, say): "
                   "accuracy measured there")
    p.add_argument("--out", default="compare", help="output folder (default ./compare)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier comparison in --out")
    p.add_argument("--bench", nargs="+", default=None, metavar="FILE",
                   help="throughput from `cnnzoo bench --json` files instead of measuring")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--speed", dest="speed", action="store_const", const=True, default=None,
                       help="measure throughput (default when models or runs are named)")
    speed.add_argument("--no-speed", dest="speed", action="store_const", const=False,
                       help="do not measure throughput")
    p.add_argument("--device", default="cpu", help="device for measuring throughput")
    p.add_argument("--batch", type=_positive, default=8, help="batch for measuring throughput")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("report", help="a self-contained HTML report of a training run")
    p.add_argument("run", metavar="RUN", help="a run directory written by `cnnzoo train`")
    p.add_argument("--out", default=None, help="HTML file (default RUN/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("--no-speed", action="store_true",
                   help="without RUN/bench.json, do not measure speed")
    p.set_defaults(func=cmd_report)

    # -- parsers of the other capabilities are added above this line -----------------------
    for command in sub.choices.values():  # a mistyped option is its command's error (_run)
        command.set_defaults(command_parser=command)
    return parser


def _refuse_unknown(args, unknown: list[str]) -> None:
    """A mistyped option named by its command's usage, with the closest options it takes
    (argparse names it under the top-level usage, which lists no options at all)."""
    command = args.command_parser
    # compared without their dashes, which would make --verbose look like --overwrite
    names = [o.lstrip("-") for action in command._actions for o in action.option_strings
             if o.startswith("--") and o != "--help"]
    typed = [word.split("=")[0] for word in unknown if word.startswith("--")]
    hints = [f"{word}: did you mean --{close[0]}?" for word in typed
             for close in [difflib.get_close_matches(word.lstrip("-"), names, n=1, cutoff=0.6)] if close]
    command.error(f"unrecognized arguments: {' '.join(unknown)}" + ("; " + "; ".join(hints) if hints else ""))


_python_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """cnnzoo's own warnings (a run read from its last.ckpt) as one note on stderr, not
    Python's two lines with a source path; other libraries' as Python shows them."""
    if category.__module__.startswith("cnnzoo."):
        say(f"[yellow]note:[/yellow] {escape(str(message))}", to=errors)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    from . import _malloc

    _malloc.enable()  # the command is the whole process: keep freed memory for reuse
    with warnings.catch_warnings():  # Python's own display comes back when the command ends
        warnings.showwarning = _show_warning
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _refuse_unknown(args, unknown)
    try:
        return args.func(args) or 0
    except (ValueError, TypeError, OSError) as err:  # OSError: missing files, no permission, a full disk
        if os.environ.get("CNNZOO_DEBUG"):
            raise
        # Expected user errors get one clear line, not a stack trace.
        fail(str(err))
        if getattr(err, "gave_back", None):
            _gave_back(err)
        return 2
    except RuntimeError as err:
        if os.environ.get("CNNZOO_DEBUG") or not _is_out_of_memory(err):
            raise
        fail(_out_of_memory(args, err))
        if getattr(err, "gave_back", None):
            _gave_back(err)
        return 2
    except KeyboardInterrupt as err:
        say("interrupted", to=errors)
        return _interrupted_status(err)


def _is_out_of_memory(err: RuntimeError) -> bool:
    # torch.OutOfMemoryError on a GPU; a plain RuntimeError from the CPU allocator
    return "out of memory" in str(err).lower() or "can't allocate memory" in str(err)


def _out_of_memory(args, err: RuntimeError) -> str:
    """What ran out of memory, with what, and what to lower: the allocator's own message is a
    byte count and, on a GPU, a page of tuning advice."""
    first_line = re.sub(r"^\[enforce fail[^\]]*\][^.]*\.\s*", "", str(err).splitlines()[0])
    sentences = first_line.split(". ")
    tried = ". ".join(sentences[:1 + next((i for i, t in enumerate(sentences) if "allocate" in t), 0)])
    # what the command ran with: its arguments, and what train settled (the recipe's batch)
    shown = {k: getattr(args, k, None) for k in ("model", "models", "batch_size", "batch", "input")}
    shown |= {k: v for k, v in getattr(err, "settings", {}).items() if shown.get(k) is None}
    shown["input"] = shown["input"] and "x".join(str(n) for n in shown["input"] if n)
    shown["models"] = shown["models"] and " ".join(shown["models"])
    what = [f"{k.replace('_', ' ')} {v}" for k, v in shown.items() if v is not None]
    lower = [f"--{k.replace('_', '-')}" for k in ("batch_size", "batch", "input") if hasattr(args, k)]
    return (f"cnnzoo {args.command} ran out of memory ({', '.join(what) or 'as asked'}): {tried}. "
            f"Try {'a smaller ' + ' or '.join(lower) + ', ' if lower else ''}a smaller model or a machine "
            "with more memory")


if __name__ == "__main__":
    sys.exit(main())
