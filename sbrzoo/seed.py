"""Seeding for repeatable runs."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (every device); optionally demand deterministic kernels.

    CPU runs with the same seed give identical metrics. On GPU, scatter-add reductions use atomics,
    so runs agree only within floating-point tolerance unless ``deterministic`` is set (kernels
    without a deterministic version then warn instead of failing).
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what third-party code draws from
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS is deterministic only with a fixed workspace; the setting must precede its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
