"""`sbrzoo data prepare` / `sbrzoo data download`: results (tables, JSON, the folder) on stdout, errors."""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli, main
from sbrzoo.data.download import CACHE_DIR_ENV, MIRROR_ENV
from sbrzoo.errors import ConfigError, DataError

# Sessions 1, 2 (train) and 3 (test, a week later) over items 10, 20, 30 clicked 5+ times each.
DIGINETICA = """\
sessionId;userId;itemId;timeframe;eventdate
1;NA;10;1;2016-05-01
1;NA;20;2;2016-05-01
1;NA;30;3;2016-05-01
2;NA;20;1;2016-05-02
2;NA;10;2;2016-05-02
2;NA;30;3;2016-05-02
4;NA;30;1;2016-05-03
4;NA;10;2;2016-05-03
4;NA;20;3;2016-05-03
5;NA;10;1;2016-05-04
5;NA;20;2;2016-05-04
5;NA;30;3;2016-05-04
3;NA;30;1;2016-05-12
3;NA;20;2;2016-05-12
3;NA;10;3;2016-05-12
"""
YOOCHOOSE = "".join(
    f"{session},2014-04-0{day}T10:0{minute}:00.000Z,{item},0\n"
    for session, day in ((1, 1), (2, 1), (3, 2), (4, 2), (5, 4))
    for minute, item in enumerate((7, 8, 9))
)


