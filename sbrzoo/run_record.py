"""What every saved result records about where it came from, and atomic file writes."""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sbrzoo.curves import TENSORBOARD_DIR
from sbrzoo.data.pickles import atomic_write_bytes
from sbrzoo.paths import PROJECT_ROOT

__all__ = ["RANKS_FILE", "RUN_FILES", "remove_run_files", "evaluation_record", "cpu_model", "blas_library",
           "environment_info", "write_json_atomic", "save_torch_atomic", "save_ranks", "load_ranks"]

RANKS_FILE = "test_ranks.npy"
RUN_FILES = ("config.json", "metrics.json", "epochs.csv", "curves.png", RANKS_FILE, "best.pt", "last.pt")  # a run


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


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``; else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_library() -> str:
    """The BLAS torch was built with (``mkl``, ``open``, ...), from ``torch.__config__.show()``."""
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


def environment_info(device: torch.device) -> dict[str, Any]:
    """Git commit, library versions, CPU model, BLAS, thread count, device name and host, for run
    records. Same-seed CPU runs repeat exactly on one machine and thread count; across CPU models,
    BLAS builds or thread counts, float summation order changes and metrics move by ~0.1 point."""
    from sbrzoo.graph import dgl_available

    info: dict[str, Any] = {
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "host": platform.node(),
        "cpu_model": cpu_model(),
        "blas": blas_library(),
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
    """The ranks saved by :func:`save_ranks`, shape (E,).

    Raises:
        DataError: the file is missing, damaged or not one array of integers.
    """
    from sbrzoo.errors import DataError, one_line

    try:
        ranks = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: cannot read the test ranks ({one_line(error)})") from None
    if not isinstance(ranks, np.ndarray) or ranks.ndim != 1 or ranks.dtype.kind not in "iu":
        raise DataError(f"{path}: not the test ranks of a run (one array of integers)")
    return ranks


def remove_run_files(run_dir: Path) -> None:
    """Delete the files a run writes (:data:`RUN_FILES`, and the ``tensorboard/`` folder of
    ``--tensorboard``) from ``run_dir`` (for ``--overwrite``)."""
    for name in RUN_FILES:
        (Path(run_dir) / name).unlink(missing_ok=True)
    if (Path(run_dir) / TENSORBOARD_DIR).is_dir():
        shutil.rmtree(Path(run_dir) / TENSORBOARD_DIR)


def evaluation_record(run_dir: Path, config: Any, split: str, epoch: int | None,  # noqa: ANN401 - RunConfig
                      report: Any) -> dict[str, Any]:  # noqa: ANN401 - MetricReport
    """The one JSON shape of a run's evaluation, printed by ``train --json`` and ``evaluate --json``:
    ``{"run", "model", "dataset", "split", "epoch", "metrics": {"HR@20": ...}, "num_examples",
    "ties", "pessimistic_metrics": {...}, "seconds"}`` (metrics in percent; the pessimistic ones count
    ties against the target, and equal ``metrics`` where no target ties)."""
    return {
        "run": str(run_dir),
        "model": config.model,
        "dataset": config.dataset,
        "split": split,
        "epoch": epoch,
        "metrics": dict(report.metrics),
        "num_examples": report.num_examples,
        "ties": report.ties,
        "pessimistic_metrics": report.pessimistic,
        "seconds": round(report.seconds, 3),
    }
