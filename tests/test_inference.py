"""The fast inference path: batch-norm folding and the inference wrapper.

The oracle for folding is the unfolded model itself (PyTorch's own eval-mode batch norm);
the counts of foldable layers come from torchvision's models and the DenseNet paper.
"""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import cnnzoo
from cnnzoo import inference
from cnnzoo.inference import autocast_dtype, find_conv_bn_pairs, fold_batchnorm, optimize_for_inference
from cnnzoo.layers import ConvNormAct
from cnnzoo.models.base import Classifier


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random running statistics and affine parameters, so that folding is not a no-op."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model.eval()


def n_bn(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def assert_same_outputs(a: nn.Module, b: nn.Module, x: torch.Tensor):
    with torch.no_grad():
        ya, yb = a(x), b(x)
    # float32 tolerance relative to the output's scale (random BN stats inflate it)
    scale = ya.abs().max().item()
    torch.testing.assert_close(yb, ya, rtol=1e-4, atol=1e-5 * max(1.0, scale))


# A small input each network takes, to keep the test quick.
MODELS = {
    "resnet20": (3, 32, 32),
    "resnet50_tv": (3, 64, 64),
    "preact_resnet18": (3, 32, 32),
    "mobilenet_v2": (3, 64, 64),
    "densenet_bc_100_k12": (3, 32, 32),
    "googlenet_tv": (3, 64, 64),
    "bn_inception": (3, 64, 64),
    "resnext50_32x4d": (3, 64, 64),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_folded_model_matches_unfolded(name):
    model = randomize_bn(cnnzoo.create_model(name))
    folded = fold_batchnorm(model)
    assert folded.folded_bn > 0
    assert n_bn(folded) == n_bn(model) - folded.folded_bn
    assert_same_outputs(model, folded, torch.randn(2, *MODELS[name]))


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "preact_resnet18", "googlenet_tv"])
def test_module_pair_fallback_matches_unfolded(name, monkeypatch):
    """Where torch.fx cannot trace, pairs come from Sequential neighbours and from one
    forward pass: still exact, and they are the pairs the traced graph gives (two
    independent methods agree); pre-activation blocks (bn1 *before* conv1) are not folded."""
    model = randomize_bn(cnnzoo.create_model(name))
    x = torch.randn(2, 3, 64, 64)
    traced, method = find_conv_bn_pairs(model)
    assert method == "fx"

    def untraceable(model):
        raise RuntimeError("pretend torch.fx cannot trace this model")

    monkeypatch.setattr(inference, "_pairs_from_fx", untraceable)
    pairs, method = find_conv_bn_pairs(model, x)
    assert method == "modules" and sorted(pairs) == sorted(traced)
    folded = fold_batchnorm(model, example=x)
    assert folded.fold_method == "modules"
    assert_same_outputs(model, folded, x)


def test_every_torchvision_resnet50_bn_follows_a_conv():
    # torchvision's ResNet-50: 53 convolutions, each followed by its batch norm.
    tv = randomize_bn(torchvision.models.resnet50(weights=None))
    pairs, method = find_conv_bn_pairs(tv)
    assert method == "fx" and len(pairs) == n_bn(tv) == 53
    assert_same_outputs(tv, fold_batchnorm(tv), torch.randn(1, 3, 64, 64))


def test_densenet121_folds_only_post_conv_norms():
    # Huang et al. 2017, Table 1: 6+12+24+16 = 58 dense layers, each BN-ReLU-Conv(1×1)-
    # BN-ReLU-Conv(3×3): the second BN of each layer follows a conv, as does the stem's
    # norm0; the first BN of each layer, the 3 transitions' and the final one do not.
    model = randomize_bn(cnnzoo.create_model("densenet121"))
    x = torch.randn(1, 3, 64, 64)
    folded = fold_batchnorm(model, example=x)
    assert folded.folded_bn == 58 + 1
    assert n_bn(folded) == 58 + 3 + 1
    assert_same_outputs(model, folded, x)


