"""Compare architectures: accuracy against multiply-adds, the classic bubble chart.

:func:`compare` builds a table (model, family, parameters, multiply-adds, top-1, its source,
measured throughput) and two PNG bubble charts — top-1 against multiply-adds (log scale) and
top-1 against measured throughput — with each bubble's area proportional to the parameter
count and one colour per family (the form of Canziani et al. 2016, "An Analysis of Deep
Neural Network Models for Practical Applications", Fig. 2).

Accuracy comes from the user's runs when run directories are given, and from ``cnnzoo eval
--json`` results when those are (one dataset at a time), otherwise from the published
ImageNet top-1 that each model's registry entry records (``model_info(name).figure("top1")``),
whose sources the chart's footnote names. Models without an accuracy stay in the table and
are left out of the charts, with a note.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .._checks import check_flag, describe, positive_int, python_value, type_problem
from .._device import resolve_device
from .._figures import new_figure, png_bytes
from .._files import check_new, check_writable, write_atomic, write_json
from .runs import load_run

__all__ = ["compare", "Comparison", "CompareRow", "bubble_chart", "human_count"]


@dataclass
class CompareRow:
    label: str
    model: str
    family: str
    params: int
    macs: int
    top1: float | None = None
    top1_source: str | None = None
    dataset: str | None = None
    input_size: tuple[int, ...] | None = None
    images_per_s: float | None = None
    run: str | None = None
    split: str | None = None  # the part of the data an evaluation scored
    model_options: dict = field(default_factory=dict)  # an evaluation's builder options


@dataclass
class Comparison:
    rows: list[CompareRow]
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    accuracy: str = ""  # what the accuracy column is, for titles and footnotes

    def to_markdown(self) -> str:
        head = ["model", "family", "params", "MACs", "top-1 %", "images/s", "accuracy source"]
        lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---:|---|"]
        for r in self.rows:
            lines.append("| " + " | ".join([
                r.label, r.family, human_count(r.params), human_count(r.macs),
                "—" if r.top1 is None else f"{r.top1:.2f}",
                "—" if r.images_per_s is None else f"{r.images_per_s:.1f}",
                r.top1_source or "—",
            ]) + " |")
        return "\n".join(lines + [""] + [f"- {n}" for n in self.notes]) + "\n"


def human_count(n: float) -> str:
    """``4089184256`` → ``4.09 G``; ``325680`` → ``326 k``: three significant digits."""
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.3g}"


# -- rows ----------------------------------------------------------------------------------
def _expand(models: Sequence[str]) -> list[str]:
    from ..registry import list_models, model_info

    names: list[str] = []
    for m in models:
        if any(c in m for c in "*?["):
            found = list_models(m)
            if not found:
                raise ValueError(f"no registered model matches {m!r}")
            names += found
        else:
            names.append(model_info(m).name)  # unknown name: error with the closest names
    return list(dict.fromkeys(names))


def _published_rows(models: Sequence[str]) -> list[CompareRow]:
    from ..bench import count_macs
    from ..registry import inference_parameters, model_info

    rows = []
    for name in models:
        info = model_info(name)
        top1 = info.figure("top1")
        macs, _ = count_macs(name)
        rows.append(CompareRow(
            label=name, model=name, family=info.family, params=inference_parameters(name),
            macs=int(macs), top1=top1.value if top1 else None,
            top1_source=top1.source if top1 else None, dataset="ImageNet",
            input_size=info.input_size,
        ))
    return rows


def _given_once(paths: Sequence[str], what: str) -> None:
    """Refuse a run or an evaluation given twice (``a/run`` and ``a/../a/run``): it would be
    two bubbles on one spot."""
    seen = {}
    for p in paths:
        where = Path(p).expanduser().resolve()
        if where in seen:
            raise ValueError(f"{what} {p} is given twice (also as {seen[where]}); give each {what} once")
        seen[where] = p


def _distinct_labels(rows: Sequence[CompareRow], paths: Sequence[Path], taken: Sequence[str] = (),
                     suffix: str = "") -> None:
    """Relabel rows whose label another row (or ``taken``) has by as many of their path's last
    parts as tell them apart (a/x/run and b/x/run), followed by ``suffix``; rows that no part
    tells apart are numbered."""
    parts = [p.parts[1:] if p.anchor else p.parts for p in paths]  # "/" is no folder's name
    for depth in range(1, max(map(len, parts), default=0) + 1):
        labels = [r.label for r in rows] + list(taken)
        clashing = [(r, p) for r, p in zip(rows, parts) if labels.count(r.label) > 1]
        if not clashing:
            return
        for r, p in clashing:
            r.label = "/".join(p[-depth:]) + suffix
    seen = set(taken)
    for r in rows:
        label, n = r.label, 2
        while r.label in seen:
            r.label, n = f"{label} #{n}", n + 1
        seen.add(r.label)


def _run_rows(run_dirs: Sequence[str]) -> list[CompareRow]:
    from ..bench import count_macs
    from ..registry import inference_parameters, model_info

    _given_once(run_dirs, "run")
    rows = []
    for d in run_dirs:
        run = load_run(d)
        if not run.model:
            raise ValueError(f"{run.path}: neither config.json nor summary.json names the model")
        info = model_info(run.model)
        params = run.summary.get("params")  # the trained network's count, auxiliary heads included
        if params is None or run.config.get("model_given") != "module":  # rebuilt as registered: without them
            params = inference_parameters(info.name, **run.model_options)
        macs = run.summary.get("macs")
        if macs is None:
            net = run.build_model("meta")
            macs, _ = count_macs(net, run.input_size or net.default_input_size)
        rows.append(CompareRow(
            label=run.name, model=info.name,
            family=info.family, params=int(params), macs=int(macs), top1=run.test_top1,
            top1_source=f"run {run.path}", dataset=run.dataset, input_size=run.input_size,
            run=str(run.path),
        ))
    _distinct_labels(rows, [Path(r.run) for r in rows])
    return rows


def _eval_rows(paths: Sequence[str], taken: Sequence[str] = ()) -> list[CompareRow]:
    """Rows from ``cnnzoo eval --json`` results: each a model's accuracy on a dataset, such as
    published weights scored on ImageNet's validation images (see :mod:`cnnzoo.pretrained`)."""
    import torch

    from ..bench import count_macs
    from ..registry import create_model, inference_parameters, model_info
    from .runs import _read_json

    _given_once(paths, "evaluation")
    rows = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            raise IsADirectoryError(f"--evals: {path} is a folder (a run? give it with --runs); expected "
                                    "a file of `cnnzoo eval ... --json > FILE`")
        if not path.is_file():
            raise FileNotFoundError(f"--evals: {path} does not exist (expected the output of "
                                    "`cnnzoo eval ... --json > FILE`)")
        data = _read_json(path, "the output of `cnnzoo eval ... --json > FILE`")
        top1 = data.get("top1")
        if "top1" not in data or not isinstance(data.get("dataset"), str):
            raise ValueError(f"{path} is not a `cnnzoo eval --json` result (it needs 'top1' and 'dataset'; "
                             f"found {', '.join(sorted(data)) or 'nothing'})")
        if type_problem(top1, float) or not 0 <= top1 <= 100:  # NaN reads as JSON, and fails in the chart
            raise ValueError(f"{path}: 'top1' must be a percentage from 0 to 100, got {top1!r}")
        if not isinstance(data.get("model"), str):
            raise ValueError(f"{path} names no registered model (an evaluation of a module built by "
                             "hand?): compare needs the model to count its parameters and multiply-adds")
        kinds = {"model_options": dict, "input_size": list, "checkpoint": str, "weights": str, "split": str}
        wrong = [f"{k} ({type(data[k]).__name__})" for k, kind in kinds.items()
                 if data.get(k) is not None and not isinstance(data[k], kind)]
        if wrong:
            raise ValueError(f"{path}: {', '.join(wrong)} is not what `cnnzoo eval --json` writes (the file "
                             "is damaged, or not an evaluation)")
        options = data.get("model_options") or {}
        try:
            info = model_info(data["model"])
            with torch.device("meta"):
                net = create_model(info.name, **options)
            size = tuple(data.get("input_size") or net.default_input_size)
            macs, _ = count_macs(net, size)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: {err}") from None
        scored = data.get("weights") or data.get("checkpoint") or path.name
        rows.append(CompareRow(
            label=Path(data["checkpoint"]).stem if data.get("checkpoint") else path.stem,
            model=info.name, family=info.family, params=inference_parameters(info.name, **options),
            macs=int(macs), top1=float(top1), dataset=data["dataset"], input_size=size,
            top1_source=f"eval of {scored} ({data.get('split', 'split not recorded')})",
            split=data.get("split"), model_options=dict(options),
        ))
    # one checkpoint scored twice, or a run's: named by the file (a/x.json, b/x.json: by folders too)
    _distinct_labels(rows, [Path(p).expanduser().resolve().with_suffix("") for p in paths], taken, " (eval)")
    return rows


