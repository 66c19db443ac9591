"""Data fingerprints: file hashes and counts, and the differences between two of them."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import pytest

from sbrzoo.data.fingerprint import compare_fingerprints, data_fingerprint
from sbrzoo.data.registry import load_dataset
from sbrzoo.errors import DataError

SESSIONS = [[1, 2, 3], [4, 5], [2, 6, 7, 8], [3, 1], [5, 5, 9]]
TEST = ([[1], [4, 2], [2, 6], [5]], [2, 9, 7, 5])


def make_folder(folder: Path, test: object = TEST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps(SESSIONS))
    (folder / "test.txt").write_bytes(pickle.dumps(test))
    return folder


def test_fingerprint_lists_files_and_counts(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d")
    dataset = load_dataset(data_dir=folder, valid_fraction=0.4)
    fingerprint = data_fingerprint(dataset)
    assert json.loads(json.dumps(fingerprint)) == fingerprint  # fits in a JSON run record
    assert fingerprint["files"] == [
        {"name": name, "size": (folder / name).stat().st_size,
         "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}
        for name in ("all_train_seq.txt", "test.txt")]
    assert (fingerprint["train_examples"], fingerprint["valid_examples"], fingerprint["test_examples"],
            fingerprint["num_items"]) == (6, 3, 4, 9)
    assert fingerprint["valid_split"] == "last_sessions" and fingerprint["name"] == "d"
    assert compare_fingerprints(fingerprint, data_fingerprint(load_dataset(data_dir=folder,
                                                                           valid_fraction=0.4))) == []


def test_a_moved_folder_matches(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d")
    saved = data_fingerprint(load_dataset(data_dir=folder))
    moved = shutil.copytree(folder, tmp_path / "elsewhere" / "d")
    assert compare_fingerprints(saved, data_fingerprint(load_dataset(data_dir=moved))) == []


def test_a_cut_test_file_is_reported(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d")
    saved = data_fingerprint(load_dataset(data_dir=folder))
    old_size = (folder / "test.txt").stat().st_size
    (folder / "test.txt").write_bytes(pickle.dumps(([[1]], [2])))  # a third of the test set, or less
    new_size = (folder / "test.txt").stat().st_size
    differences = compare_fingerprints(saved, data_fingerprint(load_dataset(data_dir=folder)))
    assert differences == [f"test.txt: sha256 differs (size {old_size:,} -> {new_size:,} bytes)",
                           "test examples: 4 -> 1"]
    assert all("\n" not in line for line in differences)


def test_same_size_other_content_and_other_files(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d")
    saved = data_fingerprint(load_dataset(data_dir=folder, valid_split="none"))
    (folder / "test.txt").write_bytes(pickle.dumps(([[1], [4, 2], [2, 6], [5]], [3, 9, 7, 5])))
    assert compare_fingerprints(saved, data_fingerprint(load_dataset(data_dir=folder, valid_split="none"))) == [
        "test.txt: sha256 differs (same size)"]
    other = tmp_path / "t"
    other.mkdir()
    (other / "train.txt").write_bytes(pickle.dumps(([[1, 2], [1]], [3, 2])))
    shutil.copy(folder / "test.txt", other / "test.txt")
    differences = compare_fingerprints(saved, data_fingerprint(load_dataset(data_dir=other, valid_split="none")))
    assert differences[:3] == ["all_train_seq.txt: read before, not now", "test.txt: sha256 differs (same size)",
                               "train.txt: read now, not before"]
    assert "train examples: 9 -> 2" in differences and not any(d.startswith("items:") for d in differences)


def test_split_and_generated_data(tmp_path: Path) -> None:
    synthetic = data_fingerprint(load_dataset("synthetic", valid_split="none"))
    assert synthetic["files"] == [] and "seed" in synthetic["source"]
    assert compare_fingerprints(synthetic, data_fingerprint(load_dataset("synthetic", valid_split="none"))) == []
    changed = {**synthetic, "source": "SyntheticConfig(seed=1)"}
    assert compare_fingerprints(changed, synthetic)[0].startswith("generated data: SyntheticConfig(seed=1) -> ")
    random = data_fingerprint(load_dataset("synthetic", valid_split="random"))
    assert compare_fingerprints(synthetic, random)[0] == "validation split: none -> random"


def test_older_or_partial_records_are_compared_on_what_they_hold(tmp_path: Path) -> None:
    current = data_fingerprint(load_dataset(data_dir=make_folder(tmp_path / "d")))
    assert compare_fingerprints({"test_examples": 4}, current) == []
    assert compare_fingerprints({"files": "junk", "num_items": 10}, current)[-1] == "items: 10 -> 9"


def test_an_unreadable_source_file_is_a_data_error(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d")
    dataset = load_dataset(data_dir=folder)
    (folder / "test.txt").unlink()
    with pytest.raises(DataError, match=r"test\.txt: cannot read to fingerprint it"):
        data_fingerprint(dataset)
