"""Datasets and the in-memory loader (issue 6, "Data")."""

import gzip
import pickle
import struct
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnzoo.data import AUGMENTS, Augment, ImageDataset, Loader, fit_size, load_dataset

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "data" / "mnist_5k.csv.gz"


# -- the bundled sample ------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    return load_dataset("mnist-sample", train=True), load_dataset("mnist-sample", train=False)


def test_bundled_sample_is_a_stratified_4000_1000_split(sample):
    train, test = sample
    # The issue: 4,000 training and 1,000 test images of the 5,000 (500 per class).
    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    assert torch.bincount(train.labels).tolist() == [400] * 10
    assert torch.bincount(test.labels).tolist() == [100] * 10
    assert train.classes == [str(i) for i in range(10)]
    seen = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in seen for x in test.images), "train and test overlap"


def test_every_image_is_both_splits(sample, tmp_path):
    """``train=None``: the 5,000 digits (500 per class) of the sample; a folder without a test
    split of its own gives all of its images rather than a held-out tenth."""
    every = load_dataset("mnist-sample", train=None)
    assert len(every) == 5000 and torch.bincount(every.labels).tolist() == [500] * 10
    for c, n in (("a", 7), ("b", 4)):
        (tmp_path / c).mkdir()
        for i in range(n):
            Image.new("L", (8, 8), 20 * i).save(tmp_path / c / f"{i}.png")
    folder = load_dataset(tmp_path, train=None)
    assert len(folder) == 11 and torch.bincount(folder.labels).tolist() == [7, 4]
    # a folder with its own splits: both, the test split brought to the training split's size
    for split, side in (("train", 28), ("test", 32)):
        for c in "ab":
            (tmp_path / "splits" / split / c).mkdir(parents=True)
            Image.new("L", (side, side), 100).save(tmp_path / "splits" / split / c / "0.png")
    both = load_dataset(tmp_path / "splits", train=None)
    assert both.images.shape == (4, 1, 28, 28) and both.labels.tolist() == [0, 1, 0, 1]
    # a colour image in either split: every image in colour, the grey ones as R = G = B
    Image.new("RGB", (32, 32), (10, 200, 30)).save(tmp_path / "splits" / "test" / "b" / "1.png")
    both = load_dataset(tmp_path / "splits", train=None)
    assert both.images.shape == (5, 3, 28, 28) and both.labels.tolist() == [0, 1, 0, 1, 1]
    assert both.images[:4].eq(100).all() and both.images[4, :, 14, 14].tolist() == [10, 200, 30]
    # an .npz without a test split: its 6 images, none held out (3 per class would hold none)
    np.savez(tmp_path / "six.npz", x=np.zeros((6, 8, 8), np.uint8), y=np.array([0, 0, 0, 1, 1, 1]))
    six = load_dataset(tmp_path / "six.npz", train=None)
    assert len(six) == 6 and six.labels.tolist() == [0, 0, 0, 1, 1, 1]
    # one named split only (x_train, y_train): read as x and y, a tenth of each class held out
    labels = np.repeat([0, 1], 10)
    np.savez(tmp_path / "train_only.npz", x_train=np.arange(20, dtype=np.uint8)[:, None, None].repeat(8, 1).repeat(8, 2),
             y_train=labels)
    assert len(load_dataset(tmp_path / "train_only.npz", train=None)) == 20
    train = load_dataset(tmp_path / "train_only.npz", train=True)
    test = load_dataset(tmp_path / "train_only.npz", train=False)
    assert (len(train), len(test)) == (18, 2) and sorted(test.labels.tolist()) == [0, 1]
    # a test split alone is scored whole, never trained on
    np.savez(tmp_path / "test_only.npz", x_test=np.zeros((4, 8, 8), np.uint8), y_test=np.array([0, 0, 1, 1]))
    assert len(load_dataset(tmp_path / "test_only.npz", train=None)) == 4
    with pytest.raises(ValueError, match=r"expected arrays 'x' and 'y', or 'x_train' and 'y_train'"):
        load_dataset(tmp_path / "test_only.npz", train=True)


