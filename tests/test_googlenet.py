"""GoogLeNet, torchvision's GoogLeNet and BN-Inception (issue 3).

Every number asserted here comes from the papers' tables, the issue's walk-through or
torchvision; big shapes are checked on the meta device, real arithmetic runs at 224×224
with batch 1 or 2.
"""

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import GoogLeNet_Weights

import cnnzoo
from cnnzoo.layers import LocalResponseNorm
from cnnzoo.models.googlenet import BasicConv2d

from conftest import build_on_meta, multiply_adds, multiply_adds_by_module, n_params

# Szegedy et al. 2014, Table 1 (and the issue): output channels and grid of each module at 224.
MODULES = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
CHANNELS = [256, 480, 512, 512, 512, 528, 832, 832, 1024]
GRIDS = [28, 28, 14, 14, 14, 14, 14, 7, 7]


def random_weights(model: nn.Module) -> nn.Module:
    """Give a model built on the meta device real, finite, random weights and batch-norm
    statistics (faster than the reference libraries' own initialisation)."""
    model.to_empty(device="cpu")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, (2.0 / m.weight[0].numel()) ** 0.5)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.zero_()
    return model


def output_shapes(model: nn.Module, names, size: int) -> list[tuple[int, ...]]:
    """C×H×W of the named submodules' outputs for one size×size input, on the meta device."""
    shapes = {}
    hooks = [model.get_submodule(n).register_forward_hook(
        lambda mod, inp, out, n=n: shapes.__setitem__(n, tuple(out.shape[1:])))
        for n in names]
    model.eval()(torch.empty(1, model.in_chans, size, size, device="meta"))
    for h in hooks:
        h.remove()
    return [shapes[n] for n in names]


@pytest.mark.parametrize("name", ["googlenet", "googlenet_tv"])
def test_module_output_channels_and_grids_at_224(name):
    shapes = output_shapes(build_on_meta(name), [f"inception{m}" for m in MODULES], 224)
    assert shapes == [(c, g, g) for c, g in zip(CHANNELS, GRIDS)]


# Szegedy et al. 2014 (arXiv 1409.4842), Table 1, "ops" column (millions of multiply-adds at
# 224×224), row by row: 34M, 360M, 128M, 304M, 73M, 88M, 100M, 119M, 170M, 54M, 71M, 1M. The
# table gives the 1×1 "#3×3 reduce" 64 and the 3×3 192 of the stem as one row (here conv2 and
# conv3). Two rows disagree with the table's own filter columns and are left out: conv1 (34M,
# but 7×7×3×64 weights at 112×112 make 118M; its 2.7K params are not 7·7·3·64 either) and
# 5a (54M, but its filter numbers at 7×7 make 51M).
TABLE1_OPS = {
    ("conv2", "conv3"): 360, ("inception3a",): 128, ("inception3b",): 304,
    ("inception4a",): 73, ("inception4b",): 88, ("inception4c",): 100, ("inception4d",): 119,
    ("inception4e",): 170, ("inception5b",): 71, ("fc",): 1,
}


def test_multiply_adds_per_layer_match_table1():
    macs = multiply_adds_by_module(build_on_meta("googlenet", aux_logits=False))
    for layers, millions in TABLE1_OPS.items():
        # the table prints whole millions, cut (4a: 73.6M is printed 73M) or rounded
        counted = sum(macs[n] for n in layers) / 1e6
        assert millions in (int(counted), round(counted)), (layers, counted)


# Szegedy et al. 2014, Table 1, "params" column: 2.7K, 112K, 159K, 380K, 364K, 437K, 463K,
# 580K, 840K, 1072K, 1388K, 1000K. Its K is 1024 weights, biases left out: the linear row's
# 1000K is 1024·1000 weights, the stem's 112K is (64·64 + 64·9·192)/1024 exactly. Only these
# two rows and 3a (163,328 weights, 159.5K, printed cut) agree with the table's own filter
# columns; the others do not (3b's make 379.0K, 4a 366.8K, 4b 438.0K, 4c 497.5K, 4d 590.5K,
# 4e 847.0K, 5a 1018.0K, 5b 1409.0K; conv1 9.2K) and are left out.
TABLE1_PARAMS_K = {("conv2", "conv3"): 112, ("inception3a",): 159, ("fc",): 1000}


def test_weights_per_layer_match_table1():
    model = build_on_meta("googlenet", aux_logits=False)
    for layers, kilo in TABLE1_PARAMS_K.items():
        weights = sum(p.numel() for n in layers
                      for name, p in model.get_submodule(n).named_parameters()
                      if name.endswith("weight") and p.dim() > 1)
        assert int(weights / 1024) == kilo, (layers, weights / 1024)


