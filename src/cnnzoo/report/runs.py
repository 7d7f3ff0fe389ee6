"""Reading a training run directory (the layout of CONTRACTS.md: ``config.json``,
``metrics.csv``, ``summary.json``, ``curves.png``, ``confusion.png``, ``bench.json``,
``compression/report.json``)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .._files import as_path

__all__ = ["Run", "load_run", "as_percent"]

RUN_FILES = ("config.json", "summary.json", "metrics.csv")
RUN_DIRECTORY = "a run directory that `cnnzoo train` wrote"  # what a path argument should name


def as_percent(value) -> float | None:
    """An accuracy as a float (runs record percentages, as ``cnnzoo train`` writes them)."""
    return None if value is None else float(value)


def _read_json(path: Path, expected: str = "") -> dict:
    """The JSON object in ``path``; ``expected`` says in errors what the file should be."""
    what = f"; expected {expected}" if expected else ""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}{what}") from err
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a JSON text file (it is not UTF-8){what}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a JSON object, found {type(data).__name__}")
    return data


@dataclass
class Run:
    """A run directory's files, read leniently: a missing file is an empty record."""

    path: Path
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str | None:
        return self.summary.get("model") or self.config.get("model")

    @property
    def dataset(self) -> str | None:
        return self.summary.get("dataset") or self.config.get("dataset")

    @property
    def test_top1(self) -> float | None:
        top1 = self.summary.get("test_top1", self.summary.get("best_top1"))
        if top1 is None and self.metrics:
            top1 = self.metrics[-1].get("test_top1")
        return as_percent(top1)

    @property
    def model_options(self) -> dict:
        """The builder's options: config.json's ``model_options``, with ``num_classes`` from
        the run's classes and ``in_chans`` from its input size where they are not given."""
        opts = dict(self.config.get("model_options") or {})
        classes = self.config.get("classes") or self.summary.get("classes")
        num_classes = self.config.get("num_classes", len(classes) if classes else None)
        if num_classes is not None:
            opts.setdefault("num_classes", int(num_classes))
        if self.input_size:
            opts.setdefault("in_chans", self.input_size[0])
        return opts

    @property
    def input_size(self) -> tuple[int, int, int] | None:
        size = self.config.get("input_size") or self.summary.get("input_size")
        return tuple(int(s) for s in size) if size else None

    def build_model(self, device: str = "meta"):
        """The run's network (random weights) built from the registry with its options."""
        import torch

        from ..registry import create_model

        if not self.model:
            raise ValueError(f"{self.path}: neither config.json nor summary.json names the model")
        with torch.device(device):
            return create_model(self.model, **self.model_options)


def load_run(path) -> Run:
    """Read the run directory ``path``. A path that does not exist, is not a directory, or
    holds none of config.json, summary.json and metrics.csv is a clear error."""
    path = as_path(path, RUN_DIRECTORY)
    if not path.exists():
        raise FileNotFoundError(f"run directory {path} does not exist")
    if not path.is_dir():
        raise ValueError(f"{path} is not a run directory (it is a file); give the folder "
                         "that `cnnzoo train --out` wrote")
    if not any((path / f).is_file() for f in RUN_FILES):
        raise ValueError(f"{path} is not a cnnzoo run directory: it has none of "
                         f"{', '.join(RUN_FILES)}")
    from ..train.checkpoint import interrupted_overwrite

    replaced = interrupted_overwrite(path)
    if replaced:  # its results are in .replaced: a report of the folder would show none
        raise ValueError(f"{path} holds no results now: {replaced}")
    run = Run(path)
    if (path / "config.json").is_file():
        run.config = _read_json(path / "config.json")
    if (path / "summary.json").is_file():
        run.summary = _read_json(path / "summary.json")
    if (path / "metrics.csv").is_file():
        with open(path / "metrics.csv", newline="") as f:
            run.metrics = [
                {k: _number(v) for k, v in row.items() if k is not None}
                for row in csv.DictReader(f)
            ]
    return run


def _number(text):
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
