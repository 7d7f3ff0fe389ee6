"""Renderers of a :class:`~cnnzoo.analysis.summary.Summary`: a rich terminal table,
Markdown, CSV and JSON. Tables for people use thousands separators and C×H×W shapes;
CSV and JSON keep plain numbers (JSON shapes are lists)."""

from __future__ import annotations

import csv
import io
import json

__all__ = ["COLUMNS", "DEFAULT_COLUMNS", "resolve_columns", "to_markdown", "to_csv",
           "to_json", "to_dict", "to_rich", "print_rich", "to_text"]

# key -> header. The keys are LayerRecord's fields and the JSON/CSV keys.
COLUMNS = {
    "name": "Layer",
    "type": "Type",
    "input_shape": "Input",
    "output_shape": "Output",
    "neurons": "Neurons",
    "params": "Params",
    "frozen_params": "Frozen",
    "buffers": "Buffers",
    "connections": "Connections",
    "macs": "MACs",
    "flops": "FLOPs",
    "activation_bytes": "Act. bytes",
    "receptive_field": "RF",
    "stride": "Stride",
    "padding": "Padding",
    "notes": "Notes",
}
DEFAULT_COLUMNS = ("name", "type", "output_shape", "neurons", "params", "connections",
                   "macs", "flops", "receptive_field", "stride")
ALIASES = {
    "layer": "name", "input": "input_shape", "output": "output_shape",
    "shape": "output_shape", "parameters": "params", "trainable": "params",
    "frozen": "frozen_params", "rf": "receptive_field", "memory": "activation_bytes",
    "activation": "activation_bytes", "activations": "activation_bytes",
    "bytes": "activation_bytes", "jump": "stride",
}
_NUMERIC = {"neurons", "params", "frozen_params", "buffers", "connections", "macs",
            "flops", "activation_bytes"}
_RIGHT = _NUMERIC | {"receptive_field", "stride", "padding"}
_TOTALS = {"params": "params", "frozen_params": "frozen_params", "buffers": "buffers",
           "connections": "connections", "macs": "macs", "flops": "flops",
           "activation_bytes": "activation_bytes"}


def resolve_columns(columns=None) -> list[str]:
    """Column keys from ``None`` (the default set), ``"all"``, a comma-separated string
    or a list; an unknown name is a ``ValueError`` listing the known ones."""
    if columns is None:
        return list(DEFAULT_COLUMNS)
    if isinstance(columns, str):
        columns = [c for c in columns.replace(" ", ",").split(",") if c]
    if list(columns) == ["all"]:
        return list(COLUMNS)
    keys, unknown = [], []
    for c in columns:
        key = ALIASES.get(c.lower(), c.lower())
        (keys if key in COLUMNS else unknown).append(key if key in COLUMNS else c)
    if unknown or not keys:
        raise ValueError(
            f"unknown column(s) {', '.join(map(repr, unknown)) or '(none given)'}; choose from "
            f"{', '.join(COLUMNS)} (or 'all'; aliases: {', '.join(sorted(ALIASES))})"
        )
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:  # e.g. "params,parameters": one column under two names
        raise ValueError(f"column(s) {', '.join(map(repr, twice))} asked for more than once; give each once")
    return keys


# -- cells -----------------------------------------------------------------------------------
def _shape(shape) -> str:
    if shape is None:
        return ""
    if shape and isinstance(shape[0], (tuple, list)):
        return ", ".join(_shape(s) for s in shape)
    return "×".join(map(str, shape)) if shape else "scalar"


def _axes(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value[0]) if len(set(value)) == 1 else "×".join(map(str, value))


def cell(record, key: str, plain: bool = False) -> str:
    """One cell as text (``plain``: numbers without separators, for CSV)."""
    value = getattr(record, key)
    if key in _NUMERIC:
        return str(value) if plain else f"{value:,}"
    if key in ("input_shape", "output_shape"):
        return _shape(value)
    if key in ("receptive_field", "stride", "padding"):
        return _axes(value)
    if key == "notes":
        return "; ".join(value)
    return str(value)


def _json_value(record, key: str):
    value = getattr(record, key)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return [list(v) for v in value]
    return value


def _total_cells(summary, keys: list[str]) -> list[str]:
    cells = []
    for key in keys:
        if key == "name":
            cells.append("Total")
        elif key in _TOTALS:
            cells.append(f"{summary.totals[_TOTALS[key]]:,}")
        else:
            cells.append("")
    return cells


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _totals_lines(summary) -> list[tuple[str, str]]:
    t = summary.totals
    params = f"{t['params']:,}"
    if t["frozen_params"]:
        params += f" ({t['trainable_params']:,} trainable, {t['frozen_params']:,} frozen)"
    lines = [
        ("parameters", params),
        ("buffers", f"{t['buffers']:,}"),
        ("multiply-adds (MACs)", f"{t['macs']:,}"),
        ("FLOPs", f"{t['flops']:,}"),
        ("connections", f"{t['connections']:,}"),
        ("neurons (units of layers with connections)", f"{t['neurons']:,}"),
        ("activation memory, all outputs", f"{t['activation_bytes']:,} bytes "
                                           f"({_mib(t['activation_bytes'])})"),
        ("peak activation memory, batch 1", f"{t['peak_activation_bytes']:,} bytes "
                                            f"({_mib(t['peak_activation_bytes'])})"),
    ]
    return lines


