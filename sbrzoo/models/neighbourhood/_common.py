"""What the non-neural baselines share: training sessions rebuilt from prefix examples, the batch's
prefixes as (row, item) records, decay functions, CSR row expansion, and the popularity fallback.

Everything here is array code (numpy / scipy.sparse); nothing loops over sessions or examples.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.examples import Examples

__all__ = [
    "POSITION_WEIGHTS", "STEP_DECAYS", "CountingModel", "Queries", "TrainingSessions", "distinct_last",
    "expand_rows", "training_sessions",
]

log = logging.getLogger(__name__)

_Built = TypeVar("_Built")

# -- decay functions (session-rec, algorithms/knn/vsknn.py and algorithms/baselines/sr.py) ------------
# ``POSITION_WEIGHTS[name](p, L)``: weight of a click at 1-based position p of a session of L clicks
# (vsknn.py: linear, same, div, log, quadratic; "linear" is zero from position 11 on, as written there).
POSITION_WEIGHTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "same": lambda p, n: np.ones(np.broadcast(p, n).shape),
    "div": lambda p, n: p / n,
    "linear": lambda p, n: np.where(p <= 10, 1.0 - 0.1 * (n - p), 0.0),
    "log": lambda p, n: 1.0 / np.log10(n - p + 1.7),
    "quadratic": lambda p, n: (p / n) ** 2,
}
# ``STEP_DECAYS[name](d)``: weight of a distance of d >= 1 steps (vsknn.py ``*_score`` and sr.py;
# "linear" turns negative past d = 10, as written there).
STEP_DECAYS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "same": lambda d: np.ones(np.shape(d)),
    "div": lambda d: 1.0 / d,
    "linear": lambda d: np.where(d <= 100, 1.0 - 0.1 * d, 0.0),
    "log": lambda d: 1.0 / np.log10(d + 1.7),
    "quadratic": lambda d: 1.0 / (d * d),
}


def distinct_last(rows: np.ndarray, items: np.ndarray,
                  positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Collapse clicks to one record per distinct ``(row, item)``.

    Args:
        rows, items, positions: (C,) the row (session or batch row), item and 1-based position of
            every click.

    Returns:
        ``(rows, items, last_positions, counts)``, each (D,), sorted by row then item:
        the position of the item's last click in the row and its number of clicks there.
    """
    order = np.lexsort((positions, items, rows))
    rows, items, positions = rows[order], items[order], positions[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (items[1:] != items[:-1])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(rows)) - 1
    return rows[starts], items[starts], positions[ends], ends - starts + 1


