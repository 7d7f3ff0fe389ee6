"""``cnnzoo.summarize``: the per-layer numbers of the classic walk-throughs, MACs against
torchvision's published metadata, receptive fields against the textbook values, and the
definitions of cnnzoo.analysis.rules checked on small models computed by hand."""

import json

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnnzoo
from cnnzoo.cli import main

from conftest import build_on_meta, n_params

ALL = cnnzoo.list_models()


def on_meta(builder, **kwargs):
    with torch.device("meta"):
        return builder(**kwargs)


# -- LeNet-5 (LeCun et al. 1998, §II.B; the numbers of the foundation issue) -------------------
LENET5 = [  # row, output C×H×W, neurons, trainable parameters, connections
    ("c1", (6, 28, 28), 4_704, 156, 122_304),
    ("s2", (6, 14, 14), 1_176, 12, 5_880),
    ("c3", (16, 10, 10), 1_600, 1_516, 151_600),
    ("s4", (16, 5, 5), 400, 32, 2_000),
    ("c5", (120, 1, 1), 120, 48_120, 48_120),
    ("f6", (84,), 84, 10_164, 10_164),
]


def test_lenet5_layer_by_layer():
    s = cnnzoo.summarize("lenet5")
    assert s.input_size == (1, 32, 32)
    for name, shape, neurons, params, connections in LENET5:
        row = s[f"features.{name}"]
        assert (row.output_shape, row.neurons, row.params, row.connections) == (
            shape, neurons, params, connections), name
    assert s.totals["trainable_params"] == 60_000
    # C1 sees 5×5 pixels, S2 6×6 (two of C1's positions), C5 the whole 32×32 image
    assert s["features.c1"].receptive_field == (5, 5)
    assert s["features.s2"].receptive_field == (6, 6)
    assert s["features.c5"].receptive_field == (32, 32)


# -- AlexNet (Krizhevsky et al. 2012: Fig. 2, §3.5; parameters of the foundation issue) ---------
ALEXNET = [  # row, output (Fig. 2 / §3.5), parameters
    ("features.conv1", (96, 55, 55), 34_944),
    ("features.conv2", (256, 27, 27), 307_456),
    ("features.conv3", (384, 13, 13), 885_120),
    ("features.conv4", (384, 13, 13), 663_936),
    ("features.conv5", (256, 13, 13), 442_624),
    ("classifier.fc6", (4096,), 37_752_832),
    ("classifier.fc7", (4096,), 16_781_312),
    ("classifier.fc8", (1000,), 4_097_000),
]
# §3.5: "the number of neurons in the network's remaining layers is given by
# 253,440–186,624–64,896–64,896–43,264–4096–4096–1000" (the first figure is the paper's own
# slip: 96 maps of 55×55 are 290,400).
ALEXNET_NEURONS = [96 * 55 * 55, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]


def test_alexnet_layer_by_layer():
    s = cnnzoo.summarize("alexnet")
    for (name, shape, params), neurons in zip(ALEXNET, ALEXNET_NEURONS):
        row = s[name]
        assert (row.output_shape, row.params, row.neurons) == (shape, params, neurons), name
    assert s.totals["params"] == 60_965_224
    assert sum(r.params for r in s.layers if r.type == "Conv2d") == 2_334_080
    # conv1 on 227×227 without padding: every output reads 11·11·3 inputs and its bias
    assert s["features.conv1"].connections == 96 * 55 * 55 * (11 * 11 * 3 + 1)


# -- MACs against torchvision's published "GFLOPS" ------------------------------------------
# cnnzoo names whose network is torchvision's (DESIGN.md: `<name>_tv`, or one model serving
# both); every registered model with layout="torchvision" is added below.
TORCHVISION = {
    "alexnet_tv": "alexnet", "vgg11": "vgg11", "vgg13": "vgg13", "vgg16": "vgg16",
    "vgg19": "vgg19", "vgg11_bn": "vgg11_bn", "vgg13_bn": "vgg13_bn", "vgg16_bn": "vgg16_bn",
    "vgg19_bn": "vgg19_bn", "resnet18": "resnet18", "resnet34": "resnet34",
    "resnet50_tv": "resnet50", "resnet101_tv": "resnet101", "resnet152_tv": "resnet152",
    "googlenet_tv": "googlenet", "inception_v3": "inception_v3", "densenet121": "densenet121",
    "densenet161": "densenet161", "densenet169": "densenet169", "densenet201": "densenet201",
    "mobilenet_v2": "mobilenet_v2", "resnext50_32x4d": "resnext50_32x4d",
    "resnext101_32x8d": "resnext101_32x8d", "resnext101_64x4d": "resnext101_64x4d",
}
_TV_MODELS = set(torchvision.models.list_models())
for _name in ALL:
    if cnnzoo.model_info(_name).layout == "torchvision" and _name.removesuffix("_tv") in _TV_MODELS:
        TORCHVISION.setdefault(_name, _name.removesuffix("_tv"))