@pytest.mark.skipif(not SHARED_CSV.exists(), reason="the source CSV is not next to the repository")
def test_bundled_sample_holds_the_source_digits_with_their_labels(sample):
    with gzip.open(SHARED_CSV, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    source = {bytes(r[:-1]): int(r[-1]) for r in rows}
    for ds in sample:
        for x, y in zip(ds.images, ds.labels):
            assert source[bytes(x.flatten().numpy())] == int(y)


def test_bundled_file_ships_with_the_package():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["cnnzoo"]
    assert any(fnmatch("data/mnist_sample.npz", g) for g in globs)
    assert (ROOT / "src/cnnzoo/data/mnist_sample.npz").is_file()


# -- torchvision's formats, written by the test -------------------------------------------
def _write_idx(path: Path, array: np.ndarray):
    code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_torchvision_idx_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 10, 12)
    for prefix in ("train", "t10k"):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
    ds = load_dataset("mnist", train=True, root=tmp_path)
    assert ds.name == "mnist" and ds.images.shape == (12, 1, 28, 28)
    assert torch.equal(ds.images[:, 0], torch.from_numpy(x.astype(np.uint8)))
    assert ds.labels.tolist() == y.tolist()


def test_cifar10_from_torchvision_pickles(tmp_path, monkeypatch):
    import os

    import torchvision.datasets.cifar as tv_cifar

    # Our files cannot match torchvision's MD5 sums: check only that they exist.
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(1)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names}, f)
    x = rng.integers(0, 256, (5, 3 * 32 * 32)).astype(np.uint8)
    y = [3, 1, 4, 1, 5]
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(base / name, "wb") as f:
            pickle.dump({"data": x, "labels": y}, f)
    ds = load_dataset("cifar10", train=False, root=tmp_path)
    assert ds.images.shape == (5, 3, 32, 32) and ds.classes == names and ds.labels.tolist() == y
    # CIFAR's rows are the red plane, then green, then blue, each row-major.
    assert torch.equal(ds.images[2].flatten(), torch.from_numpy(x[2]))
    assert len(load_dataset("cifar10", train=True, root=tmp_path)) == 25


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="--download") as err:
        load_dataset("fashion-mnist", train=True, root=tmp_path)
    assert str(tmp_path) in str(err.value)
    # eval, compress and train all take --download: the advice must fit whichever was run
    assert "adding --download to the command" in str(err.value) and "cnnzoo train" not in str(err.value)


def test_unknown_dataset_name():
    with pytest.raises(FileNotFoundError, match="mnist-sample"):
        load_dataset("imagenet-22k", train=True)


# -- folders and arrays ------------------------------------------------------------------
def _png(path: Path, value: int, size=(20, 16), mode="RGB"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, (value, 0, 255 - value) if mode == "RGB" else value).save(path)


