"""SR-GNN preprocessing of the raw Diginetica and Yoochoose logs into SR-GNN pickle folders.

Reproduces ``datasets/preprocess.py`` of SR-GNN (Wu et al., AAAI 2019,
https://github.com/CRIPAC-DIG/SR-GNN) step by step (docs/MODELS.md §1.2, pitfalls P1–P4), as a chain
of small vectorised ``DataFrame -> DataFrame`` steps in the manner of LESSR's
``utils/data/preprocess.py``:

1. :func:`with_session_dates` — a session's date is the time of its **last row in file order**.
2. :func:`order_clicks` — Diginetica: stable sort of each session's clicks by ``timeframe``;
   Yoochoose: file order.
3. :func:`drop_short_sessions` — sessions of one click go.
4. + 5. :func:`drop_rare_items` — clicks on items with fewer than 5 clicks (counted once, after
   step 3) go, then sessions left with fewer than 2 clicks. **Single pass** (P3): counts are not
   recomputed, so a surviving item can have fewer than 5 clicks.
6. :func:`split_by_date` — ``splitdate = maxdate − days·86400`` (7 days for Diginetica, 1 for
   Yoochoose); train = date ``<`` splitdate, test = date ``>`` splitdate (equal: neither).
7. :func:`sort_by_date` — sessions by date, ties in order of first appearance of the session id.
8. :func:`reindex_items` — ids ``1..N`` in order of first appearance over the date-sorted train.
9. :func:`map_items` — test clicks on items unseen in train go, then test sessions under 2 clicks.
10. Prefix augmentation, longest prefix first (:meth:`~sbrzoo.data.sources.Sessions.augment`).
11. No removal of repeats, no truncation.
12. Yoochoose fractions ``1/k``: the last ``floor(E/k)`` of the ``E`` train examples; their
    ``all_train_seq.txt`` holds the whole sessions from the one owning the first kept example.
    Ids and the test set are those of the full train set (P4).

Output: Diginetica: the output folder itself; Yoochoose: one folder per fraction
(``yoochoose1_64/``, ``yoochoose1_4/``) under the output folder. Each holds ``all_train_seq.txt``,
``train.txt``, ``test.txt`` (the pickles :mod:`sbrzoo.data.sources` reads), ``stats.json``, and
the side files of :mod:`sbrzoo.data.extras`: ``item_map.tsv`` (sbrzoo id -> raw item id) and
``session_times.npy`` (the date of every training session). Files get the mode the umask gives,
as any file the user writes. Each folder is written in a hidden temporary
folder beside it and renamed at the end, so an interrupted or failed run leaves nothing behind.
The pickles are written by :func:`pickle.dump` with protocol 3, as SR-GNN's script wrote them (it
ran ``pickle.dump`` on Python 3, whose default was protocol 3 until 3.8): the same objects give the
very bytes of the published files, whose sha256 are in ``datasets/registry.json``.

Example:
    >>> result = prepare("diginetica", Path("train-item-views.csv"), Path("data/diginetica"))
    >>> [output.folder.name for output in result.outputs]
    ['diginetica']
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sbrzoo.data.extras import ITEM_MAP_FILE, SESSION_TIMES_FILE, write_item_map, write_session_times
from sbrzoo.data.pickles import current_umask, missing_root
from sbrzoo.data.raw import RAW_FORMATS, RawClicks, factorize, read_raw
from sbrzoo.data.sources import SESSIONS_FILE, TEST_FILE, TRAIN_FILE, Sessions
from sbrzoo.errors import ConfigError, DataError, one_line

__all__ = [
    "STATS_FILE",
    "DAY",
    "PROTOCOLS",
    "Protocol",
    "Preprocessed",
    "PreparedOutput",
    "PrepareResult",
    "prepare",
    "preprocess",
    "output_names",
    "with_session_dates",
    "order_clicks",
    "drop_short_sessions",
    "drop_rare_items",
    "split_by_date",
    "sort_by_date",
    "reindex_items",
    "map_items",
    "to_sessions",
    "fraction_examples",
    "write_folder",
    "PICKLE_PROTOCOL",
]

logger = logging.getLogger(__name__)

STATS_FILE = "stats.json"
_OUTPUT_FILES = frozenset({SESSIONS_FILE, TRAIN_FILE, TEST_FILE, STATS_FILE, ITEM_MAP_FILE,
                           SESSION_TIMES_FILE})
DAY = 86_400  # seconds


@dataclass(frozen=True)
class Protocol:
    """The SR-GNN settings of one raw format (docs/MODELS.md §1.2).

    Attributes:
        name: Raw format, ``"diginetica"`` or ``"yoochoose"``.
        test_days: Length of the test period in days (step 6).
        sort_by_timeframe: Sort each session's clicks by ``timeframe`` (step 2).
        fractions: Fractions ``k`` (``1/k`` most recent train examples) written by default, step
            12; empty: one folder with the whole train set.
        min_item_count: Items with fewer clicks are removed (step 5).
        min_session_length: Shorter sessions are removed (steps 3, 5 and 9).
        items_counted_on: ``"all"``: steps 4–5 count the clicks of the whole log before the date split,
            as SR-GNN's script does (the test days decide which items stay: the published files);
            ``"train"``: they count the training period's clicks only, after the split (leak-free;
            the test sessions then lose the items rare in training at step 9).
    """

    name: str
    test_days: int
    sort_by_timeframe: bool
    fractions: tuple[int, ...] = ()
    min_item_count: int = 5
    min_session_length: int = 2
    items_counted_on: str = "all"


ITEM_COUNTS = ("all", "train")  # Protocol.items_counted_on
PROTOCOLS: dict[str, Protocol] = {
    "diginetica": Protocol("diginetica", test_days=7, sort_by_timeframe=True),
    "yoochoose": Protocol("yoochoose", test_days=1, sort_by_timeframe=False, fractions=(64, 4)),
}


@dataclass(frozen=True)
class Preprocessed:
    """Steps 1–9 applied to a raw log: the full train and test sessions.

    Attributes:
        protocol: The settings used.
        train: Train sessions in date order, item ids ``1..num_items``.
        test: Test sessions in date order, unseen items removed.
        train_dates: Date (epoch seconds, naive time read as UTC) of each train session.
        test_dates: Date of each test session.
        split_date: ``maxdate − test_days·86400``.
        item_ids: Raw id of every new id: ``item_ids[i - 1]`` is the raw id of item ``i``.
        funnel: Clicks, sessions and items after each step (for ``stats.json``).
    """

    protocol: Protocol
    train: Sessions
    test: Sessions
    train_dates: np.ndarray
    test_dates: np.ndarray
    split_date: int
    item_ids: np.ndarray
    funnel: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def num_items(self) -> int:
        """Number of item ids (the candidates ``1..num_items``)."""
        return len(self.item_ids)


@dataclass(frozen=True)
class PreparedOutput:
    """One written dataset folder.

    Attributes:
        name: Dataset name (``diginetica``, ``yoochoose1_64``, ...), also the folder name.
        folder: The folder written.
        stats: The content of its ``stats.json``.
    """

    name: str
    folder: Path
    stats: dict[str, Any]


@dataclass(frozen=True)
class PrepareResult:
    """What :func:`prepare` did.

    Attributes:
        raw_file: The raw log read.
        outputs: The folders written, in order.
        seconds: Wall time of the whole preparation.
    """

    raw_file: Path
    outputs: list[PreparedOutput]
    seconds: float


def output_names(dataset: str, fractions: Sequence[int] | None = None) -> list[str]:
    """Names of the folders :func:`prepare` writes (``["yoochoose1_64", "yoochoose1_4"]``, ...).

    Raises:
        ConfigError: unknown dataset, or fractions given for Diginetica, or a fraction below 2.
    """
    protocol = _protocol(dataset)
    fractions = _fractions(protocol, fractions)
    if not fractions:
        return [protocol.name]
    return [f"{protocol.name}1_{k}" for k in fractions]


def prepare(
    dataset: str,
    raw_file: Path,
    out_dir: Path,
    *,
    fractions: Sequence[int] | None = None,
    overwrite: bool = False,
    items_counted_on: str = "all",
) -> PrepareResult:
    """Read a raw log, run the SR-GNN preprocessing and write the dataset folder(s).

    Args:
        dataset: ``"diginetica"`` or ``"yoochoose"``.
        raw_file: ``train-item-views.csv`` or ``yoochoose-clicks.dat``.
        out_dir: Diginetica: the dataset folder itself (pass it as ``--data-dir``); Yoochoose: the
            parent of ``yoochoose1_64/`` and ``yoochoose1_4/``. Created when missing.
        fractions: Yoochoose only: ``k`` of each ``1/k`` fraction to write (default 64 and 4).
        overwrite: Replace existing dataset folders (otherwise they are an error).
        items_counted_on: :attr:`Protocol.items_counted_on` (``"all"``: SR-GNN's files).

    Returns:
        The folders written and their statistics.

    Raises:
        ConfigError: unknown dataset, bad fractions or an unknown ``items_counted_on``.
        DataError: the raw file is missing or malformed (the message names the line), nothing
            survives the filters, a fraction holds no example, or an output folder exists and
            ``overwrite`` is off (an existing empty folder is fine). Nothing is written then.
    """
    start = time.perf_counter()
    if items_counted_on not in ITEM_COUNTS:
        raise ConfigError(f"items are counted on one of {', '.join(ITEM_COUNTS)}, got {items_counted_on!r}")
    protocol = dataclasses.replace(_protocol(dataset), items_counted_on=items_counted_on)
    fractions = _fractions(protocol, fractions)
    out_dir = Path(out_dir).expanduser().resolve()  # "." has no parent to stage beside
    names = output_names(dataset, fractions)
    flat = not fractions  # Diginetica: the files go straight into out_dir
    targets = [out_dir] if flat else [out_dir / name for name in names]
    for target in targets:
        if target.exists() and not target.is_dir():
            raise DataError(f"{target}: exists and is not a folder")
        if target.is_dir() and any(target.iterdir()) and not overwrite:
            raise DataError(f"{target}: already exists and is not empty; pass overwrite (--overwrite) "
                            "to replace it")
        foreign = sorted(p.name for p in target.iterdir() if p.name not in _OUTPUT_FILES) \
            if target.is_dir() else []
        if foreign:
            raise DataError(f"{target}: holds files that are not a prepared dataset ({', '.join(foreign[:5])}"
                            f"{', ...' if len(foreign) > 5 else ''}); refusing to replace it, choose "
                            "another --out")
    raw = read_raw(Path(raw_file), protocol.name)
    logger.info("%s: %s clicks read in %.1f s", raw.path, f"{raw.num_clicks:,}", time.perf_counter() - start)
    data = preprocess(raw, protocol)
    source = {"raw_file": str(raw.path), "format": protocol.name}
    outputs = []
    stage_parent = out_dir.parent if flat else out_dir
    created = missing_root(stage_parent)
    staged: list[tuple[Path, Path]] = []  # (temporary folder, target)
    try:
        stage_parent.mkdir(parents=True, exist_ok=True)
        for name, fraction, target in zip(names, fractions or [1], targets, strict=True):
            sessions, example_session, example_length = fraction_examples(data.train, fraction)
            stats = _output_stats(name, data, sessions, example_length, source)
            stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=stage_parent))
            stage.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; mkdir would not
            staged.append((stage, target))
            write_folder(stage, sessions, example_session, example_length, data.test, stats,
                         item_ids=data.item_ids,
                         session_times=data.train_dates[len(data.train) - len(sessions):])
            outputs.append(PreparedOutput(name, target, stats))
        _replace_folders(staged)
    except BaseException as error:
        for stage, _ in staged:
            shutil.rmtree(stage, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        if isinstance(error, OSError):  # a file in the way, no permission, a full disk
            raise DataError(f"{out_dir}: cannot write the prepared files ({one_line(error.strerror or error)}); "
                            "nothing was changed") from None
        raise
    return PrepareResult(raw.path, outputs, time.perf_counter() - start)


def preprocess(raw: RawClicks, protocol: Protocol | None = None) -> Preprocessed:
    """Steps 1–9 of docs/MODELS.md §1.2 on a raw log.

    Args:
        raw: The raw clicks (from :func:`~sbrzoo.data.raw.read_raw`).
        protocol: The settings; default: those of ``raw.format``.

    Raises:
        DataError: no session survives the filters, or the train set is empty.
    """
    protocol = protocol or _protocol(raw.format)
    funnel: dict[str, dict[str, int]] = {}
    clicks = _with(raw.clicks, session=factorize(raw.clicks["session"])[0])
    funnel["raw"] = _count(clicks)
    clicks = with_session_dates(clicks)
    clicks = order_clicks(clicks, by_timeframe=protocol.sort_by_timeframe)
    clicks = drop_short_sessions(clicks, min_length=protocol.min_session_length)
    funnel["without_short_sessions"] = _count(clicks)
    period = " in the training period" if protocol.items_counted_on == "train" else ""
    no_items = (f"{raw.path}: no session keeps {protocol.min_session_length} clicks on items with at least "
                f"{protocol.min_item_count} clicks{period}; is the log too small?")
    if protocol.items_counted_on == "all":  # SR-GNN: the whole log's counts, then the split
        clicks = drop_rare_items(clicks, min_count=protocol.min_item_count, min_length=protocol.min_session_length)
        funnel["without_rare_items"] = _count(clicks)
        if clicks.empty:
            raise DataError(no_items)
    train, test, split_date = split_by_date(clicks, days=protocol.test_days)
    funnel["on_split_date"] = _count(_select(clicks, clicks["date"].to_numpy() == split_date))  # in neither set
    if train.empty:
        raise DataError(f"{raw.path}: no session ends before the split date "
                        f"{_iso(split_date)} (the log spans {protocol.test_days} day(s) or less)")
    if protocol.items_counted_on == "train":  # leak-free: the training period's counts only
        train = drop_rare_items(train, min_count=protocol.min_item_count, min_length=protocol.min_session_length)
        funnel["train_without_rare_items"] = _count(train)
        if train.empty:
            raise DataError(no_items)
    train, test = sort_by_date(train), sort_by_date(test)
    train, vocabulary = reindex_items(train)
    funnel["test_before_item_mapping"] = _count(test)  # step 9 then drops the items not in training
    test = map_items(test, vocabulary, min_length=protocol.min_session_length)
    funnel["train"], funnel["test"] = _count(train), _count(test)
    if test.empty:
        logger.warning("%s: the test set is empty (no test session keeps %d clicks on train items)",
                       raw.path, protocol.min_session_length)
    train_sessions, train_dates = to_sessions(train)
    test_sessions, test_dates = to_sessions(test)
    item_ids = np.empty(int(vocabulary.max(initial=0)), dtype=raw.item_ids.dtype)
    seen = np.flatnonzero(vocabulary)  # item codes met in train
    item_ids[vocabulary[seen] - 1] = raw.item_ids[seen]
    for step, counts in funnel.items():
        logger.debug("%-24s %12s clicks %11s sessions %9s items", step, f"{counts['clicks']:,}",
                    f"{counts['sessions']:,}", f"{counts['items']:,}")
    return Preprocessed(protocol, train_sessions, test_sessions, train_dates, test_dates,
                        split_date, item_ids, funnel)


# --- steps: DataFrame -> DataFrame ---------------------------------------------------------------
# Columns: session (int32: rank of first appearance in the file), item (int32 code or, after
# reindex_items, the new id), time / date (int64 epoch seconds), timeframe (Diginetica, int64).


def with_session_dates(clicks: pd.DataFrame) -> pd.DataFrame:
    """Step 1: add ``date`` = ``time`` of the session's last row in file order; drop ``time``.

    Rows must be in file order. SR-GNN sets a session's date whenever the session id changes,
    from the row before, so a session met in several runs gets the date of its last row.
    """
    session, times = clicks["session"].to_numpy(), clicks["time"].to_numpy()
    order = np.argsort(session, kind="stable")  # file order inside each session
    grouped = session[order]
    last = np.flatnonzero(np.r_[grouped[1:] != grouped[:-1], True]) if len(session) else order
    date_of = np.zeros(int(grouped[-1]) + 1 if len(session) else 0, dtype=np.int64)
    date_of[grouped[last]] = times[order[last]]
    return _with(clicks.drop(columns="time"), date=date_of[session])


def order_clicks(clicks: pd.DataFrame, *, by_timeframe: bool) -> pd.DataFrame:
    """Step 2: gather each session's clicks (sessions in order of first appearance).

    Inside a session, clicks keep file order or, with ``by_timeframe`` (Diginetica), are sorted
    stably by ``timeframe``, which is then dropped.
    """
    session = clicks["session"].to_numpy()
    if by_timeframe:
        order = np.lexsort((clicks["timeframe"].to_numpy(), session))  # stable: ties keep file order
        clicks = clicks.drop(columns="timeframe")
    else:
        order = np.argsort(session, kind="stable")
    return _select(clicks, order)


def drop_short_sessions(clicks: pd.DataFrame, *, min_length: int = 2) -> pd.DataFrame:
    """Step 3: remove sessions with fewer than ``min_length`` clicks (repeats count)."""
    session = clicks["session"].to_numpy()
    lengths = np.bincount(session)
    return _select(clicks, lengths[session] >= min_length)


def drop_rare_items(clicks: pd.DataFrame, *, min_count: int = 5, min_length: int = 2) -> pd.DataFrame:
    """Steps 4–5: remove clicks on items with fewer than ``min_count`` clicks, then short sessions.

    One pass: the counts are taken on the input and not recomputed after sessions are dropped.
    """
    item, session = clicks["item"].to_numpy(), clicks["session"].to_numpy()
    frequent = np.bincount(item)[item] >= min_count
    remaining = np.bincount(session, weights=frequent, minlength=int(session.max(initial=-1)) + 1)
    return _select(clicks, frequent & (remaining[session] >= min_length))


def split_by_date(clicks: pd.DataFrame, *, days: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Step 6: train = sessions dated before ``maxdate − days·86400``, test = after it.

    Sessions dated exactly at the split date are in neither set.

    Returns:
        ``(train, test, split_date)``.
    """
    date = clicks["date"].to_numpy()
    split_date = int(date.max()) - DAY * days
    return _select(clicks, date < split_date), _select(clicks, date > split_date), split_date


def sort_by_date(clicks: pd.DataFrame) -> pd.DataFrame:
    """Step 7: sessions by date; equal dates keep the order of first appearance of the session.

    Rows must be grouped session by session (as :func:`order_clicks` leaves them); whole sessions
    move, so clicks keep their order inside a session.
    """
    session, date = clicks["session"].to_numpy(), clicks["date"].to_numpy()
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]]) if len(session) else session[:0]
    lengths = np.diff(np.append(starts, len(session)))  # (S,)
    order = np.lexsort((session[starts], date[starts]))  # stable, sessions only
    new_starts = np.cumsum(lengths[order]) - lengths[order]
    rows = np.repeat(starts[order] - new_starts, lengths[order]) + np.arange(len(session))
    return _select(clicks, rows)


