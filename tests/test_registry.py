"""The registry and the model interface, for every registered model."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

import cnnzoo
from cnnzoo.models.base import Classifier

from conftest import build_on_meta, multiply_adds, n_params

ALL = cnnzoo.list_models()
ROOT = Path(__file__).resolve().parent.parent


def test_registry_is_populated():
    assert "lenet5" in ALL and "alexnet" in ALL and "vgg16" in ALL


def test_unknown_name_lists_closest():
    with pytest.raises(ValueError, match="alexnet"):
        cnnzoo.create_model("alexnte")


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match="colour"):
        cnnzoo.create_model("lenet5", colour="red")


@pytest.mark.parametrize("option, expected", [
    ({"zero_init_residual": "maybe"}, "zero_init_residual must be true or false, got 'maybe'"),
    ({"num_classes": 10.0}, "num_classes must be an integer, got 10.0"),
    ({"drop_rate": "high"}, "drop_rate must be a finite number, got 'high'"),
])
def test_option_values_of_the_wrong_type_are_named(option, expected):
    with pytest.raises(TypeError, match=expected):
        build_on_meta("resnet18", **option)


@pytest.mark.parametrize("name", ["resnet20", "densenet_bc_100_k12", "mobilenet_v2", "highway"])
@pytest.mark.parametrize("rate", [1.0, -0.1])
def test_dropout_outside_0_to_1_is_named(name, rate):
    # a dropout of 1 zeroes every feature; nn.Dropout itself would take it
    with pytest.raises(ValueError, match=rf"drop_rate must be a number in \[0, 1\), got float {rate}"):
        build_on_meta(name, drop_rate=rate)


def test_well_typed_options_pass():
    model = build_on_meta("resnet18", num_classes=10, drop_rate=0, zero_init_residual=True)
    assert model.num_classes == 10


def test_model_info_has_paper_and_input():
    info = cnnzoo.model_info("alexnet")
    assert info.paper.year == 2012 and "Krizhevsky" in info.paper.authors
    assert info.input_size == (3, 227, 227)


def test_list_models_pattern():
    assert set(cnnzoo.list_models("vgg1*")) >= {"vgg11", "vgg13", "vgg16", "vgg19"}
    assert all(n.startswith("vgg") for n in cnnzoo.list_models("vgg*"))


@pytest.mark.parametrize("name", ALL)
def test_interface(name):
    model = build_on_meta(name)
    info = cnnzoo.model_info(name)
    assert isinstance(model, Classifier)
    assert model.name == name
    assert model.default_input_size == info.input_size
    assert model.in_chans == info.input_size[0]
    x = torch.empty(2, *model.default_input_size, device="meta")
    out = model.eval().forward_head(model.forward_features(x))
    assert isinstance(out, torch.Tensor) and out.shape == (2, model.num_classes)
    logits, aux = model.train().forward_train(x)
    assert logits.shape == (2, model.num_classes)
    assert all(a.shape == (2, model.num_classes) for a in aux)
    if aux:  # forward never returns the auxiliary heads, in train mode either
        out = model(x)
        assert isinstance(out, torch.Tensor) and out.shape == (2, model.num_classes)


@pytest.mark.parametrize("name", ALL)
def test_reset_classifier_and_options(name):
    model = build_on_meta(name, num_classes=7)
    assert model.num_classes == 7
    model.reset_classifier(5)
    x = torch.empty(1, *model.default_input_size, device="meta")
    assert model.eval()(x).shape == (1, 5)


def test_reset_classifier_refuses_a_bad_count_and_keeps_the_model():
    model = cnnzoo.create_model("resnet20")
    for bad in ("5", 0, -1, True, 2.0):
        with pytest.raises(ValueError, match="num_classes must be a positive integer"):
            model.reset_classifier(bad)
        assert model.num_classes == 10 and model.fc.out_features == 10
    lenet = cnnzoo.create_model("lenet5")
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got int -1"):
        lenet.reset_classifier(-1)
    assert lenet.num_classes == 10 and lenet(torch.zeros(1, 1, 32, 32)).shape == (1, 10)


def test_numpy_numbers_are_options_and_counts():
    """A sweep over np.arange passes numpy numbers; they arrive as Python's own (JSON-writable)."""
    np = pytest.importorskip("numpy")
    model = cnnzoo.create_model("alexnet_tv", num_classes=np.int64(10), dropout=np.float32(0.25))
    assert type(model.num_classes) is int and model.num_classes == 10
    model.reset_classifier(np.int64(7))
    assert type(model.num_classes) is int and model.classifier[-1].out_features == 7


