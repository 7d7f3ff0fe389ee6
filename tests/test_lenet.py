"""LeNet-5 (LeCun et al. 1998), its textbook variants, and Han et al.'s MNIST networks.

Every number here comes from the papers or the issue that quotes them; the reference
networks are written out as the textbook / Caffe define them.
"""

import math
from collections import OrderedDict

import pytest
import torch
from torch import nn

import cnnzoo

from conftest import build_on_meta, n_params

# LeCun et al. 1998, §II.B: trainable parameters per layer, and the output map of each layer.
LENET5_LAYERS = {
    "c1": (156, (6, 28, 28)),
    "s2": (12, (6, 14, 14)),
    "c3": (1_516, (16, 10, 10)),
    "s4": (32, (16, 5, 5)),
    "c5": (48_120, (120, 1, 1)),
    "f6": (10_164, (84,)),
}


def test_lenet5_parameters_per_layer_and_total():
    model = build_on_meta("lenet5")
    for name, (count, _) in LENET5_LAYERS.items():
        assert n_params(model.features.get_submodule(name)) == count, name
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 60_000
    assert n_params(model.output) == 0  # the RBF centres are not parameters


def test_lenet5_feature_map_shapes():
    model = build_on_meta("lenet5")
    x = torch.empty(2, 1, 32, 32, device="meta")
    for name, layer in model.features.named_children():
        x = layer(x)
        if name in LENET5_LAYERS:
            assert tuple(x.shape[1:]) == LENET5_LAYERS[name][1], name
    assert model(torch.empty(2, 1, 32, 32, device="meta")).shape == (2, 10)


def paper_table_1():
    """Table I as the text of §II.B describes it: the first six C3 maps take every
    contiguous subset of three S2 maps, the next six every contiguous subset of four, the
    next three some discontinuous subsets of four, and the last one all six."""
    table = [{(j + d) % 6 for d in range(3)} for j in range(6)]
    table += [{(j + d) % 6 for d in range(4)} for j in range(6)]
    table += [{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}]
    table += [set(range(6))]
    return table


def test_c3_connection_table_is_the_papers():
    c3 = cnnzoo.create_model("lenet5").features.c3
    assert [set(c3.inputs_of(j)) for j in range(16)] == paper_table_1()


def test_c3_output_maps_ignore_unconnected_inputs():
    """Behaviour, not bookkeeping: changing S2 map i moves exactly the C3 maps it feeds."""
    c3 = cnnzoo.create_model("lenet5").features.c3
    x = torch.randn(1, 6, 14, 14)
    base = c3(x)
    for i in range(6):
        x2 = x.clone()
        x2[:, i] += torch.randn(14, 14)
        changed = {j for j in range(16) if not torch.equal(c3(x2)[:, j], base[:, j])}
        assert changed == {j for j, inputs in enumerate(paper_table_1()) if i in inputs}


def test_subsampling_is_coefficient_times_sum_plus_bias():
    s2 = cnnzoo.create_model("lenet5").features.s2
    x = torch.randn(1, 6, 4, 4)
    out = s2(x)
    for m in range(6):
        for r in range(2):
            for c in range(2):
                window = x[0, m, 2 * r: 2 * r + 2, 2 * c: 2 * c + 2].sum()
                expected = window * s2.weight[m] + s2.bias[m]
                torch.testing.assert_close(out[0, m, r, c], expected)


def test_rbf_centres_are_fixed_plus_minus_one_bitmaps():
    model = cnnzoo.create_model("lenet5")
    centres = model.output.centers
    assert centres.shape == (10, 7 * 12)
    assert not centres.requires_grad
    assert set(centres.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(row.tolist()) for row in centres}) == 10
    assert all("output" not in name for name, _ in model.named_parameters())
    before = centres.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    logits = model(torch.randn(4, 1, 32, 32))
    model.loss(logits, torch.tensor([0, 1, 2, 3])).backward()
    opt.step()
    assert torch.equal(model.output.centers, before)


def test_logits_are_negative_squared_distances():
    """Eq. 7: y_i = Σ_j (x_j − w_ij)²; an F6 state equal to digit k's code is class k."""
    model = cnnzoo.create_model("lenet5").eval()
    centres = model.output.centers
    logits = model.forward_head(centres)
    assert torch.equal(logits.argmax(1), torch.arange(10))
    assert torch.all(logits.diagonal() == 0)
    state = torch.randn(5, 84)
    torch.testing.assert_close(model.forward_head(state), -torch.cdist(state, centres) ** 2,
                               rtol=1e-4, atol=1e-3)


