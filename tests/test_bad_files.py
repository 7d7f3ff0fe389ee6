"""Bad input files — an .npz that is not one, a split that rounds to nothing, damaged
checkpoint metadata, a damaged compressed model — give one clear `error:` line that names
the file, what was expected and what was found, never a traceback or a bare library message."""

import json

import numpy as np
import pytest
import torch

from cnnzoo import create_model
from cnnzoo.compress import CompressedFileError
from cnnzoo.data import load_dataset
from cnnzoo.train.checkpoint import load_model, save_weights
from conftest import cli_error

NPZ_KEYS = "x and y (or x_train, y_train, x_test, y_test)"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained lenet5 checkpoint, enough for `cnnzoo eval` to reach the data."""
    path = tmp_path_factory.mktemp("ckpt") / "lenet5.safetensors"
    save_weights(path, create_model("lenet5", num_classes=10))
    return path


def _eval_error(checkpoint, data, capsys) -> str:
    return cli_error(["eval", checkpoint, "--data", data], capsys)


# -- 1. a bad .npz ------------------------------------------------------------------------
def test_empty_npz(tmp_path, checkpoint, capsys):
    bad = tmp_path / "empty.npz"
    bad.write_bytes(b"")
    out = _eval_error(checkpoint, bad, capsys)
    assert f"{bad} is empty (0 bytes)" in out and "numpy.savez" in out and NPZ_KEYS in out


def test_text_file_named_npz(tmp_path, checkpoint, capsys):
    bad = tmp_path / "notes.npz"
    bad.write_text("hello world\n")
    out = _eval_error(checkpoint, bad, capsys)
    assert f"{bad} is not an .npz archive" in out and NPZ_KEYS in out
    assert "starts with b'hello wo'" in out and "pickle" not in out


def test_truncated_npz(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((20, 4, 4), np.uint8), y=np.arange(20) % 2)
    bad = tmp_path / "cut.npz"
    bad.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"cut\.npz is not an \.npz archive.*found a zip archive numpy cannot read"):
        load_dataset(bad, train=False)


def test_string_labels(tmp_path, checkpoint, capsys):
    bad = tmp_path / "words.npz"
    np.savez(bad, x=np.zeros((20, 28, 28), np.uint8), y=np.array(["cat", "dog"] * 10))
    out = _eval_error(checkpoint, bad, capsys)
    assert f"{bad}: labels 'y' must be integer class indices 0..K-1, found dtype <U3 such as 'cat'" in out


def test_zero_images(tmp_path, checkpoint, capsys):
    bad = tmp_path / "none.npz"
    np.savez(bad, x=np.zeros((0, 28, 28), np.uint8), y=np.zeros(0, np.int64))
    out = _eval_error(checkpoint, bad, capsys)
    assert f"{bad}: array 'x' holds no images (shape (0, 28, 28)); expected at least one" in out


def test_negative_labels(tmp_path, checkpoint, capsys):
    bad = tmp_path / "minus.npz"
    np.savez(bad, x=np.zeros((20, 28, 28), np.uint8), y=np.full(20, -1))
    out = _eval_error(checkpoint, bad, capsys)
    assert f"{bad}: labels 'y' must be class indices 0..K-1, found -1..-1" in out


def test_float_images_with_nan_are_named_without_numpy_warnings(tmp_path, checkpoint, capsys):
    import warnings

    bad = tmp_path / "nan.npz"
    np.savez(bad, x=np.full((60, 8, 8), np.nan, np.float32), y=np.arange(60) % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "All-NaN slice" warning would be an error here
        out = _eval_error(checkpoint, bad, capsys)
    assert f"{bad}: float images must lie in [0, 1], found 3,840 NaN or infinite values" in out


def test_a_dataset_cache_that_is_a_file(tmp_path, monkeypatch):
    from cnnzoo.data import data_root

    a_file = tmp_path / "cache"
    a_file.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=rf"the dataset cache {a_file} \(--data-root\) is a file"):
        load_dataset("cifar10", train=True, root=a_file)
    monkeypatch.setenv("CNNZOO_DATA", str(a_file))
    with pytest.raises(NotADirectoryError, match=r"\(\$CNNZOO_DATA\) is a file; expected a folder"):
        data_root()
    assert len(load_dataset("mnist-sample", train=False)) == 1000  # the bundled sample needs no cache


# -- 2. a held-out test split that rounds to nothing --------------------------------------
def test_too_small_for_a_test_split(tmp_path, checkpoint, capsys):
    small = tmp_path / "u8_20.npz"
    np.savez(small, x=np.zeros((20, 28, 28), np.uint8), y=np.arange(20) % 10)
    assert len(load_dataset(small, train=True)) == 20  # training still has its images
    out = _eval_error(checkpoint, small, capsys)
    assert f"{small} has 20 images in 10 classes (at most 2 per class)" in out
    assert "test split (10% of each class, rounded) is empty" in out
    assert "a class needs at least 6 images" in out and "x_test and y_test" in out
    six = tmp_path / "six.npz"  # the stated minimum is enough
    np.savez(six, x=np.zeros((6, 4, 4), np.uint8), y=np.zeros(6, np.int64))
    assert len(load_dataset(six, train=False)) == 1


# -- 3. checkpoint metadata and a resumed run's config.json that are not JSON -------------
def test_safetensors_metadata_not_json(tmp_path, capsys):
    from safetensors.torch import save_file

    bad = tmp_path / "broken.safetensors"
    save_file({"w": torch.zeros(2)}, str(bad), metadata={"cnnzoo": "{bad"})
    with pytest.raises(ValueError, match=r"broken\.safetensors: its 'cnnzoo' metadata is not valid JSON"):
        load_model(bad)
    out = _eval_error(bad, "mnist-sample", capsys)
    assert f"{bad}: its 'cnnzoo' metadata is not valid JSON" in out and "expected the JSON object" in out


@pytest.mark.parametrize("field, value, expected", [
    ("data_config", "mnist", "field 'data_config' is 'mnist'; expected a JSON object"),
    ("model_options", "num_classes=10", "field 'model_options' is 'num_classes=10'; expected a JSON object"),
    ("num_classes", "10", "field 'num_classes' is '10'; expected an integer"),
    ("classes", ["0", "1", "2"], "field 'classes' names 3 classes for a model with 10 outputs"),
    ("classes", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "field 'classes' holds something other than class names"),
])
def test_safetensors_metadata_of_the_wrong_shape(field, value, expected, tmp_path, capsys):
    from cnnzoo.train.checkpoint import model_meta

    model = create_model("lenet5", num_classes=10)
    bad = tmp_path / "edited.safetensors"
    save_weights(bad, model, {**model_meta(model), field: value})
    out = _eval_error(bad, "mnist-sample", capsys)
    assert f"{bad}: its metadata {expected}" in out and "damaged" in out
    out = cli_error(["predict", bad, bad], capsys)  # refused before any image is read
    assert expected in out


def test_resume_with_corrupt_config(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"model": ')
    out = cli_error(["train", "lenet5", "--out", run, "--resume", "--no-progress"], capsys)
    assert f"cannot resume {run}: {run / 'config.json'} is not valid JSON" in out
    assert "expected the JSON object cnnzoo wrote" in out
    (run / "config.json").write_text(json.dumps(["lenet5"]))
    out = cli_error(["train", "lenet5", "--out", run, "--resume", "--no-progress"], capsys)
    assert f"{run / 'config.json'} holds a JSON list" in out


# -- 4. a damaged or empty .cnnzc ---------------------------------------------------------
def test_cnnzc_with_damaged_magic(tmp_path, checkpoint, capsys):
    bad = tmp_path / "model.cnnzc"
    bad.write_bytes(b"XXCNZDC\r\n" + bytes(40))
    with pytest.raises(CompressedFileError, match=r"model\.cnnzc is not a cnnzoo compressed model "
                                                  r"\(its first bytes are b'XXCNZDC\\r'"):
        load_model(bad)
    bad.write_bytes(checkpoint.read_bytes())  # a checkpoint renamed .cnnzc is read as what it is
    assert load_model(bad)[1]["model"] == load_model(checkpoint)[1]["model"]


def test_empty_cnnzc(tmp_path, capsys):
    bad = tmp_path / "empty.cnnzc"
    bad.write_bytes(b"")
    out = _eval_error(bad, "mnist-sample", capsys)
    assert f"{bad} is empty (0 bytes); expected a cnnzoo compressed model" in out
