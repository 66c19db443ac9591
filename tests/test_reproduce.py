"""Reproduction tables: paired tests between two models, and rows read back from run folders."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from helpers import run_config

from sbrzoo.errors import DataError
from sbrzoo.matrix import runs_on_disk, summarize_cell
from sbrzoo.reproduce import cells_not_run, compare_models, markdown
from sbrzoo.run_record import RANKS_FILE, save_ranks
from sbrzoo.significance import paired_comparison


def test_paired_comparison_counts_hits_and_reciprocal_ranks() -> None:
    ranks_a = np.array([1, 2, 30, 5])
    ranks_b = np.array([4, 25, 1, 5])
    difference, p_value = paired_comparison(ranks_a, ranks_b, k=20)
    assert difference["HR@20"] == pytest.approx(0.0)  # each model alone hits one example
    assert difference["MRR@20"] == pytest.approx(100 * ((1 + 1 / 2 + 1 / 5) - (1 / 4 + 1 + 1 / 5)) / 4)
    assert p_value["HR@20"] == pytest.approx(1.0)  # one session per example: McNemar on 1 vs 1 discordant


def test_paired_comparison_detects_a_consistent_winner() -> None:
    ranks_a = np.ones(10, dtype=np.int32)
    ranks_b = np.full(10, 50, dtype=np.int32)
    difference, p_value = paired_comparison(ranks_a, ranks_b)
    assert difference == {"HR@20": pytest.approx(100.0), "MRR@20": pytest.approx(100.0)}
    assert p_value["HR@20"] == pytest.approx(2 * 0.5**10)  # exact two-sided binomial, 10 of 10
    assert p_value["MRR@20"] < 0.01


def test_the_prefixes_of_one_session_are_one_observation() -> None:
    """10 examples from 2 sessions are 2 paired observations, not 10: the same consistent winner is
    then no evidence (two-sided Wilcoxon on 2 of 2 positive sessions: p = 1/2)."""
    ranks_a, ranks_b = np.ones(10, dtype=np.int32), np.full(10, 50, dtype=np.int32)
    sessions = np.repeat([0, 1], [4, 6])
    difference, p_value = paired_comparison(ranks_a, ranks_b, sessions)
    assert difference == {"HR@20": pytest.approx(100.0), "MRR@20": pytest.approx(100.0)}  # means over examples
    assert p_value == {"HR@20": pytest.approx(0.5), "MRR@20": pytest.approx(0.5)}
    with pytest.raises(ValueError, match="session of each of the 10 examples"):
        paired_comparison(ranks_a, ranks_b, sessions[:9])


def test_sessions_equal_but_for_rounding_are_not_evidence() -> None:
    """Reciprocal ranks 1/3 + 1/6 and 1/2 + 0 are the same session mean, up to float rounding (~1e-17):
    ten such sessions must not make a significant MRR difference."""
    ranks_a, ranks_b = np.tile([3, 6], 10), np.tile([2, 100], 10)
    _, p_value = paired_comparison(ranks_a, ranks_b, np.repeat(np.arange(10), 2))
    assert p_value["MRR@20"] == 1.0


def test_session_differences_equal_but_for_rounding_tie_in_the_signed_ranks() -> None:
    """Mean differences of 1/3 reached by different sums ((1 + 1/3) - (1/2 + 1/6) over 2 clicks,
    (1 - 1/3) over 2, 1/3 - 0 over 1) are one value, so Wilcoxon must rank them as ties: the p-value
    of the exact (rational) differences."""
    from scipy import stats

    kinds = [([1, 3], [2, 6], 3), ([1, 100], [3, 100], 3), ([3], [100], 3), ([2, 7], [1, 7], 1), ([5], [1], 2),
             ([1, 4, 9], [2, 4, 9], 2)]
    ranks_a, ranks_b, sessions, exact = [], [], [], []
    for a, b, repeats in kinds:
        for _ in range(repeats):
            sessions += [len(exact)] * len(a)
            ranks_a, ranks_b = ranks_a + a, ranks_b + b
            exact.append(float(_mean_reciprocal(a) - _mean_reciprocal(b)))
    _, p_value = paired_comparison(np.array(ranks_a), np.array(ranks_b), np.array(sessions))
    assert p_value["MRR@20"] == pytest.approx(stats.wilcoxon(exact).pvalue, rel=1e-12)


def _mean_reciprocal(ranks: list[int], k: int = 20) -> Fraction:
    return sum((Fraction(1, r) for r in ranks if r <= k), Fraction(0)) / len(ranks)


def test_identical_models_are_not_different() -> None:
    ranks = np.array([3, 7, 100])
    difference, p_value = paired_comparison(ranks, ranks.copy())
    assert difference == {"HR@20": 0.0, "MRR@20": 0.0}
    assert p_value == {"HR@20": 1.0, "MRR@20": 1.0}


def test_mismatched_test_sets_are_refused(tmp_path: Path) -> None:
    import torch

    for model, count in (("tagnnpp", 5), ("tagnn", 6)):
        folder = tmp_path / "synthetic" / model / "seed-1"
        folder.mkdir(parents=True)
        save_ranks(folder / RANKS_FILE, torch.arange(1, count + 1))
    sessions = np.arange(5)
    with pytest.raises(DataError, match="rank different test sets"):
        compare_models(tmp_path, "synthetic", "tagnnpp", "tagnn", [1], sessions)
    save_ranks(tmp_path / "synthetic" / "tagnn" / "seed-1" / RANKS_FILE, torch.arange(1, 6))
    with pytest.raises(DataError, match="the synthetic test split has 4"):  # ranks of another test split
        compare_models(tmp_path, "synthetic", "tagnnpp", "tagnn", [1], sessions[:4])
    (tmp_path / "synthetic" / "tagnn" / "seed-1" / RANKS_FILE).write_bytes(b"\x93NUMPY damaged")
    with pytest.raises(DataError, match=r"tagnn/seed-1/test_ranks.npy: cannot read the test ranks"):
        compare_models(tmp_path, "synthetic", "tagnnpp", "tagnn", [1], sessions)


def _write_run(folder: Path, hr: float, best_epoch: int, epochs: list[float], finished: bool = True,
               overrides: dict | None = None) -> None:
    folder.mkdir(parents=True)
    model, dataset = folder.parent.name, folder.parent.parent.name
    config = run_config(model, dataset, track_test=True, seed=1, device="cuda", eval_batch_size=500,
                        **(overrides or {}))
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    records = [{"epoch": i + 1, "train_seconds": 10.0, "valid_seconds": 1.0, "test_seconds": 1.0,
                "test": {"HR@20": value, "MRR@20": value / 4}} for i, value in enumerate(epochs)]
    metrics = {"model": model, "dataset": dataset, "epochs": records, "best_epoch": best_epoch,
               "test": {"HR@20": hr, "MRR@20": hr / 4, "HR@10": hr / 2, "MRR@10": hr / 5, "NDCG@20": hr / 3,
                        "seconds": 2.0} if finished else {},
               "best_test_over_epochs": {"HR@20": max(epochs), "MRR@20": max(epochs) / 4},
               "environment": {"device": "cuda", "device_name": "NVIDIA H200", "git_commit": "abc1234"}}
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_row_averages_finished_seeds_and_lists_the_rest(tmp_path: Path) -> None:
    base = tmp_path / "diginetica" / "tagnn"
    _write_run(base / "seed-1", 50.0, 2, [40.0, 50.0, 49.0])
    _write_run(base / "seed-2", 52.0, 3, [41.0, 51.0, 52.0, 53.0])
    _write_run(base / "seed-3", 0.0, 1, [30.0], finished=False)
    row = summarize_cell(tmp_path / "diginetica" / "tagnn", "diginetica", "tagnn", [1, 2, 3, 4])
    assert row is not None and row.seeds == (1, 2)
    assert row.mean["HR@20"] == pytest.approx(51.0) and row.std["HR@20"] == pytest.approx(np.sqrt(2))
    assert row.best_test["HR@20"] == pytest.approx((50.0 + 53.0) / 2)
    assert row.difference("HR@20") == pytest.approx(51.0 - 51.31)  # TAGNN's Table I figure
    assert (row.selected_epochs, row.epochs_run) == ((2, 3), (3, 4))
    assert row.seconds == pytest.approx(((3 + 4) * 12 + 2 * 2) / 2)
    assert row.device == "NVIDIA H200" and row.git_commit == "abc1234"
    assert row.pending == ("seed 3: 1 epochs done", "seed 4: 0 epochs done")
    assert row.deviations == ()
    assert summarize_cell(tmp_path / "diginetica" / "srgnn", "diginetica", "srgnn", [1]) is None


def test_a_shortened_run_is_marked_and_every_cell_on_disk_is_found(tmp_path: Path) -> None:
    _write_run(tmp_path / "diginetica" / "srgnn" / "seed-1", 50.0, 2, [40.0, 50.0], overrides={"patience": 3})
    _write_run(tmp_path / "yoochoose1_64" / "tagnnpp" / "seed-2", 70.0, 1, [70.0], overrides={"epochs": 1})
    _write_run(tmp_path / "yoochoose1_64" / "srgnn" / "seed-1", 70.0, 1, [70.0])
    assert runs_on_disk(tmp_path) == {"diginetica": {"srgnn": [1]},
                                      "yoochoose1_64": {"srgnn": [1], "tagnnpp": [2]}}
    row = summarize_cell(tmp_path / "diginetica" / "srgnn", "diginetica", "srgnn", [1])
    assert row is not None and row.deviations == ("patience 3 (preset 10)",)
    row = summarize_cell(tmp_path / "yoochoose1_64" / "tagnnpp", "yoochoose1_64", "tagnnpp", [2])
    assert row is not None and row.deviations == ("epochs 1 (preset 15)",)



def test_cells_without_a_run_are_listed_with_their_command(tmp_path: Path) -> None:
    _write_run(tmp_path / "diginetica" / "srgnn" / "seed-1", 50.0, 2, [40.0, 50.0])
    _write_run(tmp_path / "yoochoose1_64" / "tagnnpp_no_pe" / "seed-1", 0.0, 1, [30.0], finished=False)
    _write_run(tmp_path / "synthetic" / "tagnn" / "seed-1", 9.0, 1, [9.0])  # no paper figure: not a paper cell
    not_run = cells_not_run(runs_on_disk(tmp_path))
    # 10 Table I models + 4 Table II rows (TAGNN++ is in both) on the two paper datasets, less the two on disk
    assert len(not_run) == 2 * 14 - 2 and len(set(not_run)) == len(not_run)
    assert ("diginetica", "srgnn") not in not_run and ("yoochoose1_64", "tagnnpp_no_pe") not in not_run
    assert not_run[0] == ("diginetica", "gru4rec") and ("yoochoose1_64", "srgnn") in not_run
    assert {dataset for dataset, _ in not_run} == {"diginetica", "yoochoose1_64"}
    report = markdown([], [], {"not_run": not_run})
    assert "- diginetica TAGNN++ - AGC (`--models tagnnpp_no_agc --datasets diginetica`)" in report
    assert "Not started" not in markdown([], [], {"not_run": []})
    # a planned cell outside the paper's comes after them; one on disk never
    planned = cells_not_run(runs_on_disk(tmp_path), planned=[("diginetica", "sknn"), ("synthetic", "tagnn")])
    assert planned == [*not_run, ("diginetica", "sknn")]


def test_a_figure_from_another_paper_says_where_it_comes_from(tmp_path: Path) -> None:
    for model in ("stamp", "narm"):
        _write_run(tmp_path / "diginetica" / model / "seed-1", 45.0, 1, [45.0])
    rows = [summarize_cell(tmp_path / "diginetica" / m, "diginetica", m, [1]) for m in ("stamp", "narm")]
    report = markdown(rows, [], {})
    assert "STAMP's paper figures: not in the TAGNN++ Table I: the SR-GNN paper's figures" in report
    assert "NARM's paper figures" not in report  # a Table I row

def test_commit_comes_from_git_else_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    import torch

    from sbrzoo import run_record

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=run_record.PROJECT_ROOT,
                          capture_output=True, text=True).stdout.strip()
    if head:
        assert run_record.environment_info(torch.device("cpu"))["git_commit"] == head
    monkeypatch.setattr(run_record, "PROJECT_ROOT", tmp_path)  # a copied tree without .git
    monkeypatch.setenv("SBRZOO_GIT_COMMIT", "feed123")
    assert run_record.environment_info(torch.device("cpu"))["git_commit"] == "feed123"


def test_a_cell_within_half_a_point_of_the_paper_says_so() -> None:
    from types import SimpleNamespace

    from sbrzoo.reproduce import within_tolerance

    def cell(**differences: float | None) -> SimpleNamespace:
        return SimpleNamespace(difference=lambda metric: differences[metric.replace("@", "_")])

    assert within_tolerance(cell(HR_20=-0.5, MRR_20=0.51)) == "yes / no"  # 0.5 itself is within
    assert within_tolerance(cell(HR_20=0.504, MRR_20=-0.506)) == "yes / no"  # as printed: +0.50, -0.51
    assert within_tolerance(cell(HR_20=None, MRR_20=-0.2)) == "– / yes"
    assert within_tolerance(cell(HR_20=None, MRR_20=None)) == "–"  # no paper figure
