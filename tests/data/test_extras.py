"""Side files of `sbrzoo data prepare` (item map, session times) and the modes of written files."""

from __future__ import annotations

import calendar
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sbrzoo.data.extras import (
    ITEM_MAP_FILE,
    SESSION_TIMES_FILE,
    load_item_map,
    load_session_times,
    write_item_map,
    write_session_times,
)
from sbrzoo.data.pickles import atomic_write_bytes, atomic_writer, current_umask
from sbrzoo.data.prepare import prepare
from sbrzoo.data.sources import read_sessions
from sbrzoo.errors import ConfigError, DataError

# Diginetica: item "20" is first seen in the date-sorted train, then "30", then "10" (ids 1, 2, 3).
DIGINETICA = """\
sessionId;userId;itemId;timeframe;eventdate
1;NA;10;300;2016-05-01
1;NA;20;100;2016-05-01
1;NA;30;200;2016-05-01
2;NA;10;5;2016-05-02
2;NA;20;7;2016-05-02
4;NA;30;1;2016-05-01
4;NA;10;2;2016-05-01
4;NA;20;3;2016-05-01
6;NA;20;1;2016-05-16
6;NA;10;3;2016-05-16
6;NA;30;4;2016-05-16
7;NA;10;1;2016-05-16
7;NA;20;2;2016-05-16
7;NA;30;3;2016-05-16
8;NA;20;1;2016-05-15
8;NA;30;2;2016-05-15
"""
# Yoochoose (raw ids ~2e8, each clicked 5 times): sessions 12 (04-02 09:02: B, A, C) and 11
# (04-02 12:00: A, B, C) train, so B, A, C become 1, 2, 3; 15, 16 and 17 are test sessions.
YOOCHOOSE = """\
11,2014-04-01T10:00:00.000Z,214536502,0
11,2014-04-01T10:05:00.000Z,214536500,0
12,2014-04-02T09:00:00.000Z,214536500,0
12,2014-04-02T09:01:00.000Z,214536502,0
12,2014-04-02T09:02:00.000Z,214577561,0
11,2014-04-02T12:00:00.123Z,214577561,0
15,2014-04-03T20:00:00.000Z,214536502,0
15,2014-04-03T20:02:00.000Z,214536500,0
15,2014-04-03T20:03:00.000Z,214577561,0
16,2014-04-03T20:03:00.000Z,214577561,0
16,2014-04-03T20:03:00.000Z,214577561,0
17,2014-04-03T19:00:00.000Z,214536502,0
17,2014-04-03T19:01:00.000Z,214536500,0
17,2014-04-03T19:02:00.000Z,214536502,0
17,2014-04-03T19:03:00.000Z,214536500,0
"""