def invoke(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture()
def raw_diginetica(tmp_path: Path) -> Path:
    path = tmp_path / "train-item-views.csv"
    path.write_text(DIGINETICA)
    return path


def test_prepare_diginetica_prints_table_and_json(raw_diginetica: Path, tmp_path: Path) -> None:
    out = tmp_path / "data" / "diginetica"
    result = invoke("data", "prepare", "diginetica", "--raw", str(raw_diginetica), "--out", str(out), "--json")
    stats = json.loads(result.stdout)["diginetica"]
    assert stats["train_sessions"] == 4 and stats["train_examples"] == 8
    assert stats["test_sessions"] == 1 and stats["test_examples"] == 2 and stats["items"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["all_train_seq.txt", "item_map.tsv", "session_times.npy",
                                                     "stats.json", "test.txt", "train.txt"]
    assert "sbrzoo train --model srgnn" in result.stderr
    table = invoke("data", "prepare", "diginetica", "--raw", str(raw_diginetica), "--out", str(out), "--overwrite")
    for text in ("Prepared from train-item-views.csv", "diginetica", "split at 2016-05-05T00:00:00"):
        assert text in table.stdout
    lines = table.stdout.splitlines()  # two-line headers stay in their columns in a pipe
    rule = next(i for i, line in enumerate(lines) if set(line) <= {"-", " "} and line)
    assert rule == 3 and lines[1].split() == ["dataset", "train", "train", "test", "test", "clicks", "items", "length"]
    assert all(len(line) <= len(lines[rule]) for line in lines[1:rule + 2])
    assert lines[rule + 1].split()[0] == "diginetica"


def test_prepare_yoochoose_fractions(tmp_path: Path) -> None:
    raw = tmp_path / "yoochoose-clicks.dat"
    raw.write_text(YOOCHOOSE)
    result = invoke("data", "prepare", "yoochoose", "--raw", str(raw), "--out", str(tmp_path / "data"),
                    "--fraction", "4", "--fraction", "2")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["yoochoose1_2", "yoochoose1_4"]
    assert "yoochoose1_4" in result.stdout and "yoochoose1_2" in result.stdout
    assert json.loads((tmp_path / "data" / "yoochoose1_2" / "stats.json").read_text())["train_examples"] == 4


def test_prepare_errors(raw_diginetica: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Yoochoose option"):
        CliRunner().invoke(cli, ["data", "prepare", "diginetica", "--raw", str(raw_diginetica), "--out",
                                 str(tmp_path / "o"), "--fraction", "4"], catch_exceptions=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(DIGINETICA.replace("2016-05-12", "12/05/2016"))
    with pytest.raises(DataError, match=r"bad\.csv, line 14: eventdate '12/05/2016' is not a date"):
        CliRunner().invoke(cli, ["data", "prepare", "diginetica", "--raw", str(bad), "--out", str(tmp_path / "o")],
                           catch_exceptions=False)
    assert not (tmp_path / "o").exists()


def test_user_errors_exit_1_with_one_line(raw_diginetica: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.dat"
    empty.write_text("")
    monkeypatch.setattr(sys, "argv", ["sbrzoo", "data", "prepare", "yoochoose", "--raw", str(empty), "--out",
                                      str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    assert capsys.readouterr().err.strip() == f"Error: {empty}, line 1: empty file (expected " \
                                              "session,timestamp,item,category rows)"
    (tmp_path / "afile").write_text("")  # output folders below a file: refused before any reading
    for args, option in ((["prepare", "diginetica", "--raw", str(raw_diginetica), "--out"], "--out"),
                         (["download", "diginetica", "--cache-dir"], "--cache-dir")):
        monkeypatch.setattr(sys, "argv", ["sbrzoo", "data", *args, str(tmp_path / "afile" / "sub")])
        with pytest.raises(SystemExit) as exit_:
            main()
        assert exit_.value.code == 1
        assert capsys.readouterr().err.strip() == (f"Error: {option} {tmp_path / 'afile' / 'sub'}: "
                                                  f"{tmp_path / 'afile'} is a file, not a folder")


@pytest.fixture()
def mirror(shared_datasets: Path) -> Iterator[str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(shared_datasets)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_download_prints_the_folder(mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    result = invoke("data", "download", "yoochoose1_64", "--mirror", mirror)
    assert result.stdout.strip() == str(tmp_path / "cache" / "yoochoose1_64")
    assert "verified (downloaded)" in result.stderr
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:9")  # unused: everything is cached
    again = invoke("data", "download", "yoochoose1_64", "--cache-dir", str(tmp_path / "cache"))
    assert "verified (cached)" in again.stderr


def test_a_download_is_found_by_its_name(mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sbrzoo data download NAME`, then `--dataset NAME` finds it, and `sbrzoo datasets` lists it."""
    from sbrzoo.data.registry import load_dataset
    from sbrzoo.paths import DATA_DIR_ENV

    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    result = invoke("data", "download", "yoochoose1_64", "--mirror", mirror)
    assert "Next: sbrzoo train --model srgnn --dataset yoochoose1_64\n" in result.stderr  # no --data-dir
    statuses = {s["name"]: s for s in json.loads(invoke("datasets", "--json").stdout)}
    assert statuses["yoochoose1_64"]["present"]
    assert statuses["yoochoose1_64"]["path"] == str(tmp_path / "cache" / "yoochoose1_64")
    assert len(load_dataset("yoochoose1_64", valid_split="none").test) == 55_898
    # Elsewhere than the cache --dataset looks in, the hint keeps --data-dir.
    other = invoke("data", "download", "yoochoose1_64", "--mirror", mirror, "--cache-dir", str(tmp_path / "o"))
    assert f"--dataset yoochoose1_64 --data-dir {tmp_path / 'o' / 'yoochoose1_64'}" in other.stderr


def test_three_commands_from_raw_log_to_trained_model(shared_datasets: Path, tmp_path: Path) -> None:
    """README path on the Diginetica sample: prepare, list, train (popularity baseline, seconds)."""
    raw = shared_datasets / "raw-samples" / "diginetica-sample_train-item-views.csv"
    if not raw.is_file():
        pytest.skip(f"raw sample {raw} not found")
    out = tmp_path / "diginetica"
    invoke("data", "prepare", "diginetica", "--raw", str(raw), "--out", str(out))
    run = tmp_path / "run"
    result = invoke("train", "--model", "pop", "--data-dir", str(out), "--out", str(run), "--json")
    summary = json.loads(result.stdout)
    metrics = summary["metrics"] if "metrics" in summary else summary["test"]  # run-metrics schema
    assert summary["run"] == str(run) and 0 < metrics["HR@20"] <= 100