def _title(summary) -> str:
    depth = "" if summary.depth is None else f", depth {summary.depth}"
    return f"{summary.model_name} — input {_shape(summary.input_size)}{depth}"


_BREAKDOWN_HEADERS = ("Operation", "Kind", "Calls", "Elements", "MACs", "FLOPs")


def _breakdown_rows(summary) -> list[list[str]]:
    return [[op, e["kind"], f"{e['calls']:,}", f"{e['elements']:,}", f"{e['macs']:,}",
             f"{e['flops']:,}"] for op, e in summary.breakdown.items()]


# -- formats ------------------------------------------------------------------------------
def to_markdown(summary, columns=None) -> str:
    keys = resolve_columns(columns)

    def row(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    def rule(right):
        return "|" + "|".join("---:" if r else "---" for r in right) + "|"

    lines = [f"**{_title(summary)}**", "",
             row([COLUMNS[k] for k in keys]), rule([k in _RIGHT for k in keys])]
    lines += [row([cell(r, k) for k in keys]) for r in summary.layers]
    lines.append(row([f"**{c}**" if c else "" for c in _total_cells(summary, keys)]))
    lines += ["", "| Total | |", "|---|---:|"]
    lines += [row([a, b]) for a, b in _totals_lines(summary)]
    lines += ["", row(list(_BREAKDOWN_HEADERS)),
              rule([False, False, True, True, True, True])]
    lines += [row(r) for r in _breakdown_rows(summary)]
    if summary.warnings:
        lines += [""] + [f"- warning: {w}" for w in summary.warnings]
    return "\n".join(lines) + "\n"


def to_csv(summary, columns=None) -> str:
    """One row per layer, a header of column keys, plain numbers."""
    keys = resolve_columns(columns if columns is not None else "all")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(keys)
    for r in summary.layers:
        writer.writerow([cell(r, k, plain=True) for k in keys])
    return buf.getvalue()


def to_dict(summary, columns=None) -> dict:
    keys = resolve_columns(columns if columns is not None else "all")
    totals = {k: (list(v) if isinstance(v, tuple) else v) for k, v in summary.totals.items()}
    return {
        "model": summary.model_name,
        "input_size": list(summary.input_size),
        "depth": summary.depth,
        "layers": [{k: _json_value(r, k) for k in keys} for r in summary.layers],
        "totals": totals,
        "breakdown": summary.breakdown,
        "warnings": summary.warnings,
    }


def to_json(summary, columns=None, indent: int | None = 2) -> str:
    return json.dumps(to_dict(summary, columns), indent=indent, ensure_ascii=False) + "\n"


def to_rich(summary, columns=None):
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    keys = resolve_columns(columns)
    rows = [[cell(r, k) for k in keys] for r in summary.layers]
    total = _total_cells(summary, keys)
    table = Table(title=_title(summary), box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for k in keys:  # nothing is cut: print_rich widens the output to the table
        table.add_column(COLUMNS[k], justify="right" if k in _RIGHT else "left",
                         no_wrap=k != "notes")
    for row in rows:
        table.add_row(*row)
    table.add_section()
    table.add_row(*total, style="bold")

    totals = Table(show_header=False, box=None)
    totals.add_column(style="bold")
    totals.add_column(justify="right")
    for a, b in _totals_lines(summary):
        totals.add_row(a, b)

    breakdown = Table(title="by operation")
    for i, h in enumerate(_BREAKDOWN_HEADERS):
        breakdown.add_column(h, justify="right" if i >= 2 else "left")
    for r in _breakdown_rows(summary):
        breakdown.add_row(*r)
    parts = [table, totals, breakdown]
    parts += [Text(f"warning: {w}", style="yellow") for w in summary.warnings]
    return Group(*parts)


def _width(renderable, console) -> int:
    natural = console.measure(renderable, options=console.options.update_width(100_000))
    return max(console.width, natural.maximum)


def print_rich(summary, columns=None, console=None) -> None:
    """Print the rich rendering as wide as the table needs: a narrower terminal folds the
    lines rather than cropping numbers."""
    from rich.console import Console

    console = console or Console()
    renderable = to_rich(summary, columns)
    wide = Console(file=console.file, width=_width(renderable, console),
                   color_system=console.color_system, force_terminal=console.is_terminal,
                   no_color=console.no_color)
    wide.print(renderable)


def to_text(summary, columns=None) -> str:
    from rich.console import Console

    renderable = to_rich(summary, columns)
    probe = Console(file=io.StringIO(), color_system=None)
    console = Console(file=io.StringIO(), width=_width(renderable, probe), color_system=None)
    console.print(renderable)
    return console.file.getvalue()
