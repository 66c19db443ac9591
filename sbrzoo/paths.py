"""Where the zoo looks for data on disk, and the rule for the files it writes."""

from __future__ import annotations

import os
from pathlib import Path

from sbrzoo.errors import ConfigError

__all__ = ["DATA_DIR_ENV", "data_root", "PROJECT_ROOT", "refuse_to_replace"]

DATA_DIR_ENV = "SBRZOO_DATA_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Folder holding the named datasets: ``$SBRZOO_DATA_DIR``, else ``../shared/datasets`` beside the project."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return (PROJECT_ROOT.parent / "shared" / "datasets").resolve()


def refuse_to_replace(path: Path, overwrite: bool) -> None:
    """Nothing is replaced without ``--overwrite``.

    Raises:
        ConfigError: ``path`` exists and ``overwrite`` is False.
    """
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; choose another file or replace it with --overwrite")
