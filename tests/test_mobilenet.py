"""MobileNet v1 (Howard et al. 2017) against its paper's tables and timm; MobileNet v2
(Sandler et al. 2018) against torchvision's keys, counts and weights."""

import pytest
import timm
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo.models.mobilenet import InvertedResidual
from conftest import build_on_meta, multiply_adds, n_params, state_shapes

# Howard et al. 2017, Table 6 (width multiplier) and Table 7 (resolution): million
# mult-adds and million parameters.
PAPER_V1 = {
    "mobilenet_v1": (569, 4.2),
    "mobilenet_v1_075": (325, 2.6),
    "mobilenet_v1_050": (149, 1.3),
    "mobilenet_v1_025": (41, 0.5),
    "mobilenet_v1_192": (418, 4.2),
    "mobilenet_v1_160": (290, 4.2),
    "mobilenet_v1_128": (186, 4.2),
}


def randomize_batch_norm(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5), m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1), m.running_var.uniform_(0.5, 1.5)


# -- MobileNet v1 -------------------------------------------------------------------------

def test_v1_count_equals_timm_and_the_issue():
    with torch.device("meta"):
        reference = timm.create_model("mobilenetv1_100", pretrained=False)
    assert cnnzoo.count_parameters("mobilenet_v1") == n_params(reference) == 4_231_976


def test_v1_has_about_569_million_multiply_adds():
    model = build_on_meta("mobilenet_v1")
    assert round(multiply_adds(model, 224) / 1e6) == 569  # Tables 1, 6, 7, 8


@pytest.mark.parametrize("name,paper", PAPER_V1.items())
def test_v1_variants_match_tables_6_and_7(name, paper):
    macs_m, params_m = paper
    model = build_on_meta(name)
    assert round(n_params(model) / 1e6, 1) == params_m
    # The tables give whole millions; Table 7 seems to scale 1.0-224's 569M by ρ²
    # (569·(160/224)² = 290.3 where the layers count 290.7M), so within the last digit.
    assert abs(multiply_adds(model, model.default_input_size[1]) / 1e6 - macs_m) < 1


def test_v1_table1_layout():
    """§3.2: 28 layers counting depthwise and pointwise convolutions separately; Table 1:
    a 112×112×32 map after the first convolution and 7×7×1024 before the pooling."""
    model = build_on_meta("mobilenet_v1")
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()) == 28
    assert model.features[0](torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 32, 112, 112)
    assert model.forward_features(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1024, 7, 7)


def test_v1_width_multiplier_thins_every_layer():
    model = build_on_meta("mobilenet_v1", width_mult=0.75)  # §3.3: αM channels
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].out_channels == 24 and convs[-1].out_channels == 768


@pytest.mark.parametrize("resolution", [224, 192, 160, 128])
def test_v1_resolution_sets_the_default_input(resolution):
    model = build_on_meta("mobilenet_v1", resolution=resolution)
    assert model.default_input_size == (3, resolution, resolution)
    x = torch.empty(1, 3, resolution, resolution, device="meta")
    assert model.eval()(x).shape == (1, 1000)


@pytest.mark.parametrize("option", [{"width_mult": 0.6}, {"resolution": 100}])
def test_v1_multipliers_outside_the_paper_are_clear_errors(option):
    with pytest.raises(ValueError, match=next(iter(option))):
        cnnzoo.create_model("mobilenet_v1", **option)


def test_v1_timm_weights_load_with_identical_outputs():
    reference = timm.create_model("mobilenetv1_100", pretrained=False)
    randomize_batch_norm(reference)
    model = cnnzoo.create_model("mobilenet_v1", relu6=True)  # timm's activation
    ours, theirs = model.state_dict(), reference.state_dict()
    assert len(ours) == len(theirs)
    for (k, v), (k_ref, v_ref) in zip(ours.items(), theirs.items()):  # same order of layers
        assert v.shape == v_ref.shape and k.rsplit(".", 1)[1] == k_ref.rsplit(".", 1)[1], (k, k_ref)
    model.load_state_dict(dict(zip(ours, theirs.values())))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference.eval()(x))


# -- MobileNet v2 -------------------------------------------------------------------------

@pytest.mark.parametrize("width_mult", [1.0, 0.35, 0.5, 0.75, 1.4])
def test_v2_keys_and_shapes_equal_torchvision(width_mult):
    with torch.device("meta"):
        reference = torchvision.models.mobilenet_v2(width_mult=width_mult)
    assert state_shapes(build_on_meta("mobilenet_v2", width_mult=width_mult)) == state_shapes(reference)


def test_v2_count_equals_torchvision_metadata_and_the_issue():
    meta = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta
    assert cnnzoo.count_parameters("mobilenet_v2") == meta["num_params"] == 3_504_872


def test_v2_multiply_adds():
    macs = multiply_adds(build_on_meta("mobilenet_v2"), 224)
    meta = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta
    assert round(macs / 1e9, 3) == meta["_ops"]  # torchvision's "GFLOPS" are multiply-adds
    assert abs(macs / 1e6 - 300) < 1  # Sandler et al. 2018, Table 4: 300M


def test_v2_torchvision_weights_load_with_identical_outputs():
    reference = torchvision.models.mobilenet_v2(weights=None)
    randomize_batch_norm(reference)
    model = cnnzoo.create_model("mobilenet_v2")
    model.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference.eval()(x))


def test_v2_table2_layout():
    """Table 2: 17 bottleneck blocks, a shortcut in every repeat after a stage's first block
    (10 of them), and a 7×7×1280 map before the pooling at 224×224."""
    model = build_on_meta("mobilenet_v2")
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17
    assert sum(b.use_shortcut for b in blocks) == 10
    assert model.forward_features(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1280, 7, 7)


def test_v2_bad_width_is_a_clear_error():
    with pytest.raises(ValueError, match="width_mult"):
        cnnzoo.create_model("mobilenet_v2", width_mult=0)
