"""Seeding for repeatable runs."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (every device); optionally demand deterministic kernels.

    CPU runs with the same seed give identical metrics. On GPU, scatter-add reductions use atomics,
    so runs agree only within floating-point tolerance unless ``deterministic`` is set.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
