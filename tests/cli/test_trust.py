"""What a user sees when something is wrong: unsafe or damaged files, occupied run folders, bad
options, divergence, interrupts; and where the results go (stdout, in a pipe, as JSON)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from helpers import run_main

from cli.main import cli
from sbrzoo.models.session_model import SessionModel
from sbrzoo.trainer import Trainer

QUICK = ["--epochs", "1", "--max-train-batches", "3", "--eval-batch-size", "4000", "--dim", "16"]


def one_error_line(stderr: str) -> str:
    """The error of a failed command: its last stderr line, the only one starting with ``Error:``,
    and no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert errors == lines[-1:] and "Traceback" not in stderr, stderr
    return errors[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "srgnn"
    result = CliRunner().invoke(cli, ["train", "--model", "srgnn", *QUICK, "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def copy_run(run: Path, to: Path) -> Path:
    to.mkdir()
    for path in run.iterdir():
        (to / path.name).write_bytes(path.read_bytes())
    return to


class _RunsCode:
    """Unpickling this calls ``os.system`` (a file that runs code when loaded)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


# -- 1. every file sbrzoo loads is data ------------------------------------------------------------

@pytest.mark.parametrize("command", ["resume", "evaluate"])
def test_a_checkpoint_that_runs_code_is_refused_not_executed(
        command: str, finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    marker = tmp_path / "pwned"
    name = "last.pt" if command == "resume" else "best.pt"
    torch.save({"state_dict": _RunsCode(marker), "model": _RunsCode(marker)}, run / name)
    args = ["train", "--resume", str(run)] if command == "resume" else ["evaluate", str(run)]
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 1 and not marker.exists()
    line = one_error_line(err)
    assert str(run / name) in line and "refused" in line


@pytest.mark.parametrize(("damage", "phrase"), [
    (lambda data: b"", "empty file"),
    (lambda data: data[: len(data) // 2], "damaged or truncated"),
    (lambda data: b"some text, not a checkpoint\n", "damaged or truncated"),
])
@pytest.mark.parametrize("command", ["resume", "evaluate"])
def test_a_damaged_checkpoint_is_one_line_naming_it(
        command: str, damage, phrase: str, finished_run: Path, tmp_path: Path,  # noqa: ANN001
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    name = "last.pt" if command == "resume" else "best.pt"
    (run / name).write_bytes(damage((run / name).read_bytes()))
    args = ["train", "--resume", str(run)] if command == "resume" else ["evaluate", str(run)]
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 1  # not 130 ("Aborted."), which click gives an EOFError
    line = one_error_line(err)
    assert str(run / name) in line and phrase in line


@pytest.mark.parametrize("command", ["resume", "evaluate"])
def test_a_checkpoint_entry_of_the_wrong_type_is_one_line_naming_it(
        command: str, finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    name = "last.pt" if command == "resume" else "best.pt"
    state = torch.load(run / name, weights_only=True)
    torch.save({**state, "epoch": "abc"}, run / name)
    args = ["train", "--resume", str(run)] if command == "resume" else ["evaluate", str(run)]
    code, _, err = run_main(monkeypatch, capsys, *args)
    assert code == 1
    assert one_error_line(err).endswith(f"{run / name}: damaged: its epoch is str 'abc'")


def test_weights_of_another_shape_are_one_line(finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    best = torch.load(run / "best.pt", weights_only=True)
    best["state_dict"]["embedding.weight"] = torch.zeros(3, 16)
    torch.save(best, run / "best.pt")
    code, _, err = run_main(monkeypatch, capsys, "evaluate", str(run))
    assert code == 1
    assert "do not fit this model" in one_error_line(err) and "embedding.weight" in err


def test_resume_state_loads_as_data_only(finished_run: Path) -> None:
    state = torch.load(finished_run / "last.pt", weights_only=True)
    assert state["epoch"] == 1 and isinstance(state["torch_rng"], torch.Tensor)


# -- 2. results are never silently overwritten -----------------------------------------------------

def test_a_folder_with_a_run_is_not_overwritten_without_overwrite(
        finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, _, err = run_main(monkeypatch, capsys, "train", "--model", "tagnn", *QUICK, "--out", str(run))
    assert code == 1 and "--overwrite" in one_error_line(err)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    code, _, _ = run_main(monkeypatch, capsys, "train", "--model", "tagnn", *QUICK, "--out", str(run), "--overwrite")
    assert code == 0 and json.loads((run / "config.json").read_text())["model"] == "tagnn"


# -- 3. every realistic mistake gets one line, before any training --------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--model", "tagnnpp", "--heads", "3", "--dim", "16"], "3 heads do not divide the width 16"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**32)], "--seed"),
    (["--device", "tpu"], "expected cpu, cuda, cuda:N or auto"),
    (["--select-metric", "HR@21"], "choose one of HR@20, MRR@20"),
    (["--epochs", "0"], "--epochs"),
    (["--model", "tagnpp"], "did you mean 'tagnnpp'?"),
    # --set goes through the same ranges as the options (never a traceback after the data is read)
    (["--set", "lr=nan"], "lr must be a finite number, got nan"),
    (["--set", "weight_decay=-1"], "weight_decay must be at least 0"),
    (["--set", "patience=0"], "patience must be at least 1"),
    (["--model", "tagnnpp", "--set", "ffn_mult=-1"], "ffn_mult must be at least 1"),
    (["--dim", "64", "--set", "dim=none"], "expected a value, got 'none'"),
    (["--bogus-option"], "No such option"),
])
def test_bad_options_are_one_line_exit_1_and_train_nothing(
        args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(Trainer, "fit", lambda *_, **__: pytest.fail("trained despite a bad option"))
    code, out, err = run_main(monkeypatch, capsys, "train", *args, "--out", str(tmp_path / "run"))
    assert code == 1 and out == ""
    assert message in one_error_line(err)
    assert not (tmp_path / "run").exists()


def test_quiet_keeps_only_warnings_and_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    code, out, err = run_main(monkeypatch, capsys, "-q", "train", *QUICK, "--out", str(tmp_path / "run"), "--json")
    assert code == 0 and json.loads(out)["metrics"]["HR@20"] >= 0 and err == ""
    code, _, err = run_main(monkeypatch, capsys, "train", "--dry-run", "--out", str(tmp_path / "other"))
    assert code == 0 and "-> " in err  # without -q the same line is there


def test_no_subcommand_shows_the_help_and_usage_errors_name_their_command(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    for args, first in (((), "Usage: sbrzoo [OPTIONS] COMMAND"), (("data",), "Usage: sbrzoo data [OPTIONS] COMMAND")):
        code, out, err = run_main(monkeypatch, capsys, *args)
        assert code == 0 and out.startswith(first) and err == ""
    code, _, err = run_main(monkeypatch, capsys, "-q", "train", "--model")
    assert code == 1 and err == "Error: Option '--model' requires an argument. (see: sbrzoo train --help)\n"


def test_out_below_a_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = run_main(monkeypatch, capsys, "train", "--out", str(tmp_path / "file" / "run"))
    assert code == 1 and "is a file" in one_error_line(err)
    if sys.platform.startswith("linux"):  # /proc takes no folders, not even root's
        code, _, err = run_main(monkeypatch, capsys, "train", *QUICK, "--out", "/proc/sbrzoo-run")
        line = one_error_line(err)  # checked up front where the user may not write /proc, else at mkdir
        assert code == 1 and ("/proc is not writable" in line or "/proc/sbrzoo-run: cannot create the run" in line)


def test_brackets_in_user_text_are_shown_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    """Rich reads ``[...]`` as a style tag: in a path, a dataset or a session it must stay text."""
    out = tmp_path / "a[/x]" / "[red]run"
    code, stdout, err = run_main(monkeypatch, capsys, "train", "--model", "srgnn", "--dry-run", "--out", str(out))
    assert code == 0 and str(out) in " ".join(err.split()), err
    code, stdout, _ = run_main(monkeypatch, capsys, "datasets")
    assert code == 0 and "[red]" not in stdout


def test_models_settings_need_a_registered_dataset(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    code, stdout, _ = run_main(monkeypatch, capsys, "models", "tagnnpp", "--dataset", "diginetica")
    assert code == 0 and "settings on diginetica" in stdout
    code, _, err = run_main(monkeypatch, capsys, "models", "tagnnpp", "--dataset", "diginetca")
    assert code == 1 and "did you mean 'diginetica'?" in one_error_line(err)  # not the base defaults


def test_model_and_metric_names_are_case_insensitive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_main(monkeypatch, capsys, "train", "--model", "TAGNN", "--select-metric", "mrr@20",
                            "--dry-run", "--out", str(tmp_path / "run"))
    assert code == 0
    assert "tagnn" in out and "MRR@20" in out
    assert not (tmp_path / "run").exists()  # a dry run writes nothing


def test_dry_run_shows_the_resolved_preset(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                          tmp_path: Path) -> None:
    code, out, _ = run_main(monkeypatch, capsys, "train", "--model", "tagnnpp", "--lr", "0.003", "--dry-run")
    settings = dict(line.split(None, 1) for line in out.splitlines()[3:] if line.strip())
    assert code == 0 and settings["training.lr"] == "0.003" and settings["settings.heads"] == "2"
    folder = tmp_path / "diginetica"  # `--data-dir .` inside it: the folder's name picks the preset
    folder.mkdir()
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2, 3], [4, 5]]))
    (folder / "test.txt").write_bytes(pickle.dumps(([[1]], [2])))
    monkeypatch.chdir(folder)
    code, out, _ = run_main(monkeypatch, capsys, "train", "--model", "tagnnpp", "--data-dir", ".", "--dry-run")
    settings = dict(line.split(None, 1) for line in out.splitlines()[3:] if line.strip())
    assert code == 0 and settings["dataset"] == "diginetica" and settings["settings.heads"] == "8"


def test_resume_refuses_options_that_differ_and_applies_more_epochs(
        finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    code, _, err = run_main(monkeypatch, capsys, "train", "--resume", str(run), "--lr", "0.5", "--dim", "32")
    line = one_error_line(err)
    assert code == 1 and "--lr 0.5 (the run has 0.001)" in line and "--dim 32 (the run has 16)" in line
    for extra, named in ((["--out", str(tmp_path / "elsewhere")], "drop --out"), (["--overwrite"], "drop --overwrite")):
        code, _, err = run_main(monkeypatch, capsys, "train", "--resume", str(run), "--epochs", "2", *extra)
        assert code == 1 and named in one_error_line(err) and not (tmp_path / "elsewhere").exists()
    code, _, err = run_main(monkeypatch, capsys, "train", "--resume", str(run), "--epochs", "2")
    assert code == 0 and "epochs 1 -> 2" in err
    assert len(json.loads((run / "metrics.json").read_text())["epochs"]) == 2


def test_more_epochs_given_on_resume_are_recorded_as_asked_for(tmp_path: Path) -> None:
    from cli.options import resume_config
    from sbrzoo.config import RunConfig
    from sbrzoo.run_record import write_json_atomic

    write_json_atomic(tmp_path / "config.json", RunConfig.with_preset("srgnn", "synthetic").to_dict())
    config, changes = resume_config(tmp_path, {"epochs": 40}, {"epochs"})
    assert changes == ["epochs 30 -> 40"] and config.overridden == ("training.epochs",)


def test_a_run_trained_on_a_device_this_machine_lacks(
        finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "device": "cuda:99"}))  # absent on any machine here
    code, _, err = run_main(monkeypatch, capsys, "train", "--resume", str(run), "--epochs", "2")
    assert code == 1 and "the run trained on cuda:99" in one_error_line(err) and "--device cpu" in err
    code, _, err = run_main(monkeypatch, capsys, "train", "--resume", str(run), "--epochs", "2", "--device", "cpu")
    assert code == 0 and "device cuda:99 -> cpu" in err
    (run / "config.json").write_text(json.dumps({**config, "device": "cuda:99"}))
    code, out, err = run_main(monkeypatch, capsys, "evaluate", str(run), "--json")
    assert code == 0 and "running on the CPU instead" in " ".join(err.split())
    assert json.loads(out)["metrics"]["HR@20"] >= 0


def test_ctrl_c_says_how_to_continue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    def interrupt(*_, **__) -> None:  # noqa: ANN002, ANN003
        raise KeyboardInterrupt

    train_epoch = Trainer._train_epoch
    monkeypatch.setattr(Trainer, "_train_epoch", interrupt)
    code, _, err = run_main(monkeypatch, capsys, "train", *QUICK, "--out", str(tmp_path / "first"))
    assert code == 130  # in the first epoch: nothing to resume from
    assert one_error_line(err).endswith("Interrupted before the first epoch finished; start it again with --overwrite")
    epochs: list[int] = []

    def interrupt_the_second(self: Trainer, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        epochs.append(len(epochs) + 1)
        if len(epochs) == 2:
            raise KeyboardInterrupt
        return train_epoch(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_epoch", interrupt_the_second)
    code, _, err = run_main(monkeypatch, capsys, "train", *QUICK, "--epochs", "2", "--out", str(tmp_path / "run"))
    assert code == 130
    assert one_error_line(err).endswith(f"Interrupted; continue with: sbrzoo train --resume {tmp_path / 'run'}")


def test_a_non_finite_loss_stops_at_once_and_keeps_the_last_good_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    code, _, _ = run_main(monkeypatch, capsys, "train", "--model", "srgnn", *QUICK, "--out", str(run))
    assert code == 0
    good = (run / "last.pt").read_bytes()
    finite_loss, calls = SessionModel.loss, []

    def loss_nan_at_second_step(self, batch):  # noqa: ANN001, ANN202
        calls.append(1)
        loss = finite_loss(self, batch)
        return loss * float("nan") if len(calls) == 2 else loss

    monkeypatch.setattr(SessionModel, "loss", loss_nan_at_second_step)
    code, _, err = run_main(monkeypatch, capsys, "train", "--resume", str(run), "--epochs", "2")
    line = one_error_line(err)
    assert code == 1 and "epoch 2, step 2" in line and "last good checkpoint (after epoch 1)" in line
    assert (run / "last.pt").read_bytes() == good
    assert len(json.loads((run / "metrics.json").read_text())["epochs"]) == 1


def test_environment_record_names_cpu_blas_and_threads(finished_run: Path) -> None:
    environment = json.loads((finished_run / "metrics.json").read_text())["environment"]
    assert environment["cpu_model"] and environment["blas"] and environment["cpu_threads"] >= 1


# -- 4. output that works in a pipe -----------------------------------------------------------------

def test_models_table_is_on_stdout_whole_in_a_pipe() -> None:
    listing = subprocess.run([sys.executable, "-c", "from cli.main import main; main()", "models"],
                             capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "40"})
    assert listing.returncode == 0
    row = next(line for line in listing.stdout.splitlines() if line.startswith("tagnnpp_no_transformer "))
    assert "TAGNN++ without the Transformer (and its positional input)" in row  # not cut at 40 or 80 columns
    assert "│" not in listing.stdout and "\x1b[" not in listing.stdout  # plain text, no box, no colour


def test_help_texts_show_percent_signs_once() -> None:
    for command in ("train", "ablation", "reproduce"):
        result = CliRunner().invoke(cli, [command, "--help"], catch_exceptions=False)
        assert result.exit_code == 0 and "%%" not in result.output


# -- 5. run records ----------------------------------------------------------------------------------

def test_evaluating_on_changed_data_is_refused_and_moved_data_is_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import pickle

    data = tmp_path / "data"
    data.mkdir()
    sessions = [[1 + (i * 7 + j) % 30 for j in range(2 + i % 5)] for i in range(300)]
    (data / "all_train_seq.txt").write_bytes(pickle.dumps(sessions))
    (data / "test.txt").write_bytes(pickle.dumps(([[1, 2], [3], [4, 5, 6]], [3, 4, 7])))
    run = tmp_path / "run"
    code, _, err = run_main(monkeypatch, capsys, "train", "--model", "srgnn", "--data-dir", str(data), *QUICK,
                            "--out", str(run))
    assert code == 0, err
    record = json.loads((run / "metrics.json").read_text())["data"]
    assert record["test_examples"] == 3 and [f["name"] for f in record["files"]] == ["all_train_seq.txt", "test.txt"]
    moved = data.rename(tmp_path / "moved")
    code, _, err = run_main(monkeypatch, capsys, "evaluate", str(run), "--data-dir", str(moved), "--json")
    assert code == 0, err
    (moved / "test.txt").write_bytes(pickle.dumps(([[1, 2]], [3])))  # the test set cut to a third
    code, _, err = run_main(monkeypatch, capsys, "evaluate", str(run), "--data-dir", str(moved))
    assert code == 1 and "trained on other data" in one_error_line(err) and "test.txt" in err
