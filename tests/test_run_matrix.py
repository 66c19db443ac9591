"""A run folder is reused only for the same settings; where the run executes may change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sbrzoo.ablation import check_same_settings
from sbrzoo.config import RunConfig
from sbrzoo.errors import ConfigError
from sbrzoo.presets import resolve_hyperparameters
from sbrzoo.run_record import write_json_atomic


def _config() -> RunConfig:
    return RunConfig(model="tagnnpp", dataset="diginetica", data_dir="/data/diginetica", valid_split="last_sessions",
                     valid_fraction=0.1, select_on="valid", select_metric="HR@20", track_test=True, seed=1,
                     device="cpu", backend="dgl", num_workers=0, max_train_batches=None, eval_batch_size=500,
                     hp=resolve_hyperparameters("tagnnpp", "diginetica"))


def test_a_new_folder_or_another_machine_is_accepted(tmp_path: Path) -> None:
    check_same_settings(tmp_path / "new", _config())  # nothing saved yet
    write_json_atomic(tmp_path / "config.json", _config().to_dict())
    elsewhere = dataclasses.replace(_config(), device="cuda", backend="torch", data_dir=".data/diginetica",
                                    num_workers=4, eval_batch_size=2000)
    check_same_settings(tmp_path, elsewhere)


@pytest.mark.parametrize(("change", "named"), [
    ({"seed": 2}, "seed: 1 there, 2 now"),
    ({"valid_split": "random"}, "valid_split"),
    ({"hp": dataclasses.replace(resolve_hyperparameters("tagnnpp", "diginetica"), lr=1e-3)}, "hp.lr"),
])
def test_other_settings_are_refused_by_name(tmp_path: Path, change: dict, named: str) -> None:
    write_json_atomic(tmp_path / "config.json", _config().to_dict())
    with pytest.raises(ConfigError, match=named) as error:
        check_same_settings(tmp_path, dataclasses.replace(_config(), **change))
    assert str(tmp_path) in str(error.value)