def test_fold_leaves_the_original_alone():
    model = randomize_bn(cnnzoo.create_model("resnet20"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fold_batchnorm(model)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert n_bn(model) == 19  # He et al. 2015, §4.2: 6n+1 = 19 conv layers for n = 3, each with BN


class _Untraceable(Classifier):
    """A conv whose output feeds a BN *and* a shortcut: folding it would be wrong, and the
    data-dependent ``if`` defeats torch.fx."""

    def __init__(self):
        super().__init__(num_classes=4, in_chans=3, input_size=(16, 16), min_input_size=(8, 8))
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.stem = ConvNormAct(8, 8)
        self.fc = nn.Linear(8, 4)

    def forward_features(self, x):
        if x.shape[-1] > 1000:  # noqa: data-dependent Python branch
            x = x[..., :1000]
        y = self.conv1(x)
        return self.stem(self.bn1(y) + y)

    def forward_head(self, f):
        return self.fc(f.mean((2, 3)))


def test_conv_with_a_second_consumer_is_not_folded():
    model = randomize_bn(_Untraceable())
    folded = fold_batchnorm(model)
    assert folded.fold_method == "modules"
    assert folded.folded_bn == 1  # only the Sequential's conv → BN
    assert isinstance(folded.bn1, nn.BatchNorm2d)
    assert_same_outputs(model, folded, torch.randn(2, 3, 16, 16))


def test_fold_rejects_non_modules():
    with pytest.raises(TypeError, match="nn.Module"):
        fold_batchnorm("resnet20")


@pytest.mark.parametrize("channels_last", [False, True])
def test_optimized_model_matches_eval_model(channels_last):
    model = randomize_bn(cnnzoo.create_model("mobilenet_v2", num_classes=10))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    # Sandler et al. 2018, Table 2: the stem conv, the first bottleneck's 2 convolutions
    # (expansion 1), 16 more bottlenecks of 3, and the final 1×1 conv, each with its BN.
    n_convs = 1 + 2 + 16 * 3 + 1
    fast = optimize_for_inference(model, channels_last=channels_last, device="cpu")
    assert fast.settings["fold_bn"] == n_convs and fast.settings["channels_last"] is channels_last
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
    out = fast(x)
    assert out.shape == (3, 10) and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    # the original is untouched: still in eval mode, with all its BNs and the same tensors
    assert not model.training and n_bn(model) == n_convs
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_channels_last_auto_picks_one_by_timing():
    model = cnnzoo.create_model("resnet20")
    fast = optimize_for_inference(model, channels_last="auto", example=torch.randn(2, 3, 32, 32))
    trial = fast.settings["channels_last_trial_s"]
    assert set(trial) == {"contiguous", "channels_last"} and min(trial.values()) > 0
    assert fast.channels_last == (trial["channels_last"] < trial["contiguous"])


def test_bf16_autocast_on_cpu_is_close():
    model = randomize_bn(cnnzoo.create_model("resnet20"))
    fast = optimize_for_inference(model, amp="bf16", channels_last=False)
    assert fast.amp_dtype is torch.bfloat16
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
    out = fast(x)
    assert out.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: agreement to a few percent of the logits' scale
    assert (out - ref).abs().max() <= 0.05 * ref.abs().max()


def test_autocast_dtype_choices():
    assert autocast_dtype("cpu") is None
    assert autocast_dtype("cpu", "bf16") is torch.bfloat16
    assert autocast_dtype("cpu", "fp16") is torch.float16
    assert autocast_dtype("cpu", "none") is None
    with pytest.raises(ValueError, match="auto, bf16, fp16, none"):
        autocast_dtype("cpu", "int8")


@pytest.mark.parametrize("capability, expected", [
    ((7, 0), torch.float16),   # V100: bf16 only emulated
    ((7, 5), torch.float16),   # T4
    ((8, 0), torch.bfloat16),  # A100: bf16 tensor cores from Ampere, compute capability 8.0
    ((9, 0), torch.bfloat16),  # H100
])
def test_auto_precision_takes_bf16_only_where_the_gpu_computes_it(capability, expected, monkeypatch):
    # NVIDIA's compute capabilities; torch.cuda.is_bf16_supported() says yes on all four
    # (emulation included), so the choice reads the capability. Simulated: no GPU here.
    from cnnzoo.train.loop import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.version, "hip", None)
    assert autocast_dtype("cuda:0") is expected
    assert resolve_precision("auto", torch.device("cuda:0")) == {torch.float16: "fp16", torch.bfloat16: "bf16"}[expected]


def test_optimize_rejects_bad_options():
    with pytest.raises(ValueError, match="channels_last"):
        optimize_for_inference(cnnzoo.create_model("resnet20"), channels_last="yes")
    with pytest.raises(TypeError, match="nn.Module"):
        optimize_for_inference("resnet20")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_fast_path_bf16_matches_fp32_eval():
    model = randomize_bn(cnnzoo.create_model("resnet50_tv", num_classes=10))
    fast = optimize_for_inference(model, device="cuda")  # amp="auto": bf16 on a GPU
    assert fast.amp_dtype in (torch.bfloat16, torch.float16)
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        ref = model.eval()(x)
    out = fast(x).cpu()
    assert (out - ref).abs().max() <= 0.05 * ref.abs().max()


def test_outputs_of_a_cuda_graph_are_handed_out_as_copies():
    # A CUDA graph writes every call's output into one buffer; stand in for it with a
    # function that does the same, and check that earlier outputs keep their values.
    buffer = torch.zeros(2)

    def graph(x):
        return buffer.copy_(x)

    model = inference.InferenceModel(nn.Identity(), torch.device("cpu"), False, None, True, {},
                                     graph, _graph_output=True)
    first = model(torch.ones(2))
    model(torch.full((2,), 5.0))
    assert first.tolist() == [1.0, 1.0]


def test_on_off_arguments_take_only_true_or_false():
    # "no" is truthy: taken as a flag it would fold the caller's own model in place
    model = randomize_bn(cnnzoo.create_model("resnet20"))
    with pytest.raises(TypeError, match="inplace must be True or False, got str 'no'"):
        fold_batchnorm(model, inplace="no")
    assert n_bn(model) == 19  # He et al. 2015, §4.2: 6n+1 = 19 conv layers for n = 3, each with BN
    with pytest.raises(TypeError, match="fold_bn must be True or False, got str 'no'"):
        optimize_for_inference(model, fold_bn="no", channels_last=False)
    with pytest.raises(TypeError, match="inplace must be True or False, got int 1"):
        optimize_for_inference(model, inplace=1, channels_last=False)
    with pytest.raises(ValueError, match="channels_last must be True, False or 'auto', got int 1"):
        optimize_for_inference(model, channels_last=1)
    with pytest.raises(TypeError, match="compile must be True, False or a torch.compile mode name, got int"):
        optimize_for_inference(model, compile=1, channels_last=False)
    with pytest.raises(TypeError, match="example must be a tensor"):
        fold_batchnorm(model, example=[[0.0]])
    with pytest.raises(TypeError, match="find_conv_bn_pairs expects an nn.Module"):
        find_conv_bn_pairs("resnet20")
    with pytest.raises(ValueError, match="amp must be one of auto, bf16, fp16, none"):
        autocast_dtype("cpu", ["bf16"])
    assert n_bn(model) == 19 and not model.training
    # numpy's booleans are true or false too
    fast = optimize_for_inference(model, fold_bn=np.bool_(False), channels_last=np.bool_(False))
    assert fast.settings["fold_bn"] == 0 and fast.settings["channels_last"] is False


def test_finding_pairs_keeps_every_submodules_mode():
    # a network in training with one batch norm frozen (eval) must come back so: the forward
    # pass that confirms pairs runs in eval mode
    model = _Untraceable().train()
    model.bn1.eval()
    modes = [m.training for m in model.modules()]
    assert find_conv_bn_pairs(model)[1] == "modules"  # the pass ran
    assert [m.training for m in model.modules()] == modes
    fold_batchnorm(model, inplace=True)
    assert model.training and not model.bn1.training  # bn1 stays: its conv has a second consumer


def test_same_device_knows_cuda_is_the_current_gpu(monkeypatch):
    # torch.device("cuda") != torch.device("cuda:0"), though a tensor made on "cuda" is on cuda:0
    from cnnzoo._device import same_device

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert same_device("cuda", "cuda:0") and same_device(torch.device("cuda:0"), "cuda")
    assert not same_device("cuda", "cuda:1") and not same_device("cuda", "cpu")
    assert same_device("cpu", torch.device("cpu"))