def _published_ops(tv_name):
    """(crop size, GFLOPS) of every weights entry torchvision publishes for ``tv_name``."""
    return [(w.transforms.keywords["crop_size"], w.meta["_ops"])
            for w in torchvision.models.get_model_weights(tv_name)]


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_macs_equal_torchvision_metadata(name):
    for crop, gflops in _published_ops(TORCHVISION[name]):
        s = cnnzoo.summarize(name, input_size=(3, crop, crop))
        assert round(s.totals["macs"] / 1e9, 3) == gflops


@pytest.mark.parametrize("tv_name", ["alexnet", "vgg16", "resnet50", "googlenet",
                                     "inception_v3", "densenet121", "mobilenet_v2",
                                     "resnext50_32x4d"])
@pytest.mark.filterwarnings("ignore:The default weight initialization")
def test_macs_of_torchvision_modules(tv_name):
    """The same through torchvision's own constructors, as any user's nn.Module."""
    model = on_meta(torchvision.models.get_model, name=tv_name)
    for crop, gflops in _published_ops(tv_name):
        s = cnnzoo.summarize(model, input_size=(3, crop, crop))
        assert round(s.totals["macs"] / 1e9, 3) == gflops
    assert s.totals["params"] == n_params(model)


@pytest.mark.parametrize("builder, quoted", [(torchvision.models.resnet50, 4_089_184_256),
                                             (torchvision.models.vgg16, 15_470_264_320)])
def test_resnet50_and_vgg16_macs_exactly(builder, quoted):
    """The two figures the foundation issue quotes in full (torchvision rounds them to 4.089
    and 15.47 G), and what torch's own counter (torch.utils.flop_counter, two FLOPs a
    multiply-add of a convolution or matrix product, nothing else) makes of the same network."""
    from torch.utils.flop_counter import FlopCounterMode

    model = builder().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 224, 224))
    assert cnnzoo.summarize(model, (3, 224, 224)).totals["macs"] == quoted == counter.get_total_flops() // 2


# -- receptive fields ---------------------------------------------------------------------
def _last(summary, type_name):
    return [r for r in summary.layers if r.type == type_name][-1]


@pytest.mark.parametrize("source, builder, row, field", [
    ("alexnet", None, "last pooling", 195),
    ("alexnet_tv", None, "last pooling", 195),
    ("torchvision", torchvision.models.alexnet, "last pooling", 195),
    ("vgg16", None, "last pooling", 212),
    ("torchvision", torchvision.models.vgg16, "last pooling", 212),
    ("resnet50_tv", None, "layer4", 427),
    ("torchvision", torchvision.models.resnet50, "layer4", 427),
])
def test_textbook_receptive_fields(source, builder, row, field):
    """AlexNet's last pooling 195, VGG-16's 212 (Araujo et al., Distill 2019, the table
    below), torchvision's ResNet-50's last stage 427: Araujo et al.'s 483 for the paper's
    ResNet-50 (stride in each stage's first 1×1) less 2·(4 + 8 + 16), the 3×3 of the first
    unit of stages 2-4 then reading the finer map (no publication prints 427); stride 32."""
    depth = 1 if row == "layer4" else None
    if builder is not None:
        s = cnnzoo.summarize(on_meta(builder), (3, 224, 224), depth=depth)
    else:
        s = cnnzoo.summarize(source, depth=depth)
    rec = _last(s, "MaxPool2d") if row == "last pooling" else s[row]
    assert (rec.receptive_field, rec.stride) == ((field, field), (32, 32))
    assert not [w for w in s.warnings if "aligned" in w]  # the branches line up


# Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill
# 2019 (https://distill.pub/2019/computing-receptive-fields/), section "Discussion: receptive
# fields of modern networks": the table of the TF-Slim models' final feature map, columns
# "Receptive Field (r)", "Effective Stride (S)" and "Effective Padding (P)", as published.
# (resnet_v1_200, 1763 / 32 / 879, has no cnnzoo counterpart.)
DISTILL_2019 = {  # TF-Slim model: (r, S, P)
    "alexnet_v2": (195, 32, 64),
    "vgg_16": (212, 32, 90),
    "mobilenet_v1": (315, 32, 126),
    "mobilenet_v1_075": (315, 32, 126),
    "resnet_v1_50": (483, 32, 239),
    "inception_v2": (699, 32, 318),
    "resnet_v1_101": (1027, 32, 511),
    "inception_v3": (1311, 32, 618),
    "resnet_v1_152": (1507, 32, 751),
    "inception_v4": (2071, 32, 998),
    "inception_resnet_v2": (3039, 32, 1482),
}


# cnnzoo model, its TF-Slim counterpart, the row of its last feature map, and what its
# effective padding adds to the article's P.
#
# r and S depend only on kernels, strides and dilations, so the article's r and S hold for a
# network whose windows are TF-Slim's. P depends on the padding too, which differs in two
# ways, each worked out below from the layers alone:
# - TensorFlow's 'SAME' pads a strided window's odd pixel on the right (floor(total / 2) on
#   the left): a 3×3/2 window on an even input is padded 0 left, 1 right, a 7×7/2 one on
#   224 2 left, 3 right, where PyTorch's symmetric padding pads 1 and 3 on the left. A left
#   pixel more at a layer reading its input at effective stride j moves the first output's
#   field j further out: P grows by j (P_out = P_in + pad·j_in, the article's eq. for P).
# - layers VALID in TF-Slim but padded here (torchvision's AlexNet conv1).
RF_AGAINST_DISTILL = [
    # alexnet_v2 (Krizhevsky 2014, "One weird trick") has AlexNet's windows: conv1 11×11/4,
    # 3×3/2 poolings, conv2 5×5, conv3-5 3×3. TF-Slim's conv1 and poolings are VALID, its
    # other convolutions 'SAME' at stride 1 (symmetric), as cnnzoo's alexnet pads...
    ("alexnet", "alexnet_v2", "features", 0),
    # ...torchvision's conv1 pads 2 (j = 1).
    ("alexnet_tv", "alexnet_v2", "features", 2),
    ("vgg16", "vgg_16", "features", 0),
    # MobileNet's Table 1 is TF-Slim's _CONV_DEFS, all 'SAME': conv 3×3/2 on 224 and the
    # depthwise 3×3/2 on 112, 56, 28 and 14 read at j = 1, 2, 4, 8, 16, padded 1 left here.
    ("mobilenet_v1", "mobilenet_v1", "features", 1 + 2 + 4 + 8 + 16),
    ("mobilenet_v1_075", "mobilenet_v1_075", "features", 1 + 2 + 4 + 8 + 16),
    # TF-Slim's inception_v2 is BN-Inception (its Conv2d_1a_7x7 is separable, a 7×7/2 window
    # all the same; Mixed_4a and Mixed_5a are the paper's 3c and 4e). 'SAME' everywhere: the
    # 7×7/2 conv (j = 1) is padded 2 left, 3 here; the stride-2 3×3 convolutions of 3c (j = 8)
    # and 4e (j = 16) 0, 1 here; the stem's 3×3/2 max poolings 0, 0 here (ceil mode).
    ("bn_inception", "inception_v2", "inception5b", 1 + 8 + 16),
    # torchvision's Inception v3 is a port of TF-Slim's; every strided layer is VALID in both
    ("inception_v3", "inception_v3", "Mixed_7c", 0),
    ("inception_v4", "inception_v4", "Mixed_7d", 0),
    ("inception_resnet_v2", "inception_resnet_v2", "Conv2d_7b_1x1", 0),
    # The ResNets differ in layout but not in field: TF-Slim's resnet_v1 strides the 3×3 of
    # the *last* unit of blocks 1-3 (resnet_v1_block: "implemented as a stride in the last
    # unit"), cnnzoo's (the paper's) the 1×1 conv1 and shortcut of the *first* unit of
    # stages 2-4. A 1×1 window widens nothing, and in both every 3×3 of stage n reads its
    # input at j = 4, 8, 16, 32 (TF-Slim's strided 3×3 reads before it strides), so r and S
    # are the same sums. P: TF-Slim's conv2d_same pads the 7×7/2 and 3×3/2 explicitly as
    # PyTorch does (3 and 1 left), but pool1 is max_pool2d 'SAME' (resnet_arg_scope): 0
    # left on 112, 1 here, at j = 2. (torchvision's v1.5 strides the first unit's 3×3: a
    # different field, 427, above.)
    ("resnet50", "resnet_v1_50", "layer4", 2),
    ("resnet101", "resnet_v1_101", "layer4", 2),
    ("resnet152", "resnet_v1_152", "layer4", 2),
]


