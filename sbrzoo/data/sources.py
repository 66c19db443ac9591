"""Reading an SR-GNN pickle folder (``all_train_seq.txt`` / ``train.txt`` and ``test.txt``).

Format (docs/MODELS.md §1.2, datasets/README.md "Prepared format"):

* ``all_train_seq.txt``: pickled ``list[list[int]]``, the training sessions in time order.
* ``train.txt`` / ``test.txt``: pickled ``(prefixes, targets)``: ``list[list[int]]``, ``list[int]``.

A folder holds ``test.txt`` and ``all_train_seq.txt`` (preferred: whole sessions, so a validation
split can hold out whole sessions) or, failing that, ``train.txt``. The sessions behind
``train.txt`` are recovered when the file is laid out as SR-GNN writes it (each session's prefixes
consecutive, longest first, down to length 1); otherwise the training data stay prefix examples
and only the ``"random"`` and ``"none"`` validation splits apply (see :mod:`sbrzoo.data.splits`).

Files are loaded with the restricted unpickler of :mod:`sbrzoo.data.pickles` and checked with
vectorised numpy; every problem is one :class:`~sbrzoo.errors.DataError` naming the file, the
session or example, and what is wrong.
"""

from __future__ import annotations

import itertools
import logging
import reprlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbrzoo.data.examples import Examples
from sbrzoo.data.pickles import load_pickle
from sbrzoo.errors import DataError

__all__ = [
    "SESSIONS_FILE",
    "TRAIN_FILE",
    "TEST_FILE",
    "Sessions",
    "FolderData",
    "read_sessions",
    "read_examples",
    "sessions_from_examples",
    "folder_files",
    "read_folder",
]

logger = logging.getLogger(__name__)

SESSIONS_FILE = "all_train_seq.txt"
TRAIN_FILE = "train.txt"
TEST_FILE = "test.txt"

_SEQUENCE_TYPES = (list, tuple)