def test_bn_inception_multiply_adds_match_hu_et_al():
    # Hu et al. 2017 (SENet, arXiv v4), Table 2, "re-implementation" column: BN-Inception,
    # 2.03 GFLOPs at 224×224 (2.04 with SE blocks)
    assert multiply_adds(build_on_meta("bn_inception")) == pytest.approx(2.03e9, rel=0.005)


def test_bn_inception_separable_first_convolution():
    # Ioffe & Szegedy 2015, appendix: "separable convolution with depth multiplier 8 on the
    # first convolutional layer" (7×7/2, 3 → 64 channels, on a 112×112 output): 7·7·3·8
    # depthwise and 3·8·64 pointwise weights in place of 7·7·3·64.
    plain = build_on_meta("bn_inception")
    separable = build_on_meta("bn_inception", separable_stem=True)
    assert n_params(plain) - n_params(separable) == 7 * 7 * 3 * 64 - (7 * 7 * 3 * 8 + 3 * 8 * 64)
    assert multiply_adds(plain) - multiply_adds(separable) == 112 * 112 * (
        7 * 7 * 3 * 64 - (7 * 7 * 3 * 8 + 3 * 8 * 64))
    x = torch.randn(1, 3, 224, 224)
    assert cnnzoo.create_model("bn_inception", separable_stem=True).eval()(x).shape == (1, 1000)


def test_1x1_reductions_saving_in_3a():
    """The classic arithmetic for module 3a at 192 input channels, no biases: 163,328
    weights with the 1×1 reductions; 387,072 if its 1×1, 3×3 and 5×5 convolutions read
    the 192 channels directly (the naive module of Figure 2a, no pool projection)."""
    module = build_on_meta("googlenet").inception3a
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    assert {c.in_channels for c in convs if c.kernel_size == (1, 1)} == {192}
    assert sum(c.weight.numel() for c in convs) == 163_328
    naive = [module.branch1.conv, module.branch2[-1].conv, module.branch3[-1].conv]
    assert [c.kernel_size for c in naive] == [(1, 1), (3, 3), (5, 5)]
    assert sum(192 * c.out_channels * c.kernel_size[0] * c.kernel_size[1] for c in naive) == 387_072


def test_googlenet_is_the_published_network():
    model = build_on_meta("googlenet")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(isinstance(m, BasicConv2d) and m.conv.bias is not None
               for m in model.modules() if isinstance(m, BasicConv2d))
    assert sum(isinstance(m, LocalResponseNorm) for m in model.modules()) == 2  # Figure 3
    assert all(getattr(model, f"inception{m}").branch3[1].conv.kernel_size == (5, 5)
               for m in MODULES)
    assert model.dropout.p == 0.4
    # §5: 5×5/3 average pool, 1×1 conv with 128 filters, fc 1024, dropout 0.7, linear
    for head in (model.aux1, model.aux2):
        assert (head.pool.kernel_size, head.pool.stride) == (5, 3)
        assert head.conv.conv.out_channels == 128 and head.fc1.out_features == 1024
        assert head.dropout.p == 0.7 and head.fc2.out_features == 1000


def test_googlenet_forward_train_gives_two_aux_heads_and_forward_the_main_logits():
    model = cnnzoo.create_model("googlenet", num_classes=10, dropout=0.0)
    assert model.aux_loss_weight == 0.3
    x = torch.randn(1, 3, 224, 224)
    model.train()
    with torch.no_grad():
        logits, aux = model.forward_train(x)
        train_out = model(x)
        eval_out = model.eval()(x)
    assert len(aux) == 2 and all(a.shape == (1, 10) for a in aux)
    assert isinstance(train_out, torch.Tensor)
    # no batch norm and dropout disabled: the same main logits in train and eval mode
    torch.testing.assert_close(train_out, logits)
    torch.testing.assert_close(eval_out, train_out)
    no_heads = build_on_meta("googlenet", aux_logits=False)
    assert no_heads.aux_loss_weight == 0.0 and not hasattr(no_heads, "aux1")


def test_googlenet_with_aux_heads_takes_exactly_224():
    model = build_on_meta("googlenet")
    assert model.min_input_size is None
    for size in (223, 225, 256):
        with pytest.raises(ValueError, match="3×224×224"):
            model(torch.empty(1, 3, size, size, device="meta"))


def test_googlenet_tv_counts_are_torchvisions():
    meta = GoogLeNet_Weights.IMAGENET1K_V1.meta
    assert cnnzoo.count_parameters("googlenet_tv", aux_logits=False) == 6_624_904
    assert meta["num_params"] == 6_624_904
    with torch.device("meta"):
        tv = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
    assert cnnzoo.count_parameters("googlenet_tv") == n_params(tv)


def test_googlenet_tv_figures_are_torchvisions():
    meta = GoogLeNet_Weights.IMAGENET1K_V1.meta
    info = cnnzoo.model_info("googlenet_tv")
    assert info.figure("params").value == meta["num_params"]
    assert info.figure("top1").value == meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert info.figure("top5").value == meta["_metrics"]["ImageNet-1K"]["acc@5"]
    assert info.figure("macs").value == pytest.approx(meta["_ops"] * 1e9)


