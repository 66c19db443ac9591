"""Reading the raw click logs of Diginetica and Yoochoose into one click table (docs/MODELS.md §1.1).

Two formats:

* **Diginetica** ``train-item-views.csv``: ``;``-separated with a header naming the columns,
  either ``sessionId;userId;itemId;timeframe;eventdate`` (the official file) or the snake-case
  ``session_id;user_id;item_id;timeframe;eventdate`` that SR-GNN's script expects (P1). Columns are
  found by name, in any order; ``userId`` is not used.
* **Yoochoose** ``yoochoose-clicks.dat``: ``,``-separated, **no header**, read by position:
  ``session,timestamp,item,category`` with ISO-8601 timestamps (``2014-04-07T10:51:09.277Z``);
  ``category`` is not used.

Both give a :class:`RawClicks`: one row per click **in file order** with the session's id, an item
code (raw ids factorised in order of first appearance), the click time in epoch seconds and, for
Diginetica, the ``timeframe``. Times follow SR-GNN: the first 19 characters of a Yoochoose
timestamp (``%Y-%m-%dT%H:%M:%S``), the day of a Diginetica ``eventdate`` (midnight). They are read
as UTC, whereas SR-GNN used the local zone (``time.mktime``, the authors ran in UTC+8): a constant
offset, so the time split is the same (P2).

Reading is vectorised (pandas C parser with explicit dtypes, fixed-width bytes for timestamps,
chunks of a few million rows), so the 33-million-row Yoochoose log fits in about a gigabyte. When
the fast path rejects a file, :func:`diagnose` re-reads it line by line to name the first bad line;
every problem is a :class:`~sbrzoo.errors.DataError` of the form ``FILE, line N: PROBLEM``.
A UTF-8 byte-order mark at the start of a file (as spreadsheet programs save CSV) is ignored.
Session and Yoochoose item ids are read as integers (as in both public logs); Diginetica item ids
stay strings until re-indexing, as in SR-GNN.
"""

from __future__ import annotations

import csv
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sbrzoo.errors import DataError, one_line

__all__ = [
    "DIGINETICA_COLUMNS",
    "YOOCHOOSE_COLUMNS",
    "RAW_FORMATS",
    "RawClicks",
    "read_raw",
    "read_diginetica",
    "read_yoochoose",
    "diagnose",
    "factorize",
]

logger = logging.getLogger(__name__)

#: Diginetica column -> accepted header spellings (official camel case, SR-GNN's snake case).
DIGINETICA_COLUMNS: dict[str, tuple[str, ...]] = {
    "session": ("sessionId", "session_id"),
    "item": ("itemId", "item_id"),
    "timeframe": ("timeframe",),
    "eventdate": ("eventdate",),
}
#: Yoochoose columns, by position.
YOOCHOOSE_COLUMNS: tuple[str, ...] = ("session", "timestamp", "item", "category")
RAW_FORMATS: tuple[str, ...] = ("diginetica", "yoochoose")

_DIGINETICA_SEP = ";"
_YOOCHOOSE_SEP = ","
_CHUNK_ROWS = 4_000_000
_TIMESTAMP_WIDTH = 24  # "2014-04-07T10:51:09.277Z"; only the first 19 characters are used
_SECOND = 19  # len("YYYY-MM-DDTHH:MM:SS")
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


@dataclass(frozen=True)
class RawClicks:
    """A raw click log as one table, rows in file order.

    Attributes:
        path: The file read.
        format: ``"diginetica"`` or ``"yoochoose"``.
        clicks: Columns ``session`` (int64 raw session id), ``item`` (int32 item code: index into
            ``item_ids``, codes numbered in order of first appearance), ``time`` (int64 epoch
            seconds, see the module notes) and, for Diginetica, ``timeframe`` (int64).
        item_ids: Raw id of every item code, shape (number of distinct items,).
    """

    path: Path
    format: str
    clicks: pd.DataFrame
    item_ids: np.ndarray

    @property
    def num_clicks(self) -> int:
        """Rows of the log."""
        return len(self.clicks)


def read_raw(path: Path, fmt: str) -> RawClicks:
    """Read a raw log of format ``fmt`` (``"diginetica"`` or ``"yoochoose"``).

    Raises:
        DataError: unknown format, missing or malformed file (see :func:`diagnose`).
    """
    if fmt == "diginetica":
        return read_diginetica(path)
    if fmt == "yoochoose":
        return read_yoochoose(path)
    raise DataError(f"unknown raw format {fmt!r}; choose one of: {', '.join(RAW_FORMATS)}")


