"""SR-GNN folder reader: safe loading, one DataError per malformed file, session recovery."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from sbrzoo.data.examples import Examples
from sbrzoo.data.sources import (
    SESSIONS_FILE,
    TEST_FILE,
    TRAIN_FILE,
    Sessions,
    read_examples,
    read_folder,
    read_sessions,
    sessions_from_examples,
)
from sbrzoo.errors import DataError

SESSIONS = [[1, 2, 3], [4, 5], [2, 2, 6, 7], [8], [3, 1]]
TEST = ([[1], [1, 2], [5, 4, 5]], [2, 3, 9])


def write(path: Path, obj: object) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def make_folder(root: Path, sessions: object = SESSIONS, test: object = TEST) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write(root / SESSIONS_FILE, sessions)
    write(root / TEST_FILE, test)
    return root


def assert_examples_equal(a: Examples, b: Examples) -> None:
    for field in ("items", "offsets", "targets"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def random_sessions(seed: int, count: int = 200) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(1, 30, size=rng.integers(1, 9)).tolist() for _ in range(count)]


def test_reads_a_folder(tmp_path: Path) -> None:
    data = read_folder(make_folder(tmp_path))
    assert isinstance(data.train, Sessions) and data.train_file.name == SESSIONS_FILE
    assert [data.train.session(i) for i in range(len(data.train))] == SESSIONS
    assert [data.test.prefix(i) for i in range(3)] == TEST[0]
    assert data.test.targets.tolist() == TEST[1] and data.test.items.dtype == np.int64


@pytest.mark.parametrize("seed", [0, 1])
def test_vectorised_augment_matches_the_reference_order(seed: int) -> None:
    sessions = random_sessions(seed)
    assert_examples_equal(Sessions.from_lists(sessions).augment(), Examples.augment(sessions))
    assert Sessions.from_lists(sessions).num_examples == len(Examples.augment(sessions))


class RunsCode:
    """Pickles to a call of ``os.system`` that would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("file", [SESSIONS_FILE, TEST_FILE])
def test_a_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path: Path, file: str) -> None:
    marker = tmp_path / "pwned"
    folder = make_folder(tmp_path / "data")
    payload = [[1, 2], RunsCode(marker)] if file == SESSIONS_FILE else ([[1]], [RunsCode(marker)])
    write(folder / file, payload)
    with pytest.raises(DataError, match=f"{folder / file}.*refused to load global"):
        read_folder(folder)
    assert not marker.exists()


MALFORMED = {
    "empty file": (TEST_FILE, b"", "corrupt pickle"),
    "truncated": (TEST_FILE, pickle.dumps(TEST)[:-7], "corrupt pickle|truncated"),
    "not a pickle": (TEST_FILE, b"1,2,3\n4,5\n", "pickle"),
    "test not a pair": (TEST_FILE, [[1], [2], [3]], "expected a pair.*a list of length 3"),
    "test a dict": (TEST_FILE, {"a": 1}, "expected a pair.*dict"),
    "prefixes not a list": (TEST_FILE, (5, [1]), "expected a list of examples, got an int"),
    "prefix not a list": (TEST_FILE, ([[1], 7], [2, 3]), "example 1 is an int"),
    "float id": (TEST_FILE, ([[1], [2.0]], [2, 3]), r"example 1 has item id 2\.0 \(float\)"),
    "str id": (TEST_FILE, ([[1], ["3"]], [2, 3]), "example 1 has item id '3' \\(str\\)"),
    "bool id": (TEST_FILE, ([[True]], [2]), r"example 0 has item id True \(bool\)"),
    "huge id": (TEST_FILE, ([[2**70]], [2]), "example 0 has item id .* too large"),
    "id 0 in prefix": (TEST_FILE, ([[1]] * 17 + [[4, 0]], [2] * 18),
                       "example 17 has item id 0; ids start at 1"),
    "negative target": (TEST_FILE, ([[1], [2]], [2, -3]),
                        "target of example 1 has item id -3; ids start at 1"),
    "target None": (TEST_FILE, ([[1]], [None]), "target of example 0 has item id None"),
    "targets not a list": (TEST_FILE, ([[1]], 2), "expected a list of targets"),
    "empty prefix": (TEST_FILE, ([[1], []], [2, 3]), "prefix of example 1 is empty"),
    "count mismatch": (TEST_FILE, ([[1], [2]], [2, 3, 4]), "2 prefixes but 3 targets"),
    "sessions a tuple of ints": (SESSIONS_FILE, (1, 2), "session 0 is an int"),
    "sessions a str": (SESSIONS_FILE, "abc", "expected a list of sessions, got a str"),
    "empty session": (SESSIONS_FILE, [[1, 2], []], "session 1 is empty"),
    "id 0 in session": (SESSIONS_FILE, [[1, 2], [3, 4], [5, 0, 6]],
                        "session 2 has item id 0; ids start at 1"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_give_one_data_error_naming_the_file(tmp_path: Path, case: str) -> None:
    file, content, message = MALFORMED[case]
    folder = make_folder(tmp_path)
    path = folder / file
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write(path, content)
    with pytest.raises(DataError, match=message) as error:
        read_folder(folder)
    assert str(error.value).startswith(f"{path}: ")


def test_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="folder not found"):
        read_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=f"{tmp_path / 'empty'}: expected test.txt and "):
        read_folder(tmp_path / "empty")
    write(tmp_path / "empty" / TEST_FILE, TEST)
    with pytest.raises(DataError, match="all_train_seq.txt"):
        read_folder(tmp_path / "empty")


