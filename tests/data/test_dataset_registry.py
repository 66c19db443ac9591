"""Dataset registry: names, load_dataset on synthetic / folders / real data, status for the CLI."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.download import CACHE_DIR_ENV
from sbrzoo.data.registry import (
    dataset_status,
    find_dataset_folder,
    get_dataset_info,
    list_datasets,
    load_dataset,
)
from sbrzoo.data.sources import read_sessions
from sbrzoo.errors import ConfigError, DataError, UnknownNameError
from sbrzoo.paths import DATA_DIR_ENV

SESSIONS = [[1, 2, 3], [4, 5], [2, 6, 7, 8], [3, 1], [5, 5, 9]]
TEST = ([[1], [4, 2]], [2, 12])  # id 12 occurs only in the test file


def make_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "all_train_seq.txt").write_bytes(pickle.dumps(SESSIONS))
    (folder / "test.txt").write_bytes(pickle.dumps(TEST))
    return folder


def test_registered_names() -> None:
    assert [info.name for info in list_datasets()] == [
        "diginetica", "synthetic", "yoochoose1_4", "yoochoose1_64"]
    assert get_dataset_info("diginetica").expected() == {
        "train_sessions": 186_670, "train_examples": 719_470, "test_examples": 60_858,
        "num_items": 43_097}


def test_unknown_name_suggests_and_points_to_the_listing() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'digenetica'; did you mean "
                                               r"'diginetica'\? \(see: sbrzoo datasets\)"):
        load_dataset("digenetica")


def test_default_is_synthetic() -> None:
    dataset = load_dataset()
    assert isinstance(dataset, SessionDataset) and dataset.name == "synthetic"
    assert dataset.source.startswith("synthetic(seed=0, num_items=1000")
    assert dataset.valid_split == "last_sessions" and dataset.valid is not None
    assert len(dataset.train) + len(dataset.valid) == 46_005
    assert dataset.num_items == max(dataset.train.max_item(), dataset.test.max_item())
    assert load_dataset("synthetic", seed=5, valid_split="none").num_items == dataset.num_items


def test_data_dir_names_the_dataset_after_the_folder(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "shop")
    dataset = load_dataset(data_dir=folder, valid_split="none")
    assert dataset.name == "shop" and dataset.source == str(folder.resolve())
    assert len(dataset.train) == sum(len(s) - 1 for s in SESSIONS) and dataset.valid is None
    assert dataset.num_items == 12  # the largest id over train and test
    assert load_dataset("label", data_dir=folder).name == "label"


def test_last_sessions_split_through_load_dataset(tmp_path: Path) -> None:
    dataset = load_dataset(data_dir=make_folder(tmp_path / "d"), valid_fraction=0.4)
    assert dataset.valid is not None
    assert sorted(dataset.valid.targets.tolist()) == [1, 5, 9]  # the last two sessions
    assert len(dataset.train) == 2 + 1 + 3


def test_bad_split_settings_fail_before_reading(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="validation split"):
        load_dataset(data_dir=tmp_path / "missing", valid_split="randum")
    with pytest.raises(ConfigError, match="valid_fraction"):
        load_dataset(valid_fraction=1.5)


@pytest.fixture(autouse=True)
def empty_download_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A download cache of this test only (the user's ~/.cache must not change the outcome)."""
    cache = tmp_path / "download-cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(cache))
    return cache


def test_missing_registered_folder_says_where_and_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_download_cache: Path
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError) as error:
        load_dataset("yoochoose1_64")
    message = str(error.value)
    assert str(tmp_path / "yoochoose1_64") in message and DATA_DIR_ENV in message
    assert str(empty_download_cache / "yoochoose1_64") in message
    assert "sbrzoo data download yoochoose1_64" in message and "--data-dir" in message
    assert "sbrzoo data prepare yoochoose --raw yoochoose-clicks.dat" in message
    assert "\n" not in message


def test_hints_only_offer_what_is_possible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError) as error:
        load_dataset("yoochoose1_4")  # not in the download registry: only prepare makes it
    message = str(error.value)
    assert "data download" not in message
    assert "sbrzoo data prepare yoochoose --raw yoochoose-clicks.dat --out DIR" in message
    assert "then pass --data-dir DIR/yoochoose1_4" in message
    digi = get_dataset_info("diginetica").how_to_get()
    assert "sbrzoo data download diginetica" in digi
    assert "sbrzoo data prepare diginetica --raw train-item-views.csv --out DIR" in digi
    assert "data download" not in get_dataset_info("yoochoose1_4").how_to_get()


def test_a_downloaded_dataset_is_found_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_download_cache: Path
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))  # holds nothing
    make_folder(empty_download_cache / "diginetica")  # where `sbrzoo data download` puts it
    info = get_dataset_info("diginetica")
    assert find_dataset_folder(info) == empty_download_cache / "diginetica"
    dataset = load_dataset("diginetica", valid_split="none")
    assert dataset.source == str((empty_download_cache / "diginetica").resolve())
    status = dataset_status(info)
    assert status["present"] and status["location"] == "download cache"
    assert status["path"] == str(empty_download_cache / "diginetica") and status["how_to_get"] is None
    # A copy under $SBRZOO_DATA_DIR takes precedence over the cache.
    make_folder(tmp_path / "data" / "diginetica")
    assert find_dataset_folder(info) == tmp_path / "data" / "diginetica"
    assert dataset_status(info)["location"] == "data dir"


