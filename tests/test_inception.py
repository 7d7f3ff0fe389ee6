"""Inception v3, Inception-v4 and Inception-ResNet v1/v2 (issue 3).

Oracles: torchvision's ``inception_v3`` (keys, weights, logits, counts, minimum size), timm's
``inception_v4`` and ``inception_resnet_v2`` (counts, weights mapped layer for layer,
logits) and, for Inception-ResNet-v1, which has no reference implementation, the filter
numbers and tensor shapes printed in the paper's Figures 10–15. Large models are built on
the meta device; real arithmetic runs with batch 1.
"""

import pytest
import timm
import torch
import torchvision
from torch import nn
from torchvision.models import Inception_V3_Weights

import cnnzoo
from cnnzoo.models.inception import ResidualMixed

from conftest import build_on_meta, n_params
from test_googlenet import assert_min_input_size_is_tight, output_shapes, random_weights

V3_META = Inception_V3_Weights.IMAGENET1K_V1.meta


def test_inception_v3_parameter_counts():
    assert cnnzoo.count_parameters("inception_v3") == 27_161_264 == V3_META["num_params"]
    with torch.device("meta"):  # timm's inception_v3 has no auxiliary head
        without_aux = n_params(timm.create_model("inception_v3", pretrained=False))
    assert cnnzoo.count_parameters("inception_v3", aux_logits=False) == without_aux


@pytest.mark.parametrize("name, count", [("inception_v4", 42_679_816),
                                         ("inception_resnet_v2", 55_843_464)])
def test_parameter_counts_equal_timms(name, count):
    with torch.device("meta"):
        reference = timm.create_model(name, pretrained=False)
    assert cnnzoo.count_parameters(name) == n_params(reference) == count


def test_inception_v3_loads_torchvision_state_dict_and_gives_its_logits():
    with torch.device("meta"):
        tv = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
        ours = cnnzoo.create_model("inception_v3")
    random_weights(tv).eval()
    ours.to_empty(device="cpu").load_state_dict(tv.state_dict())  # strict: same keys
    ours.eval()
    taps = {}
    tv.Mixed_6e.register_forward_hook(lambda m, i, o: taps.__setitem__("6e", o))
    x = torch.randn(1, 3, 299, 299)
    with torch.no_grad():
        expected = tv(x)  # torchvision computes its auxiliary head in training mode only
        expected_aux = tv.AuxLogits(taps["6e"])
        logits, aux = ours.forward_train(x)
        out = ours(x)
    assert torch.isfinite(expected).all() and expected.std() > 0
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(logits, expected)
    assert len(aux) == 1
    torch.testing.assert_close(aux[0], expected_aux)


def test_inception_v3_transform_input_is_torchvisions():
    plain = torchvision.models.inception_v3(weights=None, init_weights=False)
    assert plain.transform_input is False
    with torch.device("meta"):
        tv = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True,
                                             transform_input=True)
        ours = cnnzoo.create_model("inception_v3", aux_logits=False, transform_input=True)
    random_weights(tv).eval()
    ours.to_empty(device="cpu").load_state_dict(tv.state_dict())
    x = torch.randn(1, 3, 107, 107)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), tv(x))


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_timm_weights_map_layer_for_layer_and_give_its_logits(name):
    with torch.device("meta"):
        reference = timm.create_model(name, pretrained=False)
        ours = cnnzoo.create_model(name)
    theirs = random_weights(reference).eval().state_dict()
    mine = ours.to_empty(device="cpu").eval().state_dict()
    assert [t.shape for t in mine.values()] == [t.shape for t in theirs.values()]
    ours.load_state_dict(dict(zip(mine, theirs.values())))
    x = torch.randn(1, 3, 107, 107)
    with torch.no_grad():
        expected = reference(x)
        got = ours(x)
    assert torch.isfinite(expected).all() and expected.std() > 0
    torch.testing.assert_close(got, expected)


def test_inception_v3_aux_head_through_forward_train_only():
    model = build_on_meta("inception_v3", num_classes=10)
    assert model.aux_loss_weight == 0.4
    x = torch.empty(2, 3, 299, 299, device="meta")
    out = model.train()(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 10)
    logits, aux = model.forward_train(x)
    assert logits.shape == (2, 10) and [a.shape for a in aux] == [(2, 10)]
    model.reset_classifier(3)
    assert [a.shape for a in model.forward_train(x)[1]] == [(2, 3)]
    no_head = build_on_meta("inception_v3", aux_logits=False)
    assert no_head.forward_train(x)[1] == [] and no_head.aux_loss_weight == 0.0


def test_inception_v3_min_input_size_is_torchvisions_without_the_aux_head():
    assert build_on_meta("inception_v3", aux_logits=False).min_input_size == V3_META["min_size"]
    assert build_on_meta("inception_v3").min_input_size == (299, 299)


