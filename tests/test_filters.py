"""cnnzoo.filter_picture / `cnnzoo filters` (a convolution's filters as the papers draw them) and
cnnzoo.feature_picture / `cnnzoo features` (what a layer computes for an image)."""

import math

import numpy as np
import pytest
import torch

import cnnzoo
from cnnzoo.analysis.pictures import MAX_TILES

from conftest import cli_error


def test_lenet5_c3_is_drawn_with_table_one_s_missing_kernels_blank():
    """LeCun et al. 1998: C1 has six 5×5 kernels on the one input map; C3's 16 maps read 60 of
    the 16 × 6 possible S2 maps (Table I), so 36 kernels do not exist."""
    model = cnnzoo.create_model("lenet5")
    c1 = cnnzoo.filter_picture(model)
    assert (c1.layer, c1.filters, c1.in_channels, c1.kernel) == ("features.c1", 6, 1, (5, 5))
    assert (c1.rows, c1.cols) == (1, 6) and c1.pixels.shape == (5 + 2, 6 * 6 + 1)  # one row, 1-pixel gaps and border
    c3 = cnnzoo.filter_picture(model, "features.c3")
    assert (c3.rows, c3.cols, c3.blank) == (16, 6, 16 * 6 - 60)
    tiles = [c3.pixels[1 + r * 6:r * 6 + 6, 1 + c * 6:c * 6 + 6] for r in range(16) for c in range(6)]
    assert sum(bool(math.isnan(t[0, 0])) for t in tiles) == 36


def test_alexnet_s_first_layer_is_ninety_six_colour_kernels():
    """Krizhevsky et al. 2012, Fig. 3: 96 convolutional kernels of size 11×11×3 (drawn here in
    rows of 16, six rows, as the figure's two halves of 48)."""
    picture = cnnzoo.filter_picture(cnnzoo.create_model("alexnet"))
    assert (picture.filters, picture.kernel, picture.colour) == (96, (11, 11), True)
    assert (picture.rows, picture.cols) == (6, 16) and picture.pixels.shape == (6 * 12 + 1, 16 * 12 + 1, 3)
    assert picture.title.endswith("96 filters of 11×11×3")


def test_each_colour_filter_spans_black_to_white_and_a_zero_kernel_is_blank():
    model = cnnzoo.create_model("resnet18")
    with torch.no_grad():
        model.conv1.weight[5] = 0  # pruned whole
    picture = cnnzoo.filter_picture(model)
    first = picture.pixels[1:8, 1:8]  # filter 0: 7×7×3, scaled from its own smallest to largest weight
    assert first.min() == 0 and first.max() == 1
    assert picture.blank == 1 and np.isnan(picture.pixels[1:8, 1 + 5 * 8:1 + 5 * 8 + 7]).all()  # tile 5: 7+1 pixels each


def test_a_wide_layer_draws_the_first_filters_and_channels_and_says_so():
    picture = cnnzoo.filter_picture(cnnzoo.create_model("vgg16"), "features.28")  # conv5_3: 512 × 512 × 3×3
    assert (picture.rows, picture.cols) == (MAX_TILES, MAX_TILES)
    assert picture.title.endswith(f"512 filters × 512 input channels of 3×3; the first {MAX_TILES} × {MAX_TILES} drawn")


def test_a_layer_that_is_no_convolution_is_refused_with_the_closest_names():
    model = cnnzoo.create_model("alexnet")
    with pytest.raises(ValueError, match=r"has no convolution 'features.conv9'; closest: features.conv5, "):
        cnnzoo.filter_picture(model, "features.conv9")
    with pytest.raises(ValueError, match="has no convolution whose filters could be drawn"):
        cnnzoo.filter_picture(torch.nn.Linear(3, 4))
    with pytest.raises(TypeError, match="expects an nn.Module, got str 'alexnet'"):
        cnnzoo.filter_picture("alexnet")


