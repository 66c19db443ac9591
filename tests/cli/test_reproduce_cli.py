"""`sbrzoo reproduce`: a short run gives the table, the paired tests, and resumes without retraining."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import run_config, run_main

from cli.main import cli
from sbrzoo.config import RunConfig
from sbrzoo.data.registry import load_dataset
from sbrzoo.errors import ConfigError
from sbrzoo.trainer import Trainer

ARGS = ["reproduce", "--datasets", "synthetic", "--models", "tagnn,tagnnpp", "--seeds", "1", "--epochs", "2",
        "--max-train-batches", "3", "--dim", "16", "--eval-batch-size", "4000", "--device", "cpu"]


def test_short_reproduction_tabulates_compares_and_resumes(tmp_path: Path) -> None:
    first = CliRunner().invoke(cli, [*ARGS, "--out", str(tmp_path)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    report = json.loads((tmp_path / "reproduction.json").read_text())
    assert [(r["dataset"], r["model"], r["seeds"]) for r in report["rows"]] == [
        ("synthetic", "tagnn", [1]), ("synthetic", "tagnnpp", [1])]
    for row in report["rows"]:
        assert row["epochs_run"] == [2] and row["selected_epochs"][0] in (1, 2)
        # the papers' protocol takes the best test epoch, so it can only be as good or better
        assert row["best_test"]["HR@20"] >= row["mean"]["HR@20"] - 1e-9
        assert row["paper"] == {} and not row["pending"]
    assert [(p["seed"], p["model_a"], p["model_b"]) for p in report["paired"]] == [(1, "tagnnpp", "tagnn")]
    [paired] = report["paired"]  # one observation per test session, not per prefix
    assert 0 < paired["num_sessions"] < paired["num_examples"] == 7_403
    with (tmp_path / "reproduction.csv").open() as handle:
        assert [r["model"] for r in csv.DictReader(handle)] == ["tagnn", "tagnnpp"]
    text = (tmp_path / "reproduction.md").read_text()
    assert (tmp_path / "reproduction.png").read_bytes()[:4] == b"\x89PNG"
    assert "| synthetic | TAGNN++ | 1 |" in text and "Paired tests" in text
    assert "dim 16 (preset 100); epochs 2 (preset 30); max_train_batches 3" in text  # shortened runs say so

    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("reproduction/*/*/seed-*/metrics.json")}
    assert len(stamps) == 2
    again = CliRunner().invoke(cli, [*ARGS, "--out", str(tmp_path)], catch_exceptions=False)
    assert again.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing retrained
    assert json.loads((tmp_path / "reproduction.json").read_text())["rows"] == report["rows"]
    only_one = CliRunner().invoke(cli, [*ARGS, "--models", "tagnn", "--out", str(tmp_path), "--json"],
                                  catch_exceptions=False)
    assert [r["model"] for r in json.loads(only_one.stdout)["rows"]] == ["tagnn", "tagnnpp"]  # cells on disk stay

    changed = CliRunner().invoke(cli, [*ARGS, "--lr", "0.5", "--out", str(tmp_path)])
    assert isinstance(changed.exception, ConfigError)  # never mixes runs made with other settings
    assert "training.lr: 0.001 there, 0.5 now" in str(changed.exception) and "seed-1" in str(changed.exception)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # --report-only rewrites the tables from what is on disk, whatever the options say, and trains nothing
    (tmp_path / "reproduction.json").unlink()
    report_only = CliRunner().invoke(cli, [*ARGS, "--lr", "0.5", "--seeds", "1,2", "--report-only",
                                           "--out", str(tmp_path)], catch_exceptions=False)
    assert report_only.exit_code == 0, report_only.output
    rewritten = json.loads((tmp_path / "reproduction.json").read_text())
    assert rewritten["rows"] == report["rows"] and rewritten["unfinished"] == []  # seed 2 is not planned
    assert rewritten["configs"] == report["configs"]  # the runs' own settings, not the options'
    assert rewritten["configs"]["synthetic"]["tagnn"]["training"]["lr"] == 0.001
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert not (tmp_path / "reproduction" / "synthetic" / "tagnn" / "seed-2").exists()


def test_an_exhausted_budget_starts_nothing_and_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [*ARGS, "--time-budget", "1e-9", "--out", str(tmp_path)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "reproduction.json").read_text())
    assert report["rows"] == []
    assert report["unfinished"] == [] and ["synthetic", "tagnn"] in report["not_run"]
    assert "- synthetic TAGNN (`--models tagnn --datasets synthetic`)" in (tmp_path / "reproduction.md").read_text()
    assert "not started synthetic tagnn" in result.output


def _config(epochs: int) -> RunConfig:
    return run_config("srgnn", seed=5, max_train_batches=5, eval_batch_size=4000, epochs=epochs, dim=16)


def test_a_deadline_pauses_after_an_epoch_and_resume_finishes_like_one_run(tmp_path: Path) -> None:
    dataset = load_dataset("synthetic", seed=5)
    whole = Trainer(_config(2), dataset, tmp_path / "whole").fit()

    paused = Trainer(_config(2), dataset, tmp_path / "cut").fit(deadline=time.monotonic())
    assert paused.paused and len(paused.epochs) == 1 and not paused.test
    assert not json.loads((tmp_path / "cut" / "metrics.json").read_text())["test"]
    resumed = Trainer(_config(2), dataset, tmp_path / "cut").fit(resume=True)
    assert not resumed.paused
    assert [e["valid"] for e in resumed.epochs] == [e["valid"] for e in whole.epochs]
    assert resumed.test == pytest.approx({**whole.test, "seconds": resumed.test["seconds"]})
    assert (tmp_path / "cut" / "test_ranks.npy").is_file()


def test_a_checkpoint_of_a_fused_gpu_optimizer_resumes_on_the_cpu(tmp_path: Path) -> None:
    """What a CUDA run saves (fused Adam, its step counts on the GPU) resumes on the CPU like a CPU run."""
    from sbrzoo.checkpoint import load_checkpoint
    from sbrzoo.run_record import save_torch_atomic

    dataset = load_dataset("synthetic", seed=5)
    whole = Trainer(_config(2), dataset, tmp_path / "whole").fit()
    Trainer(_config(2), dataset, tmp_path / "cut").fit(deadline=time.monotonic())
    last = tmp_path / "cut" / "last.pt"
    state = load_checkpoint(last)
    for group in state["optimizer"]["param_groups"]:
        group.update(fused=True, capturable=True)
    save_torch_atomic(last, state)
    resumed = Trainer(_config(2), dataset, tmp_path / "cut").fit(resume=True)
    assert [e["valid"] for e in resumed.epochs] == [e["valid"] for e in whole.epochs]


def test_packed_runs_give_the_sequential_results(tmp_path: Path) -> None:
    """`--jobs 2` trains the two cells in worker processes with the numbers of one after the other (that
    the workers run at once is tests/test_run_matrix.py::test_packed_runs_train_at_once)."""
    for name, jobs in (("sequential", "1"), ("packed", "2")):
        result = CliRunner().invoke(cli, [*ARGS, "--epochs", "1", "--jobs", jobs, "--out", str(tmp_path / name)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
    rows = {name: json.loads((tmp_path / name / "reproduction.json").read_text())["rows"]
            for name in ("sequential", "packed")}
    assert [r["model"] for r in rows["packed"]] == ["tagnn", "tagnnpp"]
    assert [r["mean"] for r in rows["packed"]] == [r["mean"] for r in rows["sequential"]]


def test_a_released_code_run_is_its_own_row(tmp_path: Path) -> None:
    """`--fidelity reference` trains `<model>_ref`: its folder and row are named so, with no paper figures."""
    result = CliRunner().invoke(cli, [*ARGS, "--models", "srgnn", "--fidelity", "reference", "--epochs", "1",
                                      "--out", str(tmp_path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["rows"]
    assert (row["model"], row["label"], row["paper"], row["difference"]) == ("srgnn_ref", "SR-GNN (code)", {}, {})
    assert (tmp_path / "reproduction" / "synthetic" / "srgnn_ref" / "seed-1" / "metrics.json").is_file()
    assert not (tmp_path / "reproduction" / "synthetic" / "srgnn").exists()
    assert row["std"] == {}  # one seed: no spread, rather than a spread of 0
    with (tmp_path / "reproduction.csv").open() as handle:
        assert next(csv.DictReader(handle))["HR@20 std"] == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "1,-1"], "seed -1 is not in the range 0 to 4294967295"),
    (["--compare", "tagnnpp,tagn"], "did you mean 'tagnn'?"),
    (["--out", "FILE/below"], "is a file, not a folder"),
    (["--datasets", "synthetic,synthtic"], "did you mean 'synthetic'?"),
    (["--models", ","], "name at least one model"),
])
def test_bad_options_are_one_line_errors_before_any_run(
        args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "FILE").write_text("")
    monkeypatch.setattr(Trainer, "fit", lambda *_, **__: pytest.fail("trained despite a bad option"))
    args = [str(tmp_path / a) if a.startswith("FILE") else a for a in args]
    code, out, err = run_main(monkeypatch, capsys, *ARGS, *(["--out", str(tmp_path / "out")] if "--out" not in args
                                                            else []), *args)
    assert code == 1 and out == "" and message in err and err.count("\n") == 1, err


def test_repeated_seeds_train_one_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sbrzoo import experiment

    trained = []
    train_cell = experiment.train_cell
    monkeypatch.setattr(experiment, "train_cell", lambda config, *rest: trained.append(config.seed) or
                        train_cell(config, *rest))
    result = CliRunner().invoke(cli, [*ARGS, "--models", "tagnn", "--seeds", "1,1", "--epochs", "1",
                                      "--out", str(tmp_path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert trained == [1] and json.loads(result.stdout)["rows"][0]["seeds"] == [1]