@pytest.mark.parametrize("name, tf_slim, row, extra_padding", RF_AGAINST_DISTILL,
                         ids=[case[0] for case in RF_AGAINST_DISTILL])
def test_receptive_fields_of_the_distill_table(name, tf_slim, row, extra_padding):
    r, S, P = DISTILL_2019[tf_slim]
    s = cnnzoo.summarize(name, depth=1)
    rec = s[row]
    assert (rec.receptive_field, rec.stride) == ((r, r), (S, S))
    assert rec.padding == (P + extra_padding, P + extra_padding)
    # the row is the last feature map: later rows see the whole image, or (torchvision's
    # AlexNet's 6×6 adaptive pooling, an identity at 224) the same field
    later = s.layers[s.layers.index(rec) + 1:]
    assert all(x.receptive_field in ("whole", None, rec.receptive_field) for x in later)
    assert not [w for w in s.warnings if "aligned" in w]


@pytest.mark.filterwarnings("ignore:The default weight initialization")
def test_torchvision_inception_v3_against_the_distill_table():
    """torchvision's own Inception v3, a port of TF-Slim's, as any user's module."""
    r, S, P = DISTILL_2019["inception_v3"]
    model = on_meta(torchvision.models.inception_v3, aux_logits=False)
    rec = cnnzoo.summarize(model, (3, 299, 299), depth=1)["Mixed_7c"]
    assert (rec.receptive_field, rec.stride, rec.padding) == ((r, r), (S, S), (P, P))


def test_stacked_3x3_convolutions_see_5_and_7():
    net = nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1) for _ in range(3)])
    s = cnnzoo.summarize(net, (4, 16, 16))
    assert [r.receptive_field for r in s.layers] == [(3, 3), (5, 5), (7, 7)]
    assert [r.stride for r in s.layers] == [(1, 1)] * 3
    assert [r.padding for r in s.layers] == [(1, 1), (2, 2), (3, 3)]


