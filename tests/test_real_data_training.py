"""A short SR-GNN training slice on the real Diginetica data (skipped when the data is absent)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from helpers import run_config

from sbrzoo.data.registry import load_dataset
from sbrzoo.trainer import Trainer


def test_srgnn_slice_on_diginetica(shared_datasets: Path, tmp_path: Path) -> None:
    dataset = load_dataset("diginetica", data_dir=shared_datasets / "diginetica", valid_split="none")
    dataset = dataclasses.replace(dataset, test=dataset.test.subset(np.arange(2000)))
    config = run_config("srgnn", "diginetica", valid_split="none", select_on="last", backend="dgl",
                        max_train_batches=30, epochs=1)
    result = Trainer(config, dataset, tmp_path).fit()
    record = result.epochs[0]
    assert record["train_examples"] == 3000 and dataset.num_items == 43_097
    assert 0 < result.test["HR@20"] <= 100
    assert result.test_report.num_examples == 2000
    assert record["train_loss"] < np.log(43_097)  # 30 batches already beat a uniform guess
