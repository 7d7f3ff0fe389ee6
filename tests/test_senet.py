"""SENet (Hu et al. 2017) against timm and the paper."""

import pytest
import timm
import torch
from torch import nn
from torch.nn import functional as F

import cnnzoo
from cnnzoo.layers import SqueezeExcite
from cnnzoo.models.resnet import ARCHS, ResNet
from cnnzoo.pretrained import _senet_key

from conftest import build_on_meta, multiply_adds, n_params
from test_resnet import meta_model, randomize_norms

# Our name -> timm's. SE-ResNet-18/34 use the reduction r = 16 exactly, as timm's legacy
# port of the authors' models does; timm's newer seresnet18/34 round the SE width of the
# 64-channel stage up to 8.
TIMM_TWINS = {
    "se_resnet18": "legacy_seresnet18", "se_resnet34": "legacy_seresnet34",
    "se_resnet50": "seresnet50", "se_resnet101": "seresnet101", "se_resnet152": "seresnet152",
    "se_resnext50_32x4d": "seresnext50_32x4d", "se_resnext101_32x4d": "seresnext101_32x4d",
    "senet154": "senet154",
}


@pytest.mark.parametrize("name", TIMM_TWINS)
def test_parameter_count_equals_timm(name):
    with torch.device("meta"):
        ref = timm.create_model(TIMM_TWINS[name], pretrained=False)
    assert cnnzoo.count_parameters(name) == n_params(ref)


def test_counts_quoted_in_the_issue():
    assert cnnzoo.count_parameters("se_resnet50") == 28_088_024
    assert cnnzoo.count_parameters("se_resnext50_32x4d") == 27_559_896
    assert cnnzoo.count_parameters("senet154") == 115_088_984


# Hu et al. 2017 (arXiv 1709.01507v4, TPAMI), Table 2: GFLOPs at 224×224, the "SENet" column
# and the "re-implementation" one (the "original" column has error rates only; the authors'
# re-implementations, stride in the first 1×1 for the ResNets, in the 3×3 for the ResNeXts).
# Counted here, the SE blocks' two FC layers add a few thousandths of a GFLOP; the table's
# 0.01-0.02 presumably include the squeeze's pooling and the rescale, which are no layer's
# multiply-adds: hence 0.5 %.
TABLE2_GFLOPS = {
    "resnet50": 3.86, "se_resnet50": 3.87,
    "resnet101": 7.58, "se_resnet101": 7.60,
    "resnet152": 11.30, "se_resnet152": 11.32,
    "resnext50_32x4d": 4.24, "se_resnext50_32x4d": 4.25,
    "resnext101_32x4d": 7.99, "se_resnext101_32x4d": 8.00,
}


@pytest.mark.parametrize("name", TABLE2_GFLOPS)
def test_multiply_adds_match_table2(name):
    macs = multiply_adds(meta_model(name))
    assert macs == pytest.approx(TABLE2_GFLOPS[name] * 1e9, rel=0.005)


def assert_same_as_legacy(model, ref, deep_stem=False):
    """timm's legacy keys renamed as ``cnnzoo import`` renames them (pretrained._senet_key)."""
    randomize_norms(ref)
    model.eval().load_state_dict({_senet_key(k, deep_stem): v for k, v in ref.state_dict().items()})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


@pytest.mark.parametrize("name,legacy", [("se_resnet50", "legacy_seresnet50"),
                                         ("se_resnext50_32x4d", "legacy_seresnext50_32x4d")])
def test_timm_legacy_weights_give_identical_outputs(name, legacy):
    """timm's port of the authors' Caffe models: stride in the 1×1 for SE-ResNet, in the 3×3
    for SE-ResNeXt, Caffe's stem pool."""
    assert_same_as_legacy(cnnzoo.create_model(name), timm.create_model(legacy))


def test_senet154_architecture_equals_timm_legacy_at_one_unit_per_stage():
    """SENet-154's stem, halved 1×1s, 64 groups and 3×3 projections, with one unit per
    stage instead of (3, 8, 36, 3) to keep the test light."""
    arch = dict(ARCHS["senet154"], layers=(1, 1, 1, 1))
    assert_same_as_legacy(ResNet(**arch), timm.create_model("legacy_senet154", layers=[1, 1, 1, 1]),
                          deep_stem=True)


def test_senet154_follows_the_appendix():
    """Hu et al. 2017, appendix: three 3×3 stem convs, the first 1×1 of each unit at half
    width, 3×3 stride-2 projections, dropout 0.2 before the classifier."""
    model = build_on_meta("senet154")
    stem = [m for m in model.conv1 if isinstance(m, nn.Conv2d)]
    assert [m.kernel_size for m in stem] == [(3, 3)] * 3 and stem[-1].out_channels == 128
    unit = model.layer1[0]
    assert (unit.conv1.out_channels, unit.conv2.out_channels, unit.conv2.groups) == (128, 256, 64)
    assert model.layer1[0].downsample[0].kernel_size == (1, 1)  # stride 1: stays a 1×1
    assert all(getattr(model, s)[0].downsample[0].kernel_size == (3, 3) for s in ("layer2", "layer3", "layer4"))
    assert model.dropout.p == 0.2


@pytest.mark.parametrize("name", TIMM_TWINS)
def test_every_unit_has_se_with_reduction_16(name):
    model = build_on_meta(name)
    units = [m for s in model.stage_names for m in getattr(model, s)]
    assert all(isinstance(u.se, SqueezeExcite) for u in units)
    assert all(u.se.fc1.out_channels * 16 == u.se.fc1.in_channels for u in units)


def test_se_unit_rescales_the_branch_before_the_sum():
    """Hu et al. 2017, Fig. 3 and Eq. 2-4: s = σ(W2 δ(W1 z)) from the pooled branch u,
    output ReLU(x + s·u)."""
    unit = randomize_norms(cnnzoo.create_model("se_resnet18")).layer1[1]

    def bn(t, m):
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    x = torch.randn(2, 64, 8, 8).relu()
    u = bn(F.conv2d(F.relu(bn(F.conv2d(x, unit.conv1.weight, padding=1), unit.bn1)),
                    unit.conv2.weight, padding=1), unit.bn2)
    z = u.mean((2, 3), keepdim=True)
    s = torch.sigmoid(F.conv2d(F.relu(F.conv2d(z, unit.se.fc1.weight, unit.se.fc1.bias)),
                               unit.se.fc2.weight, unit.se.fc2.bias))
    with torch.no_grad():
        torch.testing.assert_close(unit(x), F.relu(x + s * u))


@pytest.mark.parametrize("name", list(TIMM_TWINS))
def test_imagenet_input(name):
    model = build_on_meta(name).eval()
    assert model.default_input_size == (3, 224, 224)
    assert model(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1000)
    with pytest.raises(ValueError, match=f"{name} expects 3×H×W"):
        model(torch.empty(1, 3, 16, 16, device="meta"))