def test_loss_is_the_papers_equation_9():
    model = cnnzoo.create_model("lenet5", j=0.7)
    logits = -torch.rand(6, 10) * 20  # logits are −y, y ≥ 0
    target = torch.tensor([0, 3, 9, 1, 1, 5])
    y = -logits
    eq9 = (y[torch.arange(6), target]
           + torch.log(math.exp(-0.7) + torch.exp(-y).sum(1))).mean()
    torch.testing.assert_close(model.loss(logits, target), eq9)


def test_predict_scores_follow_the_logits():
    model = cnnzoo.create_model("lenet5")
    logits = -torch.rand(4, 10) * 5
    scores = model.predict_scores(logits)
    assert torch.equal(scores.argmax(1), logits.argmax(1))
    assert torch.all(scores.sum(1) < 1) and torch.all(scores > 0)


def test_lenet5_rejects_mnist_size_clearly():
    model = cnnzoo.create_model("lenet5")
    with pytest.raises(ValueError, match="lenet5 expects 1×32×32 input, got 3×28×28"):
        model(torch.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match="positive"):
        cnnzoo.create_model("lenet5", j=0)


def test_lenet5_other_class_counts_get_distinct_codes():
    model = cnnzoo.create_model("lenet5", num_classes=12)
    digits = cnnzoo.create_model("lenet5").output.centers
    centres = model.output.centers
    assert centres.shape == (12, 84) and torch.equal(centres[:10], digits)
    assert len({tuple(row.tolist()) for row in centres}) == 12
    model.reset_classifier(3)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 3)
    assert torch.equal(model.output.centers, digits[:3])


# -- the modern variants, against the code that defines them -----------------------------
def d2l_lenet():
    """Dive into Deep Learning, §7.6 (PyTorch edition), verbatim."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def relu_lenet():
    """The modern LeNet-5: the same network with ReLU and max pooling."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def caffe_lenet():
    """Caffe's examples/mnist/lenet_train_test.prototxt: conv1 20, pool1, conv2 50, pool2,
    ip1 500, relu1, ip2 10 (no activation after the convolutions)."""
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))


def mlp_300_100():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                         nn.ReLU(), nn.Linear(100, 10))


@pytest.mark.parametrize("name, reference", [
    ("lenet5_textbook", d2l_lenet),
    ("lenet5_relu", relu_lenet),
    ("lenet5_caffe", caffe_lenet),
    ("lenet_300_100", mlp_300_100),
])
def test_variant_computes_its_reference_network(name, reference):
    ours, ref = cnnzoo.create_model(name).eval(), reference().eval()
    assert n_params(ours) == n_params(ref)
    ref.load_state_dict(OrderedDict(zip(ref.state_dict(), ours.state_dict().values())))
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(ours(x), ref(x))


def test_han_et_al_parameter_counts():
    """Issue 7's totals, and the per-layer counts of Han et al. 2015 (Learning both Weights
    and Connections), Tables 2 and 3, which are rounded (235K, 30K, 1K; 0.5K, 25K, 400K, 5K)."""
    mlp = build_on_meta("lenet_300_100")
    assert n_params(mlp) == 266_610
    layers = [n_params(mlp.classifier.get_submodule(f"fc{i}")) for i in (1, 2, 3)]
    assert layers == pytest.approx([235_000, 30_000, 1_000], rel=0.05)
    caffe = build_on_meta("lenet5_caffe")
    assert n_params(caffe) == 431_080
    layers = [n_params(caffe.features.conv1), n_params(caffe.features.conv2),
              n_params(caffe.classifier.fc1), n_params(caffe.classifier.fc2)]
    assert layers == pytest.approx([500, 25_000, 400_000, 5_000], rel=0.05)


@pytest.mark.parametrize("name, layer", [("lenet5_caffe", "classifier.fc1"), ("lenet_300_100", "classifier.fc1")])
def test_caffe_networks_start_from_caffes_xavier_filler(name, layer):
    # Caffe's filler.hpp, XavierFiller: U(±sqrt(3 / n)), n = fan_in by default (Glorot's
    # U(±sqrt(6 / (fan_in + fan_out))) is wider for these layers)
    weight = dict(cnnzoo.create_model(name).named_parameters())[f"{layer}.weight"]
    bound = math.sqrt(3 / weight.shape[1])
    assert weight.abs().max() <= bound and weight.abs().max() > 0.99 * bound
