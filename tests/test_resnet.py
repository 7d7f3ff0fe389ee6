"""ResNet (He et al. 2015), pre-activation ResNet (He et al. 2016) and ResNeXt (Xie et al.
2016) against torchvision, timm and the papers' tables."""

import contextlib
import functools
import re

import pytest
import timm
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

import cnnzoo
from cnnzoo.models.resnet import ARCHS, ResNet, ZeroPadShortcut

from conftest import build_on_meta, multiply_adds, n_params

IMAGENET_NAMES = (
    [f"resnet{d}" for d in (18, 34, 50, 101, 152)] + [f"resnet{d}_tv" for d in (50, 101, 152)]
    + [f"preact_resnet{d}" for d in (18, 34, 50, 101, 152, 200)]
    + ["resnext50_32x4d", "resnext101_32x4d", "resnext101_32x8d", "resnext101_64x4d"]
)
# preact_resnet1001 runs on real 32×32 images below.
CIFAR_NAMES = (
    [f"resnet{d}" for d in (20, 32, 44, 56, 110, 1202)]
    + [f"preact_resnet{d}" for d in (110, 164)] + ["resnext29_8x64d", "resnext29_16x64d"]
)


def randomize_norms(model: nn.Module) -> nn.Module:
    """Non-trivial batch-norm statistics and affines, so that equal outputs mean equal nets."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return model.eval()


def weights_without_norms(model: nn.Module) -> int:
    """Parameters of the convolutions and the classifier. The 2016 papers count these:
    ResNet-1001's 10.2M (He et al. 2016) and ResNeXt-29 16×64d's 68.1M (Xie et al. 2016)
    leave out the batch norms' affine parameters, with which the networks of the authors'
    code have 10.33M and 68.16M. (The 2015 paper's Table 6 counts them: ResNet-1202 has
    19.42M with and 19.33M without, and Table 6 prints 19.4M.)"""
    return sum(p.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
               for p in m.parameters())


@functools.lru_cache(maxsize=None)
def meta_model(name):
    """One meta-device build per name for the tests that only read it (the 1000-layer
    networks take seconds to build)."""
    return build_on_meta(name).eval()


def paper_round(count: int) -> float:
    """Millions as the tables print them: two decimals below 1M, one above."""
    return round(count / 1e6, 2 if count < 1e6 else 1)


# -- ImageNet ResNets and ResNeXts against torchvision -----------------------------------
TORCHVISION_TWINS = {
    "resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50",
    "resnet101": "resnet101", "resnet152": "resnet152", "resnet50_tv": "resnet50",
    "resnet101_tv": "resnet101", "resnet152_tv": "resnet152",
    "resnext50_32x4d": "resnext50_32x4d", "resnext101_32x8d": "resnext101_32x8d",
    "resnext101_64x4d": "resnext101_64x4d",
}


@pytest.mark.parametrize("name", TORCHVISION_TWINS)
def test_parameter_count_equals_torchvision(name):
    with torch.device("meta"):
        ref = getattr(torchvision.models, TORCHVISION_TWINS[name])()
    assert cnnzoo.count_parameters(name) == n_params(ref)


def test_resnet50_count_quoted_in_the_issue():
    assert cnnzoo.count_parameters("resnet50") == 25_557_032
    assert cnnzoo.count_parameters("resnet50_tv") == 25_557_032


@pytest.mark.parametrize("name", ["resnet101_tv", "resnet152_tv", "resnext101_32x8d", "resnext101_64x4d"])
def test_torchvision_state_dict_keys_and_shapes_load(name):
    with torch.device("meta"):
        ref = getattr(torchvision.models, TORCHVISION_TWINS[name])()
    build_on_meta(name).load_state_dict(ref.state_dict())  # strict: same keys, same shapes


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50_tv", "resnext50_32x4d"])
def test_torchvision_weights_give_identical_outputs(name):
    ref = randomize_norms(getattr(torchvision.models, TORCHVISION_TWINS[name])(weights=None))
    model = cnnzoo.create_model(name).eval()
    model.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


def test_paper_bottleneck_strides_in_first_1x1_tv_in_3x3():
    paper, tv = build_on_meta("resnet50"), build_on_meta("resnet50_tv")
    for stage in ("layer2", "layer3", "layer4"):
        p, t = getattr(paper, stage)[0], getattr(tv, stage)[0]
        assert (p.conv1.stride, p.conv2.stride) == ((2, 2), (1, 1))
        assert (t.conv1.stride, t.conv2.stride) == ((1, 1), (2, 2))
        assert p.downsample[0].stride == t.downsample[0].stride == (2, 2)


@pytest.mark.parametrize("name", IMAGENET_NAMES)
def test_imagenet_nets_take_224(name):
    model = meta_model(name)
    assert model.default_input_size == (3, 224, 224)
    assert model(torch.empty(2, 3, 224, 224, device="meta")).shape == (2, 1000)


# He et al. 2015, Table 1, last row: FLOPs (multiply-adds) at 224×224, ×10⁹, one decimal.
# The table does not round consistently (ResNet-34 and -50 have 3.66 and 3.86), hence 2 %;
# torchvision's "v1.5" ResNet-50 and -101 (4.09, 7.80: stride in the 3×3) fall outside it.
TABLE1_GFLOPS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}


@pytest.mark.parametrize("name", TABLE1_GFLOPS)
def test_multiply_adds_match_table1(name):
    macs = multiply_adds(meta_model(name))
    assert macs == pytest.approx(TABLE1_GFLOPS[name] * 1e9, rel=0.02)


# Xie et al. 2016, Table 1: ResNet-50 (stride in the 3×3, as in ResNeXt and torchvision) and
# ResNeXt-50 32×4d: parameters ×10⁶ and FLOPs ×10⁹, to one decimal (truncated or rounded:
# ResNet-50's 25,557,032 parameters are printed 25.5).
@pytest.mark.parametrize("name,params,gflops", [("resnet50_tv", 25.5, 4.1), ("resnext50_32x4d", 25.0, 4.2)])
def test_resnext_table1_params_and_multiply_adds(name, params, gflops):
    model = meta_model(name)
    assert n_params(model) == pytest.approx(params * 1e6, abs=0.1e6)
    assert multiply_adds(model) == pytest.approx(gflops * 1e9, abs=0.1e9)


# -- CIFAR ResNets (He et al. 2015, §4.2) ------------------------------------------------
# He et al. 2015, Table 6: parameters (millions).
TABLE6 = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85,
          "resnet110": 1.7, "resnet1202": 19.4}


@pytest.mark.parametrize("name", TABLE6)
def test_cifar_counts_match_table6(name):
    model = meta_model(name)
    assert paper_round(n_params(model)) == TABLE6[name]
    n = (int(name[6:]) - 2) // 6  # 6n+2 layers
    assert [len(model.layer1), len(model.layer2), len(model.layer3)] == [n, n, n]
    assert [model.layer1[0].conv1.out_channels, model.layer3[0].conv1.out_channels] == [16, 64]


def test_option_a_is_parameter_free_and_option_b_adds_projections():
    a, b = build_on_meta("resnet20"), build_on_meta("resnet20", shortcut="B")
    assert all(isinstance(u.downsample, (type(None), ZeroPadShortcut)) for u in a.modules()
               if hasattr(u, "downsample"))
    # Option B: a 1×1 projection and its batch norm where 16→32 and 32→64 channels.
    projections = sum(i * o + 2 * o for i, o in ((16, 32), (32, 64)))
    assert n_params(b) - n_params(a) == projections


def test_option_a_shortcut_is_subsampled_identity_padded_with_zeros():
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert not y[:, 16:].any()


@pytest.mark.parametrize("name", CIFAR_NAMES)
def test_cifar_nets_take_32x32(name):
    model = meta_model(name)
    assert model.default_input_size == (3, 32, 32) and model.num_classes == 10
    assert model(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)


def test_resnet20_runs_on_cifar_images():
    model = cnnzoo.create_model("resnet20", num_classes=100)
    out = model(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 100) and torch.isfinite(out).all()


# -- pre-activation ResNets (He et al. 2016) ---------------------------------------------
@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152, 200])
def test_preact_counts_equal_timm_resnetv2(depth):
    # timm registers no ResNetV2-200: its ResNetV2 with fb.resnet.torch's 200-layer stages
    options = {"layers": [3, 24, 36, 3]} if depth == 200 else {}
    with torch.device("meta"):
        ref = timm.create_model(f"resnetv2_{min(depth, 152)}", **options)
    assert cnnzoo.count_parameters(f"preact_resnet{depth}") == n_params(ref)


def _from_timm_resnetv2(key: str) -> str:
    key = key.replace("stem.conv", "conv1").replace("head.fc", "fc")
    key = re.sub(r"stages\.(\d)\.blocks\.", lambda m: f"layer{int(m.group(1)) + 1}.", key)
    key = re.sub(r"\.norm(\d)", r".bn\1", key).replace("downsample.conv", "downsample.0")
    return "final_bn" + key[4:] if key.startswith("norm.") else key


def test_preact_resnet50_with_a_bare_stem_equals_timm_resnetv2_50():
    ref = randomize_norms(timm.create_model("resnetv2_50"))
    state = {_from_timm_resnetv2(k): v.flatten(1) if k == "head.fc.weight" else v
             for k, v in ref.state_dict().items()}
    model = ResNet(**ARCHS["preact_resnet50"], bare_stem=True).eval()
    model.load_state_dict(state)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


@pytest.mark.parametrize("name", ["preact_resnet18", "preact_resnet50"])
def test_preact_imagenet_stem_activates_before_the_pool(name):
    """He et al. 2016, Appendix: "the first activation right after conv1 and before splitting
    into two paths"; fb.resnet.torch's preresnet.lua: conv, BN, ReLU, max pool, then a first
    unit without pre-activation whose shortcut takes the pooled map."""
    model = randomize_norms(cnnzoo.create_model(name)).eval()
    unit = model.layer1[0]
    x = torch.randn(2, 3, 64, 64)
    seen = []
    model.layer1[0].register_forward_hook(lambda m, i, out: seen.append(out))
    with torch.no_grad():
        model(x)
        stem = model.maxpool(F.relu(_bn(model.conv1(x), model.bn1)))
        branch = stem
        for i, (conv, bn) in enumerate(unit.layers()):
            branch = conv(branch if i == 0 else F.relu(_bn(branch, bn)))
        shortcut = stem if unit.downsample is None else unit.downsample(stem)
    torch.testing.assert_close(seen[0], branch + shortcut)


def test_bare_stem_is_for_preactivation_networks():
    with pytest.raises(ValueError, match="bare_stem applies to pre-activation networks"):
        ResNet(**ARCHS["resnet50"], bare_stem=True)


def test_preact_resnet110_keeps_resnet110s_option_a_shortcuts():
    # fb.resnet.torch's opts.lua: "Default shortcutType=A" for cifar10; He et al. 2015, §4.2
    model = build_on_meta("preact_resnet110")
    assert n_params(model.layer2[0].downsample) == 0 and n_params(model.layer3[0].downsample) == 0


# He et al. 2016, Table 4: parameters (millions).
@pytest.mark.parametrize("name,millions", [("preact_resnet164", 1.7), ("preact_resnet1001", 10.2)])
def test_preact_cifar_counts_match_the_paper(name, millions):
    model = meta_model(name)
    assert paper_round(weights_without_norms(model)) == millions
    n = (int(name[13:]) - 2) // 9  # 9n+2 layers of bottleneck units
    assert len(model.layer2) == n and model.layer3[-1].conv3.out_channels == 256


def _bn(x, bn):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def test_preact_unit_is_identity_plus_preactivated_branch():
    """He et al. 2016, Fig. 4(e): x + W2·ReLU(BN(W1·ReLU(BN(x)))), nothing after the sum."""
    unit = randomize_norms(cnnzoo.create_model("preact_resnet110")).layer2[1]
    x = torch.randn(2, 32, 8, 8)
    branch = F.conv2d(F.relu(_bn(x, unit.bn1)), unit.conv1.weight, padding=1)
    branch = F.conv2d(F.relu(_bn(branch, unit.bn2)), unit.conv2.weight, padding=1)
    with torch.no_grad():
        torch.testing.assert_close(unit(x), x + branch)


def test_preact_projection_unit_activates_before_splitting():
    """The authors' resnet-1k-layers code: where the dimension grows, BN-ReLU comes before
    the split and the 1×1 projection takes the activated input; stride in the first 1×1."""
    unit = randomize_norms(cnnzoo.create_model("preact_resnet164")).layer2[0]
    x = torch.randn(2, 64, 8, 8)
    a = F.relu(_bn(x, unit.bn1))
    branch = F.conv2d(a, unit.conv1.weight, stride=2)
    branch = F.conv2d(F.relu(_bn(branch, unit.bn2)), unit.conv2.weight, padding=1)
    branch = F.conv2d(F.relu(_bn(branch, unit.bn3)), unit.conv3.weight)
    shortcut = F.conv2d(a, unit.downsample[0].weight, stride=2)
    with torch.no_grad():
        torch.testing.assert_close(unit(x), shortcut + branch)


@contextlib.contextmanager
def one_thread():
    """ResNet-1001 on two 32×32 images is ~3,000 tiny kernels: a second intra-op thread only
    adds synchronisation, which costs tens of seconds on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def test_preact_resnet1001_forward_and_backward_on_cifar_batch():
    model = cnnzoo.create_model("preact_resnet1001").train()
    with one_thread():
        logits = model(torch.randn(2, 3, 32, 32))
        assert logits.shape == (2, 10)
        F.cross_entropy(logits, torch.tensor([3, 7])).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


