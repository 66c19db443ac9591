"""Where the zoo looks for data on disk."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "data_root", "PROJECT_ROOT"]

DATA_DIR_ENV = "SBRZOO_DATA_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Folder holding the named datasets: ``$SBRZOO_DATA_DIR``, else ``../shared/datasets`` beside the project."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return (PROJECT_ROOT.parent / "shared" / "datasets").resolve()
