"""Bad options and misplaced arguments — a pruning threshold that would empty a layer, a
per-kind setting for a kind the model lacks, a key given twice, a value of the wrong type,
a file given where a checkpoint belongs — are refused with a message that names the option
or file, what was expected and what was found; a run read from another checkpoint than its
best one says so."""

import json
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.compress.prune import Pruner, compressible_layers, parse_layer_spec, resolve_per_layer
from cnnzoo.train import load_weights
from cnnzoo.train.checkpoint import (CheckpointWarning, load_model, model_meta, save_checkpoint,
                                     save_weights)
from cnnzoo.train.recipes import get_recipe, parse_overrides
from conftest import cli_error


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    """An (untrained) lenet_300_100 checkpoint: fully-connected layers only."""
    path = tmp_path_factory.mktemp("mlp") / "mlp.safetensors"
    save_weights(path, cnnzoo.create_model("lenet_300_100"))
    return path


def _linear(values) -> dict[str, nn.Module]:
    layer = nn.Linear(len(values), 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([values], dtype=torch.float32))
    return {"fc": layer}


# -- 1. a quality parameter that would prune a whole layer --------------------------------
def test_quality_that_empties_a_layer_is_refused_with_the_largest_that_keeps_some():
    # weights −2..2: σ = √(10/4) ≈ 1.5811 (sample std), so |w| ≥ q·σ keeps ±2 up to q = 2/σ ≈ 1.2649
    pruner = Pruner(nn.Module(), _linear([-2.0, -1.0, 0.0, 1.0, 2.0]))
    pruner.prune_below("fc", 1.26)
    assert int(pruner.masks["fc"].sum()) == 2
    with pytest.raises(ValueError, match=r"quality 1.3 would prune every weight of fc.*largest quality "
                                         r"that keeps some is 1.264$"):
        pruner.check_quality("fc", 1.3)  # judged before any work
    # retraining shrank the weights below 1.26·σ: a later round keeps one of the largest (±1.8)
    with torch.no_grad():
        pruner.layers["fc"].weight.mul_(0.9)
    pruner.prune_below("fc", 1.26)
    mask = pruner.masks["fc"]
    assert int(mask.sum()) == 1 and pruner.layers["fc"].weight[mask].abs().item() == pytest.approx(1.8)
    with pytest.raises(ValueError, match="quality of fc must be ≥ 0, got nan"):
        pruner.check_quality("fc", float("nan"))


def test_a_layer_of_zeros_takes_any_quality():
    pruner = Pruner(nn.Module(), _linear([0.0, 0.0, 0.0]))
    pruner.prune_below("fc", 100.0)  # the threshold 100 × 0 prunes nothing
    assert bool(pruner.masks["fc"].all())


def test_a_sparsity_below_one_never_rounds_to_an_empty_layer():
    pruner = Pruner(nn.Module(), _linear([float(i) for i in range(1, 11)]))
    pruner.prune_to_sparsity("fc", 0.99)  # 9.9 of 10 weights would round to all 10
    assert pruner.masks["fc"].flatten().tolist() == [False] * 9 + [True]


def test_cli_quality_100_is_refused_as_sparsity_1_is(mlp, tmp_path, capsys):
    fast = ["--data", "mnist-sample", "--out", tmp_path / "x.cnnzc", "--prune-iterations", "1",
            "--retrain-epochs", "0", "--finetune-epochs", "0", "--device", "cpu"]
    err = cli_error(["compress", mlp, "--quality", "100", *fast], capsys)
    assert "quality 100 would prune every weight of classifier.fc1" in err
    assert "the largest quality that keeps some is" in err
    err = cli_error(["compress", mlp, "--sparsity", "1", *fast], capsys)
    assert "sparsity of classifier.fc1 must be a number in [0, 1), got float 1.0" in err
    assert not list(tmp_path.iterdir())


