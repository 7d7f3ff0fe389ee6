"""The Deep Compression pipeline end to end on a slice of the bundled MNIST sample: the
compressed file, its report, loading it back, the command line and ``cnnzoo eval``."""

import json
import os
import re

import numpy as np
import pytest
import torch

import cnnzoo
from cnnzoo.cli import main
from cnnzoo.compress import CompressedFileError, load_compressed, read_compressed

LENET_300_100_PARAMS = 266_610  # the issue: the 784-300-100-10 perceptron
# Deep Compression, Table 2: LeNet-300-100 keeps 8%, 9% and 26% of ip1, ip2, ip3.
KEPT = {"classifier.fc1.weight": 0.08, "classifier.fc2.weight": 0.09, "classifier.fc3.weight": 0.26}
FAST = dict(prune_iterations=1, retrain_epochs=1, finetune_epochs=1, batch_size=64, device="cpu")


@pytest.fixture(scope="module")
def data():
    train = cnnzoo.load_dataset("mnist-sample", train=True)
    test = cnnzoo.load_dataset("mnist-sample", train=False)
    return train.subset(range(0, 4000, 10)), test.subset(range(0, 1000, 5))


@pytest.fixture(scope="module")
def compressed(tmp_path_factory, data):
    torch.manual_seed(0)
    model = cnnzoo.create_model("lenet_300_100")
    out = tmp_path_factory.mktemp("dc") / "lenet.cnnzc"
    lines = []
    result = cnnzoo.compress(model, data, out=out, log=lines.append, **FAST)
    return model, result, lines


def test_file_and_report_are_written(compressed):
    _, result, lines = compressed
    assert result.path.is_file() and result.report_path == result.path.with_suffix(".report.json")
    on_disk = json.loads(result.report_path.read_text())
    assert on_disk["file_bytes"] == os.path.getsize(result.path)
    assert [s["stage"] for s in on_disk["stages"]][0] == "original"
    assert {"original", "pruned", "quantized", "finetuned", "file"} <= set(on_disk["top1"])
    assert len(lines) == 5  # a line per stage


def test_ratio_is_measured_on_the_file_on_disk(compressed):
    _, result, _ = compressed
    size = os.path.getsize(result.path)
    assert result.report["original_bytes"] == 4 * LENET_300_100_PARAMS
    assert result.ratio == pytest.approx(4 * LENET_300_100_PARAMS / size)
    assert result.report["stages"][-1]["bytes"] == size


def test_compressed_weights_are_pruned_and_shared(compressed):
    _, result, _ = compressed
    header, state = read_compressed(result.path)
    assert dict(header["sections"])["classifier.fc1.weight"] == "shared"
    for name, kept in KEPT.items():
        w = state[name]
        assert (w != 0).float().mean() == pytest.approx(kept, abs=1 / w.numel())  # Table 2
        assert len(torch.unique(w[w != 0])) <= 2 ** 5  # 5-bit fc codebooks (§3)
    assert torch.equal(state["classifier.fc1.bias"], result.model.classifier.fc1.bias.detach())


def test_loaded_model_is_the_compressed_model(compressed, data):
    model, result, _ = compressed
    again, meta = load_compressed(result.path)
    assert meta["model"] == "lenet_300_100" and meta["num_classes"] == 10
    assert meta["classes"] == [str(i) for i in range(10)]
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(again(x), result.model(x))
        assert not torch.equal(again(x), model(x))  # the caller's model is left as it was
    assert cnnzoo.evaluate(again, data[1])["top1"] == result.report["top1"]["file"]


def test_existing_file_is_not_overwritten(compressed, data):
    _, result, _ = compressed
    before = result.path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        cnnzoo.compress(cnnzoo.create_model("lenet_300_100"), data, out=result.path, **FAST)
    assert result.path.read_bytes() == before


def test_bad_options_are_named(data, tmp_path):
    model = cnnzoo.create_model("lenet_300_100")
    with pytest.raises(ValueError, match="fc9.*classifier.fc1"):
        cnnzoo.compress(model, data, sparsity={"fc9": 0.5}, out=tmp_path / "x.cnnzc", **FAST)
    with pytest.raises(ValueError, match="bits of classifier.fc1 must be an integer in 1..12"):
        cnnzoo.compress(model, data, bits="fc=40", out=tmp_path / "x.cnnzc", **FAST)
    with pytest.raises(ValueError, match="either sparsity or quality"):
        cnnzoo.compress(model, data, sparsity=0.5, quality=1.0, out=tmp_path / "x.cnnzc", **FAST)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("option, error", [
    ({"bits": 0}, "bits of classifier.fc1 must be an integer in 1..12, got 0"),
    ({"sparsity": 1.5}, "sparsity of classifier.fc1 must be a number in [0, 1), got float 1.5"),
    ({"quality": -1.0}, "quality of classifier.fc1 must be ≥ 0"),
    ({"lr": -1.0}, "lr must be positive, got -1.0"),
    ({"finetune_lr": 0.0}, "finetune_lr must be positive"),
])
def test_bad_settings_are_refused_before_any_work(data, tmp_path, option, error):
    lines = []  # compress logs a line after each stage, the first once the model is evaluated
    with pytest.raises(ValueError, match=re.escape(error)):
        cnnzoo.compress(cnnzoo.create_model("lenet_300_100"), data, out=tmp_path / "x.cnnzc",
                        log=lines.append, **{**FAST, **option})
    assert lines == [] and not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data):
    """An (untrained) lenet_300_100 checkpoint and a small .npz dataset for the CLI."""
    from cnnzoo.train.checkpoint import save_weights

    folder = tmp_path_factory.mktemp("cli")
    save_weights(folder / "lenet.safetensors", cnnzoo.create_model("lenet_300_100"))
    train, test = data
    np.savez(folder / "digits.npz", x_train=train.images.numpy(), y_train=train.labels.numpy(),
             x_test=test.images.numpy(), y_test=test.labels.numpy())
    return folder


