"""Command-line arguments that can only be positive are refused by the parser, with the
argument's name and the value found, before any work starts."""

import pytest

from cnnzoo.cli import main


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