def test_cli_draws_a_run_s_filters_into_the_run_and_keeps_an_earlier_picture(tmp_path, capsys):
    from cnnzoo.cli import main
    from cnnzoo.train.checkpoint import save_weights

    run = tmp_path / "run"
    cnnzoo.train("lenet5_relu", "mnist-sample", epochs=1, out=run, threads=1, channels_last=False,
                 precision="fp32", progress=False)
    assert main(["filters", str(run)]) == 0
    out = capsys.readouterr().out
    picture = run / "filters-features.conv1.png"
    assert "wrote" in out and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = picture.read_bytes()
    assert "exists; pass --overwrite" in cli_error(["filters", str(run)], capsys)
    assert picture.read_bytes() == before
    ckpt = tmp_path / "lenet5.safetensors"
    save_weights(ckpt, cnnzoo.create_model("lenet5"))
    assert main(["filters", str(ckpt), "--layer", "features.c3", "--out", str(tmp_path / "c3.png")]) == 0
    assert "36 blank: zero throughout" in capsys.readouterr().out
    assert main(["filters", "alexnet", "--out", str(tmp_path / "a.png")]) == 0
    assert "untrained here: its filters are random" in capsys.readouterr().err


def test_feature_maps_are_each_scaled_from_their_least_to_their_greatest_response():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))  # the image, and its negative
    x = torch.arange(12.0).view(1, 3, 4)
    picture = cnnzoo.feature_picture(net, x, image="ramp")
    ramp = (x[0] / 11).numpy()
    np.testing.assert_allclose(picture.pixels[1:4, 1:5], ramp, atol=1e-6)  # within a 1-pixel border
    np.testing.assert_allclose(picture.pixels[1:4, 6:10], 1 - ramp, atol=1e-6)  # after a 1-pixel gap
    assert picture.title == "Sequential: 0 on ramp, 2 maps of 3×4" and picture.layer == "0"


