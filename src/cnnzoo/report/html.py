"""``cnnzoo report RUN``: one self-contained HTML page for a training run.

Sections, in order: configuration, results, learning curves, confusion matrix, layer table,
speed, compression. Images are embedded as base64 ``data:`` URIs, the style sheet is inline,
and the page loads nothing from anywhere. A section whose inputs are missing says so
("not available: ...") instead of failing; only a missing or invalid run directory is an
error.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
from pathlib import Path

from .._checks import check_flag, describe
from .._files import as_path, check_new, check_writable, write_atomic
from ..train.metrics import confusion_figure, curves_figure, figure_png
from .runs import RUN_DIRECTORY, Run, load_run

__all__ = ["write_report", "render_report", "SECTIONS"]

#: (id, heading) of every section, in page order.
SECTIONS = (
    ("configuration", "Configuration"),
    ("results", "Results"),
    ("curves", "Learning curves"),
    ("confusion", "Confusion matrix"),
    ("layers", "Layer table"),
    ("filters", "Filters"),
    ("speed", "Speed"),
    ("compression", "Compression"),
)

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1d1d1f; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
nav a { margin-right: 1rem; }
section { border-top: 1px solid #ddd; padding-top: 0.5rem; margin-top: 1.5rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; }
.na { color: #8a4b00; background: #fff4e0; padding: 0.4rem 0.7rem; border-radius: 4px; }
details { margin: 0.5rem 0; } .scroll { overflow-x: auto; }
"""


# -- small HTML helpers --------------------------------------------------------------------
def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _na(reason: str) -> str:
    return f'<p class="na">Not available: {_esc(reason)}</p>'


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e3 else f"{value:,.0f}"  # 11,650 where .4g reads 1.165e+04
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _percent(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.1f} %"


