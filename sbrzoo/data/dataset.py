"""The dataset object every command works on: train / validation / test examples and the item count."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sbrzoo.data.examples import Examples

__all__ = ["SessionDataset"]


@dataclass(frozen=True)
class SessionDataset:
    """Examples of one dataset after the validation split.

    Attributes:
        name: Registry name (``"diginetica"``, ``"synthetic"``, ...) or the folder's name.
        num_items: ``N``, the largest item id over train and test; candidates are ids ``1..N``.
        train: Training examples (prefix-augmented).
        valid: Validation examples, or None when no validation split was asked for.
        test: Test examples.
        source: Where the data came from (folder path or generator settings), for the run record.
        valid_split: How ``valid`` was made (``"last_sessions"``, ``"random"`` or ``"none"``).
        files: The data files read (absolute paths: the training file and ``test.txt``); empty
            for generated data. :func:`sbrzoo.data.fingerprint.data_fingerprint` hashes them.
    """

    name: str
    num_items: int
    train: Examples
    valid: Examples | None
    test: Examples
    source: str
    valid_split: str
    files: tuple[Path, ...] = ()