class _Misaligned(nn.Module):
    """Two branches of equal output size whose first outputs are centred half a pixel
    apart: a 3×3 convolution with padding 1, and a 2×2 one after padding top-left by 1."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1)
        self.b = nn.Conv2d(2, 2, 2)

    def forward(self, x):
        return self.a(x) + self.b(F.pad(x, (1, 0, 1, 0)))


def test_branches_that_disagree_in_alignment_are_flagged():
    s = cnnzoo.summarize(_Misaligned(), (2, 8, 8))
    add = s["add()"]
    assert add.receptive_field == (3, 3)  # the largest over the branches
    assert any("not aligned" in w for w in s.warnings)


def test_inception_branches_take_the_largest_field():
    model = on_meta(torchvision.models.googlenet, init_weights=True, aux_logits=False)
    s = cnnzoo.summarize(model, (3, 224, 224), depth=1)
    # inception3a sits on maxpool2 (field 27, stride 8); its 3×3 branch behind a 1×1
    # (torchvision's "5×5" branch is 3×3 too) adds 2·8, its pool branch 3×3/1 then 1×1 adds 2·8
    assert s["maxpool2"].receptive_field == (27, 27)
    assert s["inception3a"].receptive_field == (27 + 2 * 8, 27 + 2 * 8)
    assert not [w for w in s.warnings if "aligned" in w]


# -- every registered model: parameters of the rows sum to the model's ----------------------
@pytest.mark.parametrize("name", ALL)
def test_rows_sum_to_the_totals(name):
    model = build_on_meta(name)
    s = cnnzoo.summarize(model)
    assert sum(r.params + r.frozen_params for r in s.layers) == n_params(model)
    assert sum(r.buffers for r in s.layers) == sum(b.numel() for b in model.buffers())
    for key, total in (("macs", "macs"), ("flops", "flops"), ("connections", "connections"),
                       ("activation_bytes", "activation_bytes")):
        assert sum(getattr(r, key) for r in s.layers) == s.totals[total], key
    top = s.at_depth(1)
    assert sum(r.params + r.frozen_params for r in top.layers) == n_params(model)
    assert sum(r.macs for r in top.layers) == s.totals["macs"]


# -- a user's model, counted by hand from the definitions ---------------------------------------
class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        z = torch.relu(self.conv2(y)) + y
        z = torch.cat([z, y], dim=1)
        return self.fc(torch.flatten(z.mean((2, 3), keepdim=True), 1))


def test_user_model_with_functional_calls_is_counted_completely():
    s = cnnzoo.summarize(_Residual(), (3, 8, 8))
    hw = 8 * 8
    names = [r.name for r in s.layers]
    assert names == ["conv1", "relu()", "conv2", "relu()", "add()", "cat()", "mean()",
                     "flatten()", "fc"]
    macs_conv1, macs_conv2, macs_fc = 8 * hw * 3 * 9, 8 * hw * 8 * 9, 10 * 16
    assert s.totals["macs"] == macs_conv1 + macs_conv2 + macs_fc
    assert s.totals["flops"] == (
        2 * macs_conv1                      # conv1, no bias
        + 8 * hw                            # relu
        + 2 * macs_conv2 + 8 * hw           # conv2 and its bias
        + 8 * hw                            # relu
        + 8 * hw                            # residual add
        + 16 * hw                           # mean over 16×8×8 inputs
        + 2 * macs_fc + 10                  # fc and its bias
    )
    assert s["add()"].flops == 8 * hw and s["add()"].input_shape == [(8, 8, 8), (8, 8, 8)]
    assert s["cat()"].output_shape == (16, 8, 8) and s["cat()"].flops == 0
    assert s.breakdown["add"]["elements"] == 8 * hw
    assert s.breakdown["relu"]["calls"] == 2
    # receptive field: conv1 3, conv2 5; the add and cat take the larger branch
    assert s["add()"].receptive_field == (5, 5) and s["cat()"].receptive_field == (5, 5)
    assert s["mean()"].receptive_field == "whole"
    assert sum(r.params for r in s.layers) == n_params(_Residual())
    # connections: padding is no unit. A 3×3/1 kernel with padding 1 on 8 positions reads
    # 2 + 6·3 + 2 = 22 inputs per axis and output map, per input map.
    assert s["conv1"].connections == 8 * 3 * 22 * 22
    assert s["conv2"].connections == 8 * 8 * 22 * 22 + 8 * hw
    assert s["fc"].connections == 10 * (16 + 1)


def test_conv_and_linear_flops_agree_with_flop_counter_mode():
    for model, size in ((on_meta(torchvision.models.resnet18), (3, 224, 224)),
                        (_Residual(), (3, 8, 8)),
                        (build_on_meta("alexnet"), None)):
        size = size or model.default_input_size
        counter = FlopCounterMode(display=False)
        with counter:
            model.eval()(torch.zeros(1, *size, device=next(model.parameters()).device))
        s = cnnzoo.summarize(model, size)
        ours = sum(e["flops"] for op, e in s.breakdown.items() if e["kind"] in ("conv", "linear"))
        assert ours == counter.get_total_flops()


# -- memory -------------------------------------------------------------------------------------
def test_activation_memory_and_peak():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
                        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
    s = cnnzoo.summarize(net, (3, 8, 8))
    fp32 = 4
    out = 8 * 8 * 8 * fp32
    assert [r.activation_bytes for r in s.layers] == [out, 0, out, out]  # in-place aliases
    # at conv2: the input (held by the caller), conv1's output and conv2's output
    assert s.totals["peak_activation_bytes"] == 3 * 8 * 8 * fp32 + 2 * out


# -- structure: shared and unused modules, depth, meta and real ----------------------------------
class _SharedAndUnused(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.Linear(6, 6)
        self.unused = nn.Sequential(nn.Linear(6, 3), nn.Linear(3, 2))

    def forward(self, x):
        return self.block(self.block(x.flatten(1)))


def test_shared_module_counts_once_and_unused_module_has_a_row():
    s = cnnzoo.summarize(_SharedAndUnused(), (6, 1, 1))
    calls = [r for r in s.layers if r.name == "block"]
    assert [r.params for r in calls] == [42, 0] and "called again" in calls[1].notes[0]
    assert s["unused"].params == 6 * 3 + 3 + 3 * 2 + 2
    assert s.totals["macs"] == 2 * 36
    assert sum(r.params for r in s.layers) == n_params(_SharedAndUnused())


def test_depth_groups_rows():
    model = on_meta(torchvision.models.resnet18)
    full = cnnzoo.summarize(model, (3, 224, 224))
    top = cnnzoo.summarize(model, (3, 224, 224), depth=1)
    assert [r.name for r in top.layers] == ["conv1", "bn1", "relu", "maxpool", "layer1",
                                            "layer2", "layer3", "layer4", "avgpool",
                                            "flatten()", "fc"]
    assert "layer1.0.add()" in [r.name for r in full.layers]
    whole = full.at_depth(0).layers
    assert len(whole) == 1 and whole[0].macs == full.totals["macs"]
    with pytest.raises(ValueError, match="depth"):
        cnnzoo.summarize(model, (3, 224, 224), depth=-1)


class _DataDependent(nn.Module):
    """Reads a value of its input, which the meta device cannot give."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        scale = 2.0 if x.abs().sum().item() >= 0 else 1.0
        return self.conv(x) * scale


