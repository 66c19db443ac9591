"""Shared fixtures: the real-data folder (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbrzoo.paths import DATA_DIR_ENV, data_root


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The folder of real datasets (``$SBRZOO_DATA_DIR`` or ``../shared/datasets``); skips when absent."""
    root = data_root()
    if not (root / "diginetica" / "test.txt").is_file():
        pytest.skip(f"real datasets not found at {root} (set {DATA_DIR_ENV} to the folder holding diginetica/)")
    return root


@pytest.fixture
def one_thread():  # noqa: ANN201 - a generator fixture
    """One intra-op thread: training runs many small ops, and on a shared two-core machine every
    two-thread op waits for both cores (several times slower than one thread)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
