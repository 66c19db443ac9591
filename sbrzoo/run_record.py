"""What every saved result records about where it came from, and atomic file writes."""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sbrzoo.data.pickles import atomic_write_bytes
from sbrzoo.paths import PROJECT_ROOT

__all__ = ["RANKS_FILE", "environment_info", "write_json_atomic", "save_torch_atomic", "save_ranks", "load_ranks"]

RANKS_FILE = "test_ranks.npy"


def _git_commit() -> str | None:
    """The checkout's short commit, else ``$SBRZOO_GIT_COMMIT`` (a copied tree without ``.git``)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        result = None
    if result is not None and result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip()
    return os.environ.get("SBRZOO_GIT_COMMIT")


def environment_info(device: torch.device) -> dict[str, Any]:
    """Git commit, library versions, device name and host, for run records."""
    from sbrzoo.graph import dgl_available

    info: dict[str, Any] = {
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "host": platform.node(),
        "cpu_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if dgl_available():
        import dgl

        info["dgl"] = dgl.__version__
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    return info


def write_json_atomic(path: Path, data: Any) -> None:  # noqa: ANN401 - any JSON-able value
    """Write ``data`` as indented JSON through a temporary file and a rename."""
    atomic_write_bytes(Path(path), (json.dumps(data, indent=2) + "\n").encode())


def save_torch_atomic(path: Path, obj: Any) -> None:  # noqa: ANN401 - a checkpoint dict
    """``torch.save`` through a temporary file and a rename, so a crash never leaves half a checkpoint."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def save_ranks(path: Path, ranks: torch.Tensor) -> None:
    """Per-example ranks (E,) as a ``.npy`` int32 array, written atomically."""
    buffer = io.BytesIO()
    np.save(buffer, ranks.to(torch.int32).numpy(), allow_pickle=False)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_ranks(path: Path) -> np.ndarray:
    """The ranks saved by :func:`save_ranks`, shape (E,)."""
    return np.load(Path(path), allow_pickle=False)
