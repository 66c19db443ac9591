"""`sbrzoo train` / `evaluate` / `models` end to end on the built-in synthetic dataset."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from helpers import interrupted_and_resumed

from cli.main import cli

QUICK = ["--epochs", "2", "--max-train-batches", "15", "--eval-batch-size", "2000"]


def train(tmp_path: Path, name: str, *args: str) -> dict:
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["train", *args, "--out", str(out), "--json"],
                                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["run"] == str(out) and summary["split"] == "test"
    return json.loads((out / "metrics.json").read_text())


def test_srgnn_clearly_beats_popularity(tmp_path: Path) -> None:
    metrics = train(tmp_path, "srgnn", "--model", "srgnn", "--epochs", "1")
    pop = train(tmp_path, "pop", "--model", "pop")
    assert metrics["test"]["HR@20"] > pop["test"]["HR@20"] + 15
    assert metrics["test"]["MRR@20"] > pop["test"]["MRR@20"] + 5
    record = metrics["epochs"][0]
    assert record["train_examples"] == 41_508 and record["train_examples_per_s"] > 0
    assert set(metrics["test"]) >= {"HR@20", "MRR@20", "HR@10", "MRR@10", "NDCG@20"}
    [counted] = pop["epochs"]  # a counting model's one "epoch": its statistics, timed like a training epoch
    assert counted["epoch"] == pop["best_epoch"] == 0 and counted["train_seconds"] >= 0 and counted["valid_seconds"] > 0


def test_run_folder_is_complete_and_repeatable(tmp_path: Path) -> None:
    first = train(tmp_path, "a", "--model", "tagnnpp", "--seed", "3", *QUICK)
    second = train(tmp_path, "b", "--model", "tagnnpp", "--seed", "3", *QUICK)
    assert first["test"] == pytest.approx({**second["test"], "seconds": first["test"]["seconds"]})
    assert [e["valid"] for e in first["epochs"]] == [e["valid"] for e in second["epochs"]]
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["model"] == "tagnnpp" and config["seed"] == 3 and config["training"]["epochs"] == 2  # --epochs wins
    with (tmp_path / "a" / "epochs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2] and float(rows[0]["train_loss"]) > 0
    assert float(rows[1]["valid HR@20"]) == pytest.approx(first["epochs"][1]["valid"]["HR@20"])
    assert (tmp_path / "a" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    best = torch.load(tmp_path / "a" / "best.pt", weights_only=True)
    assert best["epoch"] == first["best_epoch"] and "embedding.weight" in best["state_dict"]


def test_resume_ends_like_an_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, resumed = interrupted_and_resumed(tmp_path, monkeypatch, "--model", "srgnn", *QUICK)
    assert [e["valid"] for e in resumed["epochs"]] == [e["valid"] for e in whole["epochs"]]
    assert {k: v for k, v in resumed["test"].items() if k != "seconds"} == {
        k: v for k, v in whole["test"].items() if k != "seconds"}


def test_evaluate_reproduces_the_test_metrics(tmp_path: Path) -> None:
    metrics = train(tmp_path, "run", "--model", "tagnn", *QUICK)
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "run"), "--json"],
                                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    evaluated = json.loads(result.stdout)
    assert evaluated["split"] == "test" and evaluated["epoch"] == metrics["best_epoch"]
    for key in ("HR@20", "MRR@20", "NDCG@20"):
        assert evaluated["metrics"][key] == pytest.approx(metrics["test"][key])


def test_evaluate_on_the_last_click_of_each_session_ranks_those_examples_alone(tmp_path: Path) -> None:
    import numpy as np
    import torch

    from sbrzoo.data.registry import load_dataset
    from sbrzoo.metrics import metrics_from_ranks

    train(tmp_path, "run", "--model", "stamp", *QUICK)
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "run"), "--targets", "last-click", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    evaluated = json.loads(result.stdout)
    test = load_dataset("synthetic").test
    sessions = test.sessions()
    last_clicks = np.flatnonzero(np.r_[True, test.lengths[:-1] == 1])  # a session's prefixes end at one click
    assert evaluated["num_examples"] == len(last_clicks) == sessions.max() + 1
    ranks = torch.from_numpy(np.load(tmp_path / "run" / "test_ranks.npy")[last_clicks])
    assert evaluated["metrics"] == pytest.approx(metrics_from_ranks(ranks))  # the saved ranks of those examples
    assert evaluated["split"] == "test (last click of each session)"


def test_models_lists_every_row_with_its_parts() -> None:
    result = CliRunner().invoke(cli, ["models", "--json"], catch_exceptions=False)
    listing = {m["name"]: m for m in json.loads(result.output)}
    assert "transformer" in listing["tagnnpp"]["parts"]
    assert "transformer" not in listing["tagnnpp_no_transformer"]["parts"]


def sbrzoo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from cli.main import main; main()", *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["train", "--model", "tagnn+"], 1, "did you mean 'tagnn'"),
        (["train", "--model", "srgnn", "--dataset", "digineticaa"], 1, "did you mean 'diginetica'"),
        (["train", "--model", "srgnn", "--data-dir", "/nonexistent/folder"], 1, "/nonexistent/folder"),
        (["train", "--model", "srgnn", "--select-on", "valid", "--valid-split", "none"], 1, "validation split"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(args: list[str], code: int, message: str) -> None:
    result = sbrzoo(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_pickle_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "all_train_seq.txt").write_bytes(b"\x80\x04not a pickle")
    (tmp_path / "test.txt").write_bytes(b"")
    result = sbrzoo("train", "--model", "srgnn", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert str(tmp_path) in result.stderr and "Traceback" not in result.stderr
    assert not any(p.name == "runs" for p in tmp_path.iterdir())


def _saved_under_old_names(run: Path, old: dict[str, str]) -> set[str]:
    """Rename the weights of ``run``'s best.pt and last.pt by the prefixes of ``old`` (today's -> then's),
    as an older sbrzoo saved them; returns best.pt's names."""
    for file, key in (("best.pt", "state_dict"), ("last.pt", "model")):
        checkpoint = torch.load(run / file, weights_only=True)
        checkpoint[key] = {next((then + name[len(now):] for now, then in old.items() if name.startswith(now)), name):
                           tensor for name, tensor in checkpoint[key].items()}
        torch.save(checkpoint, run / file)
    return set(torch.load(run / "best.pt", weights_only=True)["state_dict"])