def test_cli_compress_then_eval(checkpoint, capsys):
    ckpt, npz = checkpoint / "lenet.safetensors", checkpoint / "digits.npz"
    argv = ["compress", str(ckpt), "--data", str(npz), "--prune-iterations", "1", "--retrain-epochs", "1",
            "--finetune-epochs", "1", "--bits", "fc=4", "--index-bits", "auto", "--device", "cpu"]
    assert main(argv) == 0
    out = checkpoint / "lenet.cnnzc"  # beside the checkpoint
    assert out.is_file() and (checkpoint / "lenet.report.json").is_file()
    printed = capsys.readouterr().out
    assert "total" in printed and "Huffman-coded file" in printed
    assert f"{os.path.getsize(out):,} bytes" in printed
    _, state = read_compressed(out)
    w = state["classifier.fc2.weight"]
    assert len(torch.unique(w[w != 0])) <= 2 ** 4
    # `cnnzoo eval` and evaluate() take the compressed file like any checkpoint
    report = json.loads((checkpoint / "lenet.report.json").read_text())
    assert cnnzoo.evaluate(str(out), str(npz))["top1"] == report["top1"]["file"]
    assert main(argv) == 2  # the file exists: a clear error, not a stack trace
    assert "overwrite" in capsys.readouterr().err
    before = ckpt.read_bytes()
    assert main(argv + ["--out", str(ckpt), "--overwrite"]) == 2  # never into its own input
    assert "is the checkpoint being compressed" in capsys.readouterr().err
    assert ckpt.read_bytes() == before
    assert main(argv + ["--overwrite", "--weight-decay", "-1"]) == 2  # the option reaches compress()
    assert "weight_decay must be ≥ 0, got -1.0" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--weight-decay", "5e-4"]) == 0  # Caffe's LeNet solver's
    assert json.loads((checkpoint / "lenet.report.json").read_text())["options"]["weight_decay"] == 5e-4


def test_truncated_compressed_file_is_a_clear_error(compressed, checkpoint, tmp_path, capsys):
    _, result, _ = compressed
    bad = tmp_path / "cut.cnnzc"
    bad.write_bytes(result.path.read_bytes()[:-50])
    with pytest.raises(CompressedFileError, match="truncated"):
        load_compressed(bad)
    with pytest.raises(CompressedFileError, match="truncated"):
        cnnzoo.evaluate(str(bad), str(checkpoint / "digits.npz"))
    assert main(["eval", str(bad), "--data", str(checkpoint / "digits.npz")]) != 0
    assert "truncated" in capsys.readouterr().err


def test_a_network_with_batch_norm(tmp_path):
    """Any registered model goes through: resnet20's batch-norm statistics and counters are
    stored raw, its convolutions (60% pruned by default, 8-bit codebooks) and its fc shared."""
    from cnnzoo.data import ImageDataset

    g = torch.Generator().manual_seed(0)

    def toy(n):
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        return ImageDataset(images, torch.arange(n) % 10, [str(i) for i in range(10)], "toy")

    result = cnnzoo.compress(cnnzoo.create_model("resnet20"), (toy(64), toy(32)), out=tmp_path / "r20.cnnzc",
                             **FAST)
    header, state = read_compressed(result.path)
    kinds = dict(header["sections"])
    assert kinds["layer1.0.conv1.weight"] == "shared" and kinds["layer1.0.bn1.running_var"] == "raw"
    assert state["layer1.0.bn1.num_batches_tracked"].dtype == torch.int64
    w = state["layer3.2.conv2.weight"]
    assert (w == 0).float().mean() == pytest.approx(0.6, abs=1 / w.numel())
    assert len(torch.unique(w)) <= 2 ** 8 + 1
    assert result.report["exact"]  # the file's model gives the compressed model's outputs


# Deep Compression, Table 3: LeNet-5 (lenet5_caffe) keeps 66%, 12%, 8% and 19% of conv1, conv2,
# ip1 and ip2.
TABLE_3_KEPT = {"features.conv1": 0.66, "features.conv2": 0.12, "classifier.fc1": 0.08,
                "classifier.fc2": 0.19}


