"""`cnnzoo bench`: the JSON's structure and its internal consistency (no wall-clock
thresholds), the multiply-add counts against torchvision's published figures, clear errors."""

import json
import stat
import statistics

import numpy as np
import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.bench import Timing, bench, bench_model, count_macs, measure_peak, torchvision_counterpart
from cnnzoo.cli import main
from conftest import cli_error

TIMING_KEYS = {"median", "q1", "q3", "min", "max", "runs"}


@pytest.fixture(scope="module")
def peaks():
    # a small product: these tests check definitions, not the machine's true peak
    return {"float32": measure_peak("cpu", size=256, repeats=2)}


def check_timing(t: dict, max_runs: int):
    assert set(t) == TIMING_KEYS
    assert 0 < t["min"] <= t["q1"] <= t["median"] <= t["q3"] <= t["max"]
    assert min(3, max_runs) <= t["runs"] <= max_runs


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "out" / "bench.json"
    rep = bench(["resnet20", "lenet5"], batch=4, repeats=4, warmup=1, max_seconds=5.0,
                json_path=path)
    return rep, path


def test_json_file_is_the_report(report):
    rep, path = report
    assert json.loads(path.read_text()) == json.loads(json.dumps(rep))
    assert not list(path.parent.glob(".*.tmp"))  # the temporary file was renamed away


def test_json_file_has_the_permissions_open_gives(report):
    _, path = report
    reference = path.parent / "reference.txt"
    reference.write_text("written by open()")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_report_structure(report):
    rep, _ = report
    assert set(rep) == {"machine", "peak_macs_per_s", "settings", "results"}
    assert rep["machine"]["device"] == "cpu" and rep["machine"]["torch"] == torch.__version__
    assert rep["peak_macs_per_s"]["float32"] > 0
    assert [r["model"] for r in rep["results"]] == ["resnet20", "lenet5"]


def test_result_definitions_hold(report):
    rep, _ = report
    for r in rep["results"]:
        check_timing(r["latency_ms"], 4)
        check_timing(r["batch_ms"], 4)
        assert r["batch"] == 4 and r["mode"] == "fast" and r["dtype"] == "float32"
        # the module docstring's definitions
        assert r["images_per_s"] == pytest.approx(4 / (r["batch_ms"]["median"] / 1e3))
        assert r["macs_per_s"] == pytest.approx(r["macs_per_image"] * r["images_per_s"])
        assert r["fraction_of_peak"] == pytest.approx(r["macs_per_s"] / r["peak_macs_per_s"])
        paired = r["fraction_of_round_product"]
        assert len(paired["rounds"]) == r["batch_ms"]["runs"]
        assert paired["median"] == pytest.approx(statistics.median(paired["rounds"]))
        assert 0 < paired["q1"] <= paired["median"] <= paired["q3"]
        assert r["peak_macs_per_s"] == rep["peak_macs_per_s"]["float32"]
        assert r["params"] == cnnzoo.count_parameters(r["model"])


def test_run_peak_is_the_best_rate_seen(report):
    # the peak is re-sampled next to each model; every fraction is against the run's best
    rep, _ = report
    best = max(r["peaks_seen"]["float32"] for r in rep["results"])
    assert rep["peak_macs_per_s"]["float32"] == best
    seen = [r["peaks_seen"]["float32"] for r in rep["results"]]
    assert seen == sorted(seen)  # each model's record includes everything measured before it


class _Machine:
    """A fake clock for cnnzoo.bench and cnnzoo._timing (their ``time`` module) and the load on the machine, which
    changes at every throughput call of the model (one per round): a call takes its base time
    times the load, and so does the product that follows it in the round."""

    def __init__(self, loads):
        self.loads, self.calls, self.now = loads, 0, 0.0

    def perf_counter(self):
        return self.now

    def spend(self, seconds):
        self.now += seconds * self.loads[self.calls % len(self.loads)]


class _Loaded(torch.nn.Module):
    def __init__(self, machine, seconds):
        super().__init__()
        self.machine, self.seconds = machine, seconds

    def forward(self, x):
        if len(x) > 1:  # a throughput call starts a new round
            self.machine.calls += 1
        self.machine.spend(self.seconds)
        return x