def test_input_of_another_dtype_is_a_clear_error():
    model = cnnzoo.create_model("resnet20").eval()
    with pytest.raises(TypeError, match=r"resnet20 expects floating-point input, got torch.uint8"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"holds torch.float32 weights and expects torch.float32 input, got torch.float64"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.float64))
    assert model.double()(torch.zeros(1, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts for the layers: allowed
        assert model.float()(torch.zeros(1, 3, 32, 32, dtype=torch.bfloat16)).shape == (1, 10)


@pytest.mark.parametrize("name, changes, expected", [
    ("MyNet", {}, r"lower case.*got str 'MyNet'; register 'mynet'"),
    ("my-net", {}, r"register 'my_net'"),
    (None, {}, r"got NoneType None"),
    ("", {}, r"got str ''"),
    ("my_net", {"input_size": (32, 32)}, r"input_size must be C×H×W, three positive integers .*got tuple \(32, 32\)"),
    ("my_net", {"paper": None}, r"paper must be a cnnzoo.Paper"),
    ("my_net", {"layout": "keras"}, r"layout must be 'paper' or 'torchvision'"),
    ("my_net", {"builder": lambda: None}, r"builder must be a function taking num_classes= and in_chans=.* "
                                           r"without num_classes and in_chans"),
])
def test_a_registration_that_could_not_be_looked_up_is_refused(name, changes, expected):
    args = dict(family="mine", paper=cnnzoo.Paper("A net", "Me", 2024, "arXiv"), input_size=(3, 32, 32),
                description="mine")
    builder = changes.pop("builder", lambda num_classes=10, in_chans=3: torch.nn.Linear(in_chans, num_classes))
    args.update(changes)
    with pytest.raises((TypeError, ValueError), match=expected):
        cnnzoo.register_model(name, **args)(builder)
    assert cnnzoo.list_models() == ALL and cnnzoo.create_model("resnet20").name == "resnet20"


@pytest.mark.parametrize("name", ALL)
def test_wrong_input_is_a_clear_error(name):
    model = build_on_meta(name)
    c, h, w = model.default_input_size
    expected = "×".join(map(str, model.default_input_size)) if model.min_input_size is None else "H ≥"
    with pytest.raises(ValueError, match=name) as err:
        model(torch.empty(1, c + 1, h, w, device="meta"))
    assert expected in str(err.value)
    too_small = (h - 1, w) if model.min_input_size is None else (model.min_input_size[0] - 1, w)
    if too_small[0] >= 1:
        with pytest.raises(ValueError, match=name):
            model(torch.empty(1, c, *too_small, device="meta"))
    with pytest.raises(ValueError, match=name):
        model(torch.empty(c, h, w, device="meta"))
    with pytest.raises(ValueError, match=name):  # the interface's other entry point checks too
        model.forward_features(torch.empty(1, c + 1, h, w, device="meta"))


@pytest.mark.parametrize("name", ALL)
def test_smallest_input_runs_and_every_parameter_gets_a_gradient(name):
    """Real arithmetic at the smallest size the model declares it takes."""
    if cnnzoo.count_parameters(name) > 30_000_000:
        pytest.skip("large model: its shapes are checked on the meta device above")
    model = cnnzoo.create_model(name)
    size = model.min_input_size or model.default_input_size[1:]
    x = torch.randn(2, model.in_chans, *size)
    model.train()
    logits, aux = model.forward_train(x)
    assert logits.shape == (2, model.num_classes)
    loss = logits.square().mean() + sum(a.square().mean() for a in aux)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reaches {missing[:5]}"


def _counted_figures():
    for name in ALL:
        for figure in cnnzoo.model_info(name).figures:
            if figure.metric in ("params", "macs"):
                yield pytest.param(name, figure, id=f"{name}-{figure.metric}-{figure.source[:24]}")


@pytest.mark.parametrize("name, figure", list(_counted_figures()))
def test_published_counts_describe_the_registered_model(name, figure):
    """Every published parameter count and multiply-add figure is the registered network's.
    torchvision's and timm's metadata count the same network exactly (their GFLOPS to three
    decimals); the papers print two or three significant digits and keep their own
    conventions (He et al. 2016's 10.2M leaves out the batch norms' 0.13M, He et al. 2015
    prints 3.6 GFLOPs for 3.66, Howard et al. 0.5M for 0.47M), hence 7 %."""
    options = {"num_classes": 100} if figure.dataset == "CIFAR-100" else {}
    if "without auxiliary heads" in figure.source:
        options["aux_logits"] = False
    model = build_on_meta(name, **options)
    if figure.metric == "params":
        counted = n_params(model)
    else:
        counted = multiply_adds(model, model.default_input_size[1])
    library = figure.source.startswith(("torchvision", "timm"))
    if library and figure.metric == "params":
        assert counted == figure.value
    else:
        assert counted == pytest.approx(figure.value, rel=0.005 if library else 0.07)


def test_readme_model_table_in_sync():
    res = subprocess.run([sys.executable, str(ROOT / "scripts/model_table.py"), "--check"])
    assert res.returncode == 0, "README's model table is stale: run python scripts/model_table.py"


def test_cli_list_and_info():
    from cnnzoo.cli import main

    assert main(["list", "lenet*"]) == 0
    assert main(["info", "alexnet"]) == 0
    assert main(["info", "alexnte"]) == 2


@pytest.mark.parametrize("name, figure", [
    pytest.param(name, f, id=f"{name}-{f.metric}")
    for name in ALL for f in cnnzoo.model_info(name).figures
    if f.metric in ("params", "macs") and f.source.startswith("torchvision")])
def test_torchvision_figures_are_its_weights_metadata(name, figure):
    """The figures model_info credits to torchvision are the ones its weights' metadata holds
    (``num_params``; ``_ops`` in GFLOPS, i.e. 10⁹ multiply-adds), read here from torchvision."""
    enum, tag = re.search(r"(\w+_Weights)\.(\w+)", figure.source).groups()
    meta = getattr(torchvision.models, enum)[tag].meta
    expected = meta["num_params"] if figure.metric == "params" else meta["_ops"] * 1e9
    assert figure.value == pytest.approx(expected)
