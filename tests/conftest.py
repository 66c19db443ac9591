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
