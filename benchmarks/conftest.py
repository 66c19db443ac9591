"""Fixtures of the graph-kernel benchmarks: backends, devices, Diginetica-like batches."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from the source tree too

from sbrzoo.allocator import keep_freed_memory  # noqa: E402
from sbrzoo.data.batch import SessionBatch  # noqa: E402
from sbrzoo.data.collate import SessionCollator  # noqa: E402
from sbrzoo.data.examples import Examples  # noqa: E402
from sbrzoo.graph import dgl_available  # noqa: E402

keep_freed_memory()  # as every sbrzoo command does; SBRZOO_RETURN_FREED_MEMORY=1 measures without
NUM_ITEMS = 43_097  # Diginetica's catalogue
DEVICE = torch.device(os.environ.get("SBRZOO_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu"))
BACKENDS = ["dgl", "torch"] if dgl_available() and DEVICE.type == "cpu" else ["torch"]  # DGL here is CPU-only
# session length profiles: Diginetica-like (mean prefix ~4, long tail to 69) and long sessions
PROFILES = {"digi": (0.22, 69), "long": (0.05, 145)}
# SBRZOO_BENCH_QUICK=1 (the CI smoke run) keeps one small size per kernel
QUICK = os.environ.get("SBRZOO_BENCH_QUICK") == "1"
SIZES = [(64, "digi")] if QUICK else [(100, "digi"), (512, "digi"), (100, "long")]
DIMS = [32] if QUICK else [100, 120]
MODES = ["fwd", "fwd+bwd"]


def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:  # noqa: ANN001
    machine_info["torch"] = torch.__version__
    machine_info["device"] = str(DEVICE)
    if DEVICE.type == "cuda":
        machine_info["gpu"] = torch.cuda.get_device_name(DEVICE)
    if dgl_available():
        import dgl

        machine_info["dgl"] = dgl.__version__


def make_examples(batch_size: int, profile: str, seed: int = 0) -> Examples:
    """``batch_size`` random prefixes with geometric lengths (Diginetica-like item popularity)."""
    rate, longest = PROFILES[profile]
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.geometric(rate, size=batch_size), longest)
    popularity = 1.0 / np.arange(1, NUM_ITEMS + 1) ** 0.8
    items = rng.choice(NUM_ITEMS, size=int(lengths.sum()), p=popularity / popularity.sum()) + 1
    prefixes = np.split(items, np.cumsum(lengths)[:-1])
    return Examples.from_lists([p.tolist() for p in prefixes], rng.integers(1, NUM_ITEMS + 1, size=batch_size).tolist())


def make_batch(batch_size: int, profile: str, kinds: tuple[str, ...], backend: str) -> SessionBatch:
    examples = make_examples(batch_size, profile)
    batch = SessionCollator(examples, NUM_ITEMS, kinds, backend)(np.arange(batch_size))
    return batch.to(DEVICE)


@pytest.fixture
def sync() -> Callable[[], None]:
    """Wait for the device inside the timed function."""
    return torch.cuda.synchronize if DEVICE.type == "cuda" else (lambda: None)


def run_timed(benchmark, fn: Callable[[], torch.Tensor], sync: Callable[[], None]) -> torch.Tensor:  # noqa: ANN001
    """Warm up once, then time ``fn`` with the device synchronised; returns one output to check."""
    def timed() -> torch.Tensor:
        out = fn()
        sync()
        return out

    timed()
    return benchmark(timed)
