"""Tiny trained runs for the tests of recommend, export and serve: a small dataset folder in SR-GNN
format with an ``item_map.tsv`` of raw ids, and a model trained on it for a few batches."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from helpers import run_config

from sbrzoo.data.extras import write_item_map
from sbrzoo.data.synthetic import SyntheticConfig, generate

RAW_BASE = 214_800_000  # Yoochoose-like raw ids: raw id of model id i is RAW_BASE + 7 i


def mapped_dataset(folder: Path, *, raw: str = "int") -> tuple[Path, np.ndarray]:
    """A dataset folder of ~150 items with raw ids ``RAW_BASE + 7 i`` (``raw="int"``), ``"sku-000i"``
    (``"str"``) or no item map (``"none"``); returns the folder and the raw id of every model id
    (index 0 unused)."""
    data = generate(SyntheticConfig(seed=3, num_items=150, num_clusters=6, num_train_sessions=700,
                                    num_test_sessions=120))
    folder.mkdir(parents=True, exist_ok=True)
    sessions = [data.train.session(s) for s in range(len(data.train))]
    test = data.test.augment()
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps(sessions, protocol=3))
    (folder / "test.txt").write_bytes(pickle.dumps(
        ([test.prefix(i) for i in range(len(test))], test.targets.tolist()), protocol=3))
    num_items = max(data.num_items, test.max_item())
    ids = np.arange(num_items + 1)
    if raw == "int":
        item_map = np.where(ids > 0, RAW_BASE + 7 * ids, 0)
    elif raw == "str":
        item_map = np.array(["", *(f"sku-{i:04d}" for i in ids[1:])])
    else:
        return folder, ids
    write_item_map(folder, item_map[1:])
    return folder, item_map


def train_run(run_dir: Path, data_dir: Path, model: str = "srgnn", **fields: object) -> Path:
    """Train ``model`` on ``data_dir`` for one epoch of 3 batches (width 16) into ``run_dir``; a counting
    model just counts."""
    from sbrzoo.experiment import run_training
    from sbrzoo.models import get_spec

    width = {"dim": 16} if get_spec(model).composed else {}  # counting models have no width
    options = {**width, "epochs": 1, "max_train_batches": 3, "eval_batch_size": 500, **fields}
    config = run_config(model, dataset=data_dir.name, data_dir=str(data_dir.resolve()), **options)
    run_training(config, run_dir)
    return run_dir