def test_image_folder_with_train_and_test(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for c, v in (("cat", 10), ("dog", 200)):
            for i in range(n):
                _png(tmp_path / split / c / f"{i}.png", v)
    train = load_dataset(tmp_path, train=True)
    test = load_dataset(tmp_path, train=False)
    assert train.classes == ["cat", "dog"] and len(train) == 6 and len(test) == 4
    assert train.images.shape == (6, 3, 16, 20)  # PIL sizes are (W, H)
    assert train.images[0, :, 0, 0].tolist() == [10, 0, 245]


def test_image_folder_resizes_mixed_sizes_and_reads_gray(tmp_path):
    _png(tmp_path / "a" / "0.png", 30, size=(40, 30), mode="L")
    _png(tmp_path / "a" / "1.png", 30, size=(20, 20), mode="L")
    _png(tmp_path / "b" / "0.png", 90, size=(24, 24), mode="L")
    ds = load_dataset(tmp_path, train=True, image_size=12)
    assert ds.image_size == (1, 12, 12)


def test_image_folder_names_the_unreadable_file(tmp_path):
    _png(tmp_path / "a" / "0.png", 1)
    bad = tmp_path / "b" / "broken.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        load_dataset(tmp_path, train=True)


def test_npz_holdout_is_stratified_and_disjoint(tmp_path):
    x = np.zeros((200, 4, 4), np.uint8)
    x[:, 0, 0] = np.arange(200)  # an id per image
    y = np.repeat([0, 1], 100)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    train = load_dataset(tmp_path / "d.npz", train=True)
    test = load_dataset(tmp_path / "d.npz", train=False)
    assert len(train) == 180 and torch.bincount(test.labels).tolist() == [10, 10]
    assert train.image_size == (1, 4, 4)
    ids = torch.cat([train.images, test.images])[:, 0, 0, 0]
    assert sorted(ids.tolist()) == list(range(200))


def test_npz_with_splits_channels_last_and_bad_arrays(tmp_path):
    xtr = np.zeros((6, 8, 8, 3), np.uint8)
    np.savez(tmp_path / "s.npz", x_train=xtr, y_train=np.arange(6) % 3, x_test=xtr[:2], y_test=[0, 2],
             classes=np.array(["r", "g", "b"]))
    test = load_dataset(tmp_path / "s.npz", train=False)
    assert test.image_size == (3, 8, 8) and test.classes == ["r", "g", "b"] and len(test) == 2
    np.savez(tmp_path / "bad.npz", images=xtr)
    with pytest.raises(ValueError, match="'x' and 'y'"):
        load_dataset(tmp_path / "bad.npz", train=True)
    np.savez(tmp_path / "float.npz", x=np.full((4, 5, 5), 2.0), y=[0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_dataset(tmp_path / "float.npz", train=True)


# -- the loader --------------------------------------------------------------------------
def _toy(n=50, c=1, size=8, classes=5):
    images = torch.arange(n * c * size * size, dtype=torch.int64).reshape(n, c, size, size) % 251
    return ImageDataset(images.to(torch.uint8), torch.arange(n) % classes, [str(i) for i in range(classes)], "toy")


def test_test_loader_visits_every_sample_once_in_order():
    ds = _toy()
    loader = Loader(ds, batch_size=16, train=False)
    ys = torch.cat([y for _, y in loader])
    assert len(loader) == 4 and torch.equal(ys, ds.labels)


def test_train_order_is_a_function_of_seed_and_epoch():
    ds = _toy()
    # A different label per sample makes the order visible.
    ds = ImageDataset(ds.images, torch.arange(50), [str(i) for i in range(50)], "toy")

    def order(seed, epoch):
        loader = Loader(ds, batch_size=10, train=True, seed=seed)
        loader.set_epoch(epoch)
        return torch.cat([y for _, y in loader])

    assert torch.equal(order(0, 3), order(0, 3))
    assert not torch.equal(order(0, 3), order(0, 4))
    assert sorted(order(0, 3).tolist()) == list(range(50))
    loader = Loader(ds, batch_size=10, train=True, seed=0, augment="digits")
    loader.set_epoch(3, start_step=2)
    assert torch.equal(torch.cat([y for _, y in loader]), order(0, 3)[20:])


def test_distributed_shards_cover_the_data_like_distributed_sampler():
    ds = ImageDataset(_toy(n=11).images, torch.arange(11), [str(i) for i in range(11)], "toy")
    shards = []
    for rank in range(3):
        loader = Loader(ds, batch_size=2, train=True, rank=rank, world_size=3, drop_last=False)
        shards.append(torch.cat([y for _, y in loader]).tolist())
    assert [len(s) for s in shards] == [4, 4, 4]  # ceil(11 / 3), padded
    assert set(sum(shards, [])) == set(range(11))
    tests = [torch.cat([y for _, y in Loader(ds, batch_size=2, train=False, rank=r, world_size=3)]) for r in range(3)]
    assert sorted(torch.cat(tests).tolist()) == list(range(11))


def test_digits_are_padded_into_lenet5s_32x32_field(sample):
    train, _ = sample
    loader = Loader(train.subset(range(8)), batch_size=8, input_size=(1, 32, 32), train=False)
    x, _ = next(iter(loader))
    m, s = loader.mean[0], loader.std[0]
    raw = train.images[:8].float() / 255
    assert x.shape == (8, 1, 32, 32)
    torch.testing.assert_close(x[:, :, 2:30, 2:30] * s + m, raw)
    assert torch.allclose(x[:, :, :2] * s + m, torch.zeros(1), atol=1e-6)


def test_small_images_are_resized_for_224_models_and_channels_repeated(sample):
    train, _ = sample
    loader = Loader(train.subset(range(4)), batch_size=4, input_size=(3, 224, 224), train=False)
    x, _ = next(iter(loader))
    assert x.shape == (4, 3, 224, 224)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])


def test_rgb_into_a_gray_model_is_luma():
    rgb = torch.tensor([[[[255]], [[0]], [[0]]]], dtype=torch.uint8)
    ds = ImageDataset(rgb, torch.tensor([0]), ["a"], "red")
    x, _ = next(iter(Loader(ds, batch_size=1, input_size=(1, 1, 1), train=False, mean=[0], std=[1])))
    assert x.item() == pytest.approx(0.299)


def test_random_crop_is_a_shift_within_the_padding_and_flip_mirrors():
    ds = _toy(n=16, size=8)
    aug = Augment(crop_padding=2)
    loader = Loader(ds, batch_size=16, train=True, augment=aug, mean=[0], std=[1])
    x, y = next(iter(loader))
    order = loader.indices()[:16]
    src = torch.nn.functional.pad(ds.images[order].float() / 255, (2, 2, 2, 2))
    shifts = [(dy, dx) for dy in range(5) for dx in range(5)]
    for i in range(16):
        assert any(torch.equal(x[i], src[i, :, dy:dy + 8, dx:dx + 8]) for dy, dx in shifts)
    loader = Loader(ds, batch_size=16, train=True, augment=Augment(flip=True), mean=[0], std=[1])
    x, _ = next(iter(loader))
    plain = ds.images[loader.indices()[:16]].float() / 255
    mirrored = [torch.equal(x[i], plain[i].flip(-1)) for i in range(16)]
    assert all(m or torch.equal(x[i], plain[i]) for i, m in enumerate(mirrored))
    assert 0 < sum(mirrored) < 16


@pytest.mark.parametrize("preset, s_min, s_max", [("resnet", 256, 480), ("vgg_jitter", 256, 512)])
def test_scale_augmentation_draws_the_shorter_side_uniformly(preset, s_min, s_max):
    """He et al. 2015, §3.4: "its shorter side randomly sampled in [256, 480]" for a 224 crop;
    Simonyan & Zisserman 2014, §3.1: S in [256, 512]. S = 224 / (crop side fraction)."""
    from cnnzoo.data.loader import crop_fractions

    u = (torch.arange(1000) + 0.5) / 1000  # evenly spread uniform numbers
    fw, fh = crop_fractions(AUGMENTS[preset], u, torch.full_like(u, 0.5))
    side = 224 / fw
    torch.testing.assert_close(fw, fh)  # square crops
    torch.testing.assert_close(side.sort().values, torch.linspace(s_min, s_max, 1000).flip(0).sort().values,
                               atol=0.2, rtol=0)
    with pytest.raises(ValueError, match="scale_jitter needs resized_crop"):
        Augment(scale_jitter=True)


def test_colour_jitter_is_fb_resnet_torchs():
    """fb.resnet.torch's ColorJitter: brightness blends with black, contrast with the mean
    grey, saturation with each pixel's grey, factors 1 + U(-0.4, 0.4). Contrast and saturation
    keep an image's mean grey, so after all three it is the brightness factor times the old."""
    from cnnzoo.data.loader import LUMA, _colour_jitter

    x = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = _colour_jitter(x, 0.4, torch.Generator().manual_seed(1))

    def mean_grey(t):
        return (t * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1).mean((1, 2))

    factor = mean_grey(y) / mean_grey(x)
    assert factor.min() >= 0.6 - 1e-6 and factor.max() <= 1.4 + 1e-6 and factor.std() > 0.1
    # image by image as fb.resnet.torch's transforms.lua writes it (blend(img, target, alpha) =
    # alpha·img + (1 − alpha)·target), with the same draws: factors, then the order
    g = torch.Generator().manual_seed(1)
    alphas, order = 1 + 0.4 * (2 * torch.rand(64, 3, generator=g) - 1), torch.rand(64, 3, generator=g).argsort(1)
    for i in range(64):
        img = x[i].clone()
        for op in order[i].tolist():
            grey = (img * torch.tensor(LUMA).view(3, 1, 1)).sum(0)
            target = [torch.zeros_like(img), grey.mean().expand_as(img), grey.expand_as(img)][op]
            img = alphas[i, op] * img + (1 - alphas[i, op]) * target
        torch.testing.assert_close(y[i], img)
    grey = torch.full((16, 3, 8, 8), 0.5)  # no colour, no contrast: only brightness acts
    out = _colour_jitter(grey, 0.4, torch.Generator().manual_seed(2))
    torch.testing.assert_close(out, out[:, :1, :1, :1].expand_as(out))  # each image stays one grey
    torch.testing.assert_close(_colour_jitter(x, 0.0, torch.Generator()), x)
    assert AUGMENTS["fb_resnet"].colour_jitter == 0.4 and AUGMENTS["fb_resnet"].pca_jitter == 0.1


def test_full_area_resized_crop_without_flip_is_the_identity():
    ds = _toy(n=4, c=3, size=8)
    loader = Loader(ds, batch_size=4, train=True, augment=Augment(resized_crop=(1.0, 1.0)), mean=[0] * 3, std=[1] * 3)
    x, _ = next(iter(loader))
    torch.testing.assert_close(x, ds.images[loader.indices()[:4]].float() / 255)


def test_pca_jitter_adds_one_colour_per_image():
    ds = _toy(n=6, c=3, size=8)
    loader = Loader(ds, batch_size=6, train=True, augment=Augment(pca_jitter=0.1), mean=[0] * 3, std=[1] * 3)
    x, _ = next(iter(loader))
    delta = x - ds.images[loader.indices()[:6]].float() / 255
    torch.testing.assert_close(delta, delta[:, :, :1, :1].expand_as(delta))
    assert delta.abs().sum() > 0


def test_ten_crop_test_view():
    ds = _toy(n=2, c=1, size=10)
    loader = Loader(ds, batch_size=2, input_size=(1, 8, 8), train=False, ten_crop=True,
                    augment=Augment(test_crop=0.8), mean=[0], std=[1])
    x, y = next(iter(loader))
    img = ds.images[0].float() / 255
    assert x.shape == (20, 1, 8, 8) and loader.crops == 10
    assert torch.equal(x[0], img[:, :8, :8]) and torch.equal(x[4], img[:, 1:9, 1:9])
    assert torch.equal(x[5], img[:, :8, :8].flip(-1))


@pytest.mark.parametrize("size", [(0, 32), (32,), "32x32", (32.0, 32), (True, 32)])
def test_fit_size_and_resize_center_crop_name_a_bad_size(size):
    from cnnzoo.data.datasets import resize_center_crop

    with pytest.raises(ValueError, match=r"size must be H×W, two positive integers such as \(224, 224\)"):
        fit_size(torch.zeros(1, 1, 28, 28), size)
    with pytest.raises(ValueError, match=r"size must be H×W"):
        resize_center_crop(torch.zeros(1, 28, 28, dtype=torch.uint8), size)


def test_fit_size_pads_small_gaps_and_resizes_large_ones():
    x = torch.ones(1, 1, 28, 28)
    assert fit_size(x, (32, 32)).sum() == 28 * 28
    assert fit_size(x, (224, 224)).shape[-2:] == (224, 224)


def test_bad_loader_arguments():
    ds = _toy()
    with pytest.raises(ValueError, match="batch_size"):
        Loader(ds, batch_size=0, train=True)
    with pytest.raises(ValueError, match="2-channel"):
        Loader(ds, batch_size=4, input_size=(2, 8, 8), train=True)
    with pytest.raises(ValueError, match="unknown augmentation"):
        Loader(ds, batch_size=4, train=True, augment="mixup")


def test_affine_distortion_turns_about_the_centre():
    ds = ImageDataset(torch.full((8, 1, 9, 9), 255, dtype=torch.uint8), torch.zeros(8), ["a"], "ones")
    loader = Loader(ds, batch_size=8, train=True, augment=Augment(distort=0.2), mean=[0], std=[1])
    x, _ = next(iter(loader))
    assert x.shape == (8, 1, 9, 9)
    torch.testing.assert_close(x[:, 0, 4, 4], torch.ones(8))  # the centre maps to itself
    with pytest.raises(ValueError, match="distort"):
        Augment(distort=1.5)


@pytest.mark.parametrize("size", [(3, 0, 8), (3, 8.5, 8), "abc", (1, 8), (), (True, 8, 8), 8])
def test_loader_input_size_is_checked_when_made_not_at_the_first_batch(size):
    with pytest.raises(ValueError, match=r"input_size must be C×H×W, three positive integers"):
        Loader(_toy(), batch_size=4, train=False, input_size=size)


def test_loader_takes_numpy_input_sizes_as_python_ints():
    loader = Loader(_toy(), batch_size=4, train=False, input_size=np.array([1, 10, 10]))
    assert loader.input_size == (1, 10, 10) and all(type(v) is int for v in loader.input_size)
    assert next(iter(loader))[0].shape == (4, 1, 10, 10)


@pytest.mark.parametrize("option, value, error, message", [
    ("device", "gpu", ValueError, "device must be cpu, cuda, cuda:N, mps or auto, got 'gpu'"),
    ("device", 1, TypeError, "device must be cpu, cuda, cuda:N, mps or auto"),
    ("train", "no", TypeError, "train must be True or False, got str 'no'"),
    ("ten_crop", "yes", TypeError, "ten_crop must be True or False"),
    ("drop_last", "no", TypeError, "drop_last must be True or False"),
    ("seed", 1.5, ValueError, "seed must be an integer"),
    ("seed", "7", ValueError, "seed must be an integer"),
    ("world_size", 0, ValueError, "world_size must be a positive integer"),
    ("rank", "0", ValueError, r"rank must lie in 0\.\.0, got str '0'"),
    ("mean", [0.5], ValueError, "give both mean and std, or neither"),
    ("std", [0.5], ValueError, "give both mean and std, or neither"),
])
def test_loader_options_are_checked_by_name(option, value, error, message):
    kwargs = {"batch_size": 4, "train": False, option: value}
    with pytest.raises(error, match=message):
        Loader(_toy(), **kwargs)


@pytest.mark.parametrize("mean, std", [(0.5, [1]), (["a"], [1]), ([float("nan")], [1]), ([0], [0]), ([0, 0], [1, 1])])
def test_loader_mean_and_std_are_one_finite_number_per_channel(mean, std):
    with pytest.raises(ValueError, match=r"mean/std need 1 finite numbers \(std > 0\)"):
        Loader(_toy(), batch_size=4, train=False, mean=mean, std=std)


@pytest.mark.parametrize("epoch, step", [("x", 0), (-1, 0), (1.5, 0), (0, -2)])
def test_set_epoch_takes_counts(epoch, step):
    loader = Loader(_toy(), batch_size=4, train=True)
    with pytest.raises(ValueError, match="must be an integer ≥ 0"):
        loader.set_epoch(epoch, step)