def test_meta_and_real_agree_and_real_is_the_fallback():
    model = _Residual()
    meta, real = cnnzoo.summarize(model, (3, 8, 8)), cnnzoo.summarize(model, (3, 8, 8), real=True)
    assert meta.to_dict() == real.to_dict()
    s = cnnzoo.summarize(_DataDependent(), (1, 6, 6))
    assert s["conv"].macs == 2 * 4 * 4 * 9
    assert model.conv1.weight.device.type == "cpu" and model.training  # left as it was


def test_clear_errors():
    with pytest.raises(ValueError, match="input_size"):
        cnnzoo.summarize(nn.Conv2d(3, 8, 3))
    with pytest.raises(ValueError, match="3×2×2"):
        cnnzoo.summarize(nn.Conv2d(3, 8, 5), (3, 2, 2))
    with pytest.raises(ValueError, match="input_size"):
        cnnzoo.summarize(nn.Conv2d(3, 8, 5), (3, 0, 8))
    with pytest.raises(ValueError, match="1×32×32"):
        cnnzoo.summarize("lenet5", (3, 32, 32))
    with pytest.raises(ValueError, match="unknown model"):
        cnnzoo.summarize("lenet55")
    with pytest.raises(ValueError, match="unknown column"):
        cnnzoo.summarize(_Residual(), (3, 8, 8)).to_markdown(["params", "colour"])
    with pytest.raises(ValueError, match="'params' asked for more than once"):  # "parameters" is its alias
        cnnzoo.summarize(_Residual(), (3, 8, 8)).to_markdown(["name", "params", "parameters"])


def test_an_input_of_one_number_keeps_the_models_channels(capsys):
    from cnnzoo.cli import main

    # LeNet-5 reads 1×32×32 (LeCun et al. 1998, Sec. II-B); VGG 3 (Simonyan & Zisserman 2015, Sec. 2.1)
    assert main(["summary", "lenet5", "--input", "32", "--format", "csv", "--columns", "name,input"]) == 0
    assert "features.c1,1×32×32" in capsys.readouterr().out
    assert cnnzoo.summarize("vgg16", (None, 64, 64)).input_size == (3, 64, 64)


# -- renderers and the command ------------------------------------------------------------------
def test_renderers():
    s = cnnzoo.summarize(_Residual(), (3, 8, 8))
    md = s.to_markdown()
    assert "| conv1 | Conv2d | 8×8×8 |" in md and "| **Total** |" in md
    assert f"{s.totals['flops']:,}" in md
    csv_text = s.to_csv("name,macs,output")
    assert csv_text.splitlines()[0] == "name,macs,output_shape"
    assert csv_text.splitlines()[1] == f"conv1,{8 * 64 * 27},8×8×8"
    data = json.loads(s.to_json())
    assert set(data) >= {"layers", "totals", "breakdown"}
    assert data["layers"][0]["output_shape"] == [8, 8, 8]
    assert data["layers"][0]["receptive_field"] == [3, 3]
    assert data["totals"]["macs"] == s.totals["macs"]
    assert "conv1" in str(s)


def test_cli_summary(capsys):
    assert main(["summary", "lenet5", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    c1 = next(r for r in data["layers"] if r["name"] == "features.c1")
    assert c1["connections"] == 122_304 and c1["output_shape"] == [6, 28, 28]
    assert main(["summary", "lenet5", "--format", "md", "--columns", "name,params,rf"]) == 0
    assert "| features.c3 | 1,516 | 14 |" in capsys.readouterr().out
    assert main(["summary", "lenet5", "--format", "csv", "--depth", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("features,")
    assert main(["summary", "lenet5", "--input", "3x32x32"]) == 2
    assert main(["summary", "lenet5", "--columns", "params,colour"]) == 2
    assert "colour" in capsys.readouterr().err
    assert main(["summary", "lenet5"]) == 0