def test_lenet5_c1_computes_six_maps_of_28_by_28():
    """LeCun et al. 1998, §II.B: C1 is 6 feature maps of 28×28 from the 32×32 input."""
    picture = cnnzoo.feature_picture(cnnzoo.create_model("lenet5"), torch.rand(1, 32, 32))
    assert (picture.layer, picture.rows, picture.cols) == ("features.c1", 1, 6)
    assert picture.pixels.shape == (28 + 2, 6 * 29 + 1)
    with pytest.raises(ValueError, match=r"expected one image as a floating-point C×H×W .*tensor of shape \(2, 1, 32, 32\)"):
        cnnzoo.feature_picture(cnnzoo.create_model("lenet5"), torch.rand(2, 1, 32, 32))
    with pytest.raises(TypeError, match="expected one image as a C×H×W tensor .*got ndarray"):
        cnnzoo.feature_picture(cnnzoo.create_model("lenet5"), np.zeros((1, 32, 32)))
    with pytest.raises(ValueError, match="floating-point .*got a torch.uint8 tensor"):
        cnnzoo.feature_picture(cnnzoo.create_model("lenet5"), torch.zeros(1, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"lenet5: output gives a tensor of shape \(1, 10\), not feature maps"):
        cnnzoo.feature_picture(cnnzoo.create_model("lenet5"), torch.rand(1, 32, 32), "output")
    with pytest.raises(ValueError, match="lenet5 has no layer 'features.c9'; closest: features.c5, "):
        cnnzoo.feature_picture(cnnzoo.create_model("lenet5"), torch.rand(1, 32, 32), "features.c9")


def test_cli_draws_what_a_run_s_layer_computes_for_an_image_file(tmp_path, capsys):
    from PIL import Image

    from cnnzoo.cli import main

    run = tmp_path / "run"
    cnnzoo.train("lenet5", "mnist-sample", epochs=1, out=run, threads=1, channels_last=False, precision="fp32",
                 progress=False)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a one, light on dark as MNIST's
    Image.fromarray(digit).save(tmp_path / "one.png")
    model, _ = cnnzoo.load_model(run)
    assert cnnzoo.preprocess(model, [tmp_path / "one.png"]).shape == (1, 1, 32, 32)  # padded as in training
    out = tmp_path / "maps.png"
    assert main(["features", str(run), str(tmp_path / "one.png"), "--layer", "features.c3", "--out", str(out)]) == 0
    assert "lenet5: features.c3 on one.png, 16 maps of 10×10" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "is a model name: give a run directory or a checkpoint" in cli_error(
        ["features", "lenet5", str(tmp_path / "one.png")], capsys)


def test_a_layer_s_own_output_is_drawn_before_an_in_place_relu_changes_it():
    """ResNet's bn1 feeds an in-place ReLU: a batch norm's output has negative values, the
    ReLU's has none; the picture of bn1 must be bn1's (it drew the ReLU's)."""
    torch.manual_seed(0)
    model = cnnzoo.create_model("resnet18").eval()
    x = torch.randn(3, 64, 64)
    own = []
    handle = model.bn1.register_forward_hook(lambda m, a, out: own.append(out.clone()))
    picture = cnnzoo.feature_picture(model, x, "bn1")
    handle.remove()
    first = own[0][0, 0]
    expected = ((first - first.min()) / (first.max() - first.min())).numpy()
    np.testing.assert_allclose(picture.pixels[1:33, 1:33], expected, atol=1e-5)


def test_layers_without_maps_to_draw_say_why():
    model = cnnzoo.create_model("resnet18")
    with pytest.raises(ValueError, match=r"avgpool gives a tensor of shape \(1, 512, 1, 1\), not feature maps"):
        cnnzoo.feature_picture(model, torch.randn(3, 64, 64), "avgpool")
    relu = cnnzoo.feature_picture(model, torch.randn(3, 64, 64), "layer1.0.relu")  # runs twice in a block
    assert relu.title.endswith("its call 2 of 2 in the pass")
    googlenet = cnnzoo.create_model("googlenet")
    with pytest.raises(ValueError, match="aux1 did not run in eval mode"):
        cnnzoo.feature_picture(googlenet, torch.randn(3, 224, 224), "aux1")
    mlp = cnnzoo.create_model("lenet_300_100")
    with pytest.raises(ValueError, match="lenet_300_100 has no convolution to draw by default; name a layer"):
        cnnzoo.feature_picture(mlp, torch.randn(1, 28, 28))


def test_blank_tiles_and_gaps_are_a_colour_no_grey_tile_can_take():
    import io

    from PIL import Image

    from cnnzoo.analysis.pictures import BACKGROUND

    picture = cnnzoo.filter_picture(cnnzoo.create_model("lenet5"), "features.c3")
    image = np.asarray(Image.open(io.BytesIO(picture.png())).convert("RGB")).astype(int)
    background = np.abs(image - np.round(np.array(BACKGROUND) * 255)).max(axis=2) <= 1
    grey = (image[..., 0] == image[..., 1]) & (image[..., 1] == image[..., 2])
    assert not (background & grey).any()  # a blue no grey pixel takes
    scale = 1  # at least one image pixel per mosaic pixel (Picture.png scales by a whole number)
    assert background.sum() >= 36 * 5 * 5 * scale**2  # at least Table I's 36 missing kernels, pixel for pixel


def test_a_picture_replaces_a_file_only_when_asked_and_never_weights(tmp_path):
    picture = cnnzoo.filter_picture(cnnzoo.create_model("lenet5"))
    picture.save(tmp_path / "c1.png")
    with pytest.raises(FileExistsError, match="exists; pass --overwrite"):
        picture.save(tmp_path / "c1.png")
    picture.save(tmp_path / "c1.png", overwrite=True)
    (tmp_path / "w.safetensors").write_bytes(b"weights")
    with pytest.raises(FileExistsError):
        picture.save(tmp_path / "w.safetensors", overwrite=True)
    assert (tmp_path / "w.safetensors").read_bytes() == b"weights"