# -- 2. a setting for a kind of layer the model does not have -----------------------------
def test_kind_the_model_lacks_is_refused_naming_the_kinds_it_has():
    fc_only = dict(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).named_children())
    with pytest.raises(ValueError, match=r"sparsity: 'conv' names no layer: the model has fc layers only \(0, 1\)"):
        resolve_per_layer({"conv": 0.5}, fc_only, 0.9, "sparsity")
    conv_only = dict(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3)).named_children())
    with pytest.raises(ValueError, match="bits: 'fc' names no layer: the model has conv layers only"):
        resolve_per_layer({"conv": 8, "fc": 5}, conv_only, 8, "bits")
    assert resolve_per_layer({"conv": 8}, conv_only, 5, "bits") == {"0": 8, "1": 8}


def test_cli_sparsity_conv_on_a_model_without_convolutions(mlp, tmp_path, capsys):
    err = cli_error(["compress", mlp, "--data", "mnist-sample", "--out", tmp_path / "x.cnnzc",
                      "--sparsity", "conv=0.5"], capsys)
    assert "sparsity: 'conv' names no layer: the model has fc layers only" in err
    assert "classifier.fc1" in err
    assert not list(tmp_path.iterdir())


# -- 3. key=value lists: a key given twice, a value that does not parse --------------------
def test_overrides_refuse_a_key_given_twice_and_name_their_option():
    with pytest.raises(ValueError, match=r"--set: lr is given twice \('lr=0.1' and 'lr=0.2'\); give it once"):
        parse_overrides(["lr=0.1", "epochs=2", "lr=0.2"])
    with pytest.raises(ValueError, match=r"--option: expected key=value, got 'dropout'"):
        parse_overrides(["dropout"], flag="--option")
    with pytest.raises(TypeError, match="--set: expected a list of 'key=value' strings, got str"):
        parse_overrides("lr=0.1")


def test_layer_spec_refuses_a_key_given_twice_and_names_its_option():
    with pytest.raises(ValueError, match=r"sparsity: 'fc' is given twice in 'fc=0.5, fc=0.2'"):
        parse_layer_spec("fc=0.5, fc=0.2", float, "sparsity")
    with pytest.raises(ValueError, match=r"bits: expected a value or 'key=value,...'.*got 'fc=five' in 'conv=8,fc=five'"):
        parse_layer_spec("conv=8,fc=five", int, "bits")
    assert parse_layer_spec("fc=0.5,classifier.fc1=0.2") == {"fc": 0.5, "classifier.fc1": 0.2}


def test_cli_key_given_twice(mlp, tmp_path, capsys):
    err = cli_error(["train", "lenet5", "--out", tmp_path / "run", "--set", "lr=0.1", "--set", "lr=0.2"],
                     capsys)
    assert "--set: lr is given twice" in err
    err = cli_error(["compress", mlp, "--data", "mnist-sample", "--out", tmp_path / "x.cnnzc",
                      "--bits", "fc=4,fc=6"], capsys)
    assert "bits: 'fc' is given twice in 'fc=4,fc=6'" in err
    assert not list(tmp_path.iterdir())


# -- 4. a value of the wrong type where the public functions take a name or a path ---------
@pytest.mark.parametrize("call, expected", [
    (lambda: cnnzoo.list_models(5), "pattern must be a string"),
    (lambda: cnnzoo.list_models(family=["resnet"]), "family must be a string"),
    (lambda: cnnzoo.create_model(5), "expected a model name"),
    (lambda: cnnzoo.model_info(None), "expected a model name"),
    (lambda: cnnzoo.load_model(5), "expected the path of a run directory or checkpoint (a str or os.PathLike), got int 5"),
    (lambda: cnnzoo.compress(5), "compress expects a run directory, a checkpoint path or a cnnzoo model, got int 5"),
    (lambda: load_weights("runs/x", cnnzoo.create_model("lenet5")),
     "load_weights(model, path): model must be a torch.nn.Module, got str 'runs/x'; are the arguments swapped?"),
    (lambda: save_weights(cnnzoo.create_model("lenet5"), "w.safetensors"),
     "save_weights(path, model): model must be a torch.nn.Module, got str 'w.safetensors'; are the arguments swapped?"),
    (lambda: save_weights(5, cnnzoo.create_model("lenet5")), "expected the path of the weights file to write"),
    (lambda: get_recipe(5), "get_recipe expects a model name"),
    (lambda: compressible_layers("lenet5"), "compressible_layers expects a torch.nn.Module, got str"),
    (lambda: parse_layer_spec([0.5], float, "sparsity"), "sparsity: expected a number, a dict or a string"),
])
def test_wrong_types_are_named(call, expected):
    with pytest.raises(TypeError) as err:
        call()
    assert expected in str(err.value)