def read_diginetica(path: Path) -> RawClicks:
    """Read Diginetica's ``train-item-views.csv`` (``;``-separated, header row).

    Raises:
        DataError: the file is missing or empty, the header lacks a column, or a row is malformed
            (missing fields, non-integer ``timeframe``, ``eventdate`` not ``YYYY-MM-DD``); the
            message names the file and the line.
    """
    path = _existing(path)
    header = _diginetica_header(path)
    labels = [f"{i}:{name}" for i, name in enumerate(header)]  # unique, even for repeated names
    names = {labels[position]: column for column, position in _diginetica_positions(path, header).items()}
    dtype = {label: _DIGINETICA_DTYPES[names[label]] if label in names else "category" for label in labels}
    try:  # all columns are read, so that a row with too many fields is an error (usecols hides it)
        with _extra_fields_are_errors():
            frame = pd.read_csv(path, sep=_DIGINETICA_SEP, header=0, names=labels, dtype=dtype,
                                quoting=csv.QUOTE_NONE, keep_default_na=False, na_values=[""],
                                engine="c", index_col=False)
    except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.ParserWarning) as error:
        raise diagnose(path, "diginetica", error) from None
    frame = frame[list(names)].rename(columns=names)
    if frame.empty:
        raise DataError(f"{path}, line 2: no clicks after the header line")
    items = frame["item"]
    if items.isna().any():
        raise diagnose(path, "diginetica")
    days = pd.to_datetime(frame["eventdate"].cat.categories, format="%Y-%m-%d", errors="coerce")
    if days.isna().any() or frame["eventdate"].isna().any():
        raise diagnose(path, "diginetica")
    day_seconds = days.to_numpy().astype("datetime64[s]").astype(np.int64)
    codes, item_ids = factorize(items)
    clicks = pd.DataFrame({
        "session": frame["session"].to_numpy(np.int64),
        "item": codes,
        "time": day_seconds[frame["eventdate"].cat.codes.to_numpy()],
        "timeframe": frame["timeframe"].to_numpy(np.int64),
    }, copy=False)
    return RawClicks(path, "diginetica", clicks, item_ids)


def read_yoochoose(path: Path, *, chunk_rows: int = _CHUNK_ROWS) -> RawClicks:
    """Read Yoochoose's ``yoochoose-clicks.dat`` (``,``-separated, no header, by position).

    Args:
        path: The click log.
        chunk_rows: Rows parsed at a time (bounds the memory taken by timestamp strings).

    Raises:
        DataError: the file is missing or empty, or a row is malformed (wrong number of fields,
            non-integer session or item id, timestamp not ``YYYY-MM-DDTHH:MM:SS...``); the
            message names the file and the line.
    """
    path = _existing(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path}, line 1: empty file (expected {_yoochoose_layout()} rows)")
    capacity = _count_lines(path)  # rows <= lines: fill preallocated columns, no concatenation
    sessions = np.empty(capacity, dtype=np.int64)
    times = np.empty(capacity, dtype=np.int64)
    items = np.empty(capacity, dtype=np.int64)
    filled = 0
    try:
        with _extra_fields_are_errors():
            for chunk in _yoochoose_chunks(path, chunk_rows):
                seconds = _iso_seconds(chunk["timestamp"].to_numpy())  # (rows,) int64 or None
                if seconds is None:
                    raise diagnose(path, "yoochoose")
                rows = slice(filled, filled + len(chunk))
                sessions[rows] = chunk["session"].to_numpy(np.int64)
                items[rows] = chunk["item"].to_numpy(np.int64)
                times[rows] = seconds
                filled += len(chunk)
    except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.ParserWarning) as error:
        raise diagnose(path, "yoochoose", error) from None
    if not filled:
        raise DataError(f"{path}, line 1: no clicks (expected {_yoochoose_layout()} rows)")
    codes, item_ids = factorize(items[:filled])
    del items
    clicks = pd.DataFrame({"session": sessions[:filled], "item": codes, "time": times[:filled]}, copy=False)
    return RawClicks(path, "yoochoose", clicks, item_ids)


def diagnose(path: Path, fmt: str, error: Exception | None = None) -> DataError:
    """Find the first malformed line of a raw log (slow: one Python pass, stops at the problem).

    Called when the vectorised reader rejects a file, to say where and why.

    Args:
        path: The raw log.
        fmt: ``"diginetica"`` or ``"yoochoose"``.
        error: The parser's own error, quoted when no line can be blamed.

    Returns:
        The error to raise: ``FILE, line N: PROBLEM``.
    """
    check = _check_diginetica_line if fmt == "diginetica" else _check_yoochoose_line
    header = _diginetica_header(path) if fmt == "diginetica" else None
    positions = _diginetica_positions(path, header) if header is not None else None
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if header is not None and number == 1:
                continue
            text = line.rstrip("\r\n")
            if not text:
                continue  # blank lines are skipped, as by the csv module and pandas
            problem = check(text, header, positions)
            if problem:
                return DataError(f"{path}, line {number}: {problem}")
    detail = f" ({type(error).__name__}: {one_line(error)})" if error is not None else ""
    return DataError(f"{path}: could not be read as a {fmt} click log{detail}")