def _bench_on(machine, monkeypatch, *, model_s, product_s, product_macs=10**9, **kwargs):
    monkeypatch.setattr(cnnzoo.bench, "time", machine)
    monkeypatch.setattr(cnnzoo._timing, "time", machine)
    monkeypatch.setattr(cnnzoo.bench, "_matmul", lambda device, dtype, size=None: (
        lambda: machine.spend(product_s), product_macs))
    return bench_model(_Loaded(machine, model_s), batch=2, input_size=(1, 2, 2), fast=False,
                       peaks={"float32": 1.0}, **kwargs)


def test_round_product_fraction_cancels_a_load_that_changes_between_rounds(monkeypatch):
    # At load L the product does 10⁹ multiply-adds in 0.05 s × L (20 GMAC/s ÷ L) and the model
    # 2 images × 2.4·10⁹ in 0.4 s × L (12 GMAC/s ÷ L): 0.6 of the product at any load. The
    # fraction of the same-round product must read 0.6 in every round; the median rate against
    # the best product of the run reads 0.6 × min(load) / median(load) = 0.6 × 1 / 2.5.
    machine = _Machine([1, 4, 2, 6, 1, 3])
    monkeypatch.setattr(cnnzoo.bench, "count_macs", lambda model, size: (24 * 10**8, "test"))
    r = _bench_on(machine, monkeypatch, model_s=0.4, product_s=0.05, warmup=1,
                  repeats=len(machine.loads), max_seconds=1e9)
    # 0.2 s, half the model's call, of 0.05 s products: 4 per round
    assert r["peak_product_calls_per_round"] == {"float32": 4}
    assert r["fraction_of_round_product"]["rounds"] == pytest.approx([0.6] * len(machine.loads))
    assert r["fraction_of_peak"] == pytest.approx(0.6 / 2.5)


def test_the_product_lasts_about_half_the_models_call_within_limits(monkeypatch):
    def calls(model_s, product_s):
        r = _bench_on(_Machine([1]), monkeypatch, model_s=model_s, product_s=product_s,
                      warmup=0, repeats=1)
        return r["peak_product_calls_per_round"]["float32"]

    assert calls(0.4, 0.02) == 10
    assert calls(0.4, 1.0) == 1  # at least one product
    assert calls(10.0, 0.1) == 10  # at most a second


def test_a_given_peak_is_never_lowered(peaks):
    inflated = {"float32": peaks["float32"] * 1e6}  # no product runs a million times faster
    r = bench_model("lenet5", batch=2, warmup=0, repeats=2, peaks=inflated)
    assert r["peak_macs_per_s"] == inflated["float32"]
    low = {"float32": 1.0}  # 1 MAC/s: the product sampled between the runs replaces it
    r = bench_model("lenet5", batch=2, warmup=0, repeats=2, peaks=low)
    assert r["peak_macs_per_s"] > 1e6


def test_resnet20_settings_record_the_fast_path(report):
    r = report[0]["results"][0]
    s = r["settings"]
    # He et al. 2015 §4.2: 6n+1 = 19 convolutions with batch norm for n = 3, all folded
    assert s["fold_bn"] == 19 and s["inference_mode"] is True and s["amp"] is None
    assert isinstance(s["channels_last"], bool) and set(s["channels_last_trial_s"]) == {
        "contiguous", "channels_last"}


@pytest.mark.parametrize("name, weights", [
    ("mobilenet_v2", torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1),
    ("resnet50_tv", torchvision.models.ResNet50_Weights.IMAGENET1K_V1),
    ("densenet121", torchvision.models.DenseNet121_Weights.IMAGENET1K_V1),
])
def test_macs_match_torchvision_published_ops(name, weights):
    # torchvision's "_ops" (labelled GFLOPS) counts one multiply-add as one operation
    macs, source = count_macs(name)
    assert source
    assert macs == pytest.approx(weights.meta["_ops"] * 1e9, rel=0.01)


def test_against_torchvision_times_both(peaks):
    r = bench_model("mobilenet_v2", batch=2, input_size=(3, 64, 64), against="torchvision",
                    warmup=1, repeats=3, max_seconds=2.0, peaks=peaks)
    tv = r["torchvision"]
    assert tv["model"] == "torchvision.models.mobilenet_v2"
    assert tv["params"] == sum(p.numel() for p in torchvision.models.mobilenet_v2().parameters())
    assert tv["same_parameter_count"] is True
    check_timing(tv["latency_ms"], 3)
    assert r["speedup"] == pytest.approx(r["images_per_s"] / tv["images_per_s"])
    assert r["latency_speedup"] == pytest.approx(tv["latency_ms"]["median"] / r["latency_ms"]["median"])
    assert r["input_size"] == [3, 64, 64]


