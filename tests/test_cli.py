"""Bad command lines end in one clear line before any work starts: counts that can only be
positive, outputs that cannot be written, unknown compile modes, patterns and paths that name
nothing."""

import json
from pathlib import Path

import pytest

import cnnzoo.cli
from cnnzoo.cli import main
from conftest import cli_error


@pytest.mark.parametrize("argv", [
    ["compare", "resnet20", "--batch", "0"],
    ["bench", "lenet5", "--batch", "0"],
    ["bench", "lenet5", "--repeats", "-3"],
    ["bench", "lenet5", "--threads", "0"],
    ["train", "lenet5", "--epochs", "0"],
    ["train", "lenet5", "--batch-size", "-8"],
    ["train", "lenet5", "--threads", "two"],
    ["eval", "some-run", "--batch-size", "0"],
    ["predict", "some-run", "digit.png", "--topk", "0"],
    ["summary", "lenet5", "--num-classes", "0"],
])
def test_non_positive_counts_are_refused(argv, capsys):
    flag, value = argv[-2], argv[-1]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2  # argparse's usage error, not a traceback
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and f"expected a positive integer, got '{value}'" in err


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "afile"
    path.write_text("the user's file")
    return path


@pytest.mark.parametrize("argv, expected", [
    (["bench", "lenet5", "--json", "{folder}"], "cannot write {folder}: it is a folder"),
    (["bench", "lenet5", "--json", "{file}/x.json"], "cannot write {file}/x.json: {file} is a file, not a folder"),
    (["compare", "lenet5", "--no-speed", "--out", "{file}"], "{file} is a file, not a folder"),
    (["train", "lenet5", "--out", "{file}/run"], "{file} is a file, not a folder"),
    (["bench", "lenet5", "--compile", "bogus"], "unknown compile mode 'bogus'"),
])
def test_outputs_that_cannot_be_written_are_named_before_any_work(argv, expected, tmp_path, a_file,
                                                                    capsys, monkeypatch):
    monkeypatch.setattr("cnnzoo.cli.errors.width", 40)  # narrower than the paths: still one line
    names = {"folder": str(tmp_path), "file": str(a_file)}
    assert main([a.format(**names) for a in argv]) == 2
    assert expected.format(**names) in capsys.readouterr().err
    assert a_file.read_text() == "the user's file"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_without_room_for_files_is_named():
    from cnnzoo._files import check_writable

    with pytest.raises(PermissionError, match="cannot write /proc/x.json: cannot create files in /proc"):
        check_writable("/proc/x.json")


def test_a_pattern_that_matches_nothing_is_an_error(capsys):
    assert main(["list", "nosuch*"]) == 2
    assert "no model matches 'nosuch*'" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["./no/such/run", "missing.safetensors"])
def test_summary_of_a_missing_file_says_so(target, capsys, monkeypatch):
    monkeypatch.setattr("cnnzoo.cli.errors.width", 20)
    assert main(["summary", target]) == 2
    assert f"no such run or checkpoint: {target}" in capsys.readouterr().err


