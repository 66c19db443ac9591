"""`sbrzoo curves`: the per-epoch table of a run's metrics.json and the PNG of its curves; `sbrzoo train
--tensorboard`: the same epochs as TensorBoard event files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import run_main, train_run

from cli.main import cli
from sbrzoo.curves import load_curves, plot_curves
from sbrzoo.errors import ConfigError, DataError
from sbrzoo.metric_names import REPORTED

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
    for damaged in (json.dumps({"epochs": "many"}).encode(), b"[]", b'{"model": "\xff"}'):  # not a record, not UTF-8
        (tmp_path / "metrics.json").write_bytes(damaged)
        with pytest.raises(DataError, match="not the trainer's record"):
            load_curves(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"model": "srgnn", "dataset": "synthetic", "epochs": []}))
    with pytest.raises(DataError, match="no finished epoch"):
        plot_curves(load_curves(tmp_path), tmp_path / "x.png")


TINY = ["--model", "srgnn", "--dim", "8", "--max-train-batches", "2", "--eval-batch-size", "2000", "--seed", "2"]


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of ``run``'s TensorBoard folder, as TensorBoard reads it: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_holds_every_epoch_of_metrics_json(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason='--tensorboard needs tensorboard: pip install -e ".[tensorboard]"')
    metrics = train_run(tmp_path, "run", *TINY, "--epochs", "2", "--track-test", "--tensorboard")
    logged = scalars(tmp_path / "run")
    assert set(logged) == {"train/loss", "train/lr", *(f"{split}/{m}" for split in ("valid", "test", "selected_test")
                                                         for m in REPORTED)}
    for tag, key in (("train/loss", "train_loss"), ("train/lr", "lr")):
        assert logged[tag] == [(e["epoch"], pytest.approx(e[key], rel=1e-6)) for e in metrics["epochs"]]
    for split in ("valid", "test"):
        for metric in REPORTED:
            assert logged[f"{split}/{metric}"] == [(e["epoch"], pytest.approx(e[split][metric], rel=1e-6))
                                                   for e in metrics["epochs"]]
    assert logged["selected_test/HR@20"] == [(metrics["best_epoch"], pytest.approx(metrics["test"]["HR@20"]))]


def test_a_resumed_run_shows_each_epoch_once(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason='--tensorboard needs tensorboard: pip install -e ".[tensorboard]"')
    train_run(tmp_path, "run", *TINY, "--epochs", "1", "--tensorboard")
    first = scalars(tmp_path / "run")["train/loss"]
    result = CliRunner().invoke(cli, ["train", "--resume", str(tmp_path / "run"), "--epochs", "2", "--tensorboard"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))) == 2
    assert scalars(tmp_path / "run")["train/loss"] == [(e["epoch"], pytest.approx(e["train_loss"], rel=1e-6))
                                                       for e in metrics["epochs"]]
    assert first == [(1, pytest.approx(metrics["epochs"][0]["train_loss"], rel=1e-6))]
    result = CliRunner().invoke(cli, ["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "run"), "--overwrite"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and not (tmp_path / "run" / "tensorboard").exists()  # --overwrite replaces it


def test_tensorboard_without_the_package_is_refused_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import -> ImportError
    code, stdout, stderr = run_main(monkeypatch, capsys, "train", *TINY, "--tensorboard", "--out", tmp_path / "run")
    assert code == 1 and stdout == ""
    assert stderr == 'Error: --tensorboard needs the tensorboard package: pip install -e ".[tensorboard]"\n'
    assert not (tmp_path / "run").exists()