def _one_dataset(rows: Sequence[CompareRow], given: str) -> str:
    datasets = {r.dataset for r in rows}
    if len(datasets) > 1:
        by = {ds: [r.label for r in rows if r.dataset == ds] for ds in datasets}
        listing = "; ".join(f"{ds}: {', '.join(labels)}" for ds, labels in by.items())
        raise ValueError(f"the {given} are on different datasets ({listing}); compare "
                         "those of one dataset at a time")
    return rows[0].dataset if rows else "?"


def _speeds_from_json(paths: Sequence[str]) -> tuple[dict[str, float], str]:
    """Images per second by model from ``cnnzoo bench --json`` files, and a line saying
    where they were measured."""
    from ..bench import read_bench_json

    speeds: dict[str, float] = {}
    where = []
    for p in paths:
        path = Path(p)
        data = read_bench_json(path)
        speeds.update((r["model"], float(r["images_per_s"])) for r in data["results"])
        m, st = data.get("machine", {}), data.get("settings", {})
        on = m.get("gpu") or (f"{m['cpu']}, {m.get('threads')} threads" if m.get("cpu") else None)
        detail = ", ".join(x for x in (on, f"batch {st['batch']}" if st.get("batch") else None,
                                       "compiled" if st.get("compile") else None) if x)
        where.append(f"{path.name} ({detail})" if detail else path.name)
    return speeds, f"throughput from {'; '.join(where)}"


