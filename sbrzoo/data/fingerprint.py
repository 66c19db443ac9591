"""A fingerprint of the data a run used, to notice when it is evaluated on other data.

:func:`data_fingerprint` records, for every file the dataset was read from, its name, size and
sha256, and the example counts and item count after the split; :func:`compare_fingerprints` lists
what differs between a saved fingerprint and the current one, one phrase per difference. Files
are compared by name, not path, so a dataset folder that moved (``evaluate --data-dir``) still
matches.

Example:
    >>> saved = data_fingerprint(dataset)  # stored in the run record
    >>> compare_fingerprints(saved, data_fingerprint(load_dataset(data_dir=moved)))
    ['test.txt: sha256 differs (size 1,384,823 -> 461,608 bytes)',
     'test examples: 60,858 -> 20,286']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.download import sha256_of
from sbrzoo.errors import DataError

__all__ = ["FINGERPRINT_VERSION", "data_fingerprint", "file_fingerprint", "compare_fingerprints"]

FINGERPRINT_VERSION = 1
_COUNTS = {  # key -> words in a difference
    "train_examples": "train examples",
    "valid_examples": "validation examples",
    "test_examples": "test examples",
    "num_items": "items",
}


def file_fingerprint(path: Path) -> dict[str, Any]:
    """``{"name", "size", "sha256"}`` of one file.

    Raises:
        DataError: the file cannot be read.
    """
    path = Path(path)
    try:
        return {"name": path.name, "size": path.stat().st_size, "sha256": sha256_of(path)}
    except OSError as error:
        raise DataError(f"{path}: cannot read to fingerprint it "
                        f"({error.strerror or error})") from None


def data_fingerprint(dataset: SessionDataset) -> dict[str, Any]:
    """The fingerprint of a loaded dataset (JSON-serialisable).

    Returns:
        ``{"version", "name", "source", "valid_split", "files": [{"name", "size", "sha256"}, ...],
        "train_examples", "valid_examples", "test_examples", "num_items"}``; ``files`` is empty for
        generated data (then ``source`` describes the generator settings); ``valid_examples`` is 0
        without a validation split.

    Raises:
        DataError: a source file can no longer be read.
    """
    return {
        "version": FINGERPRINT_VERSION,
        "name": dataset.name,
        "source": dataset.source,
        "valid_split": dataset.valid_split,
        "files": [file_fingerprint(path) for path in dataset.files],
        "train_examples": len(dataset.train),
        "valid_examples": len(dataset.valid) if dataset.valid is not None else 0,
        "test_examples": len(dataset.test),
        "num_items": dataset.num_items,
    }


def compare_fingerprints(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between two fingerprints, one phrase per difference (empty: the same data).

    Files are matched by name. A file in one fingerprint only is a difference; so are a different
    size or sha256, a different split method, different counts, and, for generated data (no
    files), different generator settings. The folder path and the name are not compared (data may
    move). Missing keys in an older or hand-edited ``saved`` are skipped, not errors.

    Returns:
        Phrases such as ``"test.txt: sha256 differs (size 1,384,823 -> 461,608 bytes)"`` or
        ``"test examples: 60,858 -> 20,286"``.
    """
    differences: list[str] = []
    old_files = _files_by_name(saved)
    new_files = _files_by_name(current) if isinstance(saved.get("files"), list) else {}
    for name in sorted(set(old_files) | set(new_files)):
        old, new = old_files.get(name), new_files.get(name)
        if new is None:
            differences.append(f"{name}: read before, not now")
        elif old is None:
            differences.append(f"{name}: read now, not before")
        elif old.get("sha256") != new.get("sha256") or old.get("size") != new.get("size"):
            size = "same size" if old.get("size") == new.get("size") else \
                f"size {_number(old.get('size'))} -> {_number(new.get('size'))} bytes"
            differences.append(f"{name}: sha256 differs ({size})")
    if not old_files and not new_files and saved.get("source") != current.get("source") \
            and "source" in saved:
        differences.append(f"generated data: {saved.get('source')!s} -> {current.get('source')!s}")
    if "valid_split" in saved and saved.get("valid_split") != current.get("valid_split"):
        differences.append(f"validation split: {saved.get('valid_split')} -> "
                           f"{current.get('valid_split')}")
    for key, words in _COUNTS.items():
        if key in saved and saved.get(key) != current.get(key):
            differences.append(f"{words}: {_number(saved.get(key))} -> {_number(current.get(key))}")
    return differences


def _files_by_name(fingerprint: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The ``files`` entries keyed by file name (malformed entries ignored)."""
    files = fingerprint.get("files") or []
    if not isinstance(files, list):
        return {}
    return {str(entry["name"]): entry for entry in files
            if isinstance(entry, Mapping) and "name" in entry}


def _number(value: Any) -> str:  # noqa: ANN401 - a count from JSON, maybe missing
    """``60,858`` for ints, ``missing`` for None, else the value."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "missing" if value is None else str(value)