def test_a_full_disk_is_one_line_and_keeps_the_earlier_file(tmp_path, capsys, monkeypatch):
    import errno

    out = tmp_path / "cmp"
    out.mkdir()
    (out / "compare.json").write_text("the earlier results")

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr("cnnzoo._files.os.replace", full)
    assert main(["compare", "lenet5", "--no-speed", "--out", str(out), "--overwrite"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert (out / "compare.json").read_text() == "the earlier results"
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("argv, earlier", [
    (["bench", "lenet5", "--json", "{out}/bench.json"], "bench.json"),
    (["compare", "lenet5", "--no-speed", "--out", "{out}"], "compare.md"),
])
def test_an_earlier_result_is_replaced_only_with_overwrite(argv, earlier, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("cnnzoo.cli.errors.width", 40)
    (tmp_path / earlier).write_text("the earlier results")
    assert main([a.format(out=tmp_path) for a in argv]) == 2
    message = capsys.readouterr().err
    assert f"{tmp_path / earlier} exists; pass --overwrite" in message
    assert (tmp_path / earlier).read_text() == "the earlier results"


def test_compare_with_overwrite_replaces_the_earlier_comparison_and_its_stale_chart(tmp_path):
    (tmp_path / "compare.md").write_text("the earlier results")
    (tmp_path / "throughput_vs_accuracy.png").write_text("an earlier chart")
    assert main(["compare", "lenet5", "resnet20", "--no-speed", "--out", str(tmp_path), "--overwrite"]) == 0
    assert "resnet20" in (tmp_path / "compare.md").read_text()
    assert not (tmp_path / "throughput_vs_accuracy.png").exists()  # no throughput this time


def test_errors_go_to_stderr_so_json_output_stays_json(capsys):
    assert main(["summary", "lenet5", "--format", "json", "--input", "1x8x8"]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.startswith("error:")


def test_a_registered_name_wins_over_a_folder_of_that_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lenet5").mkdir()  # e.g. `cnnzoo train lenet5 --out lenet5`
    assert main(["summary", "lenet5", "--format", "csv", "--columns", "name,params"]) == 0
    printed = capsys.readouterr()
    assert "features.c1,156" in printed.out  # LeNet-5's C1: 156 parameters (LeCun et al. 1998)
    assert "write ./lenet5" in printed.err
    assert main(["summary", "./lenet5"]) == 2  # the folder, asked for by path
    assert "holds no checkpoint" in capsys.readouterr().err


def test_a_run_that_diverges_before_its_first_checkpoint_says_no_weights_were_kept(tmp_path, capsys):
    # Adam moves every weight by about lr per step: at 1e30 the loss overflows at once.
    argv = ["train", "lenet_300_100", "--lr", "1e30", "--epochs", "1", "--out", str(tmp_path / "run"),
            "--threads", "1", "--channels-last", "off", "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error: training loss became" in err and "before its first checkpoint: no weights were kept" in err
    assert "stays in" not in err


@pytest.mark.parametrize("argv, expected", [
    (["bench", "lenet5", "--batch", "4096", "--input", "1x32x32"],
     "cnnzoo bench ran out of memory (models lenet5, batch 4096, input 1x32x32): DefaultCPUAllocator: "
     "can't allocate memory: you tried to allocate 4294967296 bytes. Try a smaller --batch or --input, "),
    (["train", "lenet5", "--batch-size", "4096"],
     "cnnzoo train ran out of memory (model lenet5, batch size 4096): DefaultCPUAllocator"),
    (["predict", "lenet5", "x.png"],
     "bytes. Try a smaller model or a machine with more memory"),  # predict takes no batch or input size
])
def test_out_of_memory_names_what_ran_out_and_what_to_lower(argv, expected, capsys, monkeypatch):
    import cnnzoo.bench
    import cnnzoo.train

    def no_memory(*args, **kwargs):  # the CPU allocator's own message (c10/core/impl/alloc_cpu.cpp)
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 4294967296 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(cnnzoo.bench, "bench", no_memory)
    monkeypatch.setattr(cnnzoo.train, "train", no_memory)
    monkeypatch.setattr(cnnzoo.train, "predict", no_memory)
    monkeypatch.setattr(cnnzoo.cli.errors, "width", 400)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize("command", [
    ["bench", "lenet5"], ["compare", "lenet5", "alexnet", "--out", "{tmp}/cmp"], ["train", "lenet5", "--out", "{tmp}/run"],
    ["eval", "lenet5"], ["predict", "lenet5", "{tmp}/x.png"], ["compress", "lenet5", "--out", "{tmp}/l.cnnzc"],
])
@pytest.mark.parametrize("device, expected", [
    ("mps", "device 'mps' asked for, but this machine has no Apple GPU"),  # Linux: no Metal
    ("meta", "device must be cpu, cuda, cuda:N, mps or auto, got 'meta'"),
    ("tpu", "device must be cpu, cuda, cuda:N, mps or auto, got 'tpu'"),
])
def test_every_command_checks_the_device_first(command, device, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    monkeypatch.setattr(cnnzoo.cli.errors, "width", 400)
    assert main([a.format(tmp=tmp_path) for a in command] + ["--device", device]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_a_cuda_index_beyond_the_machines_gpus_is_named(monkeypatch):
    import torch

    from cnnzoo._device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ValueError, match="'cuda:2' asked for, but this machine's CUDA GPUs are cuda:0 to cuda:1"):
        resolve_device("cuda:2")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(TypeError, match="got int 1"):  # torch.device(1) would quietly mean cuda:1
        resolve_device(1)


def test_settings_that_work_but_are_probably_not_meant_are_notes(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("cnnzoo._device.machine_threads", lambda: 2)
    monkeypatch.setattr(cnnzoo.cli.errors, "width", 400)
    # the bundled sample holds 4,000 training digits (README, The demo)
    argv = ["train", "lenet5", "--batch-size", "5000", "--threads", "8", "--epochs", "1",
            "--channels-last", "off", "--no-progress", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "note: 8 threads asked for, but this process may use 2 cores" in err
    assert "note: batch size 5000 is larger than the 4,000 training images" in err
    assert main(["bench", "lenet5", "--plain", "--compile"]) == 2
    assert "compile applies to the fast path" in capsys.readouterr().err


def test_out_of_memory_in_train_names_the_recipes_batch(tmp_path, capsys, monkeypatch):
    from cnnzoo.train.loop import Trainer

    def no_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 123 bytes.")

    monkeypatch.setattr(Trainer, "train_epoch", no_memory)
    monkeypatch.setattr(cnnzoo.cli.errors, "width", 400)
    # LeNet-5's small recipe: batch 64 (README, The demo), its 1×32×32 input (LeCun et al. 1998)
    argv = ["train", "lenet5", "--out", str(tmp_path / "run"), "--threads", "1", "--channels-last", "off", "--no-progress"]
    assert main(argv) == 2
    assert "(model lenet5, batch size 64, input 1x32x32)" in capsys.readouterr().err


def test_demo_into_a_folder_that_is_not_a_run_says_so_before_printing(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path), "--overwrite"]) == 2
    printed = capsys.readouterr()
    assert "is not empty and is not a cnnzoo run" in printed.err and printed.out == ""
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_class_names_and_paths_with_brackets_are_shown_as_they_are(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    import cnnzoo
    from cnnzoo.train.checkpoint import model_meta, save_weights

    model = cnnzoo.create_model("lenet_300_100")
    classes = [f"[bold]{i}" for i in range(10)]  # rich would read these as markup and drop them
    model.data_config = {"image_size": [1, 28, 28], "mean": [0.1], "std": [0.3], "classes": classes}
    save_weights(tmp_path / "w.safetensors", model, model_meta(model))
    image = tmp_path / "[red]x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    assert main(["predict", str(tmp_path / "w.safetensors"), str(image), "--topk", "10"]) == 0
    out = capsys.readouterr().out
    assert str(image) in out and all(c in out for c in classes)


def test_summary_builds_with_the_options_given(capsys):
    # Howard et al. 2017, Table 6: 1.0 MobileNet-224 has 4.2 million parameters, 0.50 MobileNet-224 1.3
    assert main(["summary", "mobilenet_v1", "--option", "width_mult=0.5", "--format", "json"]) == 0
    half = json.loads(capsys.readouterr().out)
    assert round(half["totals"]["params"] / 1e6, 1) == 1.3
    assert half["model"] == "mobilenet_v1(width_mult=0.5)"  # which network a saved summary explains
    assert "unknown option(s) 'nope'" in cli_error(["summary", "lenet5", "--option", "nope=1"], capsys)


def test_summary_refuses_the_number_of_classes_given_twice(capsys):
    assert "given twice" in cli_error(["summary", "lenet5", "--num-classes", "5", "--option", "num_classes=7"], capsys)
