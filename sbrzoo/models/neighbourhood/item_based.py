"""Baselines that score from the current session's own clicks: S-POP, Item-kNN, sequential rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sbrzoo.models.neighbourhood._common import STEP_DECAYS, CountingModel, Queries, TrainingSessions, expand_rows
from sbrzoo.models.neighbourhood.presets import ItemKNNParams, SequentialRulesParams

__all__ = ["ItemKNN", "SequentialRules", "SessionPop"]


class SessionPop(CountingModel):
    r"""S-POP: the current session's items by their clicks in it, ties and the rest by popularity.

    .. math:: r(i) = c_q(i) + \frac{pop(i)}{pop(i) + 1}

    with :math:`c_q(i)` the clicks of item i in the prefix and :math:`pop(i)` its training clicks
    (session-rec ``algorithms/baselines/spop.py``; its ``top_n = 100`` cut of the popularity list
    only changes ranks past 100, so every item keeps its popularity term here).

    Shapes: popularity (N + 1,) buffer; forward (B prefixes) -> (B, N)
    """

    def _fit(self, sessions: TrainingSessions) -> None:
        pass  # the popularity buffer is all it needs

    def _base(self) -> np.ndarray:
        return self._cached("spop_base", lambda: self._array("popularity") / (self._array("popularity") + 1.0))

    def item_scores(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return queries.rows, queries.items, queries.counts + self._base()[queries.items]

    def unscored(self) -> tuple[np.ndarray, float]:
        return self._base(), 0.0  # every item has its popularity term


class _LastClickTable(CountingModel):
    """A model that scores the CSR row of a prefix's last click in a table of item-to-item weights, kept
    in the buffers ``{TABLE}_ptr`` (N + 2,), ``{TABLE}_items`` and ``{TABLE}_values`` (nnz,)."""

    TABLE = ""

    def __init__(self, num_items: int) -> None:
        super().__init__(num_items)
        for part, dtype in (("ptr", torch.int64), ("items", torch.int64), ("values", torch.float64)):
            self.register_buffer(f"{self.TABLE}_{part}", torch.zeros(0, dtype=dtype))

    def _store(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, keep: float) -> None:
        """Keep the ``keep`` largest weights of each row (:func:`_top_per_row`) as the table."""
        for part, array in zip(("ptr", "items", "values"), _top_per_row(rows, cols, values, self.num_items + 1, keep),
                               strict=True):
            self._set(f"{self.TABLE}_{part}", array)

    def item_scores(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        entry, owner, _ = expand_rows(self._array(f"{self.TABLE}_ptr"), queries.last_items)
        return owner, self._array(f"{self.TABLE}_items")[entry], self._array(f"{self.TABLE}_values")[entry]


class ItemKNN(_LastClickTable):
    r"""Item-kNN: items similar to the last click, by co-occurrence in training sessions.

    .. math::
        C_{ij} = \sum_s c_s(i)\,[j \in s], \quad
        sim(i, j) = \frac{C_{ij}}{(pop(i) + \lambda)^{\alpha}\,(pop(j) + \lambda)^{1 - \alpha}}
        \quad (i \ne j), \qquad r(j) = sim(x_L, j)

    where :math:`c_s(i)` counts the clicks of i in session s (session-rec counts every click of i
    against the set of items of its session), :math:`pop` counts training clicks, and only the
    ``n_sims`` largest similarities of each item are kept (ties: smaller item id first).

    Settings: :class:`~sbrzoo.models.neighbourhood.presets.ItemKNNParams`.

    Shapes: sim_ptr (N + 2,), sim_items / sim_values (nnz,) CSR buffers of the kept similarities;
    forward (B prefixes) -> (B, N)
    """

    TABLE = "sim"

    def __init__(self, num_items: int, **settings: Any) -> None:
        super().__init__(num_items)
        self.params = ItemKNNParams(**settings)

    def _fit(self, sessions: TrainingSessions) -> None:
        p, n = self.params, self.num_items + 1
        shape = (sessions.num_sessions, n)
        counts = sp.csr_matrix((sessions.counts.astype(np.float64), (sessions.rows, sessions.distinct_items)), shape)
        present = sp.csr_matrix((np.ones(len(sessions.rows)), (sessions.rows, sessions.distinct_items)), shape)
        co = (counts.T @ present).tocoo()  # (N+1, N+1): C_ij
        off_diagonal = co.row != co.col
        rows, cols = co.row[off_diagonal].astype(np.int64), co.col[off_diagonal].astype(np.int64)
        values = co.data[off_diagonal]
        support = self._array("popularity")
        values = values / ((support[rows] + p.lmbd) ** p.alpha * (support[cols] + p.lmbd) ** (1.0 - p.alpha))
        self._store(rows, cols, values, p.n_sims)


class SequentialRules(_LastClickTable):
    r"""SR: sequential rules from each click to the clicks that follow it within a window.

    .. math::
        R(a, b) = \sum_s \sum_{u < v \le u + steps,\ x^s_u = a,\ x^s_v = b} w(v - u),
        \qquad r(b) = R(x_L, b)

    with :math:`w` the step decay (``div``: 1/d, ``quadratic``: 1/d^2, ...), keeping the ``pruning``
    strongest rules of each a (ties: smaller item id first; session-rec keeps first-seen order)
    (Kamehkhosh et al., TempRec@RecSys 2017; session-rec ``algorithms/baselines/sr.py``).

    Settings: :class:`~sbrzoo.models.neighbourhood.presets.SequentialRulesParams`.

    Shapes: rule_ptr (N + 2,), rule_items / rule_values (nnz,) CSR buffers; forward -> (B, N)
    """

    TABLE = "rule"

    def __init__(self, num_items: int, **settings: Any) -> None:
        super().__init__(num_items)
        self.params = SequentialRulesParams(**settings)
        if self.params.weighting not in STEP_DECAYS:
            raise ValueError(f"unknown SR weighting {self.params.weighting!r}; known: {sorted(STEP_DECAYS)}")

    def _fit(self, sessions: TrainingSessions) -> None:
        p, n = self.params, self.num_items + 1
        items, session = sessions.items, sessions.session_of_click
        heads, tails, weights = [], [], []
        for distance in range(1, min(p.steps, len(items) - 1) + 1):  # over the window, not over sessions
            first = np.flatnonzero(session[:-distance] == session[distance:])
            heads.append(items[first])
            tails.append(items[first + distance])
            weights.append(np.full(len(first), float(STEP_DECAYS[p.weighting](np.asarray(float(distance))))))
        empty = [np.zeros(0, dtype=np.int64)]
        coo = sp.coo_matrix((np.concatenate(weights or [np.zeros(0)]),
                             (np.concatenate(heads or empty), np.concatenate(tails or empty))), (n, n)).tocsr().tocoo()
        self._store(coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data, p.pruning)


def _top_per_row(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, num_rows: int,
                 keep: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the ``keep`` largest values of each row (ties: smaller column first); ``keep`` 0 keeps
    all, below 1 drops ``int(len · keep)`` of each row (session-rec's pruning rule)."""
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    per_row = np.bincount(rows, minlength=num_rows)
    rank = np.arange(len(rows)) - (np.cumsum(per_row) - per_row)[rows]
    if keep >= 1:
        limit = np.full(num_rows, int(keep))
    elif keep > 0:
        limit = per_row - (per_row * keep).astype(np.int64)
    else:
        limit = per_row
    kept = rank < limit[rows]
    rows, cols, values = rows[kept], cols[kept], values[kept]
    ptr = np.zeros(num_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=num_rows), out=ptr[1:])
    return ptr, cols, values

