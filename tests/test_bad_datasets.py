"""Datasets and images that used to give silently wrong results: a dataset of one class, class
folders with sub-folders or broken links, test labels the training split lacks, 16-bit, float,
transparent and animated images, tensors of other dtypes and layouts, and evaluation data
whose classes are named or ordered unlike the model's."""

import math
import os

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnzoo.data import ImageDataset, load_dataset
from cnnzoo.data.datasets import match_classes
from cnnzoo.train import evaluate, predict


def _png(path, value=0, mode="L", size=(4, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def _classes(root, names=("a", "b"), per_class=1):
    for c in names:
        for i in range(per_class):
            _png(root / c / f"{i}.png", 10 * i)


class Brightness(nn.Module):
    """A two-class 'model' whose scores are the mean brightness m of its input in [0, 1]:
    logits (0, m), so that P(light) = sigmoid(m) gives m back; class 1 wins when m > 0."""

    num_classes = 2

    def __init__(self, classes=("dark", "light"), size=4, channels=1):
        super().__init__()
        self.data_config = {"image_size": [channels, size, size], "input_size": [channels, size, size],
                            "mean": [0.0] * channels, "std": [1.0] * channels, "classes": list(classes)}

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(m), m], dim=1)


def _seen_brightness(model, image) -> float:
    """The mean pixel value (0-255) the model saw for ``image``, from P(light) = sigmoid(m)."""
    (top,) = predict(model, image, topk=2)
    p = dict(top)["light"]
    return 255 * math.log(p / (1 - p))


