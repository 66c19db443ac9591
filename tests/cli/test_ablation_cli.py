"""`sbrzoo ablation`: a short run on synthetic data gives a complete Table II, and resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import run_main

from cli.main import cli

ROWS = ["tagnnpp", "tagnnpp_no_agc", "tagnnpp_no_gnn", "tagnnpp_no_pe", "tagnnpp_no_transformer"]
ARGS = ["ablation", "--dataset", "synthetic", "--seeds", "1,2", "--epochs", "1", "--max-train-batches", "4",
        "--eval-batch-size", "4000", "--dim", "16", "--valid-split", "none", "--select-on", "last"]


def test_short_ablation_gives_a_complete_table_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "ablation"
    first = CliRunner().invoke(cli, [*ARGS, "--out", str(out)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    table = json.loads((out / "ablation.json").read_text())
    assert [row["model"] for row in table["rows"]] == ROWS
    assert [row["label"] for row in table["rows"]] == [
        "TAGNN++", "TAGNN++ - AGC", "TAGNN++ - GNN", "TAGNN++ - PE", "TAGNN++ - Transformer"]
    for row in table["rows"]:
        assert row["seeds"] == [1, 2]
        assert 0 < row["mean"]["HR@20"] <= 100 and row["std"]["HR@20"] >= 0
    with (out / "ablation.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(ROWS)
    assert (out / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    for row in ROWS:
        for seed in (1, 2):
            assert json.loads((out / row / f"seed-{seed}" / "metrics.json").read_text())["test"]

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/seed-*/metrics.json")}
    again = CliRunner().invoke(cli, [*ARGS, "--out", str(out)], catch_exceptions=False)
    assert again.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/seed-*/metrics.json")} == stamps  # nothing retrained


def test_an_empty_row_list_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    code, out, err = run_main(monkeypatch, capsys, *ARGS, "--rows", ",", "--out", str(tmp_path / "out"))
    assert code == 1 and out == "" and "name at least one model" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