def test_plain_mode_and_module_input(peaks):
    model = cnnzoo.create_model("lenet5")
    r = bench_model(model, batch=2, fast=False, warmup=0, repeats=2, peaks=peaks)
    assert r["mode"] == "plain" and r["settings"] == {"plain_eval": True}
    assert r["model"] == "lenet5" and r["latency_ms"]["runs"] == 2


def test_counterpart_mapping():
    # DESIGN.md: <arch>_tv is torchvision's layout of <arch>
    assert torchvision_counterpart("resnet50_tv") == "resnet50"
    assert torchvision_counterpart("googlenet_tv") == "googlenet"
    assert torchvision_counterpart("vgg16") == "vgg16"
    assert torchvision_counterpart("densenet121") == "densenet121"
    with pytest.raises(ValueError, match="no torchvision counterpart"):
        torchvision_counterpart("lenet5")


def test_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet2O'; closest: .*resnet20"):
        bench(["resnet2O"])
    with pytest.raises(ValueError, match="lenet5 has no torchvision counterpart"):
        bench(["mobilenet_v2", "lenet5"], against="torchvision")
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        bench_model("lenet5", batch=0)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        bench(["lenet5"], threads=0)
    with pytest.raises(ValueError, match="lenet5 expects 1×32×32 input"):
        bench_model("lenet5", input_size=(3, 32, 32))
    said = []  # a size the second model cannot take stops the run before the first is timed
    with pytest.raises(ValueError, match="resnet20 expects 3×H×W input"):
        bench(["lenet5", "resnet20"], input_size=(1, 32, 32), progress=said.append)
    assert said == []
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            bench(["lenet5"], device="cuda")


def test_timing_summary():
    t = Timing.of([0.004, 0.001, 0.003, 0.002, 0.005])
    assert (t.min, t.q1, t.median, t.q3, t.max, t.runs) == pytest.approx((1, 2, 3, 4, 5, 5))


