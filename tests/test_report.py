"""`cnnzoo compare` (table and bubble charts) and `cnnzoo report` (the HTML page, rendered
in headless Chromium when it is installed)."""

import base64
import csv
import json
import os
import re
import shutil
import subprocess

import pytest
from torchvision.models import ResNet50_Weights

import cnnzoo
import cnnzoo.cli
from cnnzoo.cli import main
from cnnzoo.report import SECTIONS, compare, render_report, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# -- compare ---------------------------------------------------------------------------------
def test_compare_published_table_and_chart(tmp_path):
    models = ["mobilenet_v2", "resnet50_tv", "densenet121", "resnet20"]
    result = compare(models, out=tmp_path, measure_speed=False)
    assert [r.label for r in result.rows] == models
    by = {r.model: r for r in result.rows}
    # the published figures the registry records (torchvision's weights metadata here)
    top1 = ResNet50_Weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert by["resnet50_tv"].top1 == pytest.approx(top1)  # torchvision's published figure
    assert by["resnet50_tv"].params == 25_557_032  # torchvision ResNet50_Weights meta num_params
    assert by["resnet20"].top1 is None  # a CIFAR network: no ImageNet top-1
    assert any("resnet20" in n for n in result.notes)
    w, h = png_size((tmp_path / "accuracy_vs_macs.png").read_bytes())
    assert w > 500 and h > 300
    assert not (tmp_path / "throughput_vs_accuracy.png").exists()  # no speeds asked for
    with open(tmp_path / "compare.csv", newline="") as f:
        assert [row["model"] for row in csv.DictReader(f)] == models
    md = (tmp_path / "compare.md").read_text()
    assert all(f"| {m} |" in md for m in models)
    assert json.loads((tmp_path / "compare.json").read_text())["rows"][0]["model"] == models[0]


def test_compare_sizes_the_network_that_predicts(tmp_path, capsys):
    # GoogLeNet's two auxiliary heads run in training only: torchvision publishes 6,624,904
    # parameters, the network without them (its weights' meta)
    from torchvision.models import GoogLeNet_Weights

    published = GoogLeNet_Weights.IMAGENET1K_V1.meta["num_params"]
    (row,) = compare(["googlenet_tv"], out=tmp_path, measure_speed=False).rows
    assert row.params == published
    assert main(["info", "googlenet_tv"]) == 0
    assert f"({published:,} without the auxiliary heads" in " ".join(capsys.readouterr().out.split())


def test_compare_sizes_a_run_by_its_network(tmp_path):
    # a run of a registered name is rebuilt without its auxiliary heads (torchvision's
    # published 6,624,904 for GoogLeNet); a run of a module the registry cannot rebuild keeps
    # the count its summary recorded
    from torchvision.models import GoogLeNet_Weights

    named = make_run(tmp_path / "named", model="googlenet_tv", images=False)
    config = json.loads((named / "config.json").read_text())
    (named / "config.json").write_text(json.dumps({**config, "model_options": {"num_classes": 1000}}))
    module = make_run(tmp_path / "module", model="resnet20", images=False)
    config = json.loads((module / "config.json").read_text())
    (module / "config.json").write_text(json.dumps({**config, "model_given": "module"}))
    summary = json.loads((module / "summary.json").read_text())
    (module / "summary.json").write_text(json.dumps({**summary, "params": 272_474}))
    rows = {r.model: r for r in compare(runs=[named, module], out=tmp_path / "c", measure_speed=False).rows}
    assert rows["googlenet_tv"].params == GoogLeNet_Weights.IMAGENET1K_V1.meta["num_params"]
    assert rows["resnet20"].params == 272_474


def test_report_draws_the_curves_of_a_partial_metrics_csv(tmp_path):
    # a hand-edited or truncated metrics.csv: no epoch column, gaps, a column missing
    run = make_run(tmp_path / "r", images=False)
    (run / "metrics.csv").write_text("train_loss,test_top1\n1.2,\n,80.0\n0.4,85.5\n")
    assert section(render_report(run, measure_speed=False), "curves").count("<img") == 1