@dataclass(frozen=True)
class Sessions:
    """Whole sessions stored flat (CSR), in time order.

    Session ``s`` is ``items[offsets[s]:offsets[s + 1]]`` (item ids ``1..N``, oldest click first).

    Shapes:
        items: (total clicks,) int64; offsets: (num sessions + 1,) int64
    """

    items: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Clicks per session, shape (num sessions,)."""
        return np.diff(self.offsets)

    @property
    def num_examples(self) -> int:
        """Number of prefix examples :meth:`augment` yields: Σ max(length − 1, 0)."""
        return int(np.maximum(self.lengths - 1, 0).sum())

    def session(self, index: int) -> list[int]:
        """One session as a list of item ids."""
        return self.items[self.offsets[index] : self.offsets[index + 1]].tolist()

    @classmethod
    def from_lists(cls, sessions: Sequence[Sequence[int]]) -> Sessions:
        """Build from a list of sessions (lists of item ids)."""
        lengths = np.fromiter(map(len, sessions), dtype=np.int64, count=len(sessions))
        offsets = np.zeros(len(sessions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = itertools.chain.from_iterable(sessions)
        return cls(np.fromiter(flat, dtype=np.int64, count=int(offsets[-1])), offsets)

    def slice(self, start: int, stop: int) -> Sessions:
        """Sessions ``start..stop-1`` (a contiguous range keeps the time order)."""
        offsets = self.offsets[start : stop + 1]
        return Sessions(self.items[offsets[0] : offsets[-1]], offsets - offsets[0])

    def example_index(self) -> tuple[np.ndarray, np.ndarray]:
        """The prefix examples in :meth:`augment`'s order (sessions in order, longest prefix first), as
        the session of each and its prefix length: two (E,) int64 arrays, E = Σ(m − 1)."""
        per_session = np.maximum(self.lengths - 1, 0)  # (S,)
        session_of = np.repeat(np.arange(len(self), dtype=np.int64), per_session)  # (E,)
        first_example = np.cumsum(per_session) - per_session  # (S,)
        rank = np.arange(len(session_of), dtype=np.int64) - first_example[session_of]  # 0: longest
        return session_of, per_session[session_of] - rank

    def augment(self) -> Examples:
        """Prefix augmentation, vectorised: the examples of :meth:`Examples.augment`, same order.

        Session ``[x1..xm]`` gives ``([x1..x(m-1)], xm), ..., ([x1], x2)``: longest prefix first
        inside each session, sessions in order (docs/MODELS.md §1.2 step 10). One-click sessions give
        nothing.

        Returns:
            Σ(m − 1) examples holding Σ m(m − 1)/2 prefix clicks.
        """
        session_of, prefix_lengths = self.example_index()
        starts = self.offsets[:-1][session_of]  # (E,)
        offsets = np.zeros(len(session_of) + 1, dtype=np.int64)
        np.cumsum(prefix_lengths, out=offsets[1:])
        within = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], prefix_lengths)
        items = self.items[np.repeat(starts, prefix_lengths) + within]
        return Examples(items, offsets, self.items[starts + prefix_lengths])

    def max_item(self) -> int:
        """Largest item id (0 when empty)."""
        return int(self.items.max()) if self.items.size else 0


@dataclass(frozen=True)
class FolderData:
    """The contents of one SR-GNN folder.

    Attributes:
        folder: The folder read.
        train: Whole training sessions (from ``all_train_seq.txt``, or recovered from
            ``train.txt``), or the prefix examples of ``train.txt`` when no sessions can be
            recovered.
        test: Test examples, in file order.
        train_file: The file ``train`` was read from.
    """

    folder: Path
    train: Sessions | Examples
    test: Examples
    train_file: Path

    @property
    def files(self) -> tuple[Path, Path]:
        """The files read: the training file and ``test.txt``."""
        return self.train_file, self.folder / TEST_FILE


def read_sessions(path: Path) -> Sessions:
    """Read and check ``all_train_seq.txt`` (pickled ``list[list[int]]``).

    Raises:
        DataError: unsafe or corrupt pickle, wrong container types, a non-int or < 1 item id, an
            empty session.
    """
    path = Path(path)
    items, offsets = _flatten(load_pickle(path), path, "session")
    return Sessions(items, offsets)


def read_examples(path: Path) -> Examples:
    """Read and check ``train.txt`` / ``test.txt`` (pickled ``(prefixes, targets)``).

    Raises:
        DataError: unsafe or corrupt pickle, wrong container types, a non-int or < 1 item id, an
            empty prefix, or a different number of prefixes and targets.
    """
    path = Path(path)
    content = load_pickle(path)
    if type(content) not in _SEQUENCE_TYPES or len(content) != 2:
        raise DataError(f"{path}: expected a pair (prefixes, targets), got {_describe(content)}")
    prefixes, targets = content
    items, offsets = _flatten(prefixes, path, "example")
    target_ids = _int_array(targets, path, "targets", lambda i: f"target of example {i}")
    if len(target_ids) != len(offsets) - 1:
        raise DataError(f"{path}: {len(offsets) - 1:,} prefixes but {len(target_ids):,} targets")
    return Examples(items, offsets, target_ids)


def sessions_from_examples(examples: Examples) -> Sessions | None:
    """Recover the sessions behind SR-GNN-ordered prefix examples (None when not so ordered).

    SR-GNN writes session ``[x1..xm]`` as consecutive examples with prefix lengths
    ``m-1, ..., 1``, each the previous prefix without its last click, which is its target. A run
    of examples starts after every length-1 prefix; its first example plus target is the session.

    Args:
        examples: Prefix examples in file order, E of them.

    Returns:
        The sessions (one per run), or None when any run breaks the pattern.
    """
    if not len(examples):
        return Sessions(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
    lengths, offsets = examples.lengths, examples.offsets  # (E,), (E + 1,)
    run_start = np.flatnonzero(np.concatenate([[True], lengths[:-1] == 1]))  # (S,)
    run_of = np.repeat(run_start, np.diff(np.append(run_start, len(examples))))  # (E,)
    step = np.arange(len(examples)) - run_of  # position inside the run
    if lengths[-1] != 1 or not np.array_equal(lengths, lengths[run_of] - step):
        return None
    within = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    same_prefix = examples.items == examples.items[np.repeat(offsets[run_of], lengths) + within]
    later = step > 0
    run_item = examples.items[offsets[run_of[later]] + lengths[later]]
    if not (same_prefix.all() and np.array_equal(examples.targets[later], run_item)):
        return None
    firsts = examples.subset(run_start)
    items = np.insert(firsts.items, firsts.offsets[1:], firsts.targets)
    return Sessions(items, firsts.offsets + np.arange(len(run_start) + 1))


def folder_files(folder: Path) -> tuple[Path, Path]:
    """The files :func:`read_folder` reads in ``folder``, found without reading them: the training file
    (``all_train_seq.txt``, else ``train.txt``) and ``test.txt``.

    Raises:
        DataError: the folder or its files are missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    test_path = folder / TEST_FILE
    sessions_path, train_path = folder / SESSIONS_FILE, folder / TRAIN_FILE
    if not test_path.is_file() or not (sessions_path.is_file() or train_path.is_file()):
        found = sorted(p.name for p in folder.iterdir()) or "nothing"
        raise DataError(f"{folder}: expected {TEST_FILE} and {SESSIONS_FILE} (or {TRAIN_FILE}), "
                        f"found {found}")
    return (sessions_path if sessions_path.is_file() else train_path), test_path