# -- ResNeXt (Xie et al. 2016) -----------------------------------------------------------
# Xie et al. 2016, Table 7: parameters (millions).
@pytest.mark.parametrize("name,cardinality,millions", [("resnext29_8x64d", 8, 34.4),
                                                      ("resnext29_16x64d", 16, 68.1)])
def test_cifar_resnext_counts_match_table7(name, cardinality, millions):
    model = meta_model(name)
    assert paper_round(weights_without_norms(model)) == millions
    assert model.layer1[0].conv2.groups == cardinality
    assert model.layer1[0].conv2.in_channels == cardinality * 64
    assert model.num_features == 1024


def test_resnext101_32x4d_count_equals_timm():
    with torch.device("meta"):
        ref = timm.create_model("resnext101_32x4d")
    assert cnnzoo.count_parameters("resnext101_32x4d") == n_params(ref)


# -- options -------------------------------------------------------------------------------
ZERO_INIT_UNITS = {"resnet20": "layer1.1", "resnet50": "layer2.1", "preact_resnet164": "layer1.1"}


@pytest.mark.parametrize("name", ZERO_INIT_UNITS)
def test_zero_init_residual_starts_each_unit_as_identity(name):
    for zero in (True, False):
        unit = cnnzoo.create_model(name, zero_init_residual=zero).eval().get_submodule(ZERO_INIT_UNITS[name])
        x = torch.randn(2, unit.conv1.in_channels, 8, 8).relu()  # post-activation inputs are ≥ 0
        with torch.no_grad():
            assert torch.allclose(unit(x), x) == zero