def test_charts_leave_the_callers_matplotlib_backend_alone(tmp_path):
    # pyplot's global backend is the caller's: switched to Agg, a notebook's plots stop showing
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        compare(["lenet5", "alexnet"], out=tmp_path / "c", measure_speed=False)
        run = make_run(tmp_path / "r", images=False)  # no curves.png: the report draws them
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "confusion": [[5, 1], [0, 6]]}))
        html = render_report(run, measure_speed=False)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert section(html, "curves").count("<img") == 1
    assert section(html, "confusion").count("<img") == 1


def test_compare_throughput_chart_from_bench_json(tmp_path):
    bench_file = tmp_path / "bench.json"
    bench_file.write_text(json.dumps({"results": [
        {"model": "mobilenet_v2", "images_per_s": 120.0},
        {"model": "densenet121", "images_per_s": 30.0},
    ]}))
    result = compare(["mobilenet_v2", "densenet121"], out=tmp_path / "c", bench_json=[bench_file])
    assert [r.images_per_s for r in result.rows] == [120.0, 30.0]
    png_size((tmp_path / "c" / "throughput_vs_accuracy.png").read_bytes())
    # a model the file lacks is named rather than left at "—" without a word
    result = compare(["mobilenet_v2", "vgg16"], out=tmp_path / "d", bench_json=[bench_file])
    assert [r.images_per_s for r in result.rows] == [120.0, None]
    assert "no throughput in the --bench files for: vgg16" in result.notes


