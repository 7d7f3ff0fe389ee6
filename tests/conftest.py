import os

import pytest
import torch
from torch import nn

# The suite runs on 2 CPU cores. Under pytest-xdist (`make test` runs one worker per core)
# each worker takes one thread, so workers never fight over cores; alone, two threads.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def build_on_meta(name, **options):
    """Build a registered model on the meta device: shapes and counts without memory."""
    import cnnzoo

    with torch.device("meta"):
        return cnnzoo.create_model(name, **options)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def state_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Each state_dict key's shape: what a published weight file must match to load."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


class Printed(str):
    """The CLI's output; ``in`` ignores whitespace, since the console wraps lines anywhere."""

    def __contains__(self, text):
        return "".join(text.split()) in "".join(self.split())


def cli_error(argv, capsys) -> Printed:
    """Run the CLI on ``argv``, check it failed with one ``error:`` line and no traceback, and
    return what it printed on stderr."""
    from cnnzoo.cli import main

    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    return Printed(err)


def multiply_adds_by_module(model: nn.Module, size: int = 224) -> dict[str, int]:
    """Multiply-adds of the convolutions and linear layers (what the papers call FLOPs) for
    one size×size input, by top-level module, counted here from each layer's output shape
    on the meta device, independently of cnnzoo.analysis."""
    totals: dict[str, int] = {}

    def count(name, m, out):
        per_output = (m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                      if isinstance(m, nn.Conv2d) else m.in_features)
        top = name.split(".")[0]
        totals[top] = totals.get(top, 0) + out.numel() * per_output

    hooks = [m.register_forward_hook(lambda m, i, o, n=n: count(n, m, o))
             for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()(torch.empty(1, model.in_chans, size, size, device="meta"))
    for h in hooks:
        h.remove()
    return totals


def multiply_adds(model: nn.Module, size: int = 224) -> int:
    return sum(multiply_adds_by_module(model, size).values())
