"""DenseNet (Huang et al. 2016): torchvision's keys, counts and weights for the ImageNet
models, Table 2's counts and layout for the CIFAR models, the memory-efficient option."""

import pytest
import torch
import torchvision
from torch import nn

import cnnzoo
from conftest import build_on_meta, state_shapes

TORCHVISION = ["densenet121", "densenet161", "densenet169", "densenet201"]

# Huang et al. 2016, Table 2: parameters (millions, as the table rounds them).
TABLE2_PARAMS = {
    "densenet40_k12": 1.0,
    "densenet100_k12": 7.0,
    "densenet100_k24": 27.2,
    "densenet_bc_100_k12": 0.8,
    "densenet_bc_250_k24": 15.3,
    "densenet_bc_190_k40": 25.6,
}


def weight_layers(model: nn.Module) -> int:
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())


@pytest.mark.parametrize("name", TORCHVISION)
def test_state_dict_keys_and_shapes_equal_torchvision(name):
    with torch.device("meta"):
        reference = getattr(torchvision.models, name)()
    assert state_shapes(build_on_meta(name)) == state_shapes(reference)


@pytest.mark.parametrize("name", TORCHVISION)
def test_parameter_count_equals_torchvision_metadata(name):
    meta = torchvision.models.get_model_weights(name).IMAGENET1K_V1.meta
    assert cnnzoo.count_parameters(name) == meta["num_params"]


def test_densenet121_count_quoted_in_the_issue():
    assert cnnzoo.count_parameters("densenet121") == 7_978_856


def test_torchvision_weights_load_with_identical_outputs():
    reference = torchvision.models.densenet121(weights=None)
    with torch.no_grad():  # non-trivial batch-norm statistics, so a misplaced one shows
        for m in reference.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5), m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1), m.running_var.uniform_(0.5, 1.5)
    model = cnnzoo.create_model("densenet121")
    model.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference.eval()(x))


@pytest.mark.parametrize("name", TORCHVISION)
def test_depth_in_the_name_counts_the_weight_layers(name):
    assert weight_layers(build_on_meta(name)) == int(name.removeprefix("densenet"))


def test_densenet264_is_torchvisions_densenet_class_at_table1s_configuration():
    # torchvision registers no DenseNet-264; its DenseNet class at Table 1's DenseNet-264
    # column (k = 32, blocks 6, 12, 64, 48, 2k stem channels) is the reference.
    with torch.device("meta"):
        reference = torchvision.models.DenseNet(32, (6, 12, 64, 48), 64)
    assert state_shapes(build_on_meta("densenet264")) == state_shapes(reference)


def test_densenet264_has_table1_blocks():
    # Table 1's DenseNet-264 rows: 6, 12, 64, 48 layers of two convolutions each, plus the
    # stem, three transitions and the classifier: 2·130 + 5 = 265 weight layers.
    model = build_on_meta("densenet264")
    blocks = [len(model.features.get_submodule(f"denseblock{i}")) for i in range(1, 5)]
    assert blocks == [6, 12, 64, 48]
    assert weight_layers(model) == 265


@pytest.mark.parametrize("name,millions", TABLE2_PARAMS.items())
def test_cifar_parameter_counts_match_table2(name, millions):
    assert round(cnnzoo.count_parameters(name) / 1e6, 1) == millions


@pytest.mark.parametrize("name", TABLE2_PARAMS)
def test_cifar_depth_L_counts_the_weight_layers(name):
    depth = int(name.split("_k")[0].removeprefix("densenet").removeprefix("_bc_"))
    assert weight_layers(build_on_meta(name)) == depth


@pytest.mark.parametrize("name,growth,bc", [("densenet40_k12", 12, False),
                                            ("densenet_bc_100_k12", 12, True)])
def test_cifar_layout_of_section_3_implementation_details(name, growth, bc):
    """§3, "Implementation Details": a 3×3 stem with 16 channels (2k for BC), three blocks
    on 32×32, 16×16 and 8×8 maps, transitions that halve the channels in DenseNet-BC
    (θ = 0.5) and keep them else."""
    model = build_on_meta(name)
    stem = model.features.conv0
    assert stem.kernel_size == (3, 3) and stem.out_channels == (2 * growth if bc else 16)
    sizes = {}
    for i in (1, 2, 3):
        model.features.get_submodule(f"denseblock{i}").register_forward_hook(
            lambda m, inp, out, i=i: sizes.__setitem__(i, tuple(out.shape[2:])))
    out = model.eval()(torch.empty(2, 3, 32, 32, device="meta"))
    assert out.shape == (2, 10)
    assert sizes == {1: (32, 32), 2: (16, 16), 3: (8, 8)}
    for i in (1, 2):
        conv = model.features.get_submodule(f"transition{i}").conv
        assert conv.out_channels == (conv.in_channels // 2 if bc else conv.in_channels)


def test_imagenet_models_take_224():
    model = build_on_meta("densenet169")
    assert model.default_input_size == (3, 224, 224)
    assert model.eval()(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1000)


def test_memory_efficient_gives_equal_outputs_gradients_and_statistics():
    plain = cnnzoo.create_model("densenet_bc_100_k12")
    efficient = cnnzoo.create_model("densenet_bc_100_k12", memory_efficient=True)
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 8, 8)
    outs = [m.train()(x) for m in (plain, efficient)]
    torch.testing.assert_close(outs[1], outs[0])
    for out in outs:
        out.square().mean().backward()
    for (name, p), q in zip(plain.named_parameters(), efficient.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=name)
    # The recomputation in the backward pass must not count the batch twice.
    for (name, a), b in zip(plain.state_dict().items(), efficient.state_dict().values()):
        torch.testing.assert_close(b, a, msg=name)


def test_bad_drop_rate_is_a_clear_error():
    with pytest.raises(ValueError, match="drop_rate"):
        cnnzoo.create_model("densenet_bc_100_k12", drop_rate=1.5)