@pytest.mark.parametrize("content, expected", [
    ("[1, 2]", "holds a JSON list; expected the JSON object `cnnzoo bench --json` writes"),
    ('{"results": 3}', "holds an object without a results list"),
    ('{"results": [{"model": "mobilenet_v2"}]}', "result 0 is {'model': 'mobilenet_v2'}"),
    ('{"results": [{"model": "x", "images_per_s": "fast"}]}', "result 0 is"),
    ('{"results": ', "is not valid JSON"),
])
def test_compare_refuses_a_bench_file_of_another_shape(content, expected, tmp_path, capsys):
    bad = tmp_path / "bench.json"
    bad.write_text(content)
    assert main(["compare", "mobilenet_v2", "--bench", str(bad), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}" in err and expected in err and "Traceback" not in err
    assert main(["compare", "mobilenet_v2", "--bench", str(tmp_path), "--out", str(tmp_path / "c")]) == 2
    assert f"{tmp_path} is a folder; expected a `cnnzoo bench --json` file" in capsys.readouterr().err


def test_compare_measures_throughput(tmp_path):
    result = compare(["mobilenet_v1_025"], out=tmp_path, batch=2)
    assert result.rows[0].images_per_s > 0
    assert (tmp_path / "throughput_vs_accuracy.png").read_bytes().startswith(PNG)


def make_run(path, *, model="lenet5", dataset="mnist-sample", top1=91.5, images=True, full=True):
    """A run directory laid out as CONTRACTS.md describes, written by hand."""
    path.mkdir(parents=True)
    classes = [str(i) for i in range(10)]
    (path / "config.json").write_text(json.dumps({
        "model": model, "model_options": {}, "dataset": dataset, "classes": classes,
        "input_size": list(cnnzoo.model_info(model).input_size), "seed": 0, "recipe": {"name": "small", "lr": 0.05}}))
    if not full:
        return path
    (path / "summary.json").write_text(json.dumps({
        "model": model, "dataset": dataset, "test_top1": top1, "test_top5": 99.0,
        "best_epoch": 2, "epochs": 2}))
    (path / "metrics.csv").write_text(
        "epoch,train_loss,train_top1,test_loss,test_top1,test_top5,lr,images_per_s,seconds\n"
        "1,1.2,60.0,0.8,80.0,97.0,0.05,900,3.1\n"
        f"2,0.5,85.0,0.4,{top1},99.0,0.01,950,3.0\n")
    if images:
        from cnnzoo.train.checkpoint import save_weights

        save_weights(path / "best.safetensors", cnnzoo.create_model(model))
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        for name in ("curves", "confusion"):
            fig, ax = plt.subplots(figsize=(3, 2))
            ax.plot([1, 2], [0.8, 0.4]) if name == "curves" else ax.imshow([[5, 1], [0, 6]])
            fig.savefig(path / f"{name}.png")
            plt.close(fig)
        (path / "compression").mkdir()
        (path / "compression" / "report.json").write_text(json.dumps({
            "ratio": 39.2, "top1_before": top1, "top1_after": top1 - 0.1,
            "layers": [{"name": "features.c1", "kept": 0.66, "bits": 8}]}))
        (path / "bench.json").write_text(json.dumps({
            "machine": {"cpu": "test cpu", "threads": 1, "torch": "x"},
            "results": [{"model": model, "input_size": [1, 32, 32], "batch": 8,
                         "images_per_s": 11650.0, "latency_ms": {"median": 1.0, "q1": 0.9, "q3": 1.1},
                         "macs_per_image": 325680, "fraction_of_peak": 0.01, "mode": "fast"}]}))
    return path


def test_compare_runs(tmp_path):
    a = make_run(tmp_path / "lenet-a", top1=91.5, images=False)
    b = make_run(tmp_path / "lenet-b", model="lenet5_relu", top1=93.0, images=False)
    result = compare(runs=[a, b], out=tmp_path / "out", measure_speed=False)
    assert [(r.label, r.top1, r.dataset) for r in result.rows] == [
        ("lenet-a", 91.5, "mnist-sample"), ("lenet-b", 93.0, "mnist-sample")]
    assert result.rows[0].params == cnnzoo.count_parameters("lenet5")
    assert "mnist-sample" in result.accuracy
    png_size((tmp_path / "out" / "accuracy_vs_macs.png").read_bytes())


def test_compare_errors(tmp_path):
    a = make_run(tmp_path / "a", images=False)
    b = make_run(tmp_path / "b", dataset="fashion-mnist", images=False)
    with pytest.raises(ValueError, match="different datasets"):
        compare(runs=[a, b], out=tmp_path / "o", measure_speed=False)
    with pytest.raises(ValueError, match="unknown model 'resnet5O'"):
        compare(["resnet5O"], out=tmp_path / "o", measure_speed=False)
    with pytest.raises(ValueError, match="no registered model matches"):
        compare(["nothing*"], out=tmp_path / "o", measure_speed=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compare(runs=[tmp_path / "missing"], out=tmp_path / "o")


def test_cli_compare(tmp_path, capsys):
    assert main(["compare", "mobilenet_v2", "resnet20", "--no-speed", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v2" in out and "resnet20" in out
    assert (tmp_path / "accuracy_vs_macs.png").is_file()


def test_compare_evaluations_with_runs(tmp_path, capsys):
    """`cnnzoo eval --json` results (a checkpoint scored on a dataset: published weights on
    your ImageNet, say) are charted with the runs of that dataset."""
    from cnnzoo.train.checkpoint import save_weights

    ckpt = tmp_path / "lenet5-mine.safetensors"
    save_weights(ckpt, cnnzoo.create_model("lenet5"))
    assert main(["eval", str(ckpt), "--data", "mnist-sample", "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    evals = tmp_path / "lenet5-mine.json"
    evals.write_text(json.dumps(scored))
    run = make_run(tmp_path / "lenet-run", model="lenet5_relu", top1=93.0, images=False)
    result = compare(runs=[run], evals=[evals], out=tmp_path / "out", measure_speed=False)
    row = result.rows[1]
    assert (row.label, row.model, row.top1, row.dataset) == ("lenet5-mine", "lenet5", scored["top1"], "mnist-sample")
    assert row.params == 60_000  # LeCun et al. 1998, §II.A
    assert "lenet5-mine.safetensors" in row.top1_source and "test split" in row.top1_source
    assert "runs and evaluations on mnist-sample" in result.accuracy
    png_size((tmp_path / "out" / "accuracy_vs_macs.png").read_bytes())
    # another dataset's evaluation, a module's (no registered name), a file that is not one
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**scored, "dataset": "fashion-mnist"}))
    with pytest.raises(ValueError, match="different datasets"):
        compare(runs=[run], evals=[other], out=tmp_path / "o", measure_speed=False)
    unnamed = tmp_path / "unnamed.json"
    unnamed.write_text(json.dumps({**scored, "model": None}))
    with pytest.raises(ValueError, match="names no registered model"):
        compare(evals=[unnamed], out=tmp_path / "o", measure_speed=False)
    bad_option = tmp_path / "bad-option.json"
    bad_option.write_text(json.dumps({**scored, "model_options": {"nope": 1}}))
    with pytest.raises(ValueError, match="bad-option.json: .*unknown option"):
        compare(evals=[bad_option], out=tmp_path / "o", measure_speed=False)
    # no input size recorded: the network's own, as built with its options (a grey ResNet-20)
    grey = tmp_path / "grey.json"
    grey.write_text(json.dumps({**scored, "model": "resnet20", "model_options": {"in_chans": 1},
                                "input_size": None, "checkpoint": None}))
    timed = compare(evals=[grey], out=tmp_path / "grey", batch=2)  # timed as built, grey
    assert timed.rows[0].input_size == (1, 32, 32) and timed.rows[0].images_per_s > 0
    with pytest.raises(FileNotFoundError, match="cnnzoo eval ... --json > FILE"):
        compare(evals=[tmp_path / "missing.json"], out=tmp_path / "o", measure_speed=False)
    with pytest.raises(ValueError, match="given twice"):
        compare(evals=[evals, evals], out=tmp_path / "o", measure_speed=False)
    for folder in ("a", "b"):  # one checkpoint scored twice, in files of one name: told apart by folder
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.json").write_text(json.dumps(scored))
    twice = compare(evals=[tmp_path / "a" / "x.json", tmp_path / "b" / "x.json"], runs=[run],
                    out=tmp_path / "twice", measure_speed=False)
    assert [r.label for r in twice.rows] == ["lenet-run", "a/x (eval)", "b/x (eval)"]
    (tmp_path / "a" / "x.txt").write_text(json.dumps(scored))  # no folder tells these apart
    same = compare(evals=[tmp_path / "a" / "x.json", tmp_path / "a" / "x.txt"], out=tmp_path / "same",
                   measure_speed=False)
    labels = [r.label for r in same.rows]
    assert len(set(labels)) == 2 and not any(label.startswith("/") for label in labels)
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps({**scored, "model_options": [1], "input_size": 5}))
    with pytest.raises(ValueError, match=r"damaged.json: model_options \(list\), input_size \(int\)"):
        compare(evals=[damaged], out=tmp_path / "o", measure_speed=False)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="binary.json is not a JSON text file"):
        compare(evals=[binary], out=tmp_path / "o", measure_speed=False)
    text = tmp_path / "notes.md"
    text.write_text("# my notes\n")
    with pytest.raises(ValueError, match=r"notes.md is not valid JSON: .*; expected the output of `cnnzoo eval"):
        compare(evals=[text], out=tmp_path / "o", measure_speed=False)
    with pytest.raises(IsADirectoryError, match="is a folder .a run. give it with --runs"):
        compare(evals=[run], out=tmp_path / "o", measure_speed=False)
    with pytest.raises(ValueError, match="the evaluations are on different datasets"):
        compare(evals=[evals, other], out=tmp_path / "o", measure_speed=False)
    # a training split's score beside a held-out one is named in a note
    train_split = tmp_path / "train-split.json"
    train_split.write_text(json.dumps({**scored, "split": "training split"}))
    mixed = compare(evals=[evals, train_split], out=tmp_path / "mixed", measure_speed=False)
    assert any("different parts of their data" in n and "training split: train-split" in n for n in mixed.notes)
    # and beside a run's test accuracy
    beside_run = compare(runs=[run], evals=[train_split], out=tmp_path / "beside", measure_speed=False)
    assert ("the accuracies come from different parts of their data: the run's test data: lenet-run; "
            "training split: lenet5-mine") in beside_run.notes


# -- report ----------------------------------------------------------------------------------
def section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', html, re.S)
    assert m, f"section {sid} missing"
    return m.group(1)


def test_report_full_run(tmp_path):
    run = make_run(tmp_path / "run")
    path = write_report(run)
    assert path == run / "report.html"
    html = path.read_text()
    for sid, heading in SECTIONS:
        body = section(html, sid)
        assert heading in body and "Not available" not in body, sid
    # images embedded, and decodable
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3  # curves, confusion matrix, filters
    for data in images:
        png_size(base64.b64decode(data))
    # self-contained: nothing fetched from anywhere
    assert not re.search(r'(src|href)="(https?:|//|file:)', html)
    assert "<link" not in html and "<script" not in html
    assert "lenet5" in section(html, "layers") and "156" in section(html, "layers")  # C1: 156 params (LeCun 1998)
    assert "39.2" in section(html, "compression") and "11,650" in section(html, "speed")  # not 1.165e+04


def test_report_minimal_run_says_what_is_missing(tmp_path):
    run = make_run(tmp_path / "bare", full=False)
    html = render_report(run, measure_speed=False)
    for sid in ("results", "curves", "confusion", "filters", "speed", "compression"):
        assert "Not available" in section(html, sid), sid
    assert "lenet5" in section(html, "configuration")


def test_report_of_a_stopped_run_says_it_is_unfinished(tmp_path):
    run = make_run(tmp_path / "stopped")
    (run / "summary.json").unlink()  # a run killed after epoch 2 of 6 has no summary
    config = json.loads((run / "config.json").read_text())
    config["recipe"]["epochs"] = 6
    (run / "config.json").write_text(json.dumps(config))
    html = render_report(run, measure_speed=False)
    assert "Unfinished or stopped: 2 epochs of 6 recorded" in section(html, "results")
    assert "metrics.csv (2 epochs)" in section(html, "curves")


def test_report_names_a_damaged_bench_json_and_renders_the_rest(tmp_path):
    run = make_run(tmp_path / "r")
    (run / "bench.json").write_text('["not", "a", "bench", "file"]')
    html = render_report(run, measure_speed=False)
    speed = section(html, "speed")
    assert "Not available" in speed and f"{run / 'bench.json'} holds a JSON list" in speed
    assert "Not available" not in section(html, "results")


def test_report_does_not_show_another_models_speed_as_the_runs(tmp_path):
    run = make_run(tmp_path / "r", model="lenet_300_100")
    bench = json.loads((run / "bench.json").read_text())
    bench["results"][0]["model"] = "lenet5"  # e.g. `cnnzoo bench lenet5 --json RUN/bench.json`
    (run / "bench.json").write_text(json.dumps(bench))
    speed = section(render_report(run, measure_speed=False), "speed")
    assert "Not available" in speed and "measures lenet5, not this run&#x27;s lenet_300_100" in speed


def test_report_measures_speed_without_bench_json(tmp_path):
    run = make_run(tmp_path / "r", images=False)
    html = render_report(run)
    assert "measured now" in section(html, "speed")


def test_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a cnnzoo run directory"):
        write_report(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        write_report(bad)
    assert main(["report", str(tmp_path / "nope")]) == 2


def test_cli_report(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    out = tmp_path / "page.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert str(out) in capsys.readouterr().out
    out.write_text("the user's own page")
    assert main(["report", str(run), "--out", str(out)]) == 2  # replaced only when asked
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "the user's own page"
    assert main(["report", str(run), "--out", str(out), "--overwrite"]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("argv, target", [
    (["report", "{run}", "--out", "{run}/config.json", "--overwrite"], "config.json"),
    (["report", "{run}", "--out", "{run}/metrics.csv", "--overwrite"], "metrics.csv"),
    (["bench", "lenet5", "--json", "{run}/best.safetensors", "--overwrite", "--repeats", "3"], "best.safetensors"),
    (["bench", "lenet5", "--json", "{run}/last.ckpt", "--overwrite", "--repeats", "3"], "last.ckpt"),
    (["report", "{run}", "--out", "{run}/curves.png", "--overwrite"], "curves.png"),
    (["report", "{run}", "--out", "{run}/compression/report.json", "--overwrite"], "compression/report.json"),
    (["bench", "lenet5", "--json", "{run}/compression/report.json", "--overwrite"], "compression/report.json"),
])
def test_overwrite_never_replaces_a_runs_weights_or_records(argv, target, tmp_path, capsys, monkeypatch):
    run = make_run(tmp_path / "run")
    for name in ("best.safetensors", "last.ckpt", "compression/lenet5.cnnzc"):
        (run / name).write_bytes(b"weights that took hours")
    before = (run / target).read_bytes()
    monkeypatch.setattr(cnnzoo.cli.errors, "width", 400)
    assert main([a.format(run=run) for a in argv]) == 2
    err = capsys.readouterr().err
    assert f"{run / target} holds" in err and "even with --overwrite" in err
    assert (run / target).read_bytes() == before


# -- rendering in a real browser -------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Injected at the top of <head>: records errors and console.error calls, and after load
# whether every image decoded, into the DOM that --dump-dom prints.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push('error: ' + e.message); });
var __ce = console.error;
console.error = function () { window.__errors.push('console.error: ' + Array.from(arguments).join(' ')); __ce.apply(console, arguments); };
window.addEventListener('load', function () {
  var bad = Array.from(document.images).filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var out = document.createElement('pre');
  out.id = 'probe';
  out.setAttribute('data-errors', String(window.__errors.length));
  out.setAttribute('data-images', String(document.images.length));
  out.setAttribute('data-broken-images', String(bad.length));
  out.textContent = window.__errors.join('\\n');
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`; .ci/run installs it)")
def test_report_renders_in_headless_chromium(tmp_path):
    run = make_run(tmp_path / "run")
    html = write_report(run).read_text()
    page = tmp_path / "probed.html"
    page.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
           "--v=0", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    for sid, heading in SECTIONS:
        assert f'id="{sid}"' in dom and heading in dom, sid
    probe = re.search(r'<pre id="probe" data-errors="(\d+)" data-images="(\d+)" '
                      r'data-broken-images="(\d+)">(.*?)</pre>', dom, re.S)
    assert probe, "the page's load handler did not run"
    errors, images, broken, text = probe.groups()
    assert errors == "0", text
    assert images == "3" and broken == "0"
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console


def test_compare_runs_given_twice_same_names_or_no_match(tmp_path):
    a = make_run(tmp_path / "a" / "run", images=False)
    b = make_run(tmp_path / "b" / "run", model="lenet5_relu", top1=90.0, images=False)
    result = compare(runs=[a, b], out=tmp_path / "cmp", measure_speed=False)
    assert sorted(r.label for r in result.rows) == ["a/run", "b/run"]  # not two rows called "run"
    c, d = make_run(tmp_path / "c" / "x" / "run", images=False), make_run(tmp_path / "d" / "x" / "run", images=False)
    labels = sorted(r.label for r in compare(runs=[c, d], out=tmp_path / "cmp0", measure_speed=False).rows)
    assert labels == ["c/x/run", "d/x/run"]
    (b / "summary.json").unlink()  # stopped before its last epoch
    result = compare(runs=[a, b], out=tmp_path / "cmp1", measure_speed=False)
    assert any("unfinished or stopped" in n and "b/run" in n for n in result.notes)
    with pytest.raises(ValueError, match="is given twice"):
        compare(runs=[a, tmp_path / "a" / ".." / "a" / "run"], out=tmp_path / "cmp2", measure_speed=False)
    with pytest.raises(ValueError, match=r"none of the runs' models \(lenet5, lenet5_relu\) is among alexnet"):
        compare(["alexnet"], runs=[a, b], out=tmp_path / "cmp3", measure_speed=False)


def test_a_json_named_like_a_compression_report_is_one_only_beside_its_file(tmp_path, capsys):
    out = tmp_path / "speed.report.json"  # no speed.cnnzc beside it: bench's own output
    for _ in range(2):
        assert main(["bench", "lenet5", "--repeats", "3", "--json", str(out), "--overwrite"]) == 0
    (tmp_path / "speed.cnnzc").write_bytes(b"a compressed model")
    assert main(["bench", "lenet5", "--repeats", "3", "--json", str(out), "--overwrite"]) == 2
    assert "holds a compression report" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(models=[]), ValueError, "models is an empty list: name at least one, or pass None for all"),
    (dict(models=(), runs=None), ValueError, "models is an empty list"),
    (dict(models=None, runs=[]), ValueError, "runs is an empty list"),
    (dict(models=None, evals=[]), ValueError, "evals is an empty list"),
    (dict(models=["lenet5"], bench_json=[]), ValueError, "bench_json is an empty list"),
    (dict(models=["lenet5"], batch=0), ValueError, "batch must be a positive integer, got int 0"),
    (dict(models=["lenet5"], batch=-3), ValueError, "batch must be a positive integer"),
    (dict(models=["lenet5"], batch=2.5), ValueError, "batch must be a positive integer, got float"),
    (dict(models=["lenet5"], batch="x"), ValueError, "batch must be a positive integer, got str"),
    (dict(models=["lenet5"], measure_speed="no"), TypeError, "measure_speed must be True, False or None"),
    (dict(models=["lenet5"], overwrite="yes"), TypeError, "overwrite must be True or False"),
    (dict(models=["lenet5"], out=None), TypeError, "out must be a folder"),
    (dict(models=["lenet5"], progress="x"), TypeError, "progress must be a function"),
])
def test_compare_arguments_are_checked_before_any_work(kwargs, error, message, tmp_path):
    kwargs = {"out": tmp_path / "o", "measure_speed": False, **kwargs}
    with pytest.raises(error, match=message):
        compare(**kwargs)
    assert not (tmp_path / "o").exists()


def test_cli_compare_without_models_compares_the_zoo(monkeypatch, tmp_path):
    seen = {}

    def fake(models, **kwargs):
        seen["models"] = models
        raise SystemExit(0)

    monkeypatch.setattr("cnnzoo.report.compare", fake)
    with pytest.raises(SystemExit):
        main(["compare", "--out", str(tmp_path / "o"), "--no-speed"])
    assert seen["models"] is None  # None, not [], which compare refuses


def test_report_arguments_are_checked(tmp_path):
    run = make_run(tmp_path / "r", images=False)
    with pytest.raises(TypeError, match="expected the path of a run directory .*, got NoneType None"):
        write_report(None)
    with pytest.raises(TypeError, match="expected the path of a run directory .*, got int 5"):
        render_report(5)
    with pytest.raises(TypeError, match="expected the path of a run directory .*, got list"):
        cnnzoo.report.runs.load_run(["runs/a"])
    with pytest.raises(TypeError, match="measure_speed must be True or False"):
        write_report(run, measure_speed="no")
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        write_report(run, overwrite="yes")
    with pytest.raises(TypeError, match="out must be the HTML file to write"):
        write_report(run, 5)
    assert not (run / "report.html").exists()