@pytest.fixture()
def umask() -> Iterator[callable]:
    """Set the process umask for one test, restoring it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_diginetica_prepare_writes_the_item_map_and_session_times(tmp_path: Path) -> None:
    raw = tmp_path / "train-item-views.csv"
    raw.write_text(DIGINETICA)
    out = tmp_path / "out"
    prepare("diginetica", raw, out)
    assert (out / ITEM_MAP_FILE).read_text() == "sbrzoo_id\traw_item_id\n1\t20\n2\t30\n3\t10\n"
    item_map = load_item_map(out)
    assert item_map is not None and item_map.dtype == np.int64
    assert item_map.tolist() == [0, 20, 30, 10]
    sessions = read_sessions(out / "all_train_seq.txt")
    assert [item_map[sessions.session(s)].tolist() for s in range(len(sessions))] == [
        [20, 30, 10], [30, 10, 20], [10, 20]]  # recommendations map back to the raw ids
    day = calendar.timegm((2016, 5, 1, 0, 0, 0))
    times = load_session_times(out, num_sessions=len(sessions))
    assert times is not None and times.dtype == np.int64
    assert times.tolist() == [day, day, day + 86_400]  # sessions 1 and 4 on 05-01, 2 on 05-02


def test_yoochoose_fractions_get_the_full_map_and_their_own_session_times(tmp_path: Path) -> None:
    raw = tmp_path / "yoochoose-clicks.dat"
    raw.write_text(YOOCHOOSE)
    prepare("yoochoose", raw, tmp_path / "out", fractions=[2, 4])
    stamp = calendar.timegm((2014, 4, 2, 9, 2, 0)), calendar.timegm((2014, 4, 2, 12, 0, 0))
    for name in ("yoochoose1_2", "yoochoose1_4"):
        folder = tmp_path / "out" / name
        item_map = load_item_map(folder)
        assert item_map is not None and item_map.tolist() == [0, 214536500, 214536502, 214577561]
        sessions = read_sessions(folder / "all_train_seq.txt")
        times = load_session_times(folder, num_sessions=len(sessions))
        assert times is not None and times.tolist() == list(stamp[-len(sessions):])
    assert len(read_sessions(tmp_path / "out" / "yoochoose1_4" / "all_train_seq.txt")) == 1


def test_loaders_return_none_without_the_files(tmp_path: Path) -> None:
    assert load_item_map(tmp_path) is None and load_session_times(tmp_path) is None


def test_string_ids_and_awkward_characters_round_trip(tmp_path: Path) -> None:
    raw = np.array(["a-1", "007", "tab\there", 'quote"d', "üñí"], dtype=object)
    write_item_map(tmp_path, raw)
    item_map = load_item_map(tmp_path, num_items=5)
    assert item_map is not None and item_map.tolist() == ["", *raw.tolist()]
    write_item_map(tmp_path, np.array([5, -3, 2**40]))
    assert load_item_map(tmp_path).tolist() == [0, 5, -3, 2**40]


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "line 1: expected the header 'sbrzoo_id\\traw_item_id', found nothing"),
    (b"id,raw\n1,2\n", "line 1: expected the header"),
    (b"sbrzoo_id\traw_item_id\n1\t5\n3\t6\n", "line 3: expected sbrzoo id 2, found '3'"),
    (b"sbrzoo_id\traw_item_id\n1\t5\t6\n", "line 2: expected 2 tab-separated fields"),
    (b"sbrzoo_id\traw_item_id\n1\t\xff\n", "not UTF-8 text"),
    (b"sbrzoo_id\traw_item_id\n1\t5\n", "maps ids 1..1 but the dataset has items 1..2"),
])
def test_malformed_item_map(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / ITEM_MAP_FILE).write_bytes(content)
    with pytest.raises(DataError) as error:
        load_item_map(tmp_path, num_items=2)
    assert problem in str(error.value) and "\n" not in str(error.value)
    assert str(tmp_path / ITEM_MAP_FILE) in str(error.value)


def test_session_times_refuse_pickles_and_wrong_shapes(tmp_path: Path) -> None:
    path = tmp_path / SESSION_TIMES_FILE
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a plain numpy array"):
        load_session_times(tmp_path)
    np.save(path, np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(DataError, match="one-dimensional integer array, found a int64 array of shape"):
        load_session_times(tmp_path)
    np.save(path, np.zeros(3, dtype=np.float64))
    with pytest.raises(DataError, match="integer array"):
        load_session_times(tmp_path)
    path.write_bytes(b"not numpy")
    with pytest.raises(DataError, match="not a plain numpy array"):
        load_session_times(tmp_path)
    write_session_times(tmp_path, np.arange(3))
    with pytest.raises(DataError, match="3 session times for 4 training sessions"):
        load_session_times(tmp_path, num_sessions=4)
    assert load_session_times(tmp_path, num_sessions=3).tolist() == [0, 1, 2]


def test_atomic_write_respects_the_umask(tmp_path: Path, umask: callable) -> None:
    umask(0o022)
    assert current_umask() == 0o022
    atomic_write_bytes(tmp_path / "shared.json", b"{}")
    assert mode(tmp_path / "shared.json") == 0o644  # mkstemp alone would leave 0600
    umask(0o077)
    assert current_umask() == 0o077
    atomic_write_bytes(tmp_path / "private.json", b"{}")
    assert mode(tmp_path / "private.json") == 0o600
    umask(0o002)
    atomic_write_bytes(tmp_path / "shared.json", b"[]")  # replacing a file: the new mode too
    assert mode(tmp_path / "shared.json") == 0o664 and (tmp_path / "shared.json").read_bytes() == b"[]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.json", "shared.json"]


def test_a_failed_atomic_write_leaves_no_file_and_no_folder_made_for_it(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError, match="mid-write"), atomic_writer(tmp_path / "kept" / "new" / "deeper" / "x.txt",
                                                                       "w") as handle:
        handle.write("half")
        raise RuntimeError("mid-write")
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")] == ["kept"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"file/sub/x.txt: cannot write \(.*/file is a file, not a folder\)$"):
        atomic_write_bytes(tmp_path / "file" / "sub" / "x.txt", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "kept"]


@pytest.mark.parametrize(("mask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_prepared_files_and_folder_follow_the_umask(tmp_path: Path, umask: callable, mask: int,
                                                    file_mode: int, folder_mode: int) -> None:
    raw = tmp_path / "train-item-views.csv"
    raw.write_text(DIGINETICA)
    umask(mask)
    out = tmp_path / "out"
    prepare("diginetica", raw, out)
    assert mode(out) == folder_mode
    files = sorted(out.iterdir())
    assert {p.name for p in files} >= {ITEM_MAP_FILE, SESSION_TIMES_FILE, "test.txt", "stats.json"}
    assert {p.name: mode(p) for p in files} == {p.name: file_mode for p in files}


def test_overwrite_replaces_a_folder_holding_the_side_files(tmp_path: Path) -> None:
    raw = tmp_path / "train-item-views.csv"
    raw.write_text(DIGINETICA)
    prepare("diginetica", raw, tmp_path / "out")
    prepare("diginetica", raw, tmp_path / "out", overwrite=True)  # item_map.tsv is ours, not foreign
    assert load_item_map(tmp_path / "out") is not None