# -- charts --------------------------------------------------------------------------------
def bubble_chart(rows: Sequence[CompareRow], *, x: str, xlabel: str, ylabel: str, title: str,
                 footnote: str = "") -> bytes:
    """A PNG bubble chart of ``rows`` (those with an accuracy and a positive ``x``): x on a
    log scale, top-1 on y, bubble area proportional to parameters, a colour per family,
    a label on each bubble, and ``footnote`` under the axes."""
    import matplotlib
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    shown = [r for r in rows if r.top1 is not None and (getattr(r, x) or 0) > 0]
    families = sorted({r.family for r in rows})
    cmap = matplotlib.colormaps["tab10" if len(families) <= 10 else "tab20"]
    colour = {f: cmap(i % cmap.N) for i, f in enumerate(families)}
    foot = "\n".join(textwrap.fill(p, 190) for p in footnote.split("\n") if p)
    foot_h = 0.12 * (foot.count("\n") + 1) if foot else 0.0  # inches: 7-point lines
    height = 6.5 + foot_h
    fig = new_figure(figsize=(11, height), dpi=130)
    bottom = (foot_h + 0.75) / height
    ax = fig.add_axes([0.07, bottom, 0.73, 1 - bottom - 0.45 / height])
    max_params = max((r.params for r in shown), default=1)
    area = 2500.0 / max_params  # points² per parameter: the largest bubble is 2,500 pt²
    for r in shown:
        ax.scatter(getattr(r, x), r.top1, s=max(r.params * area, 4.0), color=colour[r.family],
                   alpha=0.55, edgecolors="black", linewidths=0.6, zorder=2)
    if shown:
        ax.set_xscale("log")
        scale, unit = (1e9, " G") if x == "macs" else (1.0, "")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / scale:g}{unit}"))
        xs = [getattr(r, x) for r in shown]
        ys = [r.top1 for r in shown]
        ax.set_xlim(min(xs) / 1.8, max(xs) * 2.2)
        pad = max(2.0, 0.08 * (max(ys) - min(ys)))
        ax.set_ylim(min(ys) - pad, max(ys) + pad)
    else:
        ax.text(0.5, 0.5, "no model here has an accuracy to plot", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3, zorder=0)
    handles = [Line2D([], [], marker="o", ls="", color=colour[f], alpha=0.7, markersize=8, label=f)
               for f in families if any(r.family == f for r in shown)]
    legend = ax.legend(handles=handles, title="family", loc="upper left",
                       bbox_to_anchor=(1.01, 1.0), fontsize=8, title_fontsize=9, frameon=False)
    ax.add_artist(legend)
    if shown:
        refs = _round_sizes(max_params)
        size_handles = [ax.scatter([], [], s=p * area, color="grey", alpha=0.4, edgecolors="black",
                                   label=f"{p / 1e6:g} M") for p in refs]
        ax.legend(handles=size_handles, title="parameters", loc="lower left",
                  bbox_to_anchor=(1.01, 0.0), fontsize=8, title_fontsize=9, frameon=False,
                  labelspacing=2.2, borderpad=1.2, handletextpad=2.0)
    if shown:
        _place_labels(fig, ax, [(r.label, getattr(r, x), r.top1,
                                 math.sqrt(max(r.params * area, 4.0) / math.pi)) for r in shown])
    if foot:
        fig.text(0.01, 0.15 / height, foot, fontsize=7, va="bottom", ha="left", color="#333333")
    return png_bytes(fig)


