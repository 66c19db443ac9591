"""Named datasets: the SR-GNN benchmarks (folders under ``data_root()``) and ``synthetic``.

Example:
    >>> dataset = load_dataset("synthetic")  # built in, no download
    >>> dataset = load_dataset("diginetica", valid_split="none")  # $SBRZOO_DATA_DIR/diginetica
    >>> dataset = load_dataset(data_dir=Path("my/folder"))  # any SR-GNN folder, named "folder"

A registered name is looked up in ``data_root()/<name>`` (``$SBRZOO_DATA_DIR``), then in the
download cache ``default_cache_dir()/<name>`` where ``sbrzoo data download <name>`` puts it.
Loading checks what would make training meaningless or impossible before any model is built: an
empty test set, no training example, a validation split leaving one side empty, and item ids far
above the number of distinct items (a model allocates one embedding row per id up to the largest).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.examples import Examples
from sbrzoo.data.sources import SESSIONS_FILE, TEST_FILE, TRAIN_FILE, Sessions, folder_files, read_folder
from sbrzoo.data.splits import check_split, validation_split
from sbrzoo.data.synthetic import SyntheticConfig, generate
from sbrzoo.errors import DataError, unknown_name
from sbrzoo.paths import DATA_DIR_ENV, data_root

__all__ = ["DatasetInfo", "list_datasets", "get_dataset_info", "load_dataset", "dataset_status",
           "find_dataset_folder", "dataset_files", "check_item_ids", "MAX_ID_SLACK", "MAX_ID_RATIO"]

logger = logging.getLogger(__name__)

_SRGNN = "SR-GNN preprocessing (Wu et al., AAAI 2019), https://github.com/CRIPAC-DIG/SR-GNN"
_YOOCHOOSE = f"RecSys Challenge 2015 (YOOCHOOSE); {_SRGNN}"
_YOOCHOOSE_URL = "https://recsys.acm.org/recsys15/challenge/"

#: Largest item id accepted whatever the number of distinct items (a 100k-row embedding is cheap).
MAX_ID_SLACK = 100_000
#: Beyond the slack, ids may reach this many times the number of distinct items: a Yoochoose 1/k
#: fraction keeps the ids of the full train set (yoochoose1_64: ids up to 37,483, 17,745 in use).
MAX_ID_RATIO = 10


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset and what it is expected to contain (None: not known).

    Attributes:
        name: Registry name; for real data also the folder name under ``data_root()``.
        description: One line for listings.
        citation: Provenance: origin of the data and of its preprocessing.
        raw_url: Where the raw click log can be downloaded ("" for generated data).
        generated: True for ``synthetic`` (made by :func:`~sbrzoo.data.synthetic.generate`).
        num_train_sessions: Training sessions (docs/MODELS.md §1.5).
        num_train_examples: Training prefix examples before any validation split.
        num_test_examples: Test examples.
        num_items: Largest item id ``N`` (candidates ``1..N``).
        raw_format: ``sbrzoo data prepare`` format that makes it from a raw log ("": none).
        raw_file: Name of that raw log.
    """

    name: str
    description: str
    citation: str
    raw_url: str = ""
    generated: bool = False
    num_train_sessions: int | None = None
    num_train_examples: int | None = None
    num_test_examples: int | None = None
    num_items: int | None = None
    raw_format: str = ""
    raw_file: str = ""

    def expected(self) -> dict[str, int]:
        """The known statistics, keyed like the ``stats`` of :func:`dataset_status`."""
        stats = {
            "train_sessions": self.num_train_sessions,
            "train_examples": self.num_train_examples,
            "test_examples": self.num_test_examples,
            "num_items": self.num_items,
        }
        return {key: value for key, value in stats.items() if value is not None}

    def how_to_get(self) -> str:
        """How to obtain the files, for messages: only the ways that exist for this dataset."""
        ways = []
        if _downloadable(self.name):
            ways.append(f"`sbrzoo data download {self.name}` (--dataset {self.name} then finds it in "
                        "the download cache)")
        if self.raw_format:
            folder = "DIR" if self.raw_format == self.name else f"DIR/{self.name}"
            ways.append(f"`sbrzoo data prepare {self.raw_format} --raw {self.raw_file} --out DIR` "
                        f"on the raw log ({self.raw_url}), then pass --data-dir {folder}")
        ways.append(f"put {SESSIONS_FILE} and {TEST_FILE} in {self.name}/ under ${DATA_DIR_ENV} "
                    f"(now {data_root()}) or pass --data-dir")
        return "; or ".join(ways)