def test_frozen_norm_is_torchvision_eval_even_in_train_mode():
    ref = randomize_norms(torchvision.models.resnet18(weights=None))
    model = cnnzoo.create_model("resnet18", norm_layer="frozen").train()
    model.load_state_dict(ref.state_dict())
    bn_params = sum(n_params(m) for m in ref.modules() if isinstance(m, nn.BatchNorm2d))
    assert cnnzoo.count_parameters("resnet18", norm_layer="frozen") == n_params(ref) - bn_params
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


def test_group_norm_and_norm_classes():
    model = cnnzoo.create_model("resnet20", norm_layer="group")
    kinds = {type(m) for m in model.modules()}
    assert nn.GroupNorm in kinds and nn.BatchNorm2d not in kinds
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    inorm = build_on_meta("resnet20", norm_layer=lambda c: nn.InstanceNorm2d(c, affine=True))
    assert any(isinstance(m, nn.InstanceNorm2d) for m in inorm.modules())


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="norm_layer must be one of 'batch', 'group', 'frozen'"):
        cnnzoo.create_model("resnet20", norm_layer="layer")
    with pytest.raises(TypeError, match="norm_layer"):
        cnnzoo.create_model("resnet20", norm_layer=3)
    with pytest.raises(TypeError, match="must return an nn.Module"):
        cnnzoo.create_model("resnet20", norm_layer=lambda c: c)
    with pytest.raises(ValueError, match="shortcut must be one of 'A', 'B', 'C', got str 'D'"):
        cnnzoo.create_model("resnet20", shortcut="D")
    with pytest.raises(ValueError, match="drop_rate"):
        cnnzoo.create_model("resnet20", drop_rate=1.5)
    with pytest.raises(ValueError, match="basic unit takes no groups"):
        ResNet(block="basic", layers=(2, 2, 2, 2), groups=32)
    with pytest.raises(ValueError, match="block must be one of"):
        ResNet(block="wide", layers=(2, 2, 2, 2))
    with pytest.raises(ValueError, match="for each of the 4 stages"):
        ResNet(block="basic", layers=(2, 2, 2))


