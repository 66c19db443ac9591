"""`sbrzoo datasets`: the table or JSON on stdout, local presence from $SBRZOO_DATA_DIR."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from sbrzoo.data.download import CACHE_DIR_ENV
from sbrzoo.paths import DATA_DIR_ENV


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder holding a tiny ``diginetica`` and nothing else."""
    folder = tmp_path / "diginetica"
    folder.mkdir()
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2, 3], [4, 5]]))
    (folder / "test.txt").write_bytes(pickle.dumps(([[1]], [2])))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path


def test_json_lists_every_dataset_with_presence_and_statistics(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["datasets", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    statuses = {status["name"]: status for status in json.loads(result.stdout)}
    assert set(statuses) == {"diginetica", "synthetic", "yoochoose1_4", "yoochoose1_64"}
    assert statuses["diginetica"]["present"]
    assert statuses["diginetica"]["path"] == str(data_dir / "diginetica")
    assert statuses["diginetica"]["stats"]["train_examples"] == 3
    assert not statuses["yoochoose1_64"]["present"]
    assert statuses["yoochoose1_64"]["expected"]["train_examples"] == 369_859
    assert statuses["synthetic"]["stats"]["num_items"] == 1_000


def test_table_goes_to_stdout_and_hints_to_stderr(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["datasets"], catch_exceptions=False)
    assert result.exit_code == 0
    for text in ("diginetica", "present", "missing", "built in", "(369,859)", DATA_DIR_ENV):
        assert text in result.stdout
    assert "get it with" in result.stderr and "get it with" not in result.stdout


def test_a_downloaded_dataset_is_listed_as_present(data_dir: Path) -> None:
    folder = data_dir / "cache" / "yoochoose1_64"  # as `sbrzoo data download yoochoose1_64` leaves it
    folder.mkdir(parents=True)
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2, 3]]))
    (folder / "test.txt").write_bytes(pickle.dumps(([[1]], [2])))
    statuses = {s["name"]: s for s in json.loads(CliRunner().invoke(cli, ["datasets", "--json"]).stdout)}
    assert statuses["yoochoose1_64"]["present"] and statuses["yoochoose1_64"]["path"] == str(folder)
    assert statuses["yoochoose1_64"]["location"] == "download cache"
    table = CliRunner().invoke(cli, ["datasets"], catch_exceptions=False).stdout
    row = next(line for line in table.splitlines() if line.startswith("yoochoose1_64"))
    assert "downloaded" in row and "missing" not in row


def test_missing_datasets_get_a_hint_that_works(data_dir: Path) -> None:
    table = CliRunner().invoke(cli, ["datasets"], catch_exceptions=False).stderr
    hints = {line.split()[0]: line for line in table.splitlines() if " is missing; get it with " in line}
    assert set(hints) == {"yoochoose1_4", "yoochoose1_64"}
    assert "sbrzoo data download yoochoose1_64" in hints["yoochoose1_64"]
    assert "data download" not in hints["yoochoose1_4"]
    assert "sbrzoo data prepare yoochoose --raw yoochoose-clicks.dat" in hints["yoochoose1_4"]
