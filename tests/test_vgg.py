"""VGG (Simonyan & Zisserman 2014): Table 1's configurations, torchvision equivalence, and
the paper's dense evaluation (§3.2)."""

import math

import pytest
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.layers import LocalResponseNorm

from conftest import build_on_meta, n_params

TORCHVISION = {  # our name: torchvision's builder and weights enum
    "vgg11": "VGG11", "vgg13": "VGG13", "vgg16": "VGG16", "vgg19": "VGG19",
    "vgg11_bn": "VGG11_BN", "vgg13_bn": "VGG13_BN", "vgg16_bn": "VGG16_BN",
    "vgg19_bn": "VGG19_BN",
}


def weights_meta(name):
    return getattr(torchvision.models, f"{TORCHVISION[name]}_Weights").IMAGENET1K_V1.meta


def torchvision_on_meta(name):
    with torch.device("meta"):
        return getattr(torchvision.models, name)()


def weight_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("name, depth", [  # Table 1's header: "11 weight layers", ...
    ("vgg11", 11), ("vgg11_lrn", 11), ("vgg13", 13), ("vgg16_c", 16), ("vgg16", 16),
    ("vgg19", 19),
])
def test_table_1_depths(name, depth):
    assert len(weight_layers(build_on_meta(name))) == depth


def test_configuration_c_has_its_1x1_layers():
    convs = [m for m in build_on_meta("vgg16_c").features if isinstance(m, nn.Conv2d)]
    # Table 1, column C: the last layer of stages 3, 4 and 5 is conv1-256 / conv1-512.
    assert [m.kernel_size[0] for m in convs] == [3, 3, 3, 3, 3, 3, 1, 3, 3, 1, 3, 3, 1]
    assert [m.out_channels for m in convs if m.kernel_size == (1, 1)] == [256, 512, 512]


def test_configuration_a_lrn_normalises_after_the_first_layer():
    features = build_on_meta("vgg11_lrn").features
    kinds = [type(m) for m in features][:4]
    assert kinds == [nn.Conv2d, nn.ReLU, LocalResponseNorm, nn.MaxPool2d]
    lrn = features[2]  # Krizhevsky et al.'s parameters (§2.2)
    assert (lrn.k, lrn.size, lrn.alpha, lrn.beta) == (2, 5, 1e-4, 0.75)


@pytest.mark.parametrize("name, millions", [  # Table 2: number of parameters (in millions)
    ("vgg11", 133), ("vgg11_lrn", 133), ("vgg13", 133), ("vgg16_c", 134), ("vgg16", 138),
    ("vgg19", 144),
])
def test_table_2_parameter_counts(name, millions):
    assert round(cnnzoo.count_parameters(name) / 1e6) == millions


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_counts_keys_and_figures(name):
    ours, theirs = build_on_meta(name), torchvision_on_meta(name)
    meta = weights_meta(name)
    assert n_params(ours) == n_params(theirs) == meta["num_params"]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()}
    assert ours.min_input_size == meta["min_size"]
    info = cnnzoo.model_info(name)
    metrics = meta["_metrics"]["ImageNet-1K"]
    tv_figures = {f.metric: f.value for f in info.figures if "torchvision" in f.source}
    assert tv_figures["top1"] == metrics["acc@1"] and tv_figures["top5"] == metrics["acc@5"]
    assert tv_figures["params"] == meta["num_params"]


def test_vgg16_parameter_count():
    assert cnnzoo.count_parameters("vgg16") == 138_357_544  # issue 2


def random_state_dict(model):
    """Random values for every entry, batch-norm statistics included (so that a misplaced
    batch norm shows), scaled to keep activations of order 1 through the ReLU stack."""
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            state[key] = torch.empty(value.shape).uniform_(0.5, 2.0)
        elif value.dim() > 1:
            bound = math.sqrt(6 / value[0].numel())
            state[key] = torch.empty(value.shape).uniform_(-bound, bound)
        else:
            state[key] = torch.empty(value.shape).uniform_(-0.5, 0.5)
    return state


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_weights_load_with_identical_outputs(name):
    reference = torchvision_on_meta(name)
    state = random_state_dict(reference)
    reference.load_state_dict(state, assign=True)
    model = build_on_meta(name)
    model.load_state_dict(state, strict=True, assign=True)
    x = torch.randn(2, 3, 32, 32)  # torchvision's smallest input: cheap, same code path
    with torch.no_grad():
        expected = reference.eval()(x)
        assert expected.std() > 0.1  # a real signal, not numbers near zero
        torch.testing.assert_close(model.eval()(x), expected)


@pytest.fixture(scope="module")
def vgg11_pair():
    """vgg11 with random weights, and the same weights in the dense-evaluation model."""
    torch.manual_seed(0)
    fc = cnnzoo.create_model("vgg11").eval()
    with torch.device("meta"):
        dense = cnnzoo.create_model("vgg11", dense=True)
    dense.load_state_dict(fc.state_dict(), strict=True, assign=True)
    return fc, dense.eval()


def test_dense_evaluation_equals_fc_at_224(vgg11_pair):
    fc, dense = vgg11_pair
    assert isinstance(dense.classifier[0], nn.Conv2d) and dense.classifier[0].kernel_size == (7, 7)
    assert [m.kernel_size for m in dense.classifier if isinstance(m, nn.Conv2d)][1:] == [(1, 1)] * 2
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(dense(x), fc(x), rtol=1e-4, atol=1e-5)


def test_dense_evaluation_averages_a_class_score_map(vgg11_pair):
    _, dense = vgg11_pair
    x = torch.randn(1, 3, 256, 320)  # 8×10 maps after pooling: a 2×4 class-score map
    with torch.no_grad():
        score_map = dense.classifier(dense.forward_features(x))
        assert score_map.shape == (1, 1000, 2, 4)
        torch.testing.assert_close(dense(x), score_map.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="vgg11 expects 3×H×W input with H ≥ 224"):
        dense(torch.randn(1, 3, 200, 224))


def test_dense_state_dict_loads_back_into_the_fc_model(vgg11_pair):
    fc, dense = vgg11_pair
    with torch.device("meta"):
        again = cnnzoo.create_model("vgg11")
    again.load_state_dict(dense.state_dict(), strict=True, assign=True)
    for a, b in zip(again.parameters(), fc.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name, options", [
    *[(name, {}) for name in cnnzoo.list_models("vgg*")], ("vgg19", {"dense": True}),
])
def test_gradient_reaches_every_parameter(name, options):
    """On the meta device: autograd through the whole network without real weights."""
    model = build_on_meta(name, **options).train()
    model(torch.empty(2, 3, 224, 224, device="meta")).square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_plain_models_take_any_input_from_32_pixels():
    model = build_on_meta("vgg16")
    assert model(torch.empty(1, 3, 32, 48, device="meta")).shape == (1, 1000)
    with pytest.raises(ValueError, match="vgg16 expects 3×H×W input with H ≥ 32"):
        model(torch.empty(1, 3, 31, 48, device="meta"))