def reindex_items(train: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Step 8: new item ids ``1..N`` in order of first appearance over the (date-sorted) train.

    Returns:
        The train clicks with new ids, and the vocabulary: new id of every item code (0: not in
        train), shape (largest code + 1,).
    """
    codes, uniques = pd.factorize(train["item"].to_numpy(), sort=False)
    vocabulary = np.zeros(int(train["item"].to_numpy().max(initial=-1)) + 1, dtype=np.int64)
    vocabulary[uniques] = np.arange(1, len(uniques) + 1)
    return _with(train, item=(codes + 1).astype(np.int32)), vocabulary


def map_items(test: pd.DataFrame, vocabulary: np.ndarray, *, min_length: int = 2) -> pd.DataFrame:
    """Step 9: translate test items to train ids; drop unseen items, then short sessions."""
    item = test["item"].to_numpy()
    known = item < len(vocabulary)
    ids = np.zeros(len(item), dtype=np.int64)
    ids[known] = vocabulary[item[known]]
    mapped = _select(_with(test, item=ids.astype(np.int32)), ids > 0)
    return drop_short_sessions(mapped, min_length=min_length)


# --- from clicks to pickles -----------------------------------------------------------------------


def to_sessions(clicks: pd.DataFrame) -> tuple[Sessions, np.ndarray]:
    """Sessions (CSR, in row order) and their dates from clicks grouped session by session."""
    session = clicks["session"].to_numpy()
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]]) if len(session) else np.zeros(0, np.int64)
    offsets = np.append(starts, len(session)).astype(np.int64)
    dates = clicks["date"].to_numpy(np.int64)[starts]
    return Sessions(clicks["item"].to_numpy(np.int64), offsets), dates


def fraction_examples(train: Sessions, fraction: int = 1) -> tuple[Sessions, np.ndarray, np.ndarray]:
    """Step 12: the most recent ``1/fraction`` of the prefix examples of ``train``.

    Examples are enumerated as in step 10 (sessions in order, longest prefix first); the last
    ``floor(E / fraction)`` are kept. ``fraction = 1`` keeps everything.

    Returns:
        ``(sessions, example_session, example_length)``: the whole sessions from the one owning
        the first kept example to the end (``all_train_seq.txt``), and for every kept example the
        index of its session in them and its prefix length.

    Raises:
        DataError: the fraction holds no example.
    """
    example_session, example_length = train.example_index()
    keep = len(example_session) // fraction
    if keep == 0:
        raise DataError(f"the 1/{fraction} fraction of {len(example_session):,} train examples is empty")
    example_session, example_length = example_session[-keep:], example_length[-keep:]
    first = int(example_session[0])
    return train.slice(first, len(train)), example_session - first, example_length


def write_folder(
    folder: Path,
    sessions: Sessions,
    example_session: np.ndarray,
    example_length: np.ndarray,
    test: Sessions,
    stats: dict[str, Any],
    *,
    item_ids: np.ndarray | None = None,
    session_times: np.ndarray | None = None,
) -> None:
    """Write ``all_train_seq.txt``, ``train.txt``, ``test.txt`` and ``stats.json`` into ``folder``,
    and the side files of :mod:`sbrzoo.data.extras` when given.

    Args:
        folder: An existing (temporary) folder.
        sessions: The train sessions (``all_train_seq.txt``).
        example_session: Session (index into ``sessions``) of every train example.
        example_length: Prefix length of every train example.
        test: The test sessions, augmented into ``test.txt``.
        stats: Written as ``stats.json``.
        item_ids: Raw id of every new id (``item_ids[i - 1]`` for item ``i``): ``item_map.tsv``.
        session_times: Date of every session of ``sessions``: ``session_times.npy``.
    """
    offsets = sessions.offsets
    _write_pickle(folder / SESSIONS_FILE, _int_lists(sessions.items, offsets[:-1], offsets[1:]))
    _write_examples(folder / TRAIN_FILE, sessions, example_session, example_length)
    test_session, test_length = fraction_examples(test)[1:] if test.num_examples else (
        np.zeros(0, np.int64), np.zeros(0, np.int64))
    _write_examples(folder / TEST_FILE, test, test_session, test_length)
    (folder / STATS_FILE).write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    if item_ids is not None:
        write_item_map(folder, item_ids)
    if session_times is not None:
        if len(session_times) != len(sessions):
            raise ValueError(f"{len(session_times)} session times for {len(sessions)} sessions")
        write_session_times(folder, session_times)


# --- pickles ------------------------------------------------------------------------------------

#: Protocol of the written pickles: SR-GNN's (``\x80\x03``, a ``BINPUT`` memo entry per list), so
#: that the files are byte-identical to the published ones (docs/DECISIONS.md).
PICKLE_PROTOCOL = 3


def _write_pickle(path: Path, obj: object) -> None:
    """``pickle.dump`` of ``obj`` into a new file ``path`` with :data:`PICKLE_PROTOCOL`."""
    with path.open("wb") as handle:
        pickle.dump(obj, handle, protocol=PICKLE_PROTOCOL)


def _int_lists(items: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> list[list[int]]:
    """The rows ``items[starts[k]:stops[k]]`` as Python lists of ints.

    Rows are slices of one ``tolist()``, so they share its int objects (pickle does not memoise
    ints: the bytes are those of independent lists). The cyclic garbage collector is paused while
    the lists are made: lists of ints hold no cycle, and its passes over millions of new lists
    cost most of the time (the 5.9 M prefix lists of Yoochoose 1/4: 10.1 s with it, 1.5 s without).
    """
    flat = items.tolist()
    with _gc_paused():
        return [flat[lo:hi] for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (restored after, also on error)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_examples(path: Path, sessions: Sessions, example_session: np.ndarray,
                    example_length: np.ndarray) -> None:
    """Write ``(prefixes, targets)`` of examples given by session index and prefix length."""
    starts = sessions.offsets[:-1][example_session]  # (E,)
    stops = starts + example_length
    _write_pickle(path, (_int_lists(sessions.items, starts, stops), sessions.items[stops].tolist()))


# --- helpers --------------------------------------------------------------------------------------


def _protocol(dataset: str) -> Protocol:
    """The protocol of a raw format name."""
    if dataset not in PROTOCOLS:
        raise ConfigError(f"unknown raw dataset {dataset!r}; choose one of: {', '.join(RAW_FORMATS)}")
    return PROTOCOLS[dataset]


def _fractions(protocol: Protocol, fractions: Sequence[int] | None) -> tuple[int, ...]:
    """The checked fractions to write (default: the protocol's)."""
    if fractions is None or len(fractions) == 0:
        return protocol.fractions
    if not protocol.fractions:
        raise ConfigError(f"{protocol.name} has no fractions (they are a Yoochoose option)")
    bad = [k for k in fractions if int(k) < 2]
    if bad:
        raise ConfigError(f"fractions are k >= 2 (1/k of the train examples); got {bad}")
    return tuple(dict.fromkeys(int(k) for k in fractions))


def _select(clicks: pd.DataFrame, rows: np.ndarray | slice) -> pd.DataFrame:
    """The rows of ``clicks`` picked by a mask, an index array or a slice, as fresh columns.

    Column-wise numpy indexing: several times faster than ``DataFrame.take`` or a boolean
    ``DataFrame.__getitem__`` on tens of millions of rows.
    """
    return pd.DataFrame({name: clicks[name].to_numpy()[rows] for name in clicks.columns}, copy=False)


def _with(clicks: pd.DataFrame, **columns: np.ndarray) -> pd.DataFrame:
    """``clicks`` with columns replaced or added, sharing the other columns' memory."""
    data = {name: clicks[name].to_numpy() for name in clicks.columns}
    return pd.DataFrame({**data, **columns}, copy=False)


def _count(clicks: pd.DataFrame) -> dict[str, int]:
    """Clicks, sessions and distinct items of a click table (columns of non-negative ints)."""
    def distinct(column: str) -> int:
        return int(np.count_nonzero(np.bincount(clicks[column].to_numpy()))) if len(clicks) else 0

    return {"clicks": len(clicks), "sessions": distinct("session"), "items": distinct("item")}


def _iso(seconds: int) -> str:
    """Epoch seconds as the naive time of the log (``YYYY-MM-DDTHH:MM:SS``)."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _output_stats(name: str, data: Preprocessed, sessions: Sessions, example_length: np.ndarray,
                  source: dict[str, str]) -> dict[str, Any]:
    """The ``stats.json`` of one output folder.

    ``mean_length`` is clicks per train session (SR-GNN's script reports clicks per session over
    train and test); ``mean_example_length`` is the mean of prefix length + 1 over the train
    examples, the "average length" of the TAGNN++ paper (docs/MODELS.md §1.5).
    """
    test = data.test
    lengths = sessions.lengths
    train_clicks, test_clicks = int(lengths.sum()), len(test.items)
    return {
        "name": name,
        **source,
        "protocol": "SR-GNN datasets/preprocess.py (docs/MODELS.md §1.2)" + (
            "" if data.protocol.items_counted_on == "all" else
            ", items counted on the training period only (--items-counted-on train)"),
        "items_counted_on": data.protocol.items_counted_on,
        "split_date": _iso(data.split_date),
        "test_days": data.protocol.test_days,
        "clicks": train_clicks + test_clicks,
        "sessions": len(sessions) + len(test),
        "items": data.num_items,
        "train_sessions": len(sessions),
        "train_examples": len(example_length),
        "train_clicks": train_clicks,
        "train_items": int(np.unique(sessions.items).size),
        "test_sessions": len(test),
        "test_examples": test.num_examples,
        "test_clicks": test_clicks,
        "test_items": int(np.unique(test.items).size),
        "mean_length": round(train_clicks / len(sessions), 4) if len(sessions) else None,
        "mean_example_length": round(float(example_length.mean()) + 1, 4) if len(example_length) else None,
        "funnel": data.funnel,
    }


def _replace_folders(staged: list[tuple[Path, Path]]) -> None:
    """Move every finished stage folder onto its target, all or none: the older targets are moved aside
    first, and moved back if a move fails or is interrupted; they are deleted once every stage is in."""
    aside: list[tuple[Path, Path]] = []  # (target, the hidden folder holding its older version)
    placed: list[Path] = []
    try:
        for _, target in staged:
            if target.exists():
                keep = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                aside.append((target, keep))
                os.replace(target, keep / target.name)
        for stage, target in staged:
            os.replace(stage, target)
            placed.append(target)
    except BaseException:
        for target in placed:
            shutil.rmtree(target, ignore_errors=True)
        for target, keep in aside:
            if (keep / target.name).exists():
                os.replace(keep / target.name, target)
            shutil.rmtree(keep, ignore_errors=True)
        raise
    for _, keep in aside:
        shutil.rmtree(keep, ignore_errors=True)