def _label_offsets(radius: float) -> list[tuple[float, float]]:
    """Label positions tried around a bubble of ``radius`` points, nearest first."""
    r = radius * 0.75 + 3
    return [(dx * k, dy * k) for k in (1.0, 1.8, 2.6) for dx, dy in
            ((r, 2), (r, -9), (-r, 2), (-r, -9), (0, r + 2), (0, -r - 9))]


def _place_labels(fig, ax, points) -> None:
    """Label each bubble (``(label, x, y, radius in points)``) at the first offset whose text
    box overlaps no label placed before, or else at the nearest offset."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed = []
    for label, px, py, radius in sorted(points, key=lambda p: (-p[2], p[1])):
        offsets = _label_offsets(radius)
        for i, (dx, dy) in enumerate(offsets):
            text = ax.annotate(label, (px, py), xytext=(dx, dy), textcoords="offset points",
                               fontsize=7, zorder=3, ha="right" if dx < 0 else "left")
            box = text.get_window_extent(renderer).expanded(1.05, 1.15)
            if not any(box.overlaps(b) for b in placed):
                placed.append(box)
                break
            text.remove()
        else:  # nowhere free: the nearest spot
            dx, dy = offsets[0]
            text = ax.annotate(label, (px, py), xytext=(dx, dy), textcoords="offset points",
                               fontsize=7, zorder=3)
            placed.append(text.get_window_extent(renderer))


def _round_sizes(max_params: int) -> list[float]:
    """Three round parameter counts for the size legend, the largest ≤ ``max_params``."""
    top = 10 ** math.floor(math.log10(max_params))
    top = max(m * top for m in (1, 2, 5) if m * top <= max_params)
    return sorted({top, top / 5, top / 25} - {0})


def _footnote(rows: Sequence[CompareRow], accuracy: str, extra: Sequence[str] = ()) -> str:
    by_source: dict[str, list[str]] = {}
    for r in rows:
        if r.top1 is not None:
            by_source.setdefault(r.top1_source or "unknown", []).append(r.label)
    lines = [f"Accuracy: {accuracy}. Sources: " + "; ".join(
        f"{src} ({', '.join(labels)})" for src, labels in by_source.items())] if by_source else []
    missing = [r.label for r in rows if r.top1 is None]
    if missing:
        lines.append(f"Not shown (no accuracy): {', '.join(missing)}.")
    lines.append("Bubble area is proportional to the parameters of the network that predicts (auxiliary "
                 "heads, used only in training, left out); multiply-adds per image counted by cnnzoo "
                 "at each model's input size.")
    return "\n".join(lines + list(extra))


# -- the command ---------------------------------------------------------------------------
def _names(value, what: str, unset: str) -> list[str] | None:
    """``models`` or ``runs`` as a list: one name or path alone counts as a list of one. An
    empty list is refused: only None means ``unset`` (an empty selection of models would
    silently be the whole zoo)."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return None if value is None else [os.fspath(value)]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, os.PathLike)) for v in value):
        raise TypeError(f"{what} must be a name or path, or a list of them, got {describe(value)}")
    if not value:
        raise ValueError(f"{what} is an empty list: name at least one, or pass None for {unset}")
    return [os.fspath(v) for v in value]


