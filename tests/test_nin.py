"""Network in Network (Lin et al. 2013): the paper's CIFAR-10 network and the textbook's
ImageNet layout, against the code and numbers that define them."""

from collections import OrderedDict

import pytest
import torch
from torch import nn

import cnnzoo

from conftest import build_on_meta, n_params


def conv(c_in, c_out, k):
    return c_out * (c_in * k * k + 1)


def test_cifar10_layer_widths_and_parameters():
    """§4.2 and the authors' released definition: mlpconv 192-160-96 (5×5), 192-192-192
    (5×5), 192-192-10 (3×3); no fully-connected layer."""
    model = build_on_meta("nin")
    widths = [(m.kernel_size[0], m.out_channels) for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [(5, 192), (1, 160), (1, 96), (5, 192), (1, 192), (1, 192),
                      (3, 192), (1, 192), (1, 10)]
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    expected = (conv(3, 192, 5) + conv(192, 160, 1) + conv(160, 96, 1)
                + conv(96, 192, 5) + conv(192, 192, 1) + conv(192, 192, 1)
                + conv(192, 192, 3) + conv(192, 192, 1) + conv(192, 10, 1))
    assert n_params(model) == expected


def test_cifar10_pooling_halves_the_maps_and_dropout_follows_the_first_two():
    """§4.1: each mlpconv but the last is followed by max pooling that downsamples by two;
    dropout on the outputs of all but the last mlpconv; global average pooling at the end."""
    model = build_on_meta("nin")
    x = torch.empty(1, 3, 32, 32, device="meta")
    sizes = {}
    for name, layer in model.features.named_children():
        x = layer(x)
        sizes[name] = tuple(x.shape[1:])
    assert sizes["pool1"] == (96, 16, 16) and sizes["pool2"] == (192, 8, 8)
    assert sizes["mlpconv3"] == (10, 8, 8)  # one confidence map per class
    assert [n for n, m in model.features.named_children() if isinstance(m, nn.Dropout)] == [
        "drop1", "drop2"]
    assert all(isinstance(model.features.get_submodule(p), nn.MaxPool2d) for p in ("pool1", "pool2"))


def test_logits_are_the_average_of_the_class_maps():
    model = cnnzoo.create_model("nin").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        maps = model.forward_features(x)
        torch.testing.assert_close(model(x), maps.mean(dim=(2, 3)))


def released_cifar10_nin():
    """The authors' released CIFAR-10 model (Lin's Caffe gist, as Lasagne's model zoo
    transcribes it), with the paper's max pooling after the second mlpconv too."""
    def relu_conv(c_in, c_out, k, pad=0):
        return [nn.Conv2d(c_in, c_out, k, padding=pad), nn.ReLU()]

    return nn.Sequential(
        *relu_conv(3, 192, 5, 2), *relu_conv(192, 160, 1), *relu_conv(160, 96, 1),
        nn.MaxPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
        *relu_conv(96, 192, 5, 2), *relu_conv(192, 192, 1), *relu_conv(192, 192, 1),
        nn.MaxPool2d(3, 2, ceil_mode=True), nn.Dropout(0.5),
        *relu_conv(192, 192, 3, 1), *relu_conv(192, 192, 1), *relu_conv(192, 10, 1),
        nn.AvgPool2d(8), nn.Flatten())


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    """Dive into Deep Learning §8.3 (PyTorch edition), with explicit input channels."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def d2l_nin(num_classes):
    return nn.Sequential(
        nin_block(3, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(384, num_classes, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten())


@pytest.mark.parametrize("name, reference, size", [
    ("nin", released_cifar10_nin, 32),
    ("nin_imagenet", lambda: d2l_nin(1000), 96),
])
def test_computes_its_reference_network(name, reference, size):
    ours, ref = cnnzoo.create_model(name).eval(), reference().eval()
    assert n_params(ours) == n_params(ref)
    ref.load_state_dict(OrderedDict(zip(ref.state_dict(), ours.state_dict().values())))
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))


def test_imagenet_layout_shapes_as_the_textbook_prints_them():
    """d2l §8.3 prints, for a 224×224 input: 96@54×54, 96@26×26, 256@26×26, 256@12×12,
    384@12×12, 384@5×5, then classes@5×5 and the pooled logits."""
    model = build_on_meta("nin_imagenet", num_classes=10)
    x = torch.empty(1, 3, 224, 224, device="meta")
    shapes = []
    for _, layer in model.features.named_children():
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 12, 12), (384, 12, 12),
                      (384, 5, 5), (384, 5, 5), (10, 5, 5)]
    assert model(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 10)


def test_smallest_inputs():
    model = build_on_meta("nin_imagenet")
    assert model(torch.empty(1, 3, 67, 67, device="meta")).shape == (1, 1000)
    with pytest.raises(ValueError, match="nin_imagenet expects 3×H×W input with H ≥ 67"):
        model(torch.empty(1, 3, 66, 67, device="meta"))
    model = build_on_meta("nin")
    assert model(torch.empty(1, 3, 8, 8, device="meta")).shape == (1, 10)
