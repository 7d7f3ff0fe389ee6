import os

import pytest
import torch

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
