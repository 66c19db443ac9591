"""A run folder is reused only for the same settings; where the run executes may change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from helpers import run_config

from sbrzoo.config import RunConfig
from sbrzoo.errors import ConfigError
from sbrzoo.matrix import check_same_settings, run_matrix
from sbrzoo.run_record import write_json_atomic


def _config() -> RunConfig:
    return run_config("tagnnpp", "diginetica", data_dir="/data/diginetica", track_test=True, seed=1,
                      backend="dgl", eval_batch_size=500)


def test_a_new_folder_or_another_machine_is_accepted(tmp_path: Path) -> None:
    check_same_settings(tmp_path / "new", _config())  # nothing saved yet
    write_json_atomic(tmp_path / "config.json", _config().to_dict())
    elsewhere = dataclasses.replace(_config(), device="cuda", backend="torch", data_dir=".data/diginetica",
                                    num_workers=4, eval_batch_size=2000)
    check_same_settings(tmp_path, elsewhere)


@pytest.mark.parametrize(("change", "named"), [
    ({"seed": 2}, "seed: 1 there, 2 now"),
    ({"valid_split": "random"}, "valid_split"),
    ({"training": dataclasses.replace(run_config("tagnnpp", "diginetica").training, lr=1e-3)}, "training.lr"),
    ({"settings": {**run_config("tagnnpp", "diginetica").settings, "heads": 4}}, "settings.heads"),
])
def test_other_settings_are_refused_by_name(tmp_path: Path, change: dict, named: str) -> None:
    write_json_atomic(tmp_path / "config.json", _config().to_dict())
    with pytest.raises(ConfigError, match=named) as error:
        check_same_settings(tmp_path, dataclasses.replace(_config(), **change))
    assert str(tmp_path) in str(error.value)


def _train_or_fail(config: RunConfig, folder: Path, resume: bool, deadline: float | None) -> None:
    """A worker's run: seed 1 fails at once, every other one takes a second and leaves a marker."""
    import time

    if config.seed == 1:
        raise RuntimeError("run 1 failed")
    time.sleep(1.0)
    folder.mkdir(parents=True)
    (folder / "done").write_text("")


def test_packed_runs_stop_starting_runs_after_a_failure(tmp_path: Path) -> None:
    seeds = list(range(1, 11))
    with pytest.raises(RuntimeError, match="run 1 failed"):
        run_matrix(["tagnnpp"], seeds, tmp_path, lambda _, seed: dataclasses.replace(_config(), seed=seed),
                   _train_or_fail, jobs=2)
    finished = sorted(tmp_path.glob("tagnnpp/seed-*/done"))
    # the runs the pool had handed on before the failure finish (2 running, up to 3 in its call queue);
    # the other runs never start, where all 9 would run to the end without the cancel
    assert 1 <= len(finished) <= 5, len(finished)
