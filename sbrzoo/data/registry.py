"""Named datasets: the SR-GNN benchmarks (folders under ``data_root()``) and ``synthetic``.

Example:
    >>> dataset = load_dataset("synthetic")  # built in, no download
    >>> dataset = load_dataset("diginetica", valid_split="none")  # $SBRZOO_DATA_DIR/diginetica
    >>> dataset = load_dataset(data_dir=Path("my/folder"))  # any SR-GNN folder, named "folder"
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.examples import Examples
from sbrzoo.data.sources import SESSIONS_FILE, TEST_FILE, TRAIN_FILE, Sessions, read_folder
from sbrzoo.data.splits import check_split, validation_split
from sbrzoo.data.synthetic import SyntheticConfig, generate
from sbrzoo.errors import DataError, unknown_name
from sbrzoo.paths import DATA_DIR_ENV, data_root

__all__ = ["DatasetInfo", "list_datasets", "get_dataset_info", "load_dataset", "dataset_status"]

logger = logging.getLogger(__name__)

_SRGNN = "SR-GNN preprocessing (Wu et al., AAAI 2019), https://github.com/CRIPAC-DIG/SR-GNN"
_YOOCHOOSE = f"RecSys Challenge 2015 (YOOCHOOSE); {_SRGNN}"
_YOOCHOOSE_URL = "https://recsys.acm.org/recsys15/challenge/"


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset and what it is expected to contain (None: not known).

    Attributes:
        name: Registry name; for real data also the folder name under ``data_root()``.
        description: One line for listings.
        citation: Provenance: origin of the data and of its preprocessing.
        raw_url: Where the raw click log can be downloaded ("" for generated data).
        generated: True for ``synthetic`` (made by :func:`~sbrzoo.data.synthetic.generate`).
        num_train_sessions: Training sessions (MODELS.md §1.5).
        num_train_examples: Training prefix examples before any validation split.
        num_test_examples: Test examples.
        num_items: Largest item id ``N`` (candidates ``1..N``).
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
        """How to obtain the files, for messages."""
        return (f"`sbrzoo data download {self.name}` or `sbrzoo data prepare` on the raw click log "
                f"({self.raw_url}), then put {SESSIONS_FILE} and {TEST_FILE} in {self.name}/ under "
                f"${DATA_DIR_ENV} (now {data_root()}) or pass --data-dir")


_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "diginetica",
            "CIKM Cup 2016 product views; last week is the test set",
            f"CIKM Cup 2016 (DIGINETICA); {_SRGNN}",
            raw_url="https://competitions.codalab.org/competitions/11161",
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
            num_test_examples=55_898,  # the test file of yoochoose1_64 (MODELS.md §1.2 step 12)
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
        DataError: the folder or a file is missing or malformed.
    """
    check_split(valid_split, valid_fraction)
    if data_dir is not None:
        folder: Path | None = Path(data_dir)
        name = name or folder.resolve().name
    else:
        info = get_dataset_info(name or "synthetic")
        name = info.name
        folder = None if info.generated else _registered_folder(info)
    if folder is None:
        synthetic = generate(SyntheticConfig())
        train, test = synthetic.train, synthetic.test.augment()
        source = synthetic.config.describe()
    else:
        data = read_folder(folder)
        train, test, source = data.train, data.test, str(folder.resolve())
        _check_expected(name, train, test)
    num_items = max(train.max_item(), test.max_item())
    train_examples, valid = validation_split(train, valid_split, fraction=valid_fraction, seed=seed)
    logger.debug("%s: %d train / %d valid (%s) / %d test examples, %d items", name,
                 len(train_examples), len(valid) if valid is not None else 0, valid_split,
                 len(test), num_items)
    return SessionDataset(name, num_items, train_examples, valid, test, source, valid_split)


def dataset_status(info: DatasetInfo) -> dict[str, Any]:
    """Whether a registered dataset is available, where, and its statistics.

    Computing the statistics reads the files (about a second for Diginetica) or generates the
    data.

    Returns:
        ``{"name", "description", "citation", "present", "path", "stats", "expected"}``:
        ``path`` is the folder (None for generated data); ``stats`` is None when absent, else
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
        "stats": None,
        "expected": info.expected(),
    }
    if info.generated:
        synthetic = generate(SyntheticConfig())
        status["stats"] = _stats(synthetic.train, synthetic.test.augment())
        return status
    folder = data_root() / info.name
    status["path"] = str(folder)
    status["present"] = _is_complete(folder)
    if status["present"]:
        data = read_folder(folder)
        status["stats"] = _stats(data.train, data.test)
    return status


def _registered_folder(info: DatasetInfo) -> Path:
    """``data_root()/<name>``, checked to hold the files.

    Raises:
        DataError: the folder or its files are missing; the message says how to get them.
    """
    folder = data_root() / info.name
    if not _is_complete(folder):
        raise DataError(f"dataset {info.name!r} not found at {folder} (needs {TEST_FILE} and "
                        f"{SESSIONS_FILE} or {TRAIN_FILE}); {info.how_to_get()}")
    return folder


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
            logger.warning("%s: %s is %s, expected %s (MODELS.md §1.5); is this the SR-GNN "
                           "preprocessing?", name, key, f"{stats[key]:,}", f"{expected:,}")