def read_folder(folder: Path) -> FolderData:
    """Read an SR-GNN folder: ``test.txt`` and ``all_train_seq.txt`` (preferred) or ``train.txt``.

    Raises:
        DataError: the folder or its files are missing, or a file is malformed.
    """
    folder = Path(folder)
    train_path, test_path = folder_files(folder)
    test = read_examples(test_path)
    if train_path.name == SESSIONS_FILE:
        return FolderData(folder, read_sessions(train_path), test, train_path)
    examples = read_examples(train_path)
    sessions = sessions_from_examples(examples)
    if sessions is None:
        logger.warning("%s: prefixes are not laid out session by session (longest first), so "
                       "whole sessions cannot be recovered; only the 'random' and 'none' "
                       "validation splits apply. Add %s to split by session.",
                       train_path, SESSIONS_FILE)
        return FolderData(folder, examples, test, train_path)
    return FolderData(folder, sessions, test, train_path)


def _flatten(sequences: Any, path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN401
    """Check a list of non-empty int sequences and store it flat.

    Args:
        sequences: Unpickled content, expected ``list[list[int]]``.
        path: File the content came from (for messages).
        what: ``"session"`` or ``"example"`` (for messages).

    Returns:
        ``items`` (total,) int64 and ``offsets`` (len(sequences) + 1,) int64.
    """
    if type(sequences) not in _SEQUENCE_TYPES:
        raise DataError(f"{path}: expected a list of {what}s, got {_describe(sequences)}")
    if not set(map(type, sequences)) <= set(_SEQUENCE_TYPES):
        index = next(i for i, s in enumerate(sequences) if type(s) not in _SEQUENCE_TYPES)
        raise DataError(f"{path}: {what} {index} is {_describe(sequences[index])}, "
                        "expected a list of item ids")
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        noun = "prefix of example" if what == "example" else what
        raise DataError(f"{path}: {noun} {empty[0]} is empty")
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = list(itertools.chain.from_iterable(sequences))

    def locate(position: int) -> str:
        return f"{what} {np.searchsorted(offsets, position, side='right') - 1}"

    return _int_array(flat, path, f"{what}s", locate), offsets


def _int_array(
    values: Any,  # noqa: ANN401 - unpickled content
    path: Path,
    what: str,
    locate: Callable[[int], str],
) -> np.ndarray:
    """Check a list of item ids (Python ints ≥ 1) and convert it to int64.

    Args:
        values: Unpickled content, expected ``list[int]``.
        path: File the content came from (for messages).
        what: What the list is, for a wrong container type.
        locate: Maps a position in ``values`` to the words naming it (``"example 17"``).
    """
    if type(values) not in _SEQUENCE_TYPES:
        raise DataError(f"{path}: expected a list of {what}, got {_describe(values)}")
    if not set(map(type, values)) <= {int}:
        index = next(i for i, v in enumerate(values) if type(v) is not int)
        raise DataError(f"{path}: {locate(index)} has item id {reprlib.repr(values[index])} "
                        f"({type(values[index]).__name__}); ids are ints")
    try:
        ids = np.fromiter(values, dtype=np.int64, count=len(values))
    except OverflowError:
        index = next(i for i, v in enumerate(values) if not -(2**63) <= v < 2**63)
        raise DataError(f"{path}: {locate(index)} has item id {reprlib.repr(values[index])}, too "
                        "large (ids must be 1..N: re-index the items, e.g. with `sbrzoo data "
                        "prepare`)") from None
    below = np.flatnonzero(ids < 1)
    if below.size:
        first = int(below[0])
        raise DataError(f"{path}: {locate(first)} has item id {ids[first]}; ids start at 1 (ids "
                        "must be 1..N: re-index the items, e.g. with `sbrzoo data prepare`)")
    return ids


def _describe(value: Any) -> str:  # noqa: ANN401
    """Short description of an unexpected value: its type, and its length for containers."""
    name = type(value).__name__
    article = "an" if name[0] in "aeiou" else "a"
    sized = isinstance(value, (list, tuple, dict, set, str, bytes))
    return f"{article} {name}" + (f" of length {len(value)}" if sized else "")
