import os

import pytest
import torch

# The suite runs on 2 CPU cores; keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))


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
