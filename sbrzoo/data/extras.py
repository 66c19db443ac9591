"""Side files ``sbrzoo data prepare`` writes beside the pickles, and their loaders.

* ``item_map.tsv``: the raw item id behind every sbrzoo id, so recommendations (ids ``1..N``) can be
  mapped back to real products. Tab-separated, UTF-8, a header line ``sbrzoo_id<TAB>raw_item_id``
  then one line per id in order ``1..N`` (fields holding a tab are quoted as CSV does).
* ``session_times.npy``: the date (int64 epoch seconds, the raw log's naive time read as UTC) of
  every training session of ``all_train_seq.txt``, in file order: Yoochoose to the second,
  Diginetica to the day (its log has dates only). Written as a plain numpy array; read with
  ``allow_pickle=False``.

Both are optional: folders from elsewhere (the published SR-GNN pickles) lack them, and the loaders
return None then (identity map, unknown times).

Example:
    >>> item_map = load_item_map(Path("data/diginetica"))  # None: ids are the raw ids
    >>> raw_ids = item_map[recommended] if item_map is not None else recommended
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from sbrzoo.data.pickles import atomic_write_bytes
from sbrzoo.errors import DataError, one_line

__all__ = [
    "ITEM_MAP_FILE",
    "SESSION_TIMES_FILE",
    "ITEM_MAP_HEADER",
    "write_item_map",
    "load_item_map",
    "write_session_times",
    "load_session_times",
]

ITEM_MAP_FILE = "item_map.tsv"
SESSION_TIMES_FILE = "session_times.npy"
ITEM_MAP_HEADER = ("sbrzoo_id", "raw_item_id")
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def write_item_map(folder: Path, raw_ids: np.ndarray) -> Path:
    """Write ``item_map.tsv``: ``raw_ids[i - 1]`` is the raw id of sbrzoo id ``i``.

    Written atomically (temporary file and rename), with the mode the umask gives.

    Returns:
        The file written.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(ITEM_MAP_HEADER)
    writer.writerows(zip(range(1, len(raw_ids) + 1), np.asarray(raw_ids).tolist(), strict=True))
    path = Path(folder) / ITEM_MAP_FILE
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
    return path


def load_item_map(data_dir: Path, *, num_items: int | None = None) -> np.ndarray | None:
    """The raw item id of every sbrzoo id, from ``data_dir/item_map.tsv``.

    Args:
        data_dir: A dataset folder.
        num_items: When given, the map must cover ids ``1..num_items``.

    Returns:
        None when the folder has no map (sbrzoo ids are the raw ids); else an array of ``N + 1``
        values indexed by sbrzoo id, entry 0 (padding) being 0 or ``""``: int64 when every raw id
        is an integer written plainly (``"42"``, not ``"042"``), else strings.

    Raises:
        DataError: the file is not UTF-8, lacks the header, skips or repeats an id, or covers fewer
            than ``num_items`` ids; the message names the file and the line.
    """
    path = Path(data_dir) / ITEM_MAP_FILE
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({one_line(error)})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({one_line(error.strerror or error)})") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=True))
    except csv.Error as error:
        raise DataError(f"{path}: malformed ({one_line(error)})") from None
    if not rows or tuple(rows[0]) != ITEM_MAP_HEADER:
        found = "nothing" if not rows else repr("\t".join(rows[0])[:80])
        raise DataError(f"{path}, line 1: expected the header {chr(9).join(ITEM_MAP_HEADER)!r}, "
                        f"found {found}")
    raw: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise DataError(f"{path}, line {line}: expected 2 tab-separated fields "
                            f"(sbrzoo_id, raw_item_id), found {len(row)}")
        expected = len(raw) + 1
        if row[0] != str(expected):
            raise DataError(f"{path}, line {line}: expected sbrzoo id {expected}, found "
                            f"{row[0][:40]!r} (ids run 1..N in order)")
        raw.append(row[1])
    if num_items is not None and len(raw) < num_items:
        raise DataError(f"{path}: maps ids 1..{len(raw):,} but the dataset has items "
                        f"1..{num_items:,}")
    if all(_CANONICAL_INT.fullmatch(value) and -(2**63) <= int(value) < 2**63 for value in raw):
        return np.array([0, *map(int, raw)], dtype=np.int64)
    return np.array(["", *raw], dtype=str)


def write_session_times(folder: Path, times: np.ndarray) -> Path:
    """Write ``session_times.npy`` (int64 epoch seconds, one per training session), atomically.

    Returns:
        The file written.
    """
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(times, dtype=np.int64), allow_pickle=False)
    path = Path(folder) / SESSION_TIMES_FILE
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_session_times(data_dir: Path, *, num_sessions: int | None = None) -> np.ndarray | None:
    """The time of every training session, from ``data_dir/session_times.npy``.

    Args:
        data_dir: A dataset folder.
        num_sessions: When given, the array must hold exactly this many times (the sessions of
            ``all_train_seq.txt``).

    Returns:
        None when the folder has no such file; else int64 epoch seconds, shape (sessions,).

    Raises:
        DataError: the file is not a numpy array of integers (an object array, which would need
            pickle, is refused), is not one-dimensional, or its length differs from
            ``num_sessions``.
    """
    path = Path(data_dir) / SESSION_TIMES_FILE
    if not path.is_file():
        return None
    try:
        times = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError, OverflowError, MemoryError,
            SyntaxError) as error:
        raise DataError(f"{path}: not a plain numpy array ({type(error).__name__}: "
                        f"{one_line(error)})") from None
    if not isinstance(times, np.ndarray) or times.dtype.kind not in "iu" or times.ndim != 1:
        what = f"{times.dtype} array of shape {times.shape}" if isinstance(times, np.ndarray) else \
            type(times).__name__
        raise DataError(f"{path}: expected a one-dimensional integer array, found a {what}")
    if num_sessions is not None and len(times) != num_sessions:
        raise DataError(f"{path}: {len(times):,} session times for {num_sessions:,} training "
                        "sessions")
    return times.astype(np.int64, copy=False)
