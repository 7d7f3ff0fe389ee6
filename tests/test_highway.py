"""Convolutional highway networks (Srivastava, Greff, Schmidhuber 2015) and their plain and
residual comparators of the same depth."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import cnnzoo
from cnnzoo.models.highway import GATES, HighwayConv
from conftest import build_on_meta, n_params


def weight_layers(model: nn.Module) -> int:
    """Weight layers along the path, a highway layer (its H and T convolutions side by side)
    counting as one, as the paper counts depth."""
    convs = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    highway = [m for m in model.modules() if isinstance(m, HighwayConv)]
    return convs - sum(len(list(h.children())) - 1 for h in highway)


def test_count_equals_the_authors_release():
    # examples/highways/cifar10-19layers/sample.log of the authors' release: "The network has
    # total 2265928 trainable parameters" (its classifier has 100 outputs).
    assert cnnzoo.count_parameters("highway", num_classes=100) == 2_265_928


def test_count_rounds_to_table2():
    # Srivastava et al. 2015, Table 2: the 19-layer CIFAR-10 highway network, ~2.3M.
    assert round(cnnzoo.count_parameters("highway") / 1e6, 1) == 2.3


@pytest.mark.parametrize("channels,params", [(32, 18_496), (80, 115_360), (128, 295_168)])
def test_highway_layer_parameters_equal_the_release_log(channels, params):
    # Per-layer counts the release's training log prints for its highway layers, which are
    # eq. 3's two 3×3 convolutions with biases, H and T, on `channels` maps.
    assert n_params(HighwayConv(channels)) == params == 2 * (3 * 3 * channels**2 + channels)


def test_release_layout():
    """Three stages of 32, 80 and 128 channels with 4, 5 and 5 highway layers (the release's
    network definition), 19 layers in all."""
    model = build_on_meta("highway")
    widths = [m.h.out_channels for m in model.modules() if isinstance(m, HighwayConv)]
    assert widths == [32] * 4 + [80] * 5 + [128] * 5
    assert weight_layers(model) == 19


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("depth", [10, 19, 32])
def test_comparators_have_the_same_depth(gate, depth):
    model = build_on_meta("highway", depth=depth, gate=gate)
    assert weight_layers(model) == depth
    assert model.eval()(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)


def test_comparators_lack_only_the_gate_convolutions():
    gates = 4 * (32 * 32 * 9 + 32) + 5 * (80 * 80 * 9 + 80) + 5 * (128 * 128 * 9 + 128)
    highway = cnnzoo.count_parameters("highway")
    assert cnnzoo.count_parameters("highway", gate="plain") == highway - gates
    assert cnnzoo.count_parameters("highway", gate="residual") == highway - gates


def test_highway_layer_computes_equation_3():
    layer = HighwayConv(8, transform_bias=-1.0)
    x = torch.randn(2, 8, 6, 6)
    h = F.relu(F.conv2d(x, layer.h.weight, layer.h.bias, padding=1))
    t = torch.sigmoid(F.conv2d(x, layer.t.weight, layer.t.bias, padding=1))
    torch.testing.assert_close(layer(x), h * t + x * (1 - t))


def test_strongly_negative_transform_bias_carries_the_input():
    layer = HighwayConv(8, transform_bias=-40.0)  # T ≈ σ(-40) ≈ 4e-18: y ≈ x (Eq. 4)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(layer(x), x)


def test_strongly_positive_transform_bias_transforms_the_input():
    layer = HighwayConv(8, transform_bias=40.0)  # T ≈ 1: y ≈ H(x) (Eq. 4)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(layer(x), F.relu(F.conv2d(x, layer.h.weight, layer.h.bias, padding=1)))


@pytest.mark.parametrize("gate,carry", [("residual", 1.0), ("plain", 0.0)])
def test_comparator_layers(gate, carry):
    layer = HighwayConv(8, gate=gate)
    x = torch.randn(2, 8, 6, 6)
    h = F.relu(F.conv2d(x, layer.h.weight, layer.h.bias, padding=1))
    torch.testing.assert_close(layer(x), h + carry * x)
    assert not hasattr(layer, "t")


@pytest.mark.parametrize("depth,bias", [(19, -2.0), (10, -1.0), (32, -3.0)])
def test_transform_bias_follows_section_2_2(depth, bias):
    # §2.2: "-1, -2 and -3 for convolutional highway networks of depth approximately 10, 20
    # and 30"; the release initialises its 19-layer network with -2.
    model = cnnzoo.create_model("highway", depth=depth)
    layers = [m for m in model.modules() if isinstance(m, HighwayConv)]
    assert layers and all(torch.all(layer.t.bias == bias) for layer in layers)


def test_explicit_transform_bias():
    model = cnnzoo.create_model("highway", transform_bias=-5.0)
    assert all(torch.all(m.t.bias == -5.0) for m in model.modules() if isinstance(m, HighwayConv))


@pytest.mark.parametrize("in_chans,size", [(3, 32), (1, 28)])
def test_cifar_and_mnist_sized_input(in_chans, size):
    model = cnnzoo.create_model("highway", in_chans=in_chans).eval()
    with torch.no_grad():
        assert model(torch.randn(2, in_chans, size, size)).shape == (2, 10)


@pytest.mark.parametrize("options,word", [
    ({"gate": "lstm"}, "gate"),
    ({"depth": 5}, "depth"),
    ({"gate": "plain", "transform_bias": -2.0}, "transform_bias"),
    ({"drop_rate": 1.0}, "drop_rate"),
])
def test_bad_options_are_clear_errors(options, word):
    with pytest.raises(ValueError, match=word):
        cnnzoo.create_model("highway", **options)
