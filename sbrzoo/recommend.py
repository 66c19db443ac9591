"""Recommend for live sessions with a trained run: raw item ids in, raw item ids and scores out.

Example:
    >>> import sbrzoo
    >>> recommender = sbrzoo.load_run("runs/srgnn-diginetica")
    >>> [top] = recommender.recommend([[214828987, 214826715]], k=5)
    >>> top.items, top.scores, top.unknown, top.fallback
    ([214828984, ...], [11.2, ...], 0, False)

Item ids are those of the raw log: the dataset's ``item_map.tsv`` (written by ``sbrzoo data prepare``,
see :mod:`sbrzoo.data.extras`) maps them to the model's ids ``1..N`` and back. A dataset without a
map (the published SR-GNN pickles, the synthetic data) uses its ids as they are.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import torch
from torch import nn

from sbrzoo.data.pickles import atomic_writer
from sbrzoo.errors import ConfigError, DataError
from sbrzoo.paths import refuse_to_replace

__all__ = ["Recommendation", "ItemIds", "Recommender", "load_recommender", "dataset_folder", "parse_session_line",
           "FileSummary", "recommend_file", "count_lines", "is_item_id"]

DEFAULT_BATCH_SIZE = 256
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_MOST_DIGITS = 20  # an int64 has at most 19 digits and a sign


def is_item_id(value: Any) -> bool:  # noqa: ANN401 - anything a caller or a JSON line gives
    """Whether ``value`` can be a raw item id: an integer (not a bool) or a string."""
    return isinstance(value, int | str | np.integer) and not isinstance(value, bool)


@dataclass(frozen=True)
class Recommendation:
    """The top items for one session.

    Attributes:
        items: Raw item ids, best first (ints, or strings when the dataset's raw ids are strings).
        scores: The model's score of each (higher is better); for a fallback, training click counts.
        unknown: Items of the session not in the model's catalogue, dropped before scoring.
        fallback: The session had no known item, so these are the most popular training items.
    """

    items: list[Any]
    scores: list[float]
    unknown: int = 0
    fallback: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "scores": self.scores, "unknown": self.unknown, "fallback": self.fallback}


class ItemIds:
    """Raw item id <-> model id ``1..N``, through an item map (:func:`sbrzoo.data.extras.load_item_map`).

    Args:
        num_items: ``N``.
        item_map: Raw id of every model id (index 0 unused), or None: the raw ids are the model ids.
    """

    def __init__(self, num_items: int, item_map: np.ndarray | None = None) -> None:
        self.num_items = num_items
        self.item_map = item_map
        self.integer = item_map is None or item_map.dtype.kind in "iu"
        self._index: dict[Any, int] | None = None
        if item_map is not None:
            raw = item_map[1:num_items + 1].tolist()
            self._index = {value: position for position, value in enumerate(raw, start=1)}

    def to_model(self, session: Sequence[Any]) -> tuple[list[int], int]:
        """``(model ids of the known items in click order, number of unknown items)``.

        Raises:
            DataError: an item is neither an integer nor a string (a bool, a float, null, a list...).
        """
        known: list[int] = []
        for item in session:
            key = self._key(item)
            found = self._index.get(key) if self._index is not None else (
                key if key is not None and 1 <= key <= self.num_items else None)
            if found is not None:
                known.append(found)
        return known, len(session) - len(known)

    def to_raw(self, ids: Iterable[int]) -> list[Any]:
        """The raw ids of model ids ``1..N``."""
        ids = list(ids)
        if self.item_map is None:
            return ids
        return self.item_map[np.asarray(ids, dtype=np.int64)].tolist() if ids else []

    def _key(self, item: Any) -> Any:  # noqa: ANN401 - a raw id as the caller gave it
        if not is_item_id(item):
            raise DataError(f"item {item!r} is not an item id (expected an integer or a string)")
        if self.integer:
            if isinstance(item, str):
                text = item.strip()
                # past int()'s digit limit (4,300) no id fits the catalogue's int64 map either
                return int(text) if _CANONICAL_INT.fullmatch(text) and len(text) <= _MOST_DIGITS else None
            return int(item)
        return str(item)


class Recommender:
    """A trained model ready to rank items for new sessions, in batches, on its device.

    Build it with :func:`load_recommender` (``sbrzoo.load_run``) or :meth:`from_run`.

    Args:
        model: Maps a :class:`~sbrzoo.data.batch.SessionBatch` to (B, N) scores, in eval mode.
        ids: The item ids of its dataset.
        popularity: (N,) training clicks of every item (the fallback ranking).
        graph_kinds, backend, device: How its batches are built and where they run.
        batch_size: Sessions scored at once.
        padding_to: Prefix length the released-code variants (``*_ref``) pad to (the test split's longest,
            as in evaluation), so that a session's scores never depend on the batch it is in.
        max_clicks: Longest prefix the model takes (its positional table); longer sessions keep their
            latest clicks. None: no limit.
    """

    def __init__(self, model: nn.Module, ids: ItemIds, popularity: np.ndarray, *, graph_kinds: Sequence[str],
                 backend: str, device: str, batch_size: int = DEFAULT_BATCH_SIZE, padding_to: int = 0,
                 max_clicks: int | None = None, name: str = "", epoch: int | None = None) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model.eval()
        self.ids = ids
        self.num_items = ids.num_items
        self.graph_kinds = tuple(graph_kinds)
        self.backend = backend
        self.device = device
        self.batch_size = batch_size
        self.padding_to = padding_to
        self.max_clicks = max_clicks
        self.name = name
        self.epoch = epoch
        self.popularity = np.asarray(popularity, dtype=np.float64)
        self._popular = np.argsort(-self.popularity, kind="stable") + 1  # model ids, most clicked first

    @classmethod
    def from_run(cls, run: Any, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Recommender:  # noqa: ANN401 - LoadedRun
        """The recommender of a :class:`~sbrzoo.experiment.LoadedRun`, with its dataset's item map.

        Raises:
            DataError: the dataset's ``item_map.tsv`` is malformed or too short.
        """
        from sbrzoo.data.extras import load_item_map
        from sbrzoo.models import get_spec
        from sbrzoo.models.popularity import PopularityModel
        from sbrzoo.nn.positional import longest_prefix

        dataset = run.dataset
        folder = dataset_folder(dataset)
        item_map = load_item_map(folder, num_items=dataset.num_items) if folder is not None else None
        popularity = PopularityModel(dataset.num_items)
        popularity.fit_statistics(dataset.train)
        return cls(run.model, ItemIds(dataset.num_items, item_map), popularity.counts.numpy(),
                   graph_kinds=get_spec(run.config.model).graph_kinds, backend=run.config.backend,
                   device=run.config.device, batch_size=batch_size,
                   padding_to=int(dataset.test.lengths.max()) if len(dataset.test) else 0,
                   max_clicks=longest_prefix(run.model), name=run.config.model, epoch=run.epoch)

    def recommend(self, sessions: Sequence[Sequence[Any]], k: int = 20, exclude_seen: bool = False,
                  ) -> list[Recommendation]:
        """The top ``k`` items for each session.

        Args:
            sessions: Sessions of raw item ids, oldest click first. Unknown items are dropped (and
                counted); a session with no known item (or none at all) gets the most popular items.
            k: Items per session (at most ``N``).
            exclude_seen: Never recommend an item of the session itself.

        Returns:
            One :class:`Recommendation` per session, in order.

        Raises:
            ConfigError: ``sessions`` is not a list of sessions, or ``k < 1``.
            DataError: an item is neither an integer nor a string.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        k = min(int(k), self.num_items)
        if isinstance(sessions, str | bytes) or not isinstance(sessions, Sequence):
            raise ConfigError("sessions must be a list of sessions, each a list of item ids")
        known, unknown = [], []
        for index, session in enumerate(sessions):
            if isinstance(session, np.ndarray) and session.ndim == 1:
                session = session.tolist()
            if isinstance(session, str | bytes) or not isinstance(session, Sequence):
                raise ConfigError(f"session {index} is {type(session).__name__} {session!r:.40}, not a list of "
                                  "item ids (for one session pass [session])")
            try:
                ids, dropped = self.ids.to_model(session)
            except DataError as error:
                raise DataError(f"session {index}: {error}") from None
            known.append(ids)
            unknown.append(dropped)
        results: list[Recommendation | None] = [None] * len(known)
        scored = [i for i, ids in enumerate(known) if ids]
        for start in range(0, len(scored), self.batch_size):
            chunk = scored[start:start + self.batch_size]
            scores, top = self._top([known[i] for i in chunk], k, exclude_seen)
            for row, index in enumerate(chunk):
                keep = np.isfinite(scores[row])
                results[index] = Recommendation(self.ids.to_raw(top[row][keep].tolist()),
                                                scores[row][keep].tolist(), unknown[index], False)
        popular = self._popular[:k]
        for index, result in enumerate(results):
            if result is None:
                results[index] = Recommendation(self.ids.to_raw(popular.tolist()),
                                                self.popularity[popular - 1].tolist(), unknown[index], True)
        return cast("list[Recommendation]", results)  # every None was replaced just above

    def _top(self, sessions: list[list[int]], k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        """Scores and model ids of the top ``k`` of every (non-empty) session, each (B, k): the model
        reads the last ``max_clicks`` clicks of each; ``exclude_seen`` removes every click's item."""
        from sbrzoo.data.collate import SessionCollator
        from sbrzoo.data.examples import Examples

        read = [ids[-self.max_clicks:] for ids in sessions] if self.max_clicks else sessions
        examples = Examples.from_lists(read, [1] * len(sessions))
        batch = SessionCollator(examples, self.num_items, self.graph_kinds, self.backend)(range(len(sessions)))
        padding = torch.clamp(self.padding_to - batch.lengths, min=0)
        batch = dataclasses.replace(batch, targets=None, extras={**batch.extras, "padding_slots": padding})
        with torch.inference_mode():
            scores = self.model(batch.to(self.device)).float()
            if exclude_seen:
                rows = torch.tensor([row for row, ids in enumerate(sessions) for _ in ids], device=self.device)
                seen = torch.tensor([item for ids in sessions for item in ids], device=self.device)
                scores = scores.clone()
                scores[rows, seen - 1] = float("-inf")
            values, columns = torch.topk(scores, k, dim=1)
        return values.cpu().numpy(), columns.cpu().numpy() + 1


def dataset_folder(dataset: Any) -> Path | None:  # noqa: ANN401 - SessionDataset
    """The folder a dataset was read from (None for generated data)."""
    return Path(dataset.files[0]).parent if dataset.files else None


def load_recommender(run_dir: str | Path, *, device: str | None = None, backend: str | None = None,
                     data_dir: str | Path | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> Recommender:
    """Load a finished run (``sbrzoo train``'s folder) as a :class:`Recommender`; also ``sbrzoo.load_run``.

    Args:
        run_dir: The run folder (``config.json``, ``best.pt``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``; None: where it was trained, or the CPU
            when that device is absent here.
        backend: Graph backend, ``"dgl"`` or ``"torch"`` (None: as trained, if DGL imports here).
        data_dir: Where the run's data is now, when it has moved.
        batch_size: Sessions scored at once.

    Raises:
        ConfigError: no run there, or the device is unknown or absent. DataError: its checkpoint or data
        cannot be read or differ from the run's.
    """
    from sbrzoo.experiment import load_run

    run = load_run(Path(run_dir), device=device, backend=backend,
                   data_dir=Path(data_dir) if data_dir is not None else None)
    return Recommender.from_run(run, batch_size=batch_size)


# -- files of sessions (sbrzoo recommend --input) ------------------------------------------------------
LINE_FIELDS = ("items", "id")


def parse_session_line(text: str) -> tuple[list[Any], Any]:
    """One line of a sessions file: ``[id, id, ...]`` or ``{"items": [id, ...], "id": any}``, item ids
    being integers or strings. Returns ``(items, id)`` (id None when absent).

    Raises:
        ValueError: the line is not one of these (the message says why, in one line).
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at column {error.colno})") from None
    except ValueError:  # an integer literal past Python's digit limit
        raise ValueError("not JSON (an integer too long to read)") from None
    session_id = None
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(LINE_FIELDS))
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (a line holds items and optionally id)")
        if "items" not in value:
            raise ValueError('no "items" field')
        value, session_id = value["items"], value.get("id")
    if not isinstance(value, list):
        raise ValueError(f"expected a list of item ids or an object with \"items\", found {type(value).__name__}")
    for item in value:
        if not is_item_id(item):
            raise ValueError(f"item {json.dumps(item)[:40]} is not an item id (expected an integer or a string)")
    return value, session_id


@dataclass(frozen=True)
class FileSummary:
    """What :func:`recommend_file` did: sessions written, bad lines skipped (their numbers, the first
    ten), unknown items dropped, fallback sessions, seconds."""

    sessions: int
    bad_lines: int
    first_bad_lines: list[int]
    unknown_items: int
    fallbacks: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def count_lines(path: Path) -> int:
    """Lines of a file, counted in 1 MiB blocks (constant memory)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def recommend_file(recommender: Recommender, source: Path, target: Path, *, k: int = 20, exclude_seen: bool = False,
                   skip_bad: bool = False, overwrite: bool = False,
                   progress: Callable[[int], None] | None = None,
                   warn: Callable[[str], None] | None = None) -> FileSummary:
    """Stream the sessions of ``source`` (JSON Lines, see :func:`parse_session_line`) into ``target``: one
    line ``{"line", "id"?, "items", "scores", "unknown", "fallback"}`` per session, in order, scored
    ``recommender.batch_size`` at a time. ``target`` appears whole or not at all (temporary file, then rename).

    Args:
        skip_bad: Skip malformed lines (each reported through ``warn``) instead of stopping at the first.
        overwrite: Replace ``target`` if it exists.
        progress: Called after every batch with the number of lines read since the last call (blank
            and skipped lines included, so the calls add up to the file's lines).

    Raises:
        ConfigError: ``target`` exists without ``overwrite``, or is ``source``.
        DataError: ``source`` cannot be read, or (without ``skip_bad``) a line is malformed: its number
            and what is wrong; nothing is written then.
    """
    source, target = Path(source), Path(target)
    refuse_to_replace(target, overwrite)
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise ConfigError(f"{target} is the input file; write the recommendations to another file")
    started = time.perf_counter()
    written = unknown = fallbacks = lines_read = lines_reported = 0
    bad: list[int] = []
    pending: list[tuple[int, Any, list[Any]]] = []

    def report_lines() -> None:
        nonlocal lines_reported
        if progress is not None and lines_read > lines_reported:
            progress(lines_read - lines_reported)
        lines_reported = lines_read

    def flush(out: IO[str]) -> None:
        nonlocal written, unknown, fallbacks
        results = recommender.recommend([items for _, _, items in pending], k=k, exclude_seen=exclude_seen)
        for (line, session_id, _), result in zip(pending, results, strict=True):
            record = {"line": line, **({"id": session_id} if session_id is not None else {}), **result.to_dict()}
            out.write(json.dumps(record) + "\n")
            unknown += result.unknown
            fallbacks += result.fallback
        written += len(pending)
        pending.clear()
        report_lines()

    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise DataError(f"{source}: cannot read ({error.strerror or error})") from None
    with handle, atomic_writer(target, "w") as out:
        for number, raw in enumerate(handle, start=1):
            lines_read = number
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                if not text.strip():
                    continue
                items, session_id = parse_session_line(text)
            except (UnicodeDecodeError, ValueError) as error:
                reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else str(error)
                if not skip_bad:
                    raise DataError(f"{source}, line {number}: {reason}; nothing written (skip such lines "
                                    "with --skip-bad)") from None
                bad.append(number)
                if warn is not None and len(bad) <= 10:
                    warn(f"{source}, line {number}: {reason} (skipped)")
                continue
            pending.append((number, session_id, items))
            if len(pending) >= recommender.batch_size:
                flush(out)
        if pending:
            flush(out)
        report_lines()  # blank or skipped lines after the last batch
    return FileSummary(written, len(bad), bad[:10], unknown, fallbacks, round(time.perf_counter() - started, 3))
