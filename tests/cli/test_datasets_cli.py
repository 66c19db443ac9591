"""`sbrzoo datasets`: table on stderr, JSON on stdout, local presence from $SBRZOO_DATA_DIR."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from sbrzoo.paths import DATA_DIR_ENV


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder holding a tiny ``diginetica`` and nothing else."""
    folder = tmp_path / "diginetica"
    folder.mkdir()
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps([[1, 2, 3], [4, 5]]))
    (folder / "test.txt").write_bytes(pickle.dumps(([[1]], [2])))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
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


def test_table_goes_to_stderr(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["datasets"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout == ""
    for text in ("diginetica", "present", "missing", "built in", "(369,859)", DATA_DIR_ENV):
        assert text in result.stderr
