"""Loading refuses, with one line, data that would make training impossible or meaningless.

Item ids far above the number of items (raw ids; one id of 10⁹ would make a 400 GB embedding), an
empty test set, no training example, and a validation split that leaves one side empty: each is a
:class:`DataError` from ``load_dataset``, before any model is built.
"""

from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path

import pytest

from sbrzoo.data.registry import MAX_ID_RATIO, MAX_ID_SLACK, load_dataset
from sbrzoo.errors import DataError

SESSIONS = [[1, 2, 3], [4, 5], [2, 6, 7, 8], [3, 1], [5, 5, 9]]
TEST = ([[1], [4, 2]], [2, 9])


def make_folder(folder: Path, sessions: object = SESSIONS, test: object = TEST, *,
                train_file: str = "all_train_seq.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / train_file).write_bytes(pickle.dumps(sessions))
    (folder / "test.txt").write_bytes(pickle.dumps(test))
    return folder


def one_line_error(folder: Path, **options: object) -> str:
    with pytest.raises(DataError) as error:
        load_dataset(data_dir=folder, **options)
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("where", ["train", "test"])
def test_one_huge_item_id_is_refused_at_load(tmp_path: Path, where: str) -> None:
    sessions = [*SESSIONS, [3, 10**9]] if where == "train" else SESSIONS
    test = TEST if where == "train" else ([[1], [4, 10**9]], [2, 9])
    folder = make_folder(tmp_path / "d", sessions, test)
    tracemalloc.start()  # refused from the ids, without an embedding-sized allocation for id 10**9
    message = one_line_error(folder)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20
    file = "all_train_seq.txt" if where == "train" else "test.txt"
    assert message.startswith(str((folder / file).resolve()))
    assert "item id 1,000,000,000 but only 10 distinct items" in message
    assert "ids must be 1..N" in message and "sbrzoo data prepare" in message


def test_raw_yoochoose_like_ids_are_refused(tmp_path: Path) -> None:
    base = 214_500_000  # raw Yoochoose item ids are ~2·10⁸
    sessions = [[base + 3 * s + k for k in range(3)] for s in range(50)]
    folder = make_folder(tmp_path / "d", sessions, ([[base]], [base + 1]))
    assert "but only 150 distinct items" in one_line_error(folder, valid_split="none")


def test_sparse_ids_of_a_yoochoose_fraction_still_load(tmp_path: Path) -> None:
    # A 1/k fraction keeps the ids of the full train set: few distinct items, ids up to ~37k.
    sessions = [[1, 37_483], [2, 20_000], [3, 4]]
    dataset = load_dataset(data_dir=make_folder(tmp_path / "d", sessions), valid_split="none")
    assert dataset.num_items == 37_483
    # At the boundary: largest id = ratio x distinct + slack passes, one more fails.
    distinct = 4  # ids 1, 2, 3 and the largest
    largest = MAX_ID_RATIO * distinct + MAX_ID_SLACK
    ok = make_folder(tmp_path / "ok", [[1, 2], [3, largest]], ([[1]], [2]))
    assert load_dataset(data_dir=ok, valid_split="none").num_items == largest
    bad = make_folder(tmp_path / "bad", [[1, 2], [3, largest + 1]], ([[1]], [2]))
    assert "ids must be 1..N" in one_line_error(bad, valid_split="none")


def test_id_zero_says_ids_are_1_to_n(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", [[1, 2], [0, 3]])
    assert "has item id 0; ids start at 1 (ids must be 1..N" in one_line_error(folder)


def test_empty_test_set_is_refused(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", test=([], []))
    message = one_line_error(folder)
    assert message.startswith(str((folder / "test.txt").resolve()))
    assert "no test examples" in message


@pytest.mark.parametrize("sessions", [[], [[1], [2], [3]]])
def test_no_training_examples_is_refused(tmp_path: Path, sessions: list) -> None:
    folder = make_folder(tmp_path / "d", sessions)
    for split in ("last_sessions", "random", "none"):
        message = one_line_error(folder, valid_split=split)
        assert "all_train_seq.txt: no training examples" in message


def test_empty_train_txt_is_refused(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", ([], []), train_file="train.txt")
    assert "train.txt: no training examples" in one_line_error(folder, valid_split="none")


def test_validation_fraction_leaving_no_validation_example(tmp_path: Path) -> None:
    # 20 examples; the random split holds out round(20 x 0.01) = 0 of them.
    folder = make_folder(tmp_path / "d", [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]] * 2)
    message = one_line_error(folder, valid_split="random", valid_fraction=0.01)
    assert "valid_fraction 0.01" in message and "no validation example" in message
    assert "--valid-fraction" in message and "--valid-split none" in message
    # last_sessions: the held-out last session has one click, so no example.
    folder = make_folder(tmp_path / "e", [[1, 2, 3], [4]])
    assert "no validation example" in one_line_error(folder, valid_fraction=0.5)


def test_validation_fraction_leaving_no_training_example(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", [[1], [2, 3, 4]])  # the first session trains: 1 click
    message = one_line_error(folder, valid_fraction=0.5)
    assert "no training example" in message and "lower it" in message
    folder = make_folder(tmp_path / "e", [[1, 2]])  # one example: random 0.9 -> round(0.1) = 0
    assert "no training example" in one_line_error(folder, valid_split="random", valid_fraction=0.9)


def test_a_single_session_cannot_be_split_by_session(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d", [[1, 2, 3]])
    assert "--valid-split" in one_line_error(folder)
    assert len(load_dataset(data_dir=folder, valid_split="none").train) == 2