@pytest.mark.parametrize("name, options", [
    ("inception_v3", {}), ("inception_v3", {"aux_logits": False}), ("inception_v4", {}),
    ("inception_resnet_v1", {}), ("inception_resnet_v2", {})])
def test_min_input_size_is_the_true_minimum(name, options):
    assert_min_input_size_is_tight(name, **options)


def test_inception_v4_shapes_are_figure_9s():
    model = build_on_meta("inception_v4")
    names = ["Mixed_5a", "Mixed_5e", "Mixed_6a", "Mixed_6h", "Mixed_7a", "Mixed_7d"]
    assert output_shapes(model, names, 299) == [
        (384, 35, 35), (384, 35, 35), (1024, 17, 17), (1024, 17, 17), (1536, 8, 8), (1536, 8, 8)]


def _convs(module: nn.Module) -> list[tuple[int, tuple[int, int]]]:
    return [(m.out_channels, m.kernel_size) for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_inception_resnet_v1_follows_figures_10_to_15():
    model = build_on_meta("inception_resnet_v1")
    names = ["Conv2d_4b_3x3", "Repeat", "Mixed_6a", "Repeat_1", "Mixed_7a", "Repeat_2"]
    assert output_shapes(model, names, 299) == [  # Figures 14, 15: 35×35×256 ... 8×8×1792
        (256, 35, 35), (256, 35, 35), (896, 17, 17), (896, 17, 17), (1792, 8, 8), (1792, 8, 8)]
    assert [len(model.Repeat), len(model.Repeat_1), len(model.Repeat_2)] == [5, 10, 5]
    one, three, k1x7, k7x1, k1x3, k3x1 = (1, 1), (3, 3), (1, 7), (7, 1), (1, 3), (3, 1)
    assert _convs(model.Repeat[0]) == [  # Figure 10
        (32, one), (32, one), (32, three), (32, one), (32, three), (32, three), (256, one)]
    assert _convs(model.Repeat_1[0]) == [  # Figure 11
        (128, one), (128, one), (128, k1x7), (128, k7x1), (896, one)]
    assert _convs(model.Repeat_2[0]) == [  # Figure 13
        (192, one), (192, one), (192, k1x3), (192, k3x1), (1792, one)]
    assert _convs(model.Mixed_6a) == [  # Figure 7 with Table 1's k, l, m, n = 192, 192, 256, 384
        (384, three), (192, one), (192, three), (256, three)]
    assert _convs(model.Mixed_7a) == [  # Figure 12
        (256, one), (384, three), (256, one), (256, three), (256, one), (256, three), (256, three)]
    # the 1×1 projection is "linear": a bare convolution with a bias (no batch norm, no
    # activation of its own) before the sum, and the ReLU after it
    block = model.Repeat[0]
    assert type(block.conv2d) is nn.Conv2d and block.conv2d.bias is not None
    assert isinstance(block.relu, nn.ReLU)


def test_inception_resnet_v2_reduction_a_is_table_1s():
    model = build_on_meta("inception_resnet_v2")
    assert _convs(model.Mixed_6a) == [(384, (3, 3)), (256, (1, 1)), (256, (3, 3)), (384, (3, 3))]
    assert _convs(build_on_meta("inception_v4").Mixed_6a) == [
        (384, (3, 3)), (192, (1, 1)), (224, (3, 3)), (256, (3, 3))]


def test_residual_scale_option():
    model = build_on_meta("inception_resnet_v2", residual_scale=0.3)
    assert {m.scale for m in model.modules() if isinstance(m, ResidualMixed)} == {0.3, 1.0}
    assert model.Block8.scale == 1.0 and model.Block8.relu is None  # as released
    model = build_on_meta("inception_resnet_v1", residual_scale=(0.1, 0.2, 0.3))
    scales = [model.Repeat[0].scale, model.Repeat_1[0].scale, model.Repeat_2[0].scale]
    assert scales == [0.1, 0.2, 0.3]
    default = build_on_meta("inception_resnet_v2")
    assert [default.Repeat[0].scale, default.Repeat_1[0].scale, default.Repeat_2[0].scale] == [
        0.17, 0.10, 0.20]
    for bad in (0, -0.1, 1.5, float("nan"), (0.1, 0.2), "0.2"):
        with pytest.raises(ValueError, match="residual_scale"):
            build_on_meta("inception_resnet_v1", residual_scale=bad)


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v1", "inception_resnet_v2"])
def test_v4_family_has_no_aux_head_and_the_papers_dropout(name):
    model = build_on_meta(name, dropout=0.0)
    x = torch.empty(1, 3, 299, 299, device="meta")
    assert model.forward_train(x)[1] == [] and model.aux_loss_weight == 0.0
    assert model.dropout.p == 0.0 and build_on_meta(name).dropout.p == 0.2  # keep 0.8
