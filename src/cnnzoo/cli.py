"""The ``cnnzoo`` command. It parses arguments and calls the public API, nothing more."""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console
from rich.table import Table

console = Console()


def _parse_chw(text: str) -> tuple[int, int, int]:
    """``3x224x224`` (or ``3×224×224``, ``224``) as a C×H×W tuple."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        nums = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an input size like 3x224x224, got {text!r}")
    if len(nums) == 1:
        nums = (3, nums[0], nums[0])
    if len(nums) != 3 or min(nums) < 1:
        raise argparse.ArgumentTypeError(f"expected an input size like 3x224x224, got {text!r}")
    return nums


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


# -- models (issue 2) ------------------------------------------------------------------
def cmd_list(args) -> int:
    from . import count_parameters, list_models, model_info

    table = Table(title="cnnzoo models")
    for col in ("name", "family", "year", "paper", "input", "parameters"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    for name in list_models(args.pattern):
        info = model_info(name)
        table.add_row(
            name, info.family, str(info.paper.year), info.paper.title,
            "×".join(map(str, info.input_size)), f"{count_parameters(name):,}",
        )
    console.print(table)
    return 0


def cmd_info(args) -> int:
    from . import count_parameters, model_info

    info = model_info(args.name)
    console.print(f"[bold]{info.name}[/bold] — {info.description}")
    console.print(f"paper:      {info.paper.cite()}")
    console.print(f"layout:     {info.layout}")
    console.print(f"input:      {'×'.join(map(str, info.input_size))}")
    console.print(f"parameters: {count_parameters(info.name):,}")
    opts = ", ".join(f"{k}={v!r}" for k, v in info.options.items())
    console.print(f"options:    {opts}")
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
def cmd_summary(args) -> int:
    from . import summarize

    model = args.model
    if os.path.exists(model):  # a trained run or checkpoint
        from .train.checkpoint import load_model

        model, _ = load_model(model, device="cpu")
    options = {} if args.num_classes is None else {"num_classes": args.num_classes}
    if options and not isinstance(model, str):
        raise ValueError("--num-classes applies to a model name, not to a checkpoint")
    summary = summarize(model, input_size=args.input, depth=args.depth, **options)
    if args.format == "table":
        summary.print(columns=args.columns, console=console)
    else:
        render = {"md": summary.to_markdown, "csv": summary.to_csv, "json": summary.to_json}
        sys.stdout.write(render[args.format](args.columns))
    return 0


# -- subcommands of the other capabilities are added above this line ---------------------


def build_parser() -> argparse.ArgumentParser:
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
                   help="input size, e.g. 3x224x224 (default: the model's)")
    p.add_argument("--depth", type=_non_negative, default=None,
                   help="group everything below this module depth into one row")
    p.add_argument("--format", choices=("table", "md", "csv", "json"), default="table")
    p.add_argument("--columns", default=None,
                   help="comma-separated columns, or 'all' (name, type, input, output, "
                   "neurons, params, frozen, buffers, connections, macs, flops, memory, "
                   "rf, stride, padding, notes)")
    p.add_argument("--num-classes", type=int, default=None, help="build with this many classes")
    p.set_defaults(func=cmd_summary)

    # -- parsers of the other capabilities are added above this line -----------------------
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as err:
        if os.environ.get("CNNZOO_DEBUG"):
            raise
        # Expected user errors get one clear line, not a stack trace.
        console.print(f"[red]error:[/red] {err}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