_DIGINETICA_DTYPES = {"session": "int64", "item": "category", "timeframe": "int64", "eventdate": "category"}


def _existing(path: Path) -> Path:
    """``path`` as a Path, checked to be a file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return path


def _diginetica_header(path: Path) -> list[str]:
    """The header fields of a Diginetica log (line 1).

    Raises:
        DataError: empty file.
    """
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.readline().rstrip("\r\n")
    if not first.strip():
        raise DataError(f"{path}, line 1: empty file (expected the header "
                        f"{_DIGINETICA_SEP.join(s[0] for s in DIGINETICA_COLUMNS.values())})")
    return [name.strip() for name in first.split(_DIGINETICA_SEP)]


def _diginetica_positions(path: Path, header: list[str]) -> dict[str, int]:
    """Column -> position in ``header``.

    Raises:
        DataError: a column is missing (the message suggests a wrong separator when the header
            holds one).
    """
    positions: dict[str, int] = {}
    for column, spellings in DIGINETICA_COLUMNS.items():
        found = [i for i, name in enumerate(header) if name in spellings]
        if not found:
            expected = " or ".join(repr(s) for s in spellings)
            hint = _separator_hint(_DIGINETICA_SEP.join(header), _DIGINETICA_SEP)
            raise DataError(f"{path}, line 1: header has no {column} column (expected {expected}; "
                            f"found {header}){hint}")
        positions[column] = found[0]
    return positions


def _check_diginetica_line(text: str, header: list[str] | None, positions: dict[str, int] | None) -> str:
    """The problem of one Diginetica data line ("" when fine)."""
    assert header is not None and positions is not None  # noqa: S101 - internal contract
    fields = text.split(_DIGINETICA_SEP)
    if len(fields) != len(header):
        return (f"expected {len(header)} {_DIGINETICA_SEP!r}-separated fields "
                f"({_DIGINETICA_SEP.join(header)}), found {len(fields)}"
                f"{_separator_hint(text, _DIGINETICA_SEP)}")
    session, item = fields[positions["session"]], fields[positions["item"]]
    timeframe, eventdate = fields[positions["timeframe"]], fields[positions["eventdate"]]
    if not _INTEGER.fullmatch(session):
        return f"session id {session!r} is not an integer"
    if not _fits(session):
        return f"session id {session.strip()} is out of range (64-bit integers)"
    if not item:
        return "empty item id"
    if not _INTEGER.fullmatch(timeframe):
        return f"timeframe {timeframe!r} is not an integer"
    if not _fits(timeframe):
        return f"timeframe {timeframe.strip()} is out of range (64-bit integers)"
    try:
        datetime.strptime(eventdate.strip(), "%Y-%m-%d")
    except ValueError:
        return f"eventdate {eventdate!r} is not a date YYYY-MM-DD"
    return ""


def _check_yoochoose_line(text: str, header: list[str] | None, positions: dict[str, int] | None) -> str:
    """The problem of one Yoochoose line ("" when fine)."""
    fields = text.split(_YOOCHOOSE_SEP)
    if not 3 <= len(fields) <= len(YOOCHOOSE_COLUMNS):
        return (f"expected {len(YOOCHOOSE_COLUMNS)} {_YOOCHOOSE_SEP!r}-separated fields "
                f"({_yoochoose_layout()}), found {len(fields)}{_separator_hint(text, _YOOCHOOSE_SEP)}")
    session, timestamp, item = fields[:3]
    if not _INTEGER.fullmatch(session):
        hint = " (yoochoose-clicks.dat has no header line; remove it)" if not session.strip().isdigit() \
            and session.strip().lower().startswith("session") else ""
        return f"session id {session!r} is not an integer{hint}"
    try:
        if len(timestamp) < _SECOND:
            raise ValueError(timestamp)
        datetime.strptime(timestamp[:_SECOND], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return f"timestamp {timestamp!r} is not ISO 8601 (YYYY-MM-DDTHH:MM:SS.sssZ)"
    if not _INTEGER.fullmatch(item):
        return f"item id {item!r} is not an integer"
    for name, value in (("session id", session), ("item id", item)):
        if not _fits(value):
            return f"{name} {value.strip()} is out of range (64-bit integers)"
    return ""


def _fits(integer: str) -> bool:
    """Whether an integer field (matched by ``_INTEGER``) fits in int64 as the fast reader needs."""
    return -(2**63) <= int(integer) < 2**63


def _separator_hint(text: str, sep: str) -> str:
    """A "wrong separator?" hint when ``text`` holds another usual separator."""
    others = [s for s in (",", ";", "\t", "|") if s != sep and s in text]
    if not others:
        return ""
    return f"; the line contains {others[0]!r}: wrong separator? (this format uses {sep!r})"


def _yoochoose_layout() -> str:
    """``session,timestamp,item,category``."""
    return _YOOCHOOSE_SEP.join(YOOCHOOSE_COLUMNS)


def _yoochoose_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Chunks of columns session (int64), timestamp (fixed-width bytes), item (int64), category.

    The category is read too (truncated to one byte, unused) so that a row with too many fields is
    an error: ``usecols`` would drop the extra fields silently.
    """
    dtype = {"session": "int64", "timestamp": np.dtype(f"S{_TIMESTAMP_WIDTH}"), "item": "int64",
             "category": np.dtype("S1")}
    yield from pd.read_csv(path, sep=_YOOCHOOSE_SEP, header=None, names=list(YOOCHOOSE_COLUMNS),
                           dtype=dtype, quoting=csv.QUOTE_NONE, chunksize=chunk_rows, engine="c", index_col=False)