def test_unknown_family_lists_the_families():
    with pytest.raises(ValueError, match="unknown family 'resnt'; the families are .*resnet"):
        cnnzoo.list_models(family="resnt")
    assert "resnet18" in cnnzoo.list_models(family="resnet")


# -- 5. a file where a checkpoint belongs; a run without its best checkpoint ----------------
@pytest.fixture
def run(tmp_path):
    """A run folder as `cnnzoo train` leaves it: config.json, best.safetensors, last.ckpt."""
    folder = tmp_path / "run"
    model = cnnzoo.create_model("lenet5")
    save_weights(folder / "best.safetensors", model)
    save_checkpoint(folder / "last.ckpt", {"meta": model_meta(model), "model": model.state_dict()})
    (folder / "config.json").write_text(json.dumps({"model": "lenet5"}))
    return folder


def test_a_runs_config_json_is_not_a_checkpoint(run, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"config.json is not a readable checkpoint: it is a JSON file of "
                                         r"the run .*; give the run folder itself or its best.safetensors"):
        load_model(run / "config.json")
    err = cli_error(["compress", run / "config.json", "--out", tmp_path / "x.cnnzc"], capsys)
    assert f"{run / 'config.json'} is not a readable checkpoint: it is a JSON file of the run {run}" in err


def test_an_image_given_as_the_checkpoint(run, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    err = cli_error(["predict", image, run], capsys)  # the arguments swapped
    assert f"{image} is not a readable checkpoint: it is an image" in err
    assert "the checkpoint comes first: cnnzoo predict CHECKPOINT IMAGE" in err
    renamed = tmp_path / "digit.ckpt"  # recognised by its content, not only by its name
    renamed.write_bytes(image.read_bytes())
    with pytest.raises(ValueError, match="it is an image"):
        load_model(renamed)


def test_a_dataset_given_as_the_checkpoint(tmp_path, capsys):
    data = tmp_path / "digits.npz"
    np.savez(data, x=np.zeros((2, 4, 4), np.uint8), y=np.zeros(2, np.int64))
    err = cli_error(["eval", data], capsys)
    assert f"{data} is not a readable checkpoint: it is a NumPy array file" in err and "--data" in err


def test_a_run_without_best_checkpoint_says_it_reads_the_last(run):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the best checkpoint: read without a word
        load_model(run)
    (run / "best.safetensors").unlink()
    with pytest.warns(CheckpointWarning, match=r"run has no best.safetensors .*: reading .*last.ckpt"):
        model, meta = load_model(run)
    assert meta["model"] == "lenet5"


def test_cli_notes_a_run_read_from_its_last_checkpoint(tmp_path, capsys):
    from PIL import Image

    run, model = tmp_path / "run", cnnzoo.create_model("lenet5")
    save_checkpoint(run / "last.ckpt", {"meta": model_meta(model), "model": model.state_dict()})
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(image)
    assert main(["predict", str(run), str(image), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("note:") and "has no best.safetensors" in captured.err
    assert "last.ckpt" in captured.err and "Warning" not in captured.err
    assert json.loads(captured.out)[0]["image"] == str(image)  # stdout stays clean JSON


def test_cli_option_given_twice_names_the_flag(capsys):
    assert main(["train", "lenet5", "--option", "dropout=0.1", "--option", "dropout=0.2"]) == 2
    assert "--option: dropout is given twice" in capsys.readouterr().err


def test_compress_retrains_with_the_labels_numbered_as_the_model_numbers_them():
    from cnnzoo.compress.pipeline import _as_trained
    from cnnzoo.data import ImageDataset

    # a model trained on ["cat", "dog"], data that lists its classes the other way round
    pets = ImageDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ["dog", "cat"], "pets")
    train, test = _as_trained((pets, pets), {"classes": ["cat", "dog"]})
    for ds in (train, test):
        assert ds.classes == ["cat", "dog"] and ds.labels.tolist() == [1, 0]  # the dog is class 1


def test_wrong_types_in_the_rest_of_the_api_say_what_was_expected(tmp_path):
    import cnnzoo
    from cnnzoo.report import compare

    with pytest.raises(TypeError, match="images must be an image .* or a list of them, got NoneType"):
        cnnzoo.predict(cnnzoo.create_model("lenet5"), None)
    with pytest.raises(TypeError, match="images must be an image .* got bytes"):
        cnnzoo.predict(cnnzoo.create_model("lenet5"), b"digit.png")
    with pytest.raises(TypeError, match="data must be a dataset name or path, or an ImageDataset, got int 5"):
        cnnzoo.evaluate(cnnzoo.create_model("lenet5"), 5)
    with pytest.raises(TypeError, match="runs must be a name or path, or a list of them, got int 5"):
        compare(runs=5, out=tmp_path / "cmp")
    with pytest.raises(TypeError, match=r"model_options must be a dict .* got list \[1\]"):
        cnnzoo.train("lenet5", model_options=[1], out=tmp_path / "run")
    with pytest.raises(ValueError, match="device must be cpu, cuda, cuda:N, mps or auto, got 'bogus'"):
        path = tmp_path / "w.safetensors"
        save_weights(path, cnnzoo.create_model("lenet5"))
        cnnzoo.load_model(path, device="bogus")


def test_one_model_name_is_one_model_not_its_letters():
    from cnnzoo.bench import bench

    report = bench("lenet5", batch=2, repeats=3)
    assert [r["model"] for r in report["results"]] == ["lenet5"]


def test_checkpoints_renamed_to_another_suffix_are_read_as_what_they_are(tmp_path, capsys):
    import shutil

    import cnnzoo

    model = cnnzoo.create_model("lenet5")
    save_weights(tmp_path / "w.safetensors", model)
    save_checkpoint(tmp_path / "last.ckpt", {"meta": model_meta(model), "model": model.state_dict()})
    shutil.copy(tmp_path / "w.safetensors", tmp_path / "w.cnnzc")
    shutil.copy(tmp_path / "last.ckpt", tmp_path / "l.safetensors")
    for name in ("w.cnnzc", "l.safetensors"):
        loaded, meta = cnnzoo.load_model(tmp_path / name)
        assert meta["model"] == "lenet5" and torch.equal(loaded.state_dict()["features.c1.weight"],
                                                         model.state_dict()["features.c1.weight"])
    (tmp_path / "metrics.csv").write_text("epoch,test_top1\n1,97.5\n")
    assert main(["eval", str(tmp_path / "metrics.csv")]) == 2
    assert "it is a text file, not a model" in capsys.readouterr().err


def test_compress_retrains_on_images_at_the_training_images_size():
    from cnnzoo.compress.pipeline import _as_trained
    from cnnzoo.data import ImageDataset

    big = ImageDataset(torch.zeros(2, 1, 56, 56, dtype=torch.uint8), torch.tensor([0, 1]), ["0", "1"], "big")
    meta = {"classes": ["0", "1"], "data_config": {"image_size": [1, 28, 28]}}  # trained on 28×28 digits
    for ds in _as_trained((big, big), meta):
        assert ds.image_size == (1, 28, 28)  # then padded to 32×32 as the training digits were


def test_compress_never_writes_its_weights_over_a_compression_report(mlp, tmp_path, capsys):
    fast = ["--data", "mnist-sample", "--prune-iterations", "1", "--retrain-epochs", "0",
            "--finetune-epochs", "0", "--device", "cpu"]
    assert main(["compress", str(mlp), "--out", str(tmp_path / "a.cnnzc"), *fast]) == 0
    report = (tmp_path / "a.report.json").read_bytes()
    err = cli_error(["compress", mlp, "--out", tmp_path / "a.report.json", "--overwrite", *fast], capsys)
    assert "a.report.json holds a compression report" in err
    assert (tmp_path / "a.report.json").read_bytes() == report
    capsys.readouterr()
    assert main(["compress", str(mlp), "--out", str(tmp_path / "a.cnnzc"), "--overwrite", *fast]) == 0  # its own kind


def test_bench_refuses_a_model_given_twice_in_another_case(capsys):
    assert "lenet5 is given twice (also as LENET5)" in cli_error(["bench", "LENET5", "lenet5"], capsys)


def test_compress_notes_a_batch_larger_than_the_training_set(mlp, tmp_path, capsys):
    # the bundled sample holds 4,000 training digits (README, The demo)
    argv = ["compress", str(mlp), "--data", "mnist-sample", "--out", str(tmp_path / "a.cnnzc"), "--batch-size",
            "5000", "--prune-iterations", "1", "--retrain-epochs", "0", "--finetune-epochs", "0", "--device", "cpu"]
    assert main(argv) == 0
    assert "note: batch size 5000 is larger than the 4,000 training images" in " ".join(capsys.readouterr().err.split())


def test_compress_refuses_a_seed_torch_cannot_take(mlp, tmp_path, capsys):
    # torch.manual_seed takes a 64-bit integer; its own word for 2**64 is "Overflow when unpacking long long"
    err = cli_error(["compress", mlp, "--data", "mnist-sample", "--out", tmp_path / "a.cnnzc", "--seed",
                      str(2**64)], capsys)
    assert "seed must be an integer from 0 to 2**63 - 1" in err and not (tmp_path / "a.cnnzc").exists()


def test_train_data_pairs_and_compress_batch_sizes_of_the_wrong_kind_are_named():
    # a tuple of names, not of ImageDatasets, ended in AttributeError deep in the run; a string
    # batch size in compress ended in TypeError from a comparison
    with pytest.raises(TypeError, match=r"\(train, test\) pair of ImageDatasets, got tuple"):
        cnnzoo.train("lenet5", data=("mnist-sample", "mnist-sample"))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got str '64'"):
        cnnzoo.compress(cnnzoo.create_model("lenet_300_100"), "mnist-sample", batch_size="64")


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_evaluate_refuses_a_batch_size_that_is_not_a_positive_integer(batch_size, tmp_path):
    ckpt = tmp_path / "lenet5.safetensors"
    save_weights(ckpt, cnnzoo.create_model("lenet5"))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        cnnzoo.evaluate(ckpt, "mnist-sample", split="all", batch_size=batch_size)


@pytest.mark.parametrize("argv, expected", [
    (["train", "lenet5", "--epocs", "1"], "cnnzoo train: error: unrecognized arguments: --epocs 1; --epocs: did you mean --epochs?"),
    (["summary", "lenet5", "--formt=md"], "cnnzoo summary: error: unrecognized arguments: --formt=md; --formt: did you mean --format?"),
])
def test_a_mistyped_option_is_named_under_its_command_with_the_closest(argv, expected, capsys):
    """argparse named it under the top-level usage, which lists no options."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"usage: cnnzoo {argv[0]} ") and expected in err


def test_an_option_like_none_of_the_commands_gets_no_guess(capsys):
    """With the dashes compared, --verbose read as --overwrite (which replaces a run)."""
    with pytest.raises(SystemExit):
        main(["train", "lenet5", "--verbose"])
    err = capsys.readouterr().err
    assert "unrecognized arguments: --verbose" in err and "did you mean" not in err


def test_an_input_size_that_is_no_size_gives_both_forms(capsys):
    with pytest.raises(SystemExit):
        main(["summary", "resnet50", "--input", "abc"])
    assert "expected an input size like 3x224x224 or 224, got 'abc'" in capsys.readouterr().err