class Threshold(Brightness):
    """Class 1 ("light") when the mean pixel is above half-way (127.5), else class 0 ("dark")."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([0.5 - m, m - 0.5], dim=1)


# -- 1. fewer than two classes ---------------------------------------------------------------
def test_a_folder_one_level_too_high_is_refused_with_the_path_below(tmp_path):
    _classes(tmp_path / "digits", ("0", "1"))
    with pytest.raises(ValueError, match="at least 2 classes") as err:
        load_dataset(tmp_path, train=True)
    assert "'digits'" in str(err.value) and f"did you mean {tmp_path / 'digits'}?" in str(err.value)
    assert load_dataset(tmp_path / "digits", train=True).classes == ["0", "1"]


def test_a_single_class_folder_of_images_is_refused_without_a_hint(tmp_path):
    _classes(tmp_path, ("cat",), per_class=10)
    with pytest.raises(ValueError, match="found one class folder, 'cat'; with one class") as err:
        load_dataset(tmp_path, train=True)
    assert "did you mean" not in str(err.value)


def test_a_train_folder_without_a_test_folder_points_at_train(tmp_path):
    _classes(tmp_path / "train", ("a", "b"))
    with pytest.raises(ValueError, match=f"did you mean {tmp_path / 'train'}"):
        load_dataset(tmp_path, train=True)


def test_npz_of_one_label_is_refused_for_training(tmp_path):
    one = tmp_path / "one.npz"
    np.savez(one, x=np.zeros((10, 4, 4), np.uint8), y=np.full(10, 3))
    with pytest.raises(ValueError, match=r"at least 2 classes, found only label 3 in 'y'"):
        load_dataset(one, train=True)
    split = tmp_path / "split.npz"
    np.savez(split, x_train=np.zeros((4, 4, 4), np.uint8), y_train=np.zeros(4, np.int64),
             x_test=np.zeros((2, 4, 4), np.uint8), y_test=np.zeros(2, np.int64), classes=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="only label 0 in 'y_train'"):
        load_dataset(split, train=True)


# -- 2. sub-folders and broken links in the class folders -------------------------------------
def test_images_in_a_sub_folder_of_a_class_are_refused_not_merged(tmp_path):
    _classes(tmp_path, ("a", "b"))
    _png(tmp_path / "a" / "more" / "deep" / "x.png")
    with pytest.raises(ValueError, match="holds a sub-folder of images") as err:
        load_dataset(tmp_path, train=True)
    assert str(tmp_path / "a" / "more") in str(err.value)


def test_hidden_entries_and_empty_sub_folders_are_ignored(tmp_path):
    _classes(tmp_path, ("a", "b"))
    _png(tmp_path / "a" / ".ipynb_checkpoints" / "0-checkpoint.png")  # an editor's copy
    (tmp_path / "a" / "._0.png").write_bytes(b"macOS resource fork, not a PNG")
    (tmp_path / "b" / "empty").mkdir()
    ds = load_dataset(tmp_path, train=True, image_size=None)
    assert ds.classes == ["a", "b"] and torch.bincount(ds.labels).tolist() == [1, 1]


def test_broken_links_are_refused_by_name(tmp_path):
    _classes(tmp_path, ("a", "b"))
    os.symlink(tmp_path / "gone", tmp_path / "c")
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'c'} is a broken link"):
        load_dataset(tmp_path, train=True)
    (tmp_path / "c").unlink()
    os.symlink(tmp_path / "gone.png", tmp_path / "b" / "1.png")
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'b' / '1.png'} is a broken link"):
        load_dataset(tmp_path, train=True)
    (tmp_path / "b" / "1.png").unlink()
    os.symlink(tmp_path / "gone.txt", tmp_path / "b" / "notes.txt")  # neither an image nor a class
    assert load_dataset(tmp_path, train=True).classes == ["a", "b"]
    os.symlink(tmp_path / "gone", tmp_path / "v1.0")  # a class folder whose name has a dot
    with pytest.raises(FileNotFoundError, match="v1.0 is a broken link"):
        load_dataset(tmp_path, train=True)


# -- 3. test labels the training split lacks --------------------------------------------------
def test_npz_test_labels_absent_from_training_are_named(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((4, 4, 4), np.uint8), y_train=[0, 1, 0, 1],
             x_test=np.zeros((3, 4, 4), np.uint8), y_test=[1, 5, 2])
    for train in (True, False):  # either split, loaded for training
        with pytest.raises(ValueError, match="'y_test' holds labels that 'y_train' lacks: 2, 5"):
            load_dataset(path, train=train, to_train=True)


# -- 4. decoding images ------------------------------------------------------------------------
def _two_class_folder(tmp_path, image, name="x.png", **save):
    """A folder of classes a (the image under test) and b (a black 8-bit gray image)."""
    (tmp_path / "a").mkdir()
    image.save(tmp_path / "a" / name, **save)
    _png(tmp_path / "b" / "0.png", 0, size=image.size)
    return load_dataset(tmp_path, train=True)


def test_16_bit_png_is_scaled_by_1_over_257(tmp_path):
    values = np.array([[0, 1000, 25700, 65535]], np.uint16)  # 25700 = 100 × 257
    ds = _two_class_folder(tmp_path, Image.fromarray(values))
    assert ds.image_size == (1, 1, 4)
    assert ds.images[ds.labels == 0][0, 0, 0].tolist() == [0, 4, 100, 255]  # 1000 / 257 = 3.9


def test_16_bit_gray_beside_rgb_images_becomes_gray_rgb(tmp_path):
    (tmp_path / "a").mkdir()
    Image.fromarray(np.full((2, 2), 25700, np.uint16)).save(tmp_path / "a" / "deep.png")
    _png(tmp_path / "b" / "0.png", (1, 2, 3), mode="RGB", size=(2, 2))
    ds = load_dataset(tmp_path, train=True)
    assert ds.images[ds.labels == 0][0, :, 0, 0].tolist() == [100, 100, 100]


def test_float_tiff_in_0_1_is_scaled_by_255_and_other_ranges_are_refused(tmp_path):
    ds = _two_class_folder(tmp_path, Image.fromarray(np.array([[0.0, 0.2, 1.0]], np.float32)), "f.tif")
    assert ds.images[ds.labels == 0][0, 0, 0].tolist() == [0, 51, 255]
    Image.fromarray(np.array([[0.0, 1000.0]], np.float32)).save(tmp_path / "a" / "f.tif")
    with pytest.raises(ValueError, match=r"f\.tif: float images must lie in \[0, 1\], found 0\.\.1000"):
        load_dataset(tmp_path, train=True)


def test_32_bit_integer_image_beyond_16_bits_is_refused():
    from cnnzoo.data.datasets import image_tensor

    assert image_tensor(Image.fromarray(np.array([[514]], np.int32)), 1, "x").tolist() == [[[2]]]
    with pytest.raises(ValueError, match=r"x: integer images must lie in 0\.\.65535 \(16 bits\), found 0\.\.70000"):
        image_tensor(Image.fromarray(np.array([[0, 70000]], np.int32)), 1, "x")


def test_transparent_pixels_are_composited_onto_white(tmp_path):
    rgba = np.array([[[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 51]]], np.uint8)  # 51 = 20% opaque
    ds = _two_class_folder(tmp_path, Image.fromarray(rgba, "RGBA"))
    pixels = ds.images[ds.labels == 0][0, :, 0].T.tolist()
    assert pixels[0] == [255, 255, 255] and pixels[1] == [255, 0, 0]
    # 20% blue over white: red and green 255 × 0.8 = 204, blue 255
    assert all(abs(a - b) <= 1 for a, b in zip(pixels[2], [204, 204, 255]))


def test_gray_with_alpha_stays_gray_and_transparent_is_white(tmp_path):
    la = Image.fromarray(np.array([[[0, 0], [30, 255]]], np.uint8), "LA")
    ds = _two_class_folder(tmp_path, la)
    assert ds.image_size == (1, 1, 2) and ds.images[ds.labels == 0][0, 0, 0].tolist() == [255, 30]


def _animated_gif(path, frames=2):
    first, *rest = [Image.new("L", (4, 4), 60 * i) for i in range(frames)]
    first.save(path, save_all=True, append_images=rest)


def test_animated_images_are_refused_naming_the_file(tmp_path):
    _classes(tmp_path, ("a", "b"))
    _animated_gif(tmp_path / "a" / "moving.gif", frames=3)
    with pytest.raises(ValueError, match=r"moving\.gif has 3 frames"):
        load_dataset(tmp_path, train=True)
    with pytest.raises(ValueError, match=r"moving\.gif has 3 frames"):
        predict(Brightness(), [tmp_path / "a" / "moving.gif"])
    Image.new("L", (4, 4), 7).save(tmp_path / "a" / "still.gif")  # one frame is an image like any
    assert predict(Brightness(), [tmp_path / "a" / "still.gif"])


def test_predict_reads_16_bit_and_transparent_files_like_the_dataset(tmp_path):
    Image.fromarray(np.full((4, 4), 25700, np.uint16)).save(tmp_path / "deep.png")
    assert _seen_brightness(Brightness(), tmp_path / "deep.png") == pytest.approx(100, abs=1e-3)
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert _seen_brightness(Brightness(), tmp_path / "clear.png") == pytest.approx(255, abs=1e-3)
    assert _seen_brightness(Brightness(), Image.new("L", (4, 4), 30)) == pytest.approx(30, abs=1e-3)


# -- 5. predict's tensors and options ---------------------------------------------------------
def test_uint8_tensors_are_0_to_255_and_floats_0_to_1():
    model = Brightness()
    assert _seen_brightness(model, torch.ones(1, 4, 4, dtype=torch.uint8)) == pytest.approx(1, abs=1e-3)
    assert _seen_brightness(model, torch.full((4, 4), 0.2)) == pytest.approx(51, abs=1e-3)
    with pytest.raises(ValueError, match=r"images\[0\]: float images must lie in \[0, 1\], found 2\.\.2"):
        predict(model, torch.full((1, 4, 4), 2.0))


def test_other_integer_tensors_are_refused():
    with pytest.raises(TypeError, match=r"images\[0\]: expected a uint8 tensor .* got torch\.int64"):
        predict(Brightness(), [torch.ones(1, 4, 4, dtype=torch.int64)])


def test_rgb_and_gray_tensors_batch_together_for_a_gray_model():
    rgb = torch.zeros(3, 4, 4, dtype=torch.uint8)
    rgb[1] = 100  # pure green: luma 0.587 × 100 = 58.7
    seen = [255 * math.log(p / (1 - p)) for p in
            (dict(r)["light"] for r in predict(Brightness(), [rgb, torch.zeros(4, 4, dtype=torch.uint8)], topk=2))]
    assert seen[0] == pytest.approx(59, abs=1e-3) and seen[1] == pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize("topk", [True, 0, 2.0, "3"])
def test_topk_must_be_a_positive_int(topk):
    with pytest.raises(ValueError, match="topk must be a positive integer"):
        predict(Brightness(), [torch.zeros(1, 4, 4)], topk=topk)


def test_empty_and_channels_last_tensors_are_explained():
    with pytest.raises(ValueError, match=r"images\[0\]: the tensor of shape 1×0×0 holds no pixels"):
        predict(Brightness(), [torch.zeros(1, 0, 0)])
    with pytest.raises(ValueError, match=r"shape 8×8×3 looks channels-last.*permute\(2, 0, 1\)"):
        predict(Brightness(channels=3), [torch.zeros(8, 8, 3)])
    with pytest.raises(ValueError, match=r"expected a C×H×W \(or H×W\) image tensor, got shape 4"):
        predict(Brightness(), [torch.zeros(4)])


# -- 6. evaluation data named or ordered unlike the model's classes -----------------------------
def _light_and_dark(classes, light_label=0):
    """Two white and two black 4×4 images; the white ones labelled ``light_label``."""
    images = torch.tensor([255, 255, 0, 0], dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 4, 4)
    labels = torch.tensor([light_label] * 2 + [1 - light_label] * 2)
    return ImageDataset(images.contiguous(), labels, classes, "shades")


def test_classes_in_another_order_are_matched_by_name():
    result = evaluate(Threshold(), _light_and_dark(["light", "dark"], light_label=0))
    assert result["top1"] == 100 and result["classes"] == ["dark", "light"]
    assert result["confusion"] == [[2, 0], [0, 2]]


def test_data_of_some_of_the_models_classes_is_matched_by_name():
    only_light = ImageDataset(torch.full((2, 1, 4, 4), 255, dtype=torch.uint8), torch.zeros(2), ["light"], "white")
    result = evaluate(Threshold(), only_light)
    assert result["top1"] == 100 and result["per_class"] == [None, 100.0] and result["n"] == 2


def test_other_class_names_are_refused_by_name():
    with pytest.raises(ValueError, match="not trained on: 'bright'; the model's classes are 'dark', 'light'$"):
        evaluate(Threshold(), _light_and_dark(["bright", "dark"], light_label=0))


def test_classes_named_only_by_number_match_by_position():
    result = evaluate(Threshold(), _light_and_dark(["0", "1"], light_label=1))
    assert result["top1"] == 100 and result["classes"] == ["dark", "light"]  # bare labels: the model's numbers


def test_evaluate_says_which_split_it_scored(tmp_path):
    x = np.repeat(np.array([0, 255], np.uint8), 20)[:, None, None] * np.ones((1, 4, 4), np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.repeat([0, 1], 20), classes=np.array(["dark", "light"]))
    held = evaluate(Threshold(), str(tmp_path / "d.npz"))
    assert held["n"] == 4 and "held-out" in held["split"] and "no test split" in held["split"]
    assert evaluate(Threshold(), str(tmp_path / "d.npz"), split="train")["n"] == 36
    np.savez(tmp_path / "s.npz", x_train=x, y_train=np.repeat([0, 1], 20), x_test=x[::10], y_test=[0, 0, 1, 1])
    assert evaluate(Threshold(), str(tmp_path / "s.npz"))["split"] == "test split"


# -- 7. what differs between two lists of classes ---------------------------------------------
def test_class_difference_names_what_only_one_side_has():
    from cnnzoo.data import class_difference

    assert class_difference(["a", "b"], ["a", "b"]) == ""
    assert class_difference(["a", "b", "c"], ["a", "d"], "train", "test") == \
        "only in train: 'b', 'c'; only in test: 'd'"
    assert "same classes in another order" in class_difference(["a", "b"], ["b", "a"])
    assert class_difference([str(i) for i in range(8)], [], "x", "y") == \
        "only in x: '0', '1', '2', '3', '4' and 3 more"


def test_a_folder_of_one_class_is_scored_though_it_cannot_be_trained_on(tmp_path):
    for i in range(10):
        _png(tmp_path / "light" / f"{i}.png", 255)
    result = evaluate(Threshold(), str(tmp_path), split="train")  # the 9 images not held out
    assert result["n"] == 9 and result["top1"] == 100 and result["per_class"] == [None, 100.0]


def test_an_npz_test_split_with_labels_training_lacks_is_scored(tmp_path):
    x = np.repeat(np.array([0, 255], np.uint8), 2)[:, None, None] * np.ones((1, 4, 4), np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x[:2], y_train=[0, 0], x_test=x, y_test=[0, 0, 1, 1])
    assert evaluate(Threshold(), str(tmp_path / "d.npz"))["top1"] == 100  # the model knows both classes
    with pytest.raises(ValueError, match="'y_test' holds labels that 'y_train' lacks: 1"):
        load_dataset(tmp_path / "d.npz", train=False, to_train=True)


def test_names_against_a_models_bare_numbers_pair_only_where_they_carry_them():
    digits = [str(i) for i in range(10)]  # a model trained on mnist-sample's classes "0".."9"

    def data(classes):
        return ImageDataset(torch.zeros(len(classes), 1, 4, 4, dtype=torch.uint8), torch.arange(len(classes)),
                            classes, "digits")

    words = sorted(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    with pytest.raises(ValueError, match="not trained on: 'eight', 'five', 'four', 'nine', 'one' and 5 more"):  # eight, five, four, ... by position
        match_classes(data(words), digits)
    with pytest.raises(ValueError, match="not trained on: 'two';"):
        match_classes(data(["1", "two"]), digits)
    tv = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
          "8 - eight", "9 - nine"]  # torchvision's MNIST.classes
    assert match_classes(data(tv), digits).classes == tv


@pytest.mark.parametrize("size", [-4, 0, 2.5, "16", True])
def test_image_size_must_be_a_positive_integer_whatever_the_dataset(size, tmp_path):
    """A folder is resized to image_size; the sample and an .npz are read as stored, but a
    wrong size is still named (evaluate passes one for any dataset)."""
    _classes(tmp_path / "d")
    for data in (tmp_path / "d", "mnist-sample"):
        with pytest.raises(ValueError, match=f"image_size must be a positive integer, got {type(size).__name__}"):
            load_dataset(data, train=True, image_size=size)


def test_a_numpy_image_size_is_taken(tmp_path):
    _classes(tmp_path / "d", per_class=10)
    assert load_dataset(tmp_path / "d", train=True, image_size=np.int64(6)).images.shape[-2:] == (6, 6)
    # the bundled sample is read at its stored 28×28 whatever the size asked for
    assert load_dataset("mnist-sample", train=False, image_size=6).images.shape[-2:] == (28, 28)


@pytest.mark.parametrize("train", ["yes", "no", 1, 0])
def test_train_must_be_true_false_or_none(train, tmp_path):
    _classes(tmp_path / "d")
    for data in (tmp_path / "d", "mnist-sample"):
        with pytest.raises(TypeError, match="train must be True, False or None"):
            load_dataset(data, train=train)
    assert len(load_dataset("mnist-sample", train=np.bool_(False))) == 1000  # numpy's bool is a bool


def test_other_load_options_are_checked_by_name(tmp_path):
    from cnnzoo.data import data_root, holdout_split
    from cnnzoo.data.datasets import folder_parts

    _classes(tmp_path / "d", per_class=10)
    with pytest.raises(TypeError, match="download must be True or False"):
        load_dataset("mnist-sample", train=True, download="no")
    with pytest.raises(TypeError, match="to_train must be True or False"):
        load_dataset("mnist-sample", train=False, to_train="yes")
    with pytest.raises(TypeError, match="root must be a folder"):
        data_root(5)
    with pytest.raises(ValueError, match="part must be a positive integer"):
        list(folder_parts(tmp_path / "d", True, part=0))
    with pytest.raises(TypeError, match="expected a folder of images"):
        list(folder_parts(None, True))
    labels = torch.arange(20) % 2
    for fraction in (-0.5, 1, "x"):  # a negative one once silently sliced from the end
        with pytest.raises(ValueError, match=r"fraction must be a number in \[0, 1\)"):
            holdout_split(labels, fraction)
    with pytest.raises(ValueError, match="seed must be an integer"):
        holdout_split(labels, 0.1, seed=0.5)
