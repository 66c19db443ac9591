"""`sbrzoo tune`: trials of a grid, chosen on validation, the test split shown for the choice only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import run_main

from cli.main import cli
from sbrzoo.search import DIVERGED_FILE, grid_trials
from sbrzoo.trainer import Trainer

QUICK = ["--model", "srgnn", "--epochs", "1", "--max-train-batches", "3", "--eval-batch-size", "2000"]


def test_trials_are_drawn_from_the_grid_and_named_by_their_settings() -> None:
    values = {"dim": [8, 16], "lr": [1e-3, 1e-2, 1e-1]}
    every = grid_trials(values, None, seed=1)
    assert len(every) == 6 and list(every)[4] == "dim=16,lr=0.01"  # product order: dim slowest
    assert every["dim=16,lr=0.01"] == {"dim": 16, "lr": 1e-2}
    drawn = grid_trials(values, 3, seed=1)
    assert len(drawn) == 3 and all(every[name] == setting for name, setting in drawn.items())
    assert drawn == grid_trials(values, 3, seed=1) != grid_trials(values, 3, seed=2)
    assert set(grid_trials({**values, "dim": [8, 16, 32]}, None, seed=1)) > set(every)  # a grown grid keeps its folders


def test_the_best_validation_trial_is_chosen_and_only_its_test_metrics_are_shown(tmp_path: Path) -> None:
    args = ["tune", *QUICK, "--grid", "dim=8,16", "--grid", "lr=1e-3,1e-2", "--trials", "3",
            "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    chosen = json.loads(result.stdout)
    trials = chosen["trials"]
    assert len(trials) == 3 and [t["valid"] for t in trials] == sorted((t["valid"] for t in trials), reverse=True)
    records = {t["trial"]: json.loads((tmp_path / t["trial"] / "seed-1" / "metrics.json").read_text())
               for t in trials}
    for trial in trials:  # each trial trained with its own settings; its score is its selected epoch's
        config = json.loads((tmp_path / trial["trial"] / "seed-1" / "config.json").read_text())
        assert (config["settings"]["dim"], config["training"]["lr"]) == (trial["settings"]["dim"],
                                                                          trial["settings"]["lr"])
        assert trial["valid"] == records[trial["trial"]]["epochs"][0]["valid"]["HR@20"]
    best = chosen["best"]
    assert best["trial"] == trials[0]["trial"]
    assert best["test"]["HR@20"] == records[best["trial"]]["test"]["HR@20"]
    assert json.loads((tmp_path / "tune.json").read_text())["best"] == best

    table = CliRunner().invoke(cli, args, catch_exceptions=False)  # again: finished trials are kept
    assert table.exit_code == 0, table.output
    assert f"Test metrics (%) of the chosen trial, {best['trial']}" in table.stdout
    assert sum(line.startswith("srgnn (epoch") for line in table.stdout.splitlines()) == 1  # one test row
    assert [json.loads((tmp_path / t["trial"] / "seed-1" / "metrics.json").read_text()) for t in trials] == \
        [records[t["trial"]] for t in trials]


@pytest.mark.parametrize(("args", "message"), [
    (["--select-on", "test"], "chooses on the validation split"),
    (["--valid-split", "none", "--select-on", "last"], "chooses on the validation split"),
    (["--track-test"], "--no-track-test"),
    (["--grid", "colour=1,2"], "colour"),
    (["--grid", "lr=1e-3,0.001"], "two of its values are the same value"),
    (["--grid", "lr="], "expected NAME=V1,V2"),
    (["--grid", "dim=8,nine"], "--grid 'dim=nine': expected an integer, got 'nine'"),
    (["--set", "dim=8"], "dim: given to --grid and as an option"),
    (["--dim", "8"], "dim: given to --grid and as an option"),
])
def test_a_bad_search_is_refused_in_one_line_before_any_training(
        args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(Trainer, "fit", lambda *_, **__: pytest.fail("trained despite a bad search"))
    grid = [] if any(a == "--grid" for a in args) else ["--grid", "dim=8,16"]
    code, out, err = run_main(monkeypatch, capsys, "tune", *QUICK, *grid, *args, "--out", str(tmp_path / "t"))
    assert code == 1 and out == "" and message in err and err.count("\n") == 1, err


def test_a_trial_of_no_epoch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(Trainer, "fit", lambda *_, **__: pytest.fail("trained despite a bad search"))
    code, _, err = run_main(monkeypatch, capsys, "tune", "--model", "srgnn", "--grid", "epochs=0,1",
                            "--out", str(tmp_path / "t"))
    assert code == 1 and "epochs 0 trains nothing" in err


def test_a_diverging_trial_is_recorded_and_the_others_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trial whose loss becomes non-finite (here: every trial with lr above 1) is marked diverged
    (last in the table, not chosen, not trained again) and the search goes on with the others."""
    from sbrzoo import experiment
    from sbrzoo.errors import TrainingDiverged

    train = experiment.run_training

    def diverging(config, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if config.training.lr > 1:
            raise TrainingDiverged("the training loss became non-finite (nan or inf) at epoch 1, step 2")
        return train(config, *args, **kwargs)

    monkeypatch.setattr(experiment, "run_training", diverging)
    args = ["tune", *QUICK, "--grid", "lr=1000,0.01", "--out", str(tmp_path), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    trials = json.loads(result.stdout)["trials"]
    assert [(t["trial"], t["diverged"] is not None) for t in trials] == [("lr=0.01", False), ("lr=1000.0", True)]
    assert "non-finite" in trials[1]["diverged"] and (tmp_path / "lr=1000.0" / "seed-1" / DIVERGED_FILE).is_file()
    monkeypatch.setattr(Trainer, "fit", lambda *_, **__: pytest.fail("trained a finished or diverged trial again"))
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0 and json.loads(again.stdout)["trials"] == trials
