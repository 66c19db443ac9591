"""A run folder is reused only for the same settings; where the run executes may change."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from helpers import run_config

from sbrzoo.config import RunConfig
from sbrzoo.errors import ConfigError
from sbrzoo.matrix import check_same_settings, run_matrix
from sbrzoo.run_record import write_json_atomic


def _config(data_dir: Path | str = "/data/diginetica") -> RunConfig:
    return run_config("tagnnpp", "diginetica", data_dir=str(data_dir), track_test=True, seed=1,
                      backend="dgl", eval_batch_size=500)


def _data_folder(root: Path, text: str = "") -> Path:
    """A folder with the files of an SR-GNN dataset (``text`` in each: the matrix fingerprints, never reads them)."""
    folder = root / "diginetica"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("all_train_seq.txt", "test.txt"):
        (folder / name).write_text(text)
    return folder


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
        run_matrix({"tagnnpp": _config(_data_folder(tmp_path / "data"))}, seeds, tmp_path / "runs", _train_or_fail,
                   jobs=2)
    finished = sorted(tmp_path.glob("runs/tagnnpp/seed-*/done"))
    # the runs the pool had handed on before the failure finish (2 running, up to 3 in its call queue);
    # the other runs never start, where all 9 would run to the end without the cancel
    assert 1 <= len(finished) <= 5, len(finished)


_WAIT_FOR_THE_OTHER_SECONDS = 60.0


def _train_when_the_other_has_started(config: RunConfig, folder: Path, resume: bool, deadline: float | None) -> None:
    """A worker's run: marks itself started, then waits (at most ``_WAIT_FOR_THE_OTHER_SECONDS``) until
    the other seed's run has started too, so that it can only finish when both runs train at once."""
    import time

    folder.mkdir(parents=True)
    (folder / "started").write_text("")
    other = folder.parent / f"seed-{3 - config.seed}" / "started"
    waited_until = time.monotonic() + _WAIT_FOR_THE_OTHER_SECONDS
    while not other.is_file():
        if time.monotonic() > waited_until:
            raise TimeoutError(f"seed {config.seed} ran alone")
        time.sleep(0.05)
    (folder / "done").write_text("")


@pytest.mark.parametrize(("jobs", "together"), [(2, True), (1, False)])
def test_packed_runs_train_at_once(tmp_path: Path, jobs: int, together: bool,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``jobs=2`` starts the second run while the first still runs; ``jobs=1`` one after the other
    (there the first run, in this process, waits for the second in vain)."""
    monkeypatch.setattr(sys.modules[__name__], "_WAIT_FOR_THE_OTHER_SECONDS", 60.0 if together else 0.5)
    def train() -> None:
        run_matrix({"tagnnpp": _config(_data_folder(tmp_path / "data"))}, [1, 2], tmp_path / "runs",
                   _train_when_the_other_has_started, jobs=jobs)

    if together:
        train()
        assert len(list(tmp_path.glob("runs/tagnnpp/seed-*/done"))) == 2
    else:
        with pytest.raises(TimeoutError, match="seed 1 ran alone"):
            train()


def test_a_finished_run_from_before_a_preset_change_is_kept_and_an_asked_change_refused(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A preset that changed after a run finished must not block the matrix: the run is kept (the tables
    mark its deviation from the preset) and a log line names it. Settings asked for (not the preset's)
    still refuse it, and so does an unfinished run made with other settings."""
    import logging

    folder = tmp_path / "tagnnpp" / "seed-1"
    folder.mkdir(parents=True)
    old_preset = dataclasses.replace(_config().training, lr=1e-3)  # the preset's lr is 1e-4 now
    write_json_atomic(folder / "config.json", dataclasses.replace(_config(), training=old_preset).to_dict())
    write_json_atomic(folder / "metrics.json", {"model": "tagnnpp", "dataset": "diginetica", "test": {"HR@20": 1.0}})

    def matrix(config: RunConfig) -> dict:
        return run_matrix({"tagnnpp": config}, [1], tmp_path, lambda *_: pytest.fail("trained"))

    with caplog.at_level(logging.INFO, logger="sbrzoo.matrix"):
        assert matrix(_config())[("tagnnpp", 1)] is not None
    assert "made before its preset changed (training.lr: 0.001 there, 0.0001 now" in caplog.text
    asked = dataclasses.replace(_config(), training=dataclasses.replace(_config().training, lr=0.5))
    with pytest.raises(ConfigError, match="training.lr: 0.001 there, 0.5 now"):
        matrix(asked)
    # the preset's value asked for explicitly, or the run's value given explicitly then: not a preset change
    with pytest.raises(ConfigError, match="training.lr: 0.001 there, 0.0001 now"):
        matrix(dataclasses.replace(_config(), overridden=("training.lr",)))
    write_json_atomic(folder / "config.json", dataclasses.replace(_config(), training=old_preset,
                                                                 overridden=("training.lr",)).to_dict())
    with pytest.raises(ConfigError, match="training.lr: 0.001 there, 0.0001 now"):
        matrix(_config())
    write_json_atomic(folder / "metrics.json", {"model": "tagnnpp", "dataset": "diginetica", "test": {}})
    with pytest.raises(ConfigError, match="training.lr"):
        matrix(_config())


def test_a_finished_run_on_other_data_files_is_refused_before_any_training(tmp_path: Path) -> None:
    from sbrzoo.data.fingerprint import file_fingerprint
    from sbrzoo.errors import DataError

    trained_on = _data_folder(tmp_path / "a", "the data it trained on")
    folder = tmp_path / "runs" / "tagnnpp" / "seed-1"
    folder.mkdir(parents=True)
    write_json_atomic(folder / "config.json", _config(trained_on).to_dict())
    files = [file_fingerprint(trained_on / name) for name in ("all_train_seq.txt", "test.txt")]
    write_json_atomic(folder / "metrics.json", {"model": "tagnnpp", "dataset": "diginetica", "test": {"HR@20": 1.0},
                                                "data": {"files": files}})

    def matrix(data_dir: Path, seeds: list[int]) -> None:
        run_matrix({"tagnnpp": _config(data_dir)}, seeds, tmp_path / "runs", lambda *_: pytest.fail("trained"))

    matrix(_data_folder(tmp_path / "moved", "the data it trained on"), [1])  # the same files elsewhere: kept
    with pytest.raises(DataError, match=r"seed-1 holds a run trained on other data: all_train_seq.txt: sha256 "
                                        r"differs \(size 22 -> 16 bytes\); test.txt"):
        matrix(_data_folder(tmp_path / "b", "other data files"), [1, 2])
    with pytest.raises(DataError, match="folder not found"):  # seed 2 would train on data that is not there
        matrix(tmp_path / "nowhere", [1, 2])