@pytest.mark.parametrize("transform_input, size", [(False, 224), (True, 96)])
def test_googlenet_tv_loads_torchvision_state_dict_and_gives_its_logits(transform_input, size):
    with torch.device("meta"):
        tv = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True,
                                          transform_input=transform_input)
        ours = cnnzoo.create_model("googlenet_tv", transform_input=transform_input)
    random_weights(tv).eval()
    ours.to_empty(device="cpu").load_state_dict(tv.state_dict())  # strict: same keys
    ours.eval()
    x = torch.randn(1, 3, size, size)
    taps = {}
    for n in ("inception4a", "inception4d"):
        getattr(tv, n).register_forward_hook(lambda m, i, o, n=n: taps.__setitem__(n, o))
    with torch.no_grad():
        expected = tv(x)
        expected_aux = [tv.aux1(taps["inception4a"]), tv.aux2(taps["inception4d"])]
        logits, aux = ours.forward_train(x)
        out = ours(x)
    assert torch.isfinite(expected).all() and expected.std() > 0
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(logits, expected)
    for got, want in zip(aux, expected_aux, strict=True):
        torch.testing.assert_close(got, want)


def test_googlenet_tv_transform_input_off_by_default_as_torchvision_without_weights():
    assert torchvision.models.googlenet(weights=None, init_weights=False).transform_input is False
    assert build_on_meta("googlenet_tv").transform_input is False


def test_googlenet_tv_min_input_size_is_torchvisions():
    meta = GoogLeNet_Weights.IMAGENET1K_V1.meta
    assert build_on_meta("googlenet_tv").min_input_size == meta["min_size"]


def assert_min_input_size_is_tight(name: str, **options) -> None:
    """The declared smallest input runs (auxiliary heads included); one pixel less breaks
    the network's arithmetic itself, and the input check reports it first."""
    model = build_on_meta(name, **options).eval()
    h, w = model.min_input_size
    logits, _ = model.forward_train(torch.empty(1, 3, h, w, device="meta"))
    assert logits.shape == (1, 1000)
    with pytest.raises(RuntimeError):
        model._run(torch.empty(1, 3, h - 1, w, device="meta"), with_aux=True)
    with pytest.raises(ValueError, match=f"H ≥ {h}"):
        model(torch.empty(1, 3, h - 1, w, device="meta"))


@pytest.mark.parametrize("name, options", [("googlenet", {"aux_logits": False}),
                                           ("googlenet_tv", {}), ("bn_inception", {})])
def test_min_input_size_is_the_true_minimum(name, options):
    assert_min_input_size_is_tight(name, **options)


def test_reset_classifier_resets_the_aux_heads_too():
    model = build_on_meta("googlenet_tv")
    model.reset_classifier(7)
    assert model.fc.out_features == model.aux1.fc2.out_features == model.aux2.fc2.out_features == 7
    logits, aux = model.forward_train(torch.empty(2, 3, 224, 224, device="meta"))
    assert logits.shape == (2, 7) and [a.shape for a in aux] == [(2, 7), (2, 7)]


BN_MODULES = ["3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]


def test_bn_inception_follows_figure_5():
    model = build_on_meta("bn_inception")
    shapes = output_shapes(model, [f"inception{m}" for m in BN_MODULES], 224)
    # Grids: Figure 5's output-size column. Channels: the sums of its filter columns, which
    # the Caffe port (Cadene's pretrained-models bninception) has too; the table's own
    # output column prints 576 for 4c/4d and 1024 for 4e.
    assert [s[1:] for s in shapes] == [(g, g) for g in (28, 28, 14, 14, 14, 14, 14, 7, 7, 7)]
    assert [s[0] for s in shapes] == [256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024]
    convs = [m for m in model.modules() if isinstance(m, BasicConv2d)]
    assert all(c.bn is not None and c.conv.bias is None for c in convs)  # BN after every conv
    assert not any(isinstance(m, (LocalResponseNorm, nn.Linear)) for m in model.modules()
                   if m is not model.fc)
    # double 3×3 in place of 5×5; avg/max pooling and pass-through as the table says
    assert [c.conv.kernel_size for c in model.inception3a.branch3[1:]] == [(3, 3), (3, 3)]
    assert isinstance(model.inception3a.branch4[0], nn.AvgPool2d)
    assert isinstance(model.inception5b.branch4[0], nn.MaxPool2d)
    for m in (model.inception3c, model.inception4e):
        assert m.branch1 is None and isinstance(m.branch4, nn.MaxPool2d) and m.branch4.stride == 2
    assert model.forward_train(torch.empty(1, 3, 224, 224, device="meta"))[1] == []
