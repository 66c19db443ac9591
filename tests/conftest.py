"""Shared fixtures: the real-data folder (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbrzoo.paths import DATA_DIR_ENV, data_root


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The folder of real datasets (``$SBRZOO_DATA_DIR`` or ``../shared/datasets``) holding both
    published datasets (the tests that use it read either); skips, naming what is missing, when not."""
    root = data_root()
    missing = [name for name in ("diginetica", "yoochoose1_64") if not (root / name / "test.txt").is_file()]
    if missing:
        pytest.skip(f"real datasets not found at {root}: no {' or '.join(missing)} (set {DATA_DIR_ENV} to the "
                    "folder holding diginetica/ and yoochoose1_64/)")
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