def test_paper_preset_is_the_default_and_user_options_override_it(data, tmp_path):
    """lenet5_caffe is pruned layer by layer as in Table 3 unless the user names a layer;
    the relative-index width defaults to auto."""
    torch.manual_seed(0)
    model = cnnzoo.create_model("lenet5_caffe")
    result = cnnzoo.compress(model, data, sparsity={"features.conv2": 0.5}, bits="fc=4",
                             out=tmp_path / "l5.cnnzc", **FAST)
    rows = {r["layer"]: r for r in result.report["layers"]}
    expected = {**TABLE_3_KEPT, "features.conv2": 0.5}
    for name, kept in expected.items():
        assert rows[name]["kept"] / rows[name]["weights"] == pytest.approx(kept, abs=1 / rows[name]["weights"])
    assert result.report["options"]["preset"] == "lenet5_caffe"
    assert set(result.report["options"]["index_bits"].values()) == {"auto"}
    assert result.report["threads"] == torch.get_num_threads()  # what the retraining ran on
    _, state = read_compressed(result.path)
    w = state["classifier.fc1.weight"]
    assert len(torch.unique(w[w != 0])) <= 2 ** 4  # the user's bits, not the 5-bit default
    w = state["features.conv1.weight"]
    assert len(torch.unique(w[w != 0])) > 2 ** 4  # conv keeps 8 bits (§3)


def test_presets_line_up_with_the_imagenet_networks():
    """Tables 4 and 5 name AlexNet's 5 conv + 3 fc and VGG-16's 13 conv + 3 fc layers; each
    cnnzoo layout maps onto its table, and a model the paper did not compress has none."""
    from cnnzoo.compress import compressible_layers, paper_preset

    # Han et al. 2016, "Weights%" kept, conv1..conv5, fc6..fc8 (Table 4) and conv1_1..conv5_3,
    # fc6..fc8 (Table 5)
    table_4 = (84, 38, 35, 37, 37, 9, 9, 25)
    table_5 = (58, 22, 34, 36, 53, 24, 42, 32, 27, 34, 35, 29, 36, 4, 4, 23)
    for name, n_conv, kept in (("alexnet", 5, table_4), ("alexnet_tv", 5, table_4),
                               ("vgg16", 13, table_5)):
        with torch.device("meta"):
            layers = compressible_layers(cnnzoo.create_model(name))
        preset = paper_preset(name, layers)
        assert preset is not None and len(preset) == n_conv + 3 == len(kept)
        assert preset == pytest.approx([1 - k / 100 for k in kept])
    with torch.device("meta"):
        assert paper_preset("lenet5", compressible_layers(cnnzoo.create_model("lenet5"))) is None


def test_dropout_is_matched_to_the_layer_whose_neurons_it_drops():
    """Han et al. 2015, §3.2: dropout works on neurons; AlexNet's drop6 and drop7 act on fc6's
    and fc7's outputs. GoogLeNet's dropout acts on the last inception module's (the last branch
    of its concatenation stands for all four), not on an auxiliary head (which runs only in
    training)."""
    from cnnzoo.compress.pipeline import dropouts_on
    from cnnzoo.compress.prune import compressible_layers

    for name, expected in [("alexnet", ["classifier.fc6", "classifier.fc7"]),
                           ("googlenet", ["inception5b.branch4.1.conv"]),
                           ("senet154", ["layer4.2.conv3"]),  # not its excitation's fc2, a gate
                           ("highway", ["features.13.h", "features.22.0", "features.5.h"])]:  # not T, a gate
        with torch.device("meta"):
            model = cnnzoo.create_model(name)
            found = dropouts_on(model, compressible_layers(model), torch.zeros(1, *model.default_input_size))
        assert sorted(found.values()) == expected, name


def test_retraining_lowers_dropout_as_pruning_lowers_connections(tmp_path):
    """Han et al. 2015, Eq. 2: D_r = D_o·sqrt(C_r / C_o); NiN's two dropouts (0.5) act on the
    outputs of its first two mlpconv layers, here with 40% of their weights kept (conv=0.6)."""
    from cnnzoo.data import ImageDataset

    g = torch.Generator().manual_seed(0)

    def toy(n):
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        return ImageDataset(images, torch.arange(n) % 10, [str(i) for i in range(10)], "toy")

    model = cnnzoo.create_model("nin")
    result = cnnzoo.compress(model, (toy(32), toy(16)), out=tmp_path / "nin.cnnzc", sparsity=0.6,
                             **{**FAST, "retrain_epochs": 0, "finetune_epochs": 0, "batch_size": 16})
    lowered = result.report["options"]["retrain_dropout"]
    assert sorted(lowered) == ["features.drop1", "features.drop2"]
    for d in lowered.values():
        assert (d["p"], d["retraining_p"]) == (0.5, pytest.approx(0.5 * 0.4 ** 0.5, abs=1e-3))
    assert all(m.p == 0.5 for m in result.model.modules() if isinstance(m, torch.nn.Dropout))