def expand_rows(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of CSR rows ``rows`` one after another.

    Args:
        ptr: (R + 1,) CSR row pointer.
        rows: (P,) rows to expand (repeats allowed).

    Returns:
        ``(entry, owner, seg_start)``: (E,) index into the CSR arrays, (E,) index into ``rows`` of
        each entry's row, (P,) first position of each row's segment in the output.
    """
    starts = ptr[rows]
    lengths = ptr[rows + 1] - starts
    seg_start = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(len(rows)), lengths)
    entry = np.arange(int(lengths.sum())) - seg_start[owner] + starts[owner]
    return entry, owner, seg_start


@dataclass(frozen=True)
class TrainingSessions:
    """Training sessions, in training order (our stand-in for time: the SR-GNN pickles carry no
    timestamps, and their sessions are sorted by date, so session ``s`` is older than ``s + 1``).

    Shapes (S sessions, C clicks, D distinct (session, item) pairs):
        offsets (S + 1,), items (C,): the click sequences (CSR);
        rows, distinct_items, last_pos, counts (D,): one record per distinct item of a session,
        sorted by session then item; ``last_pos`` is the 1-based position of its last click.
    """

    offsets: np.ndarray
    items: np.ndarray
    rows: np.ndarray
    distinct_items: np.ndarray
    last_pos: np.ndarray
    counts: np.ndarray

    @property
    def num_sessions(self) -> int:
        return len(self.offsets) - 1

    @property
    def session_of_click(self) -> np.ndarray:
        """(C,) session of every click."""
        return np.repeat(np.arange(self.num_sessions), np.diff(self.offsets))

    def distinct_ptr(self) -> np.ndarray:
        """(S + 1,) CSR pointer of the distinct records."""
        ptr = np.zeros(self.num_sessions + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.rows, minlength=self.num_sessions), out=ptr[1:])
        return ptr

    def popularity(self, num_items: int) -> np.ndarray:
        """(N + 1,) training clicks of every item id (index 0: padding, 0)."""
        return np.bincount(self.items, minlength=num_items + 1)[: num_items + 1].astype(np.float64)


def training_sessions(train: Examples) -> TrainingSessions:
    """Rebuild the training sessions from their prefix examples.

    A session of n clicks gives the examples of lengths n-1, ..., 1 one after another
    (:meth:`Examples.augment`, the SR-GNN ``train.txt`` order), so a session starts after every
    example of length 1 and is its first example's prefix plus its target. When the examples are
    not in that order (e.g. the ``random`` validation split shuffled them), the sessions are the
    longest examples instead: those whose prefix-plus-target is no other example's prefix, in
    example order (then a session cut by the split may appear as two shorter ones, and "recency"
    is example order).
    """
    lengths = train.lengths
    if len(train) == 0:
        return _sessions(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64))
    starts = np.ones(len(train), dtype=bool)
    starts[1:] = lengths[:-1] == 1
    if _in_session_order(train, starts):
        first = np.flatnonzero(starts)
    else:
        first = np.flatnonzero(_longest_examples(train))
        log.warning("training examples are not in session order; rebuilt %d sessions from the longest "
                    "prefixes (session recency = example order)", len(first))
    sizes = lengths[first] + 1
    offsets = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    session = np.repeat(np.arange(len(first)), sizes)
    within = np.arange(offsets[-1]) - offsets[session]
    is_target = within == lengths[first][session]
    source = np.minimum(train.offsets[first][session] + within, len(train.items) - 1)
    items = np.where(is_target, train.targets[first][session], train.items[source])
    return _sessions(offsets, items)


def _sessions(offsets: np.ndarray, items: np.ndarray) -> TrainingSessions:
    session = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    position = np.arange(len(items)) - offsets[session] + 1
    rows, distinct, last_pos, counts = distinct_last(session, items, position)
    return TrainingSessions(offsets, items, rows, distinct, last_pos, counts)


def _in_session_order(train: Examples, starts: np.ndarray) -> bool:
    """Whether every non-starting example is its predecessor minus the last click."""
    lengths, offsets, items = train.lengths, train.offsets, train.items
    if lengths[-1] != 1:
        return False
    cont = np.flatnonzero(~starts)
    if not np.all(lengths[cont] == lengths[cont - 1] - 1):
        return False
    if not np.all(train.targets[cont] == items[offsets[cont - 1] + lengths[cont - 1] - 1]):
        return False
    owner = np.repeat(np.arange(len(cont)), lengths[cont])
    within = np.arange(len(owner)) - (np.cumsum(lengths[cont]) - lengths[cont])[owner]
    return bool(np.all(items[offsets[cont][owner] + within] == items[offsets[cont - 1][owner] + within]))


def _longest_examples(train: Examples) -> np.ndarray:
    """(E,) True where prefix + target is no example's prefix (polynomial hashes mod 2^64)."""
    lengths = train.lengths
    powers = np.cumprod(np.full(int(lengths.max()) + 1, 0x9E3779B97F4A7C15, dtype=np.uint64))
    powers = np.concatenate([np.ones(1, dtype=np.uint64), powers[:-1]])  # P^0, P^1, ...
    within = np.arange(len(train.items)) - np.repeat(train.offsets[:-1], lengths)
    terms = train.items.astype(np.uint64) * powers[within]
    prefix_hash = np.add.reduceat(terms, train.offsets[:-1])
    full_hash = prefix_hash + train.targets.astype(np.uint64) * powers[lengths]
    return ~np.isin(full_hash, prefix_hash)


@dataclass(frozen=True)
class Queries:
    """The prefixes of a batch as one record per distinct ``(row, item)``.

    Shapes (B rows, Q records): rows, items, last_pos, counts (Q,) sorted by row then item
    (``last_pos``: 1-based position of the item's last click, ``counts``: its clicks);
    lengths (B,) clicks per prefix; last_items (B,) the last click; ``num_cols`` = N + 1.
    """

    rows: np.ndarray
    items: np.ndarray
    last_pos: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray
    last_items: np.ndarray
    num_cols: int

    @property
    def batch_size(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_batch(cls, batch: SessionBatch, num_items: int) -> Queries:
        seq = batch.seq_items.cpu().numpy().astype(np.int64, copy=False)
        lengths = batch.lengths.cpu().numpy().astype(np.int64, copy=False)
        rows, cols = np.nonzero(np.arange(seq.shape[1])[None, :] < lengths[:, None])
        records = distinct_last(rows, seq[rows, cols], cols + 1)
        last_items = seq[np.arange(len(lengths)), np.maximum(lengths - 1, 0)]
        return cls(*records, lengths, last_items, num_items + 1)

    @functools.cached_property
    def position_table(self) -> np.ndarray:
        """(B, N + 1) int32: the last position of every item in every prefix, 0 where not clicked."""
        table = np.zeros((self.batch_size, self.num_cols), dtype=np.int32)
        table[self.rows, self.items] = self.last_pos
        return table


class CountingModel(nn.Module):
    """Base of the baselines fitted by counting: ``fit_statistics(train)``, then ``forward(batch) -> (B, N)``.

    Subclasses implement :meth:`_fit` (store the fitted arrays as buffers) and :meth:`item_scores`
    (the scored items of each prefix, sparse). session-rec gives the items a model does not score (no
    neighbour, no rule) 0; here they rank among themselves by training popularity (:meth:`unscored`:
    ``pop / (max pop + 1) - 1``, in [-1, 0)), below every positive score. A score of 0 is such an
    item's, and a negative score ``v`` (V-SKNN's and SR's ``linear`` decays turn negative past 10
    steps) ranks below all of them, at ``v - 1``, as below session-rec's zeros. Scores are computed in
    float64 and returned in float32, as the neural models' logits are.
    The SR-GNN evaluator ranks all items with optimistic ties, so leaving them all at 0 would count a
    target tied with thousands of unscored items as rank ``1 + #scored``; popularity is the
    deterministic tie-break.

    Fitted quantities are registered buffers (dense tensors: CSR is kept as pointer / index / value
    arrays), so ``state_dict()`` round-trips through ``torch.load(weights_only=True)``; their sizes
    depend on the training data, so loading a state dict resizes them first.

    Shapes:
        forward: SessionBatch of B prefixes -> (B, N) float32, column k for item k + 1
    """

    def __init__(self, num_items: int) -> None:
        super().__init__()
        self.num_items = num_items
        self.register_buffer("popularity", torch.zeros(0, dtype=torch.float64))
        self._cache: dict[str, Any] | None = None

    # -- fitting -------------------------------------------------------------------------------
    def fit_statistics(self, train: Examples) -> None:
        """Fit on the training examples (sessions rebuilt by :func:`training_sessions`)."""
        sessions = training_sessions(train)
        self._set("popularity", sessions.popularity(self.num_items))
        self._fit(sessions)
        self._cache = None

    def _fit(self, sessions: TrainingSessions) -> None:
        raise NotImplementedError

    def _set(self, name: str, array: np.ndarray) -> None:
        """Replace buffer ``name`` by ``array`` (on the buffer's device)."""
        old = getattr(self, name)
        setattr(self, name, torch.from_numpy(np.ascontiguousarray(array)).to(old.device))

    def _array(self, name: str) -> np.ndarray:
        """Buffer ``name`` as a numpy array (cached: a model on an accelerator copies it once)."""
        if self._cache is None:
            self._cache = {}
        if name not in self._cache:
            self._cache[name] = getattr(self, name).cpu().numpy()
        return self._cache[name]

    def _cached(self, key: str, build: Callable[[], _Built]) -> _Built:
        """A structure derived from the buffers, built once after each fit or load."""
        if self._cache is None:
            self._cache = {}
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,  # noqa: ANN001
                              unexpected_keys, error_msgs) -> None:
        for name, buffer in self._buffers.items():
            saved = state_dict.get(prefix + name)
            if buffer is not None and isinstance(saved, Tensor) and saved.shape != buffer.shape:
                self._buffers[name] = buffer.new_empty(saved.shape)
        self._cache = None
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # -- scoring -------------------------------------------------------------------------------
    def item_scores(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, items, values)``, each (M,): the scored items of every prefix, one entry per
        distinct (row, item), grouped by row in row order."""
        raise NotImplementedError

    def unscored(self) -> tuple[np.ndarray, float]:
        """``(base, offset)``: the score of an unscored item i is ``base[i] + offset``, ``base`` (N + 1,)
        in [0, 1) (training popularity, scaled), ``offset`` below every positive score."""
        popularity = self._array("popularity")
        return self._cached("popularity_fill", lambda: popularity / (popularity.max() + 1.0)), -1.0

    def forward(self, batch: SessionBatch) -> Tensor:
        if self.popularity.numel() == 0:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit_statistics(train) first")
        queries = Queries.from_batch(batch, self.num_items)
        rows, items, values = self.item_scores(queries)
        base, offset = self.unscored()
        scores = np.repeat(np.add(base[None, 1:], offset, dtype=np.float32), queries.batch_size, axis=0)  # (B, N)
        scored = values != 0  # a zero is an unscored item's score (session-rec's 0)
        # negative scores below every unscored item, whose scores lie in [offset, offset + 1), also in float32
        below = np.minimum(values[scored] + offset, np.nextafter(np.float32(offset), np.float32(-np.inf)))
        scores[rows[scored], items[scored] - 1] = np.where(values[scored] > 0, values[scored], below)
        return torch.from_numpy(scores).to(batch.device)