def test_reader_accepts_the_file_functions_directly(tmp_path: Path) -> None:
    assert len(read_sessions(write(tmp_path / "s.pkl", SESSIONS))) == len(SESSIONS)
    assert len(read_examples(write(tmp_path / "e.pkl", TEST))) == 3


def write_train_only(folder: Path, examples: Examples) -> Path:
    folder.mkdir()
    prefixes = [examples.prefix(i) for i in range(len(examples))]
    write(folder / TRAIN_FILE, (prefixes, examples.targets.tolist()))
    write(folder / TEST_FILE, TEST)
    return folder


def test_train_txt_only_recovers_the_sessions(tmp_path: Path) -> None:
    sessions = [s for s in random_sessions(3) if len(s) >= 2]
    folder = write_train_only(tmp_path / "d", Examples.augment(sessions))
    data = read_folder(folder)
    assert data.train_file.name == TRAIN_FILE and isinstance(data.train, Sessions)
    assert [data.train.session(i) for i in range(len(data.train))] == sessions


def test_shuffled_train_txt_stays_examples_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("sbrzoo"), "propagate", True)
    examples = Examples.augment([s for s in random_sessions(4) if len(s) >= 2])
    shuffled = examples.subset(np.random.default_rng(0).permutation(len(examples)))
    with caplog.at_level(logging.WARNING, logger="sbrzoo"):
        data = read_folder(write_train_only(tmp_path / "d", shuffled))
    assert isinstance(data.train, Examples) and len(data.train) == len(examples)
    assert "cannot be recovered" in caplog.text


def test_both_train_files_prefer_whole_sessions(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write(folder / TRAIN_FILE, ([[9]], [9]))
    assert read_folder(folder).train_file.name == SESSIONS_FILE


@pytest.mark.parametrize(
    "prefixes, targets",
    [
        ([[1, 2], [1]], [3, 5]),  # target of the shorter prefix differs from the session
        ([[1, 2], [7]], [3, 2]),  # prefix content differs
        ([[1, 2, 3], [1]], [4, 2]),  # lengths skip one
        ([[1, 2]], [3]),  # run does not end at length 1
    ],
)
def test_session_recovery_rejects_broken_runs(prefixes: list, targets: list) -> None:
    assert sessions_from_examples(Examples.from_lists(prefixes, targets)) is None


def test_session_recovery_of_an_empty_file() -> None:
    assert len(sessions_from_examples(Examples.from_lists([], []))) == 0


def test_examples_in_augmentation_order_are_regrouped_by_session() -> None:
    assert Examples.augment([[1, 2, 3, 4], [5, 6], [7, 8, 9]]).sessions().tolist() == [0, 0, 0, 1, 2, 2]
    # not SR-GNN's order: a prefix that is not the one before without its last click, a target that is
    # not that click, a session without its one-click prefix
    for prefixes, targets in (([[1, 2], [5]], [3, 2]), ([[1, 2], [1]], [3, 9]), ([[1, 2]], [3])):
        assert Examples.from_lists(prefixes, targets).sessions() is None