OUTPUTS = ("accuracy_vs_macs.png", "throughput_vs_accuracy.png", "compare.md", "compare.csv",
           "compare.json")


def compare(
    models: Sequence[str] | None = None,
    *,
    runs: Sequence[str] | None = None,
    evals: Sequence[str] | None = None,
    out: str | Path = "compare",
    bench_json: Sequence[str] | None = None,
    measure_speed: bool | None = None,
    device: str = "cpu",
    batch: int = 8,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Compare ``models`` (names or shell patterns; all registered models by default), or the
    runs in ``runs`` (run directories, accuracy on their dataset) and the evaluations in
    ``evals`` (files of ``cnnzoo eval --json``: imported weights scored on your copy of
    ImageNet, say), and write into ``out``:
    ``compare.md``, ``compare.csv``, ``compare.json``, ``accuracy_vs_macs.png`` and (when
    speeds are known) ``throughput_vs_accuracy.png``.

    Throughput comes from ``bench_json`` files (written by ``cnnzoo bench --json``) when
    given, else it is measured here with a short :func:`cnnzoo.bench.bench_model` run at
    ``batch`` on ``device``. ``measure_speed``: ``None`` (default) measures when models or
    runs are named and skips it for the whole zoo (minutes of timing); ``True``/``False`` force.
    Files of an earlier comparison in ``out`` are replaced only with ``overwrite``.
    """
    from ..registry import list_models

    say = progress or (lambda msg: None)
    models = _names(models, "models", "all registered models")
    runs, evals = _names(runs, "runs", "no runs"), _names(evals, "evals", "no evaluations")
    bench_json = _names(bench_json, "bench_json", "measuring throughput here")
    batch = positive_int(batch, "batch")  # before minutes of work, measured or not
    overwrite = check_flag(overwrite, "overwrite")
    measure_speed = python_value(measure_speed)
    if measure_speed is not None and not isinstance(measure_speed, bool):  # "no" would mean yes
        raise TypeError(f"measure_speed must be True, False or None (measure when models or runs are "
                        f"named), got {describe(measure_speed)}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function taking a message, or None, got {describe(progress)}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder (a path), got {describe(out)}")
    if runs or evals:
        rows = _run_rows(runs or [])
        rows += _eval_rows(evals or [], taken=[r.label for r in rows])
        if models:
            wanted = set(_expand(models))
            kept = [r for r in rows if r.model in wanted]
            if not kept:
                raise ValueError(f"none of the runs' models ({', '.join(sorted({r.model for r in rows}))}) "
                                 f"is among {', '.join(models)}; name one of theirs, or leave the models out")
            rows = kept
        given = " and ".join(what for what, named in (("runs", runs), ("evaluations", evals)) if named)
        dataset = _one_dataset(rows, given)
        accuracy = f"{'test ' if not evals else ''}top-1 of the given {given} on {dataset}"
    else:
        names = _expand(models) if models else list_models()
        rows = _published_rows(names)
        accuracy = "published ImageNet top-1 (validation set; crops and protocol as each source states)"
    if not rows:
        raise ValueError("nothing to compare: no model or run was selected")
    notes = []
    if measure_speed is None:
        measure_speed = bool(models or runs or evals)
        if not measure_speed and not bench_json:
            notes.append("throughput not measured for the whole zoo; name the models, or give "
                         "--bench files, for the throughput chart")
    unfinished = [r.label for r in rows if r.run and not (Path(r.run) / "summary.json").is_file()]
    if unfinished:  # a run stopped at epoch 5 of 20 is not the model at its best
        notes.append(f"unfinished or stopped (no summary.json; accuracy of the last recorded epoch): "
                     f"{', '.join(unfinished)}")
    # a run reports its test split, or the part it held out where its data had none
    scored = {r.label: r.split or "the run's test data" for r in rows if r.split or r.run}
    kinds = {"training" if s.startswith("training") else "every" if s.startswith("every") else "held-out"
             for s in scored.values()}
    if len(kinds) > 1:  # a training split's accuracy beside held-out ones flatters
        notes.append("the accuracies come from different parts of their data: " + "; ".join(
            f"{s}: {', '.join(label for label, v in scored.items() if v == s)}" for s in sorted(set(scored.values()))))
    missing = [r.label for r in rows if r.top1 is None]
    if missing:
        timed = ", so not timed either" if measure_speed and not bench_json else ""
        notes.append(f"left out of the charts (no accuracy{timed}): {', '.join(missing)}")

    if measure_speed and not bench_json:  # a device this machine lacks, named before any work
        device = resolve_device(device)
    out = Path(out)
    check_writable(out / "compare.json")  # before any speed is measured
    check_new([out / name for name in OUTPUTS], overwrite)
    speed_note = ""
    if bench_json:
        speeds, speed_note = _speeds_from_json(bench_json)
        from ..registry import model_label

        for r in rows:  # bench names a model built with options by its options too
            r.images_per_s = speeds.get(model_label(r.model, r.model_options))
        unbenched = [r.label for r in rows if r.top1 is not None and r.images_per_s is None]
        if unbenched:
            notes.append(f"no throughput in the --bench files for: {', '.join(unbenched)}")
    elif measure_speed:
        import torch

        from ..bench import bench_model, machine_info, measure_peak
        from ..registry import create_model

        peaks = {"float32": measure_peak(device, torch.float32)}
        for r in rows:
            if r.top1 is None:
                continue  # not charted, not worth the time
            say(f"timing {r.label}")
            net = load_run(r.run).build_model("cpu") if r.run else create_model(r.model, **r.model_options)
            res = bench_model(net, batch=batch, input_size=r.input_size, device=device,
                              warmup=1, repeats=3, max_seconds=5.0, peaks=peaks)
            r.images_per_s = res["images_per_s"]
        m = machine_info(device)
        where = m["gpu"] or f"{m['cpu']}, {m['threads']} threads"
        speed_note = f"throughput measured by cnnzoo's inference path on {where}, batch {batch}"

    comparison = Comparison(rows, notes=notes, accuracy=accuracy)
    dataset = rows[0].dataset or "ImageNet"
    charts = {
        "accuracy_vs_macs.png": dict(
            x="macs", xlabel="multiply-adds per image (log scale)",
            title=f"Top-1 accuracy ({dataset}) against multiply-adds"),
    }
    if any(r.images_per_s for r in rows):
        charts["throughput_vs_accuracy.png"] = dict(
            x="images_per_s", xlabel="measured throughput, images per second (log scale)",
            title=f"Top-1 accuracy ({dataset}) against measured throughput")
        notes.append(speed_note)
    for fname, spec in charts.items():
        extra = [speed_note[:1].upper() + speed_note[1:] + "."] if spec["x"] == "images_per_s" else []
        png = bubble_chart(rows, ylabel=f"top-1 accuracy (%), {dataset}",
                           footnote=_footnote(rows, accuracy, extra), **spec)
        comparison.files[fname] = write_atomic(out / fname, png)
    comparison.files["compare.md"] = write_atomic(out / "compare.md", comparison.to_markdown())
    comparison.files["compare.csv"] = write_atomic(out / "compare.csv", _csv(rows))
    comparison.files["compare.json"] = write_json(out / "compare.json", {
        "accuracy": accuracy, "notes": notes, "rows": [asdict(r) for r in rows]})
    for name in set(OUTPUTS) - set(comparison.files):  # an earlier comparison's, now stale
        (out / name).unlink(missing_ok=True)
    return comparison


def _csv(rows: Sequence[CompareRow]) -> str:
    buf = io.StringIO()
    fields = list(CompareRow.__dataclass_fields__)
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for r in rows:
        d = asdict(r)
        d["input_size"] = "x".join(map(str, r.input_size)) if r.input_size else ""
        d["model_options"] = json.dumps(r.model_options) if r.model_options else ""
        writer.writerow(d)
    return buf.getvalue()