_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "diginetica",
            "CIKM Cup 2016 product views; last week is the test set",
            f"CIKM Cup 2016 (DIGINETICA); {_SRGNN}",
            raw_url="https://competitions.codalab.org/competitions/11161",
            raw_format="diginetica",
            raw_file="train-item-views.csv",
            num_train_sessions=186_670,
            num_train_examples=719_470,
            num_test_examples=60_858,
            num_items=43_097,
        ),
        DatasetInfo(
            "yoochoose1_64",
            "RecSys 2015 clicks, most recent 1/64 of training; last day is the test set",
            _YOOCHOOSE,
            raw_url=_YOOCHOOSE_URL,
            raw_format="yoochoose",
            raw_file="yoochoose-clicks.dat",
            num_train_sessions=116_167,
            num_train_examples=369_859,
            num_test_examples=55_898,
            num_items=37_483,
        ),
        DatasetInfo(
            "yoochoose1_4",
            "RecSys 2015 clicks, most recent 1/4 of training (~5.9M examples); last day is test",
            _YOOCHOOSE,
            raw_url=_YOOCHOOSE_URL,
            raw_format="yoochoose",
            raw_file="yoochoose-clicks.dat",
            num_test_examples=55_898,  # the test file of yoochoose1_64 (docs/MODELS.md §1.2 step 12)
        ),
        DatasetInfo(
            "synthetic",
            "generated Markov sessions (Zipf popularity, clusters, repeats); built in",
            "sbrzoo.data.synthetic.generate(SyntheticConfig()): seed 0, no download",
            generated=True,
        ),
    )
}


def list_datasets() -> list[DatasetInfo]:
    """Every registered dataset, sorted by name."""
    return [_DATASETS[name] for name in sorted(_DATASETS)]


