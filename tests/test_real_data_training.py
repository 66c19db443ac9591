"""A short SR-GNN training slice on the real Diginetica data (skipped when the data is absent)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from sbrzoo.config import RunConfig
from sbrzoo.data.registry import load_dataset
from sbrzoo.presets import resolve_hyperparameters
from sbrzoo.trainer import Trainer


def test_srgnn_slice_on_diginetica(shared_datasets: Path, tmp_path: Path) -> None:
    dataset = load_dataset("diginetica", data_dir=shared_datasets / "diginetica", valid_split="none")
    dataset = dataclasses.replace(dataset, test=dataset.test.subset(np.arange(2000)))
    config = RunConfig(
        model="srgnn", dataset="diginetica", data_dir=None, valid_split="none", valid_fraction=0.1,
        select_on="last", select_metric="HR@20", track_test=False, seed=0, device="cpu", backend="dgl",
        num_workers=0, max_train_batches=30, eval_batch_size=1000,
        hp=resolve_hyperparameters("srgnn", "diginetica", {"epochs": 1}),
    )
    result = Trainer(config, dataset, tmp_path).fit()
    record = result.epochs[0]
    assert record["train_examples"] == 3000 and dataset.num_items == 43_097
    assert 0 < result.test["HR@20"] <= 100
    assert result.test_report.num_examples == 2000
    assert record["train_loss"] < np.log(43_097)  # 30 batches already beat a uniform guess