def _evaluates_to_its_metrics_and_resumes(run: Path, metrics: dict) -> None:
    result = CliRunner().invoke(cli, ["evaluate", str(run), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["HR@20"] == pytest.approx(metrics["test"]["HR@20"])
    resumed = CliRunner().invoke(cli, ["train", "--resume", str(run), "--epochs", "2"], catch_exceptions=False)
    assert resumed.exit_code == 0, resumed.stderr


@pytest.mark.parametrize(("fidelity", "old_names"), [
    ("paper", {"node_encoders.0.": "graph_encoder.", "sequence_encoders.0.": "positional.",
               "sequence_encoders.1.": "transformer."}),
    ("reference", {"node_encoders.0.": "graph_encoder.", "node_encoders.1.": "transformer."}),  # node self-attention
])
def test_weights_saved_before_the_parts_registry_still_evaluate(tmp_path: Path, fidelity: str,
                                                                old_names: dict[str, str]) -> None:
    """A run of sbrzoo 0.1 named TAGNN++'s node encoder ``graph_encoder`` and its sequence encoders
    ``positional`` and ``transformer`` (the reference variant: its node self-attention ``transformer``):
    evaluating it gives its metrics, and it resumes."""
    metrics = train(tmp_path, "run", "--model", "tagnnpp", "--fidelity", fidelity, *QUICK)
    assert any(name.startswith("graph_encoder.") for name in _saved_under_old_names(tmp_path / "run", old_names))
    _evaluates_to_its_metrics_and_resumes(tmp_path / "run", metrics)


@pytest.mark.parametrize(("model", "query"), [("srgnn", "query"), ("narm", "global_query"), ("csrm", "query")])
def test_weights_saved_before_the_shared_additive_attention_still_evaluate(tmp_path: Path, model: str,
                                                                          query: str) -> None:
    """Until 2026-12-02 the readouts of SR-GNN, NARM and CSRM held their attention's weights themselves
    (``readout.query``, NARM's ``readout.global_query``, ``readout.key``, ``readout.score``): such a run
    evaluates to its metrics and resumes (the parameters' order, hence the optimizer state, is the same)."""
    metrics = train(tmp_path, "run", "--model", model, *QUICK)
    names = _saved_under_old_names(tmp_path / "run", {
        "readout.attention.query.": f"readout.{query}.", "readout.attention.key.": "readout.key.",
        "readout.attention.score.": "readout.score."})
    assert f"readout.{query}.weight" in names and "readout.attention.key.weight" not in names
    _evaluates_to_its_metrics_and_resumes(tmp_path / "run", metrics)


def test_models_says_which_engine_trains_each_model() -> None:
    listing = {m["name"]: m for m in json.loads(CliRunner().invoke(cli, ["models", "--json"]).output)}
    assert listing["tagnnpp"]["static_engine"] and not listing["lessr"]["static_engine"]
    table = CliRunner().invoke(cli, ["models", "csrm"]).output
    assert "engine" in table and "eager, static" not in table


def test_a_result_bent_by_ties_is_shown_with_ties_counted_against(tmp_path: Path) -> None:
    """S-POP scores every item outside the session by its count, so many targets tie: the table shows
    both figures, metrics.json and ``--json`` keep the pessimistic ones, and stderr warns."""
    saved = train(tmp_path, "json", "--model", "spop")
    assert saved["test_ties"] > 0 and saved["test_pessimistic"]["HR@20"] < saved["test"]["HR@20"]
    result = CliRunner().invoke(cli, ["train", "--model", "spop", "--out", str(tmp_path / "table")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    [row] = [line.split() for line in result.stdout.splitlines() if "ties counted against" in line]
    assert float(row[-5]) == pytest.approx(saved["test_pessimistic"]["HR@20"], abs=0.005)
    assert "share their score with other items" in " ".join(result.stderr.split())  # rich wraps log lines
    untied = train(tmp_path, "srgnn", "--model", "srgnn", *QUICK)
    assert untied["test_ties"] == 0 and untied["test_pessimistic"] == {k: v for k, v in untied["test"].items()
                                                                      if k != "seconds"}


def test_an_unregistered_dataset_folder_says_that_the_general_presets_apply(tmp_path: Path) -> None:
    import pickle

    folder = tmp_path / "my_shop_clicks"
    folder.mkdir()
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2, 3], [2, 3], [3, 1, 2]] * 20))
    (folder / "test.txt").write_bytes(pickle.dumps(([[1], [2, 3]], [2, 1])))
    result = sbrzoo("train", "--model", "tagnnpp", "--data-dir", str(folder), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert " ".join(result.stderr.split()).count("'my_shop_clicks' is not a registered dataset") == 1
    registered = sbrzoo("train", "--model", "tagnnpp", "--dry-run")
    assert registered.returncode == 0 and "not a registered dataset" not in registered.stderr


def test_a_config_file_sets_options_and_the_command_line_wins(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('epochs = 2\nmax-train-batches = 3\nvalid_split = "none"\nselect-on = "last"\nset = ["dim=8"]\n')
    result = CliRunner().invoke(cli, ["train", "--model", "srgnn", "--config", str(config), "--epochs", "1",
                                      "--out", str(tmp_path / "run"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["settings"]["dim"], saved["max_train_batches"], saved["valid_split"], saved["select_on"]) == (
        8, 3, "none", "last")  # from the file, both spellings of a name
    assert saved["training"]["epochs"] == 1  # the command line over the file


@pytest.mark.parametrize(("text", "message"), [
    ("epochz = 2\n", "unknown option 'epochz'; did you mean 'epochs'?"),
    ("epochs = \n", "at line 1"),
    ('epochs = "many"\n', "run.toml: epochs = \"many\": 'many' is not a valid integer"),
    ("epochs = 2.5\n", "run.toml: epochs = 2.5: expected an integer"),
    ("batch-size = true\n", "run.toml: batch-size = true: expected an integer"),
    ("lr = \"fast\"\n", "run.toml: lr = \"fast\": 'fast' is not a valid float"),
    ('track-test = "yes"\n', 'run.toml: track-test = "yes": expected true or false'),
    ('set = "dim=8"\n', 'run.toml: set = "dim=8": expected a list'),
    ('set = ["dim=8", 3]\n', "run.toml: set = 3: expected a string"),
    ("data-dir = 5\n", "run.toml: data-dir = 5: expected a string"),
])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "run.toml"
    config.write_text(text)
    result = sbrzoo("train", "--model", "srgnn", "--config", str(config), "--out", str(tmp_path / "run"))
    assert result.returncode != 0 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "run").exists()