def get_dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``.

    Raises:
        UnknownNameError: no such dataset (with a "did you mean").
    """
    if name not in _DATASETS:
        raise unknown_name("dataset", name, _DATASETS, hint="sbrzoo datasets")
    return _DATASETS[name]


def load_dataset(
    name: str | None = None,
    *,
    data_dir: Path | None = None,
    valid_split: str = "last_sessions",
    valid_fraction: float = 0.1,
    seed: int = 0,
) -> SessionDataset:
    """Load a dataset and split off validation examples.

    Args:
        name: Registry name (see :func:`list_datasets`); None means ``"synthetic"``. With
            ``data_dir`` it only labels the data (None: the folder's name).
        data_dir: A folder in SR-GNN format, overriding the registry's location.
        valid_split: ``"last_sessions"`` (leak-free), ``"random"`` (the reference scripts) or
            ``"none"``; see :mod:`sbrzoo.data.splits`.
        valid_fraction: Share of the training data held out for validation.
        seed: Seed of the ``"random"`` split. The ``synthetic`` data do not depend on it: they are
            always generated with their registered settings.

    Returns:
        The dataset; ``num_items`` is the largest item id over train and test.

    Raises:
        UnknownNameError: ``name`` is not registered (and no ``data_dir``), or ``valid_split``
            is unknown.
        ConfigError: ``valid_fraction`` outside (0, 1).
        DataError: the folder or a file is missing or malformed; the test set or the training set
            is empty, or the validation split leaves no training or no validation example; item
            ids are not ``1..N`` (see :func:`check_item_ids`).
    """
    check_split(valid_split, valid_fraction)
    name, folder = _locate(name, data_dir)
    files: tuple[Path, ...] = ()
    train: Sessions | Examples
    if folder is None:
        synthetic = generate(SyntheticConfig())
        train, test = synthetic.train, synthetic.test.augment()
        source = synthetic.config.describe()
    else:
        data = read_folder(folder)
        train, test, source = data.train, data.test, str(folder.resolve())
        files = tuple(path.resolve() for path in data.files)
        train_file, test_file = files
        if not len(test):
            raise DataError(f"{test_file}: no test examples (the test set is empty; every test "
                            "session needs at least 2 clicks)")
        if (train.num_examples if isinstance(train, Sessions) else len(train)) == 0:
            raise DataError(f"{train_file}: no training examples (every training session has fewer "
                            "than 2 clicks)" if len(train) else f"{train_file}: no training examples")
        check_item_ids(train, test, train_file, test_file)
        _check_expected(name, train, test)
    num_items = max(train.max_item(), test.max_item())
    train_examples, valid = validation_split(train, valid_split, fraction=valid_fraction, seed=seed)
    logger.debug("%s: %d train / %d valid (%s) / %d test examples, %d items", name,
                 len(train_examples), len(valid) if valid is not None else 0, valid_split,
                 len(test), num_items)
    return SessionDataset(name, num_items, train_examples, valid, test, source, valid_split, files)


def dataset_files(name: str | None = None, *, data_dir: Path | None = None) -> tuple[Path, ...]:
    """The files :func:`load_dataset` reads for ``name`` and ``data_dir``, found without reading them:
    the training file and ``test.txt`` (none for generated data).

    Raises:
        UnknownNameError: ``name`` is not registered (and no ``data_dir``).
        DataError: the folder or its files are missing (the message says how to get them).
    """
    _, folder = _locate(name, data_dir)
    return () if folder is None else folder_files(folder)


def _locate(name: str | None, data_dir: Path | None) -> tuple[str, Path | None]:
    """The dataset's name and folder (None: generated data), as :func:`load_dataset` reads them."""
    if data_dir is not None:
        folder = Path(data_dir)
        return name or folder.resolve().name, folder
    info = get_dataset_info(name or "synthetic")
    return info.name, None if info.generated else _registered_folder(info)


def check_item_ids(train: Sessions | Examples, test: Examples, train_file: Path | str = "train",
                   test_file: Path | str = "test") -> None:
    """Check that item ids are ``1..N`` with ``N`` not far above the number of distinct items.

    A model holds one embedding row per id up to the largest, so raw ids (Yoochoose's are about
    2·10⁸; a single id of 10⁹ would ask for hundreds of GB) must be re-indexed first. Ids up to
    :data:`MAX_ID_SLACK` always pass (cheap, and no ``np.unique`` is needed); above it the largest
    id may be at most ``MAX_ID_RATIO × distinct + MAX_ID_SLACK``. Ids below 1 are refused when the
    files are read (:mod:`sbrzoo.data.sources`).

    Raises:
        DataError: naming the file holding the largest id, that id and the distinct count.
    """
    largest_train, largest_test = train.max_item(), test.max_item()
    largest = max(largest_train, largest_test)
    if largest <= MAX_ID_SLACK:
        return
    parts = [train.items, test.items, test.targets]
    if isinstance(train, Examples):
        parts.append(train.targets)
    distinct = int(np.unique(np.concatenate(parts)).size)
    if largest > MAX_ID_RATIO * distinct + MAX_ID_SLACK:
        where = train_file if largest_train >= largest_test else test_file
        raise DataError(f"{where}: item id {largest:,} but only {distinct:,} distinct items; ids must "
                        f"be 1..N with N about the number of items (a model allocates one embedding "
                        "row per id up to the largest): re-index the items, e.g. `sbrzoo data "
                        "prepare` numbers them 1..N")


def dataset_status(info: DatasetInfo) -> dict[str, Any]:
    """Whether a registered dataset is available, where, and its statistics.

    Computing the statistics reads the files (about a second for Diginetica) or generates the
    data.

    Returns:
        ``{"name", "description", "citation", "present", "path", "location", "how_to_get",
        "stats", "expected"}``: ``path`` is the folder found (None for generated data; the
        expected place under ``data_root()`` when absent); ``location`` is ``"data dir"``,
        ``"download cache"``, ``"built in"`` or None (absent); ``how_to_get`` says how to get an
        absent dataset (None otherwise); ``stats`` is None when absent, else
        ``train_sessions``, ``train_examples``, ``test_examples``, ``num_items``, ``clicks`` and
        ``mean_length`` (clicks per training session); the session figures are None when only
        unordered prefix examples are available. ``expected`` holds the published figures.

    Raises:
        DataError: the folder is there but a file is malformed.
    """
    status: dict[str, Any] = {
        "name": info.name,
        "description": info.description,
        "citation": info.citation,
        "present": True,
        "path": None,
        "location": "built in",
        "how_to_get": None,
        "stats": None,
        "expected": info.expected(),
    }
    if info.generated:
        synthetic = generate(SyntheticConfig())
        status["stats"] = _stats(synthetic.train, synthetic.test.augment())
        return status
    folder = find_dataset_folder(info)
    status["present"] = folder is not None
    if folder is None:
        status.update(path=str(data_root() / info.name), location=None, how_to_get=info.how_to_get())
        return status
    status["path"] = str(folder)
    status["location"] = "data dir" if folder == data_root() / info.name else "download cache"
    data = read_folder(folder)
    status["stats"] = _stats(data.train, data.test)
    return status


def find_dataset_folder(info: DatasetInfo) -> Path | None:
    """The folder holding a registered dataset: ``data_root()/<name>``, else the download cache's
    ``<cache>/<name>`` (where ``sbrzoo data download`` puts it); None when neither is complete (or
    for generated data)."""
    if info.generated:
        return None
    from sbrzoo.data.download import default_cache_dir

    for folder in (data_root() / info.name, default_cache_dir() / info.name):
        if _is_complete(folder):
            return folder
    return None


def _registered_folder(info: DatasetInfo) -> Path:
    """The folder of :func:`find_dataset_folder`, which must exist.

    Raises:
        DataError: the files are in neither place; the message says how to get them.
    """
    folder = find_dataset_folder(info)
    if folder is None:
        from sbrzoo.data.download import default_cache_dir

        raise DataError(f"dataset {info.name!r} not found at {data_root() / info.name} nor in the "
                        f"download cache {default_cache_dir() / info.name} (needs {TEST_FILE} and "
                        f"{SESSIONS_FILE} or {TRAIN_FILE}); get it with {info.how_to_get()}")
    return folder


def _downloadable(name: str) -> bool:
    """Whether ``sbrzoo data download`` knows ``name`` (False when its registry cannot be read)."""
    from sbrzoo.data.download import load_registry

    try:
        return name in load_registry().datasets
    except DataError:
        return False


def _is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds ``test.txt`` and training data."""
    has_train = (folder / SESSIONS_FILE).is_file() or (folder / TRAIN_FILE).is_file()
    return (folder / TEST_FILE).is_file() and has_train


def _stats(train: Sessions | Examples, test: Examples) -> dict[str, Any]:
    """Statistics of loaded data (see :func:`dataset_status`)."""
    stats: dict[str, Any] = {
        "train_sessions": None,
        "train_examples": len(train),
        "test_examples": len(test),
        "num_items": max(train.max_item(), test.max_item()),
        "clicks": None,
        "mean_length": None,
    }
    if isinstance(train, Sessions):
        stats.update(train_sessions=len(train), train_examples=train.num_examples,
                     clicks=len(train.items),
                     mean_length=round(float(train.lengths.mean()), 2) if len(train) else None)
    return stats


def _check_expected(name: str, train: Sessions | Examples, test: Examples) -> None:
    """Warn when a registered dataset's counts differ from the published ones (wrong files?)."""
    if name not in _DATASETS:
        return
    stats = _stats(train, test)
    for key, expected in _DATASETS[name].expected().items():
        if stats[key] is not None and stats[key] != expected:
            logger.warning("%s: %s is %s, expected %s (docs/MODELS.md §1.5); is this the SR-GNN "
                           "preprocessing?", name, key, f"{stats[key]:,}", f"{expected:,}")
