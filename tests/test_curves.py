"""`sbrzoo curves`: the per-epoch table of a run's metrics.json and the PNG of its curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_main

from sbrzoo.curves import load_curves, plot_curves
from sbrzoo.errors import ConfigError, DataError

EPOCH = {"lr": 0.001, "train_loss": 7.0, "train_seconds": 2.0, "valid_seconds": 0.5,
         "valid": {"HR@20": 10.0, "MRR@20": 3.0, "HR@10": 6.0}}


def run_folder(path: Path, epochs: int = 3, best: int = 2, **extra: object) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    records = [{**EPOCH, "epoch": e, "train_loss": 7.0 - e / 2,
                "valid": {"HR@20": 10.0 + e, "MRR@20": 3.0 + e / 4}, **extra} for e in range(1, epochs + 1)]
    (path / "metrics.json").write_text(json.dumps({"model": "srgnn", "dataset": "synthetic", "epochs": records,
                                                   "best_epoch": best, "selected_on": "valid",
                                                   "select_metric": "HR@20"}))
    return path


def test_table_json_and_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    run = run_folder(tmp_path / "run")
    code, out, err = run_main(monkeypatch, capsys, "curves", run, "--out", tmp_path / "c.png")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "srgnn on synthetic: 3 epochs (metrics in %)"
    assert lines[1].split() == ["epoch", "lr", "train_loss", "valid", "HR@20", "valid", "MRR@20", "seconds"]
    assert lines[4].split() == ["2", "*", "0.001", "6.0000", "12.00", "3.50", "2.5"]
    assert lines[-1] == "* selected epoch (HR@20 on valid)"
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run_main(monkeypatch, capsys, "curves", run, "--out", tmp_path / "c.png")
    assert code == 1 and "already exists" in err
    code, out, _ = run_main(monkeypatch, capsys, "curves", run, "--json")
    record = json.loads(out)
    assert record["best_epoch"] == 2 and [r["valid HR@20"] for r in record["epochs"]] == [11.0, 12.0, 13.0]


def test_a_run_without_validation_draws_the_tracked_test_or_the_loss_only(tmp_path: Path) -> None:
    run = run_folder(tmp_path / "run", valid=None, test={"HR@20": 1.0, "MRR@20": 0.5})
    curves = load_curves(run)
    assert curves.split == "test" and curves.rows()[0]["test HR@20"] == 1.0
    plot_curves(curves, tmp_path / "test.png")
    bare = load_curves(run_folder(tmp_path / "bare", valid=None))
    assert bare.split is None
    assert plot_curves(bare, tmp_path / "loss.png").stat().st_size > 1000
    with pytest.raises(ConfigError, match="already exists"):
        plot_curves(bare, tmp_path / "loss.png")


def test_missing_or_damaged_metrics_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no metrics.json"):
        load_curves(tmp_path)
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(DataError, match="not the trainer's record"):
        load_curves(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"epochs": "many"}))
    with pytest.raises(DataError, match="not the trainer's record"):
        load_curves(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"model": "srgnn", "dataset": "synthetic", "epochs": []}))
    with pytest.raises(DataError, match="no finished epoch"):
        plot_curves(load_curves(tmp_path), tmp_path / "x.png")
