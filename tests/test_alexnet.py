"""AlexNet (Krizhevsky et al. 2012), torchvision's AlexNet, and ZFNet (Zeiler & Fergus 2013)."""

import pytest
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.layers import LocalResponseNorm

from conftest import build_on_meta, n_params

# Issue 2, from the two-tower network of the paper.
ALEXNET_PARAMS = {
    "features.conv1": 34_944,
    "features.conv2": 307_456,
    "features.conv3": 885_120,
    "features.conv4": 663_936,
    "features.conv5": 442_624,
    "classifier.fc6": 37_752_832,
    "classifier.fc7": 16_781_312,
    "classifier.fc8": 4_097_000,
}


def test_alexnet_parameters_per_layer():
    model = build_on_meta("alexnet")
    for name, count in ALEXNET_PARAMS.items():
        assert n_params(model.get_submodule(name)) == count, name
    assert n_params(model) == 60_965_224
    assert n_params(model.features) == 2_334_080


def test_alexnet_kernels_as_section_3_5_describes_them():
    """§3.5: 96 kernels of 11×11×3 with stride 4; 256 of 5×5×48; 384 of 3×3×256; 384 of
    3×3×192; 256 of 3×3×192 — conv2, conv4 and conv5 see only their own GPU's maps."""
    f = build_on_meta("alexnet").features
    shapes = [tuple(f.get_submodule(f"conv{i}").weight.shape) for i in range(1, 6)]
    assert shapes == [(96, 3, 11, 11), (256, 48, 5, 5), (384, 256, 3, 3), (384, 192, 3, 3),
                      (256, 192, 3, 3)]
    assert f.conv1.stride == (4, 4)
    assert [f.get_submodule(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]


def test_alexnet_normalisation_pooling_dropout():
    model = build_on_meta("alexnet")
    names = list(dict(model.features.named_children()))
    # ReLU, then response normalisation after conv1 and conv2, then max pooling (§3.3-3.4).
    assert names == ["conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2",
                     "conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "pool5"]
    for norm in (model.features.norm1, model.features.norm2):
        assert isinstance(norm, LocalResponseNorm)
        assert (norm.k, norm.size, norm.alpha, norm.beta) == (2, 5, 1e-4, 0.75)
    for pool in (model.features.pool1, model.features.pool2, model.features.pool5):
        assert isinstance(pool, nn.MaxPool2d) and (pool.kernel_size, pool.stride) == (3, 2)
    dropouts = [m.p for m in model.classifier if isinstance(m, nn.Dropout)]
    assert dropouts == [0.5, 0.5]


@pytest.mark.parametrize("name, maps", [
    # Krizhevsky et al. §3.5 / Fig. 2 on 227×227 input (the figure's 224 does not divide).
    ("alexnet", {"conv1": (96, 55, 55), "pool1": (96, 27, 27), "conv2": (256, 27, 27),
                 "pool2": (256, 13, 13), "conv3": (384, 13, 13), "conv4": (384, 13, 13),
                 "conv5": (256, 13, 13), "pool5": (256, 6, 6)}),
    # Zeiler & Fergus, Fig. 3 on 224×224 crops.
    ("zfnet", {"conv1": (96, 110, 110), "pool1": (96, 55, 55), "conv2": (256, 26, 26),
               "pool2": (256, 13, 13), "conv3": (384, 13, 13), "conv4": (384, 13, 13),
               "conv5": (256, 13, 13), "pool5": (256, 6, 6)}),
])
def test_feature_map_sizes(name, maps):
    model = build_on_meta(name)
    x = torch.empty(1, *model.default_input_size, device="meta")
    seen = {}
    for layer_name, layer in model.features.named_children():
        x = layer(x)
        seen[layer_name] = tuple(x.shape[1:])
    assert {k: seen[k] for k in maps} == maps
    assert model.classifier.fc6.in_features == 6 * 6 * 256  # "9216 dimensions" (Fig. 3)


def test_fixed_input_sizes_are_enforced():
    with pytest.raises(ValueError, match="alexnet expects 3×227×227 input, got 3×224×224"):
        build_on_meta("alexnet")(torch.empty(1, 3, 224, 224, device="meta"))
    with pytest.raises(ValueError, match="zfnet expects 3×224×224 input, got 3×227×227"):
        build_on_meta("zfnet")(torch.empty(1, 3, 227, 227, device="meta"))


def test_alexnet_initialisation_of_section_5():
    """Weights N(0, 0.01²); biases 1 in conv2, conv4, conv5 and the hidden FC layers."""
    model = cnnzoo.create_model("alexnet")
    ones = {"features.conv2", "features.conv4", "features.conv5", "classifier.fc6",
            "classifier.fc7"}
    for name in ALEXNET_PARAMS:
        layer = model.get_submodule(name)
        assert torch.all(layer.bias == (1.0 if name in ones else 0.0)), name
    assert abs(model.classifier.fc7.weight.std().item() - 0.01) < 1e-4


def test_zfnet_layers_3_to_5_are_dense():
    f = build_on_meta("zfnet").features
    assert [f.get_submodule(f"conv{i}").groups for i in range(1, 6)] == [1] * 5
    assert (f.conv1.kernel_size, f.conv1.stride) == ((7, 7), (2, 2))
    assert (f.conv2.kernel_size, f.conv2.stride) == ((5, 5), (2, 2))
    # pooled, then contrast-normalised across feature maps (Fig. 3 caption)
    names = list(dict(f.named_children()))
    assert names[:4] == ["conv1", "relu1", "pool1", "norm1"]
    assert names[4:8] == ["conv2", "relu2", "pool2", "norm2"]


# -- torchvision's layout ------------------------------------------------------------------
WEIGHTS = torchvision.models.AlexNet_Weights.IMAGENET1K_V1


def test_alexnet_tv_matches_torchvision_counts_and_metadata():
    model = build_on_meta("alexnet_tv")
    assert n_params(model) == WEIGHTS.meta["num_params"] == 61_100_840
    assert model.min_input_size == WEIGHTS.meta["min_size"]
    info = cnnzoo.model_info("alexnet_tv")
    assert info.layout == "torchvision"
    metrics = WEIGHTS.meta["_metrics"]["ImageNet-1K"]
    assert info.figure("top1").value == metrics["acc@1"]
    assert info.figure("top5").value == metrics["acc@5"]


def test_alexnet_tv_loads_torchvision_weights_with_identical_outputs():
    reference = torchvision.models.alexnet().eval()
    with torch.device("meta"):
        model = cnnzoo.create_model("alexnet_tv")
    model.load_state_dict(reference.state_dict(), strict=True, assign=True)
    model.eval()
    for size in (224, 63):  # the default and the smallest input torchvision takes
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            torch.testing.assert_close(model(x), reference(x))


@pytest.mark.parametrize("name", ["alexnet", "alexnet_tv", "zfnet"])
def test_gradient_reaches_every_parameter(name):
    """On the meta device: shapes and autograd without 60M real weights."""
    model = build_on_meta(name).train()
    model(torch.empty(2, *model.default_input_size, device="meta")).square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