@contextmanager
def _extra_fields_are_errors() -> Iterator[None]:
    """Rows with more fields than the columns named: pandas would take the first field as the index
    (or, with ``index_col=False``, drop the last ones with a ParserWarning); this makes them an error,
    which :func:`diagnose` then locates."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        yield


def _count_lines(path: Path) -> int:
    r"""At least the number of lines of a file, as the CSV parser splits them (``\n``, ``\r\n`` or a
    lone ``\r``; a last line without newline counts), reading 16 MiB blocks.

    A ``\r\n`` cut by a block boundary counts twice: an upper bound is all the caller needs.
    """
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            lines += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            last = block[-1:]
    return lines + (last not in (b"\n", b"\r"))


def _iso_seconds(timestamps: np.ndarray) -> np.ndarray | None:
    """Epoch seconds of fixed-width ``YYYY-MM-DDTHH:MM:SS...`` timestamps, from their digits.

    Vectorised integer arithmetic on the bytes, kept over the libraries by measurement
    (docs/DECISIONS.md): :func:`read_yoochoose` reads a 33-million-row log in 24 s with it, in 34 s
    with numpy's ``astype("U19").astype("datetime64[s]")`` and in 57 s (peak 2.0 instead of 1.5 GiB)
    with ``pd.to_datetime(..., format="%Y-%m-%dT%H:%M:%S")``. Neither reads the bytes column as it
    is (a 4x wider unicode copy first: casting an invalid *bytes* date such as ``2014-04-31`` to
    datetime64 crashes numpy 1.26 with a segfault), and numpy also accepts ``now``, ``today`` or a
    space for the ``T``, so the shape checks below would stay anyway.

    Returns:
        int64 seconds (naive time read as UTC), or None when a timestamp is not so shaped or is
        not a valid time (month 13, April 31, minute 60, ...).
    """
    if timestamps.dtype.kind != "S":
        return None
    chars = timestamps.view(np.uint8).reshape(len(timestamps), -1)[:, :_SECOND]  # (rows, 19)
    if chars.shape[1] < _SECOND:
        return None
    for position, char in {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":"}.items():
        if not (chars[:, position] == ord(char)).all():
            return None
    digits = chars - np.uint8(ord("0"))  # uint8: a character below "0" wraps above 9

    def number(first: int, last: int) -> np.ndarray:
        value = np.zeros(len(digits), dtype=np.int64)
        for column in range(first, last):
            digit = digits[:, column]
            if (digit > 9).any():
                raise _NotATime
            value = value * 10 + digit
        return value

    try:
        year, month, day = number(0, 4), number(5, 7), number(8, 10)
        hour, minute, second = number(11, 13), number(14, 16), number(17, 19)
    except _NotATime:
        return None
    if ((month < 1) | (month > 12) | (hour > 23) | (minute > 59) | (second > 59) | (day < 1)).any():
        return None
    months = (year - 1970) * 12 + month - 1  # months since 1970-01
    first_day = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    next_first = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    if (day > next_first - first_day).any():
        return None
    return (first_day + day - 1) * 86_400 + hour * 3_600 + minute * 60 + second


class _NotATime(Exception):
    """A timestamp field holds a non-digit."""


def factorize(values: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int32, numbered in order of first appearance) and the distinct values."""
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int32), np.asarray(uniques)