def test_cli_bench_writes_json(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "lenet5", "--batch", "2", "--repeats", "3", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["results"][0]["model"] == "lenet5" and data["settings"]["batch"] == 2
    assert "lenet5" in capsys.readouterr().out


def test_cli_bench_errors_are_one_line(capsys):
    assert main(["bench", "lenet5", "--against", "torchvision"]) == 2
    assert "no torchvision counterpart" in capsys.readouterr().err


def test_an_input_of_one_number_keeps_each_models_channels():
    # `--input 32`: LeNet-5 reads gray 32×32 digits (LeCun et al. 1998, Sec. II-B), VGG colour
    report = bench(["lenet5", "vgg11"], batch=2, input_size=(None, 32, 32), repeats=3)
    assert [r["input_size"] for r in report["results"]] == [[1, 32, 32], [3, 32, 32]]


def test_results_name_the_model_as_registered():
    # names are matched case-insensitively (`cnnzoo bench LeNet5`); runs record the registered name
    assert bench(["LeNet5"], batch=2, repeats=3)["results"][0]["model"] == "lenet5"


def test_the_peak_product_reads_pytorchs_new_fp32_precision_settings():
    # Once a user sets torch.backends.*.fp32_precision, reading the legacy allow_tf32 flags
    # raises ("a mix of the legacy and new APIs"): bench read them even on a CPU.
    from cnnzoo.bench import _conv_fp32_precision

    backends = torch.backends
    saved = backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision
    try:
        backends.cuda.matmul.fp32_precision = "tf32"
        backends.cudnn.conv.fp32_precision = "ieee"
        assert measure_peak("cpu", size=64, repeats=1) > 0
        assert _conv_fp32_precision() == "ieee"  # the product follows the convolutions' setting
    finally:
        backends.cuda.matmul.fp32_precision, backends.cudnn.conv.fp32_precision = saved


def test_the_peak_product_follows_cudnns_tf32_setting_made_the_legacy_way():
    # PyTorch (2.14) records `cudnn.allow_tf32 = False` as fp32_precision "none" at every
    # level, which is plain IEEE float32, as the matmul's default "none" is.
    from cnnzoo.bench import _conv_fp32_precision

    backends = torch.backends
    before = backends.cudnn.allow_tf32
    try:
        backends.cudnn.allow_tf32 = True  # PyTorch's default for convolutions
        assert _conv_fp32_precision() == "tf32"
        backends.cudnn.allow_tf32 = False
        assert _conv_fp32_precision() == "ieee"
    finally:
        backends.cudnn.allow_tf32 = before  # as it was for the tests after this one


def test_cli_bench_builds_each_model_with_the_options_given(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "mobilenet_v1", "--option", "width_mult=0.5", "--option", "resolution=128",
                 "--batch", "2", "--repeats", "2", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert result["model"] == "mobilenet_v1(resolution=128, width_mult=0.5)"
    # Howard et al. 2017, Table 6: 0.50 MobileNet has 1.3 million parameters; at 128×128 it does
    # 49 million multiply-adds (the authors' TF-slim release, mobilenet_v1.md: MobileNet_v1_0.5_128)
    assert round(result["params"] / 1e6, 1) == 1.3 and result["input_size"] == [3, 128, 128]
    assert round(result["macs_per_image"] / 1e6) == 49
    capsys.readouterr()
    assert "takes no --option" in cli_error(["bench", "resnet50_tv", "--option", "num_classes=5", "--against",
                                             "torchvision"], capsys)


def test_cli_bench_with_options_refuses_a_model_named_twice_and_a_wrong_input_before_timing(capsys):
    assert "given twice" in cli_error(["bench", "lenet5", "LeNet5", "--option", "num_classes=5"], capsys)
    err = cli_error(["bench", "lenet5", "--option", "num_classes=5", "--input", "3x32x32"], capsys)
    assert "expects 1×32×32 input, got 3×32×32" in err and "measuring the peak" not in err


def test_two_modules_of_one_architecture_are_two_models():
    # built with other options, they are other networks: bench refuses only a name given twice
    report = bench([cnnzoo.create_model("lenet5"), cnnzoo.create_model("lenet5", num_classes=3)],
                   batch=2, repeats=2)
    assert len(report["results"]) == 2


@pytest.fixture
def no_timing(monkeypatch):
    """Checks must refuse before any work: timing or a peak product fails the test."""
    def timed(*args, **kwargs):
        raise AssertionError("timed before the arguments were checked")

    monkeypatch.setattr(cnnzoo.bench, "_timed_rounds", timed)
    monkeypatch.setattr(cnnzoo.bench, "_matmul", timed)


def test_arguments_are_checked_before_any_work(no_timing, tmp_path):
    with pytest.raises(TypeError, match="fast must be True or False, got str 'no'"):
        bench_model("lenet5", fast="no", repeats=1, max_seconds=1, batch=2)
    with pytest.raises(ValueError, match=r"peaks\['float32'\] must be a positive number .* got str 'fast'"):
        bench_model("lenet5", peaks={"float32": "fast"}, repeats=1)
    with pytest.raises(ValueError, match=r"peaks\['float32'\] must be a positive number .* got float -1.0"):
        bench_model("lenet5", peaks={"float32": -1.0}, repeats=1)
    with pytest.raises(ValueError, match="'fp32' is not a dtype name; expected one of float32, "):
        bench_model("lenet5", peaks={"fp32": 1e9}, repeats=1)
    # the words summarize and count_macs use
    with pytest.raises(ValueError, match=r"Conv2d has no default_input_size: pass input_size=\(C, H, W\)"):
        bench_model(torch.nn.Conv2d(3, 4, 3), repeats=1)
    with pytest.raises(ValueError, match="input size must be C×H×W, three positive integers"):
        bench_model(torch.nn.Conv2d(3, 4, 3), input_size=(3, -1, 8))
    with pytest.raises(ValueError, match="repeats must be a positive integer, got int 0"):
        bench_model("lenet5", repeats=0)
    with pytest.raises(ValueError, match="warmup must be an integer ≥ 0, got int -1"):
        bench_model("lenet5", warmup=-1)
    with pytest.raises(ValueError, match="max_seconds must be a number of seconds ≥ 0, got str '5'"):
        bench_model("lenet5", max_seconds="5")
    with pytest.raises(ValueError, match="channels_last must be True, False or 'auto', got str 'no'"):
        bench_model("lenet5", channels_last="no")
    with pytest.raises(TypeError, match="model must be a registered name or an nn.Module, got NoneType"):
        bench_model(None)
    said = []
    with pytest.raises(ValueError, match="batch must be a positive integer, got int 0"):
        bench(["lenet5"], batch=0, progress=said.append)
    with pytest.raises(TypeError, match="compile must be True, False or a torch.compile mode name"):
        bench(["lenet5"], compile=1, progress=said.append)
    with pytest.raises(ValueError, match="amp must be one of auto, bf16, fp16, none"):
        bench(["lenet5"], amp="int8", progress=said.append)
    with pytest.raises(ValueError, match="Conv2d has no default_input_size"):
        bench(["lenet5", torch.nn.Conv2d(3, 4, 3)], progress=said.append)
    assert said == []  # nothing was measured
    # "no" is truthy: taken as a flag it would replace the file
    kept = tmp_path / "bench.json"
    kept.write_text("an earlier run")
    with pytest.raises(TypeError, match="overwrite must be True or False, got str 'no'"):
        bench(["lenet5"], json_path=kept, overwrite="no")
    assert kept.read_text() == "an earlier run"


def test_measure_peak_checks_its_arguments(no_timing):
    with pytest.raises(TypeError, match="dtype must be a floating torch dtype .* got str 'fp32'"):
        measure_peak(dtype="fp32")
    with pytest.raises(TypeError, match="dtype must be a floating torch dtype .* got dtype torch.int64"):
        measure_peak(dtype=torch.int64)
    with pytest.raises(ValueError, match="repeats must be a positive integer, got int 0"):
        measure_peak(size=64, repeats=0)
    with pytest.raises(ValueError, match="size must be a positive integer, got int -5"):
        measure_peak(size=-5)
    with pytest.raises(ValueError, match="size must be a positive integer, got int 0"):
        measure_peak(size=0)  # not the default size in disguise
    with pytest.raises(TypeError, match="device must be .* got dtype torch.float32"):
        measure_peak(torch.float32)


def test_numpy_numbers_are_taken_as_python_numbers():
    # a sweep over np.arange passes numpy's numbers; the result must still be JSON
    assert measure_peak(dtype="float32", size=np.int64(64), repeats=np.int64(1)) > 0
    r = bench_model("lenet5", batch=np.int64(2), repeats=np.int64(1), warmup=np.int64(0),
                    input_size=(np.int64(1), 32, 32), peaks={"float32": np.float64(1e9)},
                    fast=np.bool_(False))
    assert r["batch"] == 2 and r["input_size"] == [1, 32, 32] and r["mode"] == "plain"
    json.dumps(r)


class _FailsOnRealInput(torch.nn.Module):
    """Counted on the meta device like any module, then fails when timed."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)

    def forward(self, x):
        if x.device.type != "meta":
            raise RuntimeError("fails when timed")
        return self.bn(self.conv(x))


def test_plain_mode_gives_the_callers_modes_back():
    # a network in training with one batch norm frozen (eval): timed in eval mode, returned as it was
    model = cnnzoo.create_model("resnet20").train()
    frozen = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)).eval()
    modes = [m.training for m in model.modules()]
    bench_model(model, fast=False, batch=2, repeats=1, input_size=(3, 32, 32))
    assert [m.training for m in model.modules()] == modes and not frozen.training
    failing = _FailsOnRealInput().train()
    failing.bn.eval()
    with pytest.raises(RuntimeError, match="fails when timed"):
        bench_model(failing, fast=False, batch=2, repeats=1, input_size=(3, 8, 8))
    assert failing.training and failing.conv.training and not failing.bn.training


def test_bench_takes_models_from_a_generator():
    # the checks read the models once before the timing reads them again
    report = bench((m for m in ["lenet5"]), batch=2, repeats=1)
    assert [r["model"] for r in report["results"]] == ["lenet5"]


def test_a_bfloat16_module_is_timed_on_bfloat16_input():
    """Its shape probe and its timed batches are in the module's dtype (float32 ones were refused)."""
    net = cnnzoo.create_model("lenet5").to(torch.bfloat16)
    result = cnnzoo.bench_model(net, batch=2, repeats=1, warmup=0, max_seconds=1, fast=False)
    assert result["input_size"] == [1, 32, 32] and result["mode"] == "plain"