def _kv_table(data: dict) -> str:
    rows = "".join(
        f"<tr><th>{_esc(k)}</th><td{' class=num' if isinstance(v, (int, float)) else ''}>"
        f"{_esc(_fmt(v))}</td></tr>"
        for k, v in data.items()
    )
    return f"<table>{rows}</table>"


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f"<td{' class=num' if isinstance(c, (int, float)) else ''}>{_esc(_fmt(c))}</td>"
            for c in row) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _png_file(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    data = path.read_bytes()
    return data if data.startswith(b"\x89PNG\r\n\x1a\n") else None


def _inline_md(text: str) -> str:
    """Escape ``text``, rendering ``**bold**`` spans."""
    parts = _esc(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def _markdown(md: str) -> str:
    """Markdown as ``Summary.to_markdown()`` writes it — pipe tables (with their alignment
    rows) and paragraphs — as HTML."""
    out: list[str] = []
    table: list[str] = []

    def flush():
        if not table:
            return
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table]
        rule = next((i for i, r in enumerate(rows) if r and all(set(c) <= set("-: ") and c for c in r)), None)
        right = [c.endswith(":") for c in rows[rule]] if rule is not None else []
        body = [r for i, r in enumerate(rows) if i != rule]
        html_rows = []
        for n, row in enumerate(body):
            tag = "th" if n == 0 and rule == 1 else "td"
            html_rows.append("<tr>" + "".join(
                f"<{tag}{' class=num' if j < len(right) and right[j] and tag == 'td' else ''}>"
                f"{_inline_md(c)}</{tag}>" for j, c in enumerate(row)) + "</tr>")
        out.append(f'<div class="scroll"><table>{"".join(html_rows)}</table></div>')
        table.clear()

    for line in md.splitlines():
        if line.strip().startswith("|"):
            table.append(line)
            continue
        flush()
        if line.strip():
            out.append(f"<p>{_inline_md(line.strip())}</p>")
    flush()
    return "".join(out)


# -- sections ------------------------------------------------------------------------------
def _configuration(run: Run, **_) -> str:
    if not run.config:
        return _na(f"{run.path / 'config.json'} is missing")
    return _kv_table(run.config)


# summary.json's and metrics.csv's keys as a reader names them (others are shown as they are)
_LABELS = {
    "test_top1": "test top-1 %", "test_top5": "test top-5 %",
    "test_loss": "test loss", "best_top1": "test top-1 %, best epoch", "best_epoch": "best epoch",
    "epochs": "epochs", "params": "trainable parameters", "macs": "multiply-adds per image",
    "train_images": "training images", "test_images": "test images", "train_seconds": "training time, s",
    "images_per_s": "training images per second", "world_size": "processes",
    "train_loss": "training loss", "train_top1": "training top-1 %", "lr": "learning rate",
    "seconds": "epoch time, s",
}


def _labelled(record: dict) -> dict:
    return {_LABELS.get(k, k.replace("_", " ")): ", ".join(map(str, v.values())) if isinstance(v, dict) else v
            for k, v in record.items()}


def _results(run: Run, **_) -> str:
    if run.summary:
        return _kv_table(_labelled(run.summary)) + (
            "<p>Test figures and images per second are the last epoch's; the best epoch's weights are "
            "in best.safetensors.</p>")
    if run.metrics:
        planned = (run.config.get("recipe") or {}).get("epochs")
        of = f" of {planned}" if isinstance(planned, int) else ""
        return (f"<p><strong>Unfinished or stopped: {_epochs(len(run.metrics))}{of} recorded</strong> "
                "(no summary.json; <code>cnnzoo train ... --resume</code> continues it). The last epoch's row of "
                "metrics.csv:</p>" + _kv_table(_labelled(run.metrics[-1])))
    return _na("the run has neither summary.json nor metrics.csv")


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _curves(run: Run, **_) -> str:
    png = _png_file(run.path / "curves.png")
    parts = []
    if png is None and run.metrics:
        png = figure_png(curves_figure(run.metrics, _chart_title(run)))  # a run stopped before its first chart
    if png is None:
        return _na("no curves.png and no metrics.csv in the run directory")
    parts.append(_img(png, "learning curves"))
    if run.metrics:
        header = list(run.metrics[0])
        parts.append(f"<details><summary>metrics.csv ({_epochs(len(run.metrics))})</summary>"
                     f"{_table(header, [[r.get(h) for h in header] for r in run.metrics])}</details>")
    return "".join(parts)


def _chart_title(run: Run) -> str:
    """As training titles the run's charts: the model on the dataset."""
    return f"{run.model} on {Path(run.dataset).name}" if run.model and run.dataset else run.path.name


def _confusion(run: Run, **_) -> str:
    png = _png_file(run.path / "confusion.png")
    if png is not None:
        return _img(png, "confusion matrix")
    matrix = run.summary.get("confusion")
    if isinstance(matrix, list) and matrix and all(isinstance(r, list) for r in matrix):
        classes = run.summary.get("classes") or run.config.get("classes")
        return _img(figure_png(confusion_figure(matrix, classes, _chart_title(run))), "confusion matrix")
    return _na("no confusion.png (and no confusion matrix in summary.json) in the run directory")


def _layers(run: Run, **_) -> str:
    try:
        from ..analysis import summarize
    except ImportError:
        return _na("cnnzoo.summarize (the layer table) is not part of this installation")
    model = run.build_model("meta")
    summary = summarize(model, input_size=run.input_size) if run.input_size else summarize(model)
    to_html = getattr(summary, "to_html", None)
    return to_html() if callable(to_html) else _markdown(summary.to_markdown())


def _filters(run: Run, **_) -> str:
    from .. import filter_picture, load_model

    if not (run.path / "best.safetensors").is_file():
        return _na("no best.safetensors in the run directory: no learnt filters to draw")
    model, _ = load_model(run.path, device="cpu")
    try:
        picture = filter_picture(model)
    except ValueError as err:  # a network of fully-connected layers: no filters
        return _na(str(err))
    return (_img(picture.png(), f"filters of {picture.layer}") +
            f"<p>{_esc(picture.title)}: the best epoch's weights (<code>cnnzoo filters RUN --layer NAME</code> draws "
            "any other convolution).</p>")


def _speed(run: Run, *, measure_speed: bool = True, **_) -> str:
    path = run.path / "bench.json"
    source = None
    if path.exists():
        from ..bench import read_bench_json

        try:
            data = read_bench_json(path)
        except (ValueError, OSError) as err:  # the rest of the report is still worth having
            return _na(str(err))
        results = data["results"]
        mine = [r for r in results if r["model"] == run.model]
        if not mine:  # another model's speed is not this run's
            measured = ", ".join(sorted({str(r.get("model")) for r in results})) or "no model"
            return _na(f"{path} measures {measured}, not this run's {run.model} "
                       f"(`cnnzoo bench {run.model} --json {path} --overwrite`)")
        result, machine = mine[0], data.get("machine", {})
        source = f"from {path.name}"
    elif measure_speed:
        from ..bench import bench_model, machine_info

        net = run.build_model("cpu")
        result = bench_model(net, batch=8, input_size=run.input_size, device="cpu",
                             warmup=1, repeats=5, max_seconds=5.0)
        machine = machine_info("cpu")
        source = "measured now (no bench.json in the run directory)"
    else:
        return _na("no bench.json in the run directory (`cnnzoo bench MODEL --json RUN/bench.json`)")
    lat, paired = (v if isinstance(v, dict) else {} for v in (result.get("latency_ms"),
                                                               result.get("fraction_of_round_product")))
    rows = {
        "model": result.get("model"),
        "input": "×".join(map(str, result.get("input_size", []))),
        "latency, batch 1 (ms)": f"{lat.get('median', float('nan')):.3f} "
                                 f"(IQR {lat.get('q1', float('nan')):.3f}–{lat.get('q3', float('nan')):.3f})",
        f"throughput, batch {result.get('batch')} (images/s)": result.get("images_per_s"),
        "multiply-adds per image": result.get("macs_per_image"),
        "fraction of peak": _percent(result.get("fraction_of_peak")),
        "fraction of the same-round product": _percent(paired.get("median")),
        "mode": result.get("mode"),
        "settings": result.get("settings"),
        "machine": ", ".join(str(v) for v in (machine.get("gpu") or machine.get("cpu"),
                                              f"{machine.get('threads')} threads",
                                              f"torch {machine.get('torch')}") if v),
    }
    return f"<p>{_esc(source)}</p>{_kv_table(rows)}"


def _compression(run: Run, **_) -> str:
    folder = run.path / "compression"
    path = folder / "report.json"
    if not path.is_file():
        return _na("no compression/report.json in the run directory (`cnnzoo compress RUN`)")
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        return _na(f"{path} does not hold a JSON object")
    scalars = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
    parts = [_kv_table(scalars)] if scalars else []
    order = sorted(data, key=lambda k: {"stages": 0, "layers": 2}.get(k, 1))  # summary first
    for key, value in ((k, data[k]) for k in order):
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            header = list(dict.fromkeys(k for r in value for k in r))
            parts.append(f"<h3>{_esc(key)}</h3>{_table(header, [[r.get(h) for h in header] for r in value])}")
        elif isinstance(value, dict):
            parts.append(f"<h3>{_esc(key)}</h3>{_kv_table(value)}")
        elif isinstance(value, list):
            parts.append(f"<h3>{_esc(key)}</h3><p>{_esc(_fmt(value))}</p>")
    for png_path in sorted(folder.glob("*.png")):
        png = _png_file(png_path)
        if png:
            parts.append(_img(png, png_path.stem))
    return "".join(parts)


_BUILDERS = {
    "configuration": _configuration, "results": _results, "curves": _curves,
    "confusion": _confusion, "layers": _layers, "filters": _filters, "speed": _speed,
    "compression": _compression,
}


# -- the page ------------------------------------------------------------------------------
def render_report(run: str | Path | Run, *, measure_speed: bool = True) -> str:
    """The HTML text of the report for ``run`` (a run directory or a loaded :class:`Run`)."""
    from .. import __version__

    measure_speed = check_flag(measure_speed, "measure_speed")
    if not isinstance(run, Run):
        run = load_run(as_path(run, f"{RUN_DIRECTORY} (or a Run)"))
    sections = []
    for sid, heading in SECTIONS:
        try:
            body = _BUILDERS[sid](run, measure_speed=measure_speed)
        except Exception as err:  # a broken input spoils its own section, never the page
            body = _na(f"{type(err).__name__}: {err}")
        sections.append(f'<section id="{sid}"><h2>{_esc(heading)}</h2>{body}</section>')
    title = f"cnnzoo run {run.name}"
    subtitle = " · ".join(str(s) for s in (run.model, run.dataset) if s)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    nav = "".join(f'<a href="#{sid}">{_esc(h)}</a>' for sid, h in SECTIONS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_esc(title)}</h1><p class=\"sub\">{_esc(subtitle)} — {_esc(run.path)} — "
        f"written {stamp} by cnnzoo {__version__}</p><nav>{nav}</nav>"
        + "".join(sections) + "</body></html>\n"
    )


def write_report(run: str | Path, out: str | Path | None = None, *,
                 measure_speed: bool = True, overwrite: bool = False) -> Path:
    """Write the report for the run directory ``run`` to ``out`` (default
    ``RUN/report.html``), atomically, and return its path. An existing report is replaced
    only with ``overwrite``."""
    run = as_path(run, RUN_DIRECTORY)
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be the HTML file to write (a path), or None for RUN/report.html, "
                        f"got {describe(out)}")
    measure_speed, overwrite = check_flag(measure_speed, "measure_speed"), check_flag(overwrite, "overwrite")
    loaded = load_run(run)
    out = check_writable(Path(out) if out is not None else loaded.path / "report.html")
    check_new([out], overwrite)
    return write_atomic(out, render_report(loaded, measure_speed=measure_speed))
