"""The data layer's own costs: generating the built-in dataset, and loading Diginetica's pickles
(`$SBRZOO_DATA_DIR/diginetica`, skipped when absent) with their validation split."""

from __future__ import annotations

import pytest

from sbrzoo.data.registry import load_dataset
from sbrzoo.data.synthetic import generate
from sbrzoo.paths import data_root


def bench_generate_synthetic(benchmark) -> None:  # noqa: ANN001
    data = benchmark(generate)
    assert len(data.train) > 0 and len(data.test) > 0


@pytest.mark.parametrize("valid_split", ["none", "last_sessions"])
def bench_load_diginetica(benchmark, valid_split: str) -> None:  # noqa: ANN001
    if not (data_root() / "diginetica").is_dir():
        pytest.skip(f"no Diginetica under {data_root()}")
    dataset = benchmark.pedantic(load_dataset, args=("diginetica",), kwargs={"valid_split": valid_split},
                                 rounds=3, iterations=1)
    assert dataset.num_items == 43_097