def test_wrong_input_names_the_model_and_the_expected_size():
    # cnnzoo's minimum is the network's total stride (torchvision runs ResNets on any size):
    # He et al. 2015, Table 1: 224×224 in, 7×7 out of conv5_x, so 224 / 7 = 32; §4.2: CIFAR's
    # 32×32 maps end at 8×8, so 32 / 8 = 4.
    with pytest.raises(ValueError, match=rf"resnet50 expects 3×H×W input with H ≥ {224 // 7}.*got 1×224×224"):
        build_on_meta("resnet50")(torch.empty(1, 1, 224, 224, device="meta"))
    with pytest.raises(ValueError, match=rf"resnet20 expects 3×H×W input with H ≥ {32 // 8}.*got 3×3×3"):
        build_on_meta("resnet20")(torch.empty(1, 3, 3, 3, device="meta"))


# -- published figures ---------------------------------------------------------------------
@pytest.mark.parametrize("name,weights", [
    ("resnet18", "ResNet18_Weights"), ("resnet34", "ResNet34_Weights"),
    ("resnet50_tv", "ResNet50_Weights"), ("resnet101_tv", "ResNet101_Weights"),
    ("resnet152_tv", "ResNet152_Weights"), ("resnext50_32x4d", "ResNeXt50_32X4D_Weights"),
    ("resnext101_32x8d", "ResNeXt101_32X8D_Weights"), ("resnext101_64x4d", "ResNeXt101_64X4D_Weights"),
])
def test_torchvision_figures_are_the_weights_meta(name, weights):
    meta = getattr(torchvision.models, weights).IMAGENET1K_V1.meta
    figs = {f.metric: f.value for f in cnnzoo.model_info(name).figures if f.source.startswith("torchvision")}
    assert figs == {"params": meta["num_params"], "top1": meta["_metrics"]["ImageNet-1K"]["acc@1"],
                    "top5": meta["_metrics"]["ImageNet-1K"]["acc@5"],
                    "macs": pytest.approx(meta["_ops"] * 1e9)}
    assert meta["num_params"] == cnnzoo.count_parameters(name)


@pytest.mark.parametrize("name", ["preact_resnet164", "preact_resnet18"])
def test_preact_checkpoints_of_the_earlier_layout_still_load(name):
    """Until 2026-11-24 the first unit held the first norm (layer1.0.bn1, after the pool: the
    bare_stem layout). Its checkpoints load, and give the same outputs: on CIFAR (no pool)
    always, on ImageNet in eval mode while every scale is positive (max pooling commutes with
    an increasing per-channel affine map and with ReLU)."""
    old = randomize_norms(ResNet(**ARCHS[name], bare_stem=True)).eval()
    with torch.no_grad():
        old.layer1[0].bn1.weight.abs_()
    new = ResNet(**ARCHS[name]).eval()
    new.load_state_dict(old.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(new(x), old(x))