def test_loaded_dataset_names_its_files(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "d")
    assert load_dataset(data_dir=folder).files == ((folder / "all_train_seq.txt").resolve(),
                                                   (folder / "test.txt").resolve())
    assert load_dataset("synthetic").files == ()


def test_unexpected_counts_of_a_registered_dataset_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(logging.getLogger("sbrzoo"), "propagate", True)
    make_folder(tmp_path / "diginetica")
    with caplog.at_level(logging.WARNING, logger="sbrzoo"):
        load_dataset("diginetica")
    assert "train_examples is 9, expected 719,470" in caplog.text


def test_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    make_folder(tmp_path / "diginetica")
    present = dataset_status(get_dataset_info("diginetica"))
    assert present["present"] and present["path"] == str(tmp_path / "diginetica")
    assert present["stats"] == {"train_sessions": 5, "train_examples": 9, "test_examples": 2,
                                "num_items": 12, "clicks": 14, "mean_length": 2.8}
    absent = dataset_status(get_dataset_info("yoochoose1_64"))
    assert not absent["present"] and absent["stats"] is None and absent["location"] is None
    assert "sbrzoo data download yoochoose1_64" in absent["how_to_get"]
    assert absent["expected"]["num_items"] == 37_483
    synthetic = dataset_status(get_dataset_info("synthetic"))
    assert synthetic["present"] and synthetic["path"] is None
    assert synthetic["stats"]["train_sessions"] == 12_000


@pytest.mark.real_data
def test_diginetica_figures(shared_datasets: Path) -> None:
    dataset = load_dataset("diginetica", valid_split="none")  # its speed: benchmarks/bench_data.py
    assert (len(dataset.train), len(dataset.test), dataset.num_items) == (719_470, 60_858, 43_097)
    assert dataset.source == str((shared_datasets / "diginetica").resolve())
    assert dataset.train.prefix(0) == [1] and dataset.train.targets[0] == 2  # first session [1, 2]


@pytest.mark.real_data
def test_diginetica_splits(shared_datasets: Path) -> None:
    random = load_dataset("diginetica", valid_split="random", seed=0)
    assert random.valid is not None and (len(random.train), len(random.valid)) == (647_523, 71_947)
    last = load_dataset("diginetica")
    sessions = read_sessions(shared_datasets / "diginetica" / "all_train_seq.txt")
    cut = 186_670 - 18_667  # the last int(10%) of the sessions validate
    assert last.valid is not None and len(last.valid) == sessions.slice(cut, 186_670).num_examples
    assert len(last.train) + len(last.valid) == 719_470
    np.testing.assert_array_equal(last.test.targets, random.test.targets)


@pytest.mark.real_data
def test_yoochoose1_64_figures(shared_datasets: Path) -> None:
    dataset = load_dataset("yoochoose1_64", valid_split="none")
    assert (len(dataset.train), len(dataset.test), dataset.num_items) == (369_859, 55_898, 37_483)


def _prefix_facts(examples) -> tuple[int, int, float]:  # noqa: ANN001 - Examples
    """Longest prefix, most distinct items in one prefix, and the % of examples whose target is in its prefix."""
    owner = np.repeat(np.arange(len(examples)), examples.lengths)  # the example of every click
    width = int(max(examples.items.max(), examples.targets.max())) + 1
    clicks = np.unique(owner * width + examples.items)  # distinct (example, item) pairs
    distinct = np.bincount(clicks // width, minlength=len(examples))
    in_prefix = np.isin(np.arange(len(examples)) * width + examples.targets, clicks)
    return int(examples.lengths.max()), int(distinct.max()), round(100 * in_prefix.mean(), 1)


@pytest.mark.real_data
@pytest.mark.parametrize(("name", "train", "test", "in_prefix"), [
    ("diginetica", (69, 68), (40, 40), 20.5),
    ("yoochoose1_64", (145, 138), (73, 73), 26.6),
])
def test_the_measured_facts_of_docs_models_hold(shared_datasets: Path, name: str, train: tuple, test: tuple,
                                                 in_prefix: float) -> None:
    """docs/MODELS.md §1.5: the longest prefixes, the most distinct items in one prefix, the share of
    test targets already in their prefix; on Yoochoose 1/64, the test targets never seen in training."""
    dataset = load_dataset(name, valid_split="none")
    assert _prefix_facts(dataset.train)[:2] == train
    assert _prefix_facts(dataset.test) == (*test, in_prefix)
    if name == "yoochoose1_64":
        seen = np.union1d(dataset.train.items, dataset.train.targets)
        unseen_target = ~np.isin(dataset.test.targets, seen)
        assert (int(unseen_target.sum()), len(np.unique(dataset.test.targets[unseen_target]))) == (412, 306)
        owner = np.repeat(np.arange(len(dataset.test)), dataset.test.lengths)
        touching = unseen_target.copy()
        touching[owner[~np.isin(dataset.test.items, seen)]] = True
        assert int(touching.sum()) == 1_657
