r"""Session-based kNN: SKNN, V-SKNN, STAN and V-STAN share one pipeline and differ in a few hooks.

For a batch of B prefixes, with S training sessions (in training order, our proxy for time) and
``X`` the (S, N + 1) session-item incidence matrix:

1. **Candidates**: the training sessions that share an item with the prefix, from one sparse
   product ``Q @ X^T`` (B, S). Its complex entries carry two channels at once, set by the model's
   entries of Q (:meth:`_query_values`): ``|q ∩ s|``, ``Σ_{j ∈ q ∩ s} w_q(j)`` or (V-SKNN, V-STAN)
   the position of the most recent shared click.
2. **Sample**: the ``sample_size`` most recent candidates of each row (session-rec's
   ``sampling='recent'``; 0 keeps all).
3. **Neighbours**: the ``k`` most similar (:meth:`_similarity`), ties broken towards the more
   recent session, found with a per-row partition on a dense (B, ≤ sample_size) matrix.
4. **Scores**: SKNN and V-SKNN add a weight per neighbour (:meth:`_pair_weights`) to each of its
   items, one product ``W @ X`` (B, N + 1); the weight of STAN and V-STAN also depends on the item's
   position in the neighbour, so they gather the neighbours' (item, position) records with CSR
   offsets and sum them. No step loops over sessions or examples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sbrzoo.models.neighbourhood._common import (
    POSITION_WEIGHTS,
    STEP_DECAYS,
    CountingModel,
    Queries,
    TrainingSessions,
    expand_rows,
)
from sbrzoo.models.neighbourhood.presets import SKNNParams, STANParams, VSKNNParams, VSTANParams

__all__ = ["STAN", "SKNN", "VSKNN", "VSTAN", "SessionKNN"]


class SessionKNN(CountingModel):
    """The shared pipeline (module docstring); subclasses set the hooks.

    Buffers (S sessions, D distinct (session, item) records): session_ptr (S + 1,),
    session_items (D,) item ids sorted within each session, session_last_pos (D,) 1-based
    position of the item's last click in its session.
    """

    def __init__(self, num_items: int, params: SKNNParams | VSKNNParams | STANParams | VSTANParams) -> None:
        super().__init__(num_items)
        self.params = params
        self.register_buffer("session_ptr", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("session_items", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("session_last_pos", torch.zeros(0, dtype=torch.int64))

    @property
    def num_sessions(self) -> int:
        return max(self.session_ptr.numel() - 1, 0)

    def _fit(self, sessions: TrainingSessions) -> None:
        self._set("session_ptr", sessions.distinct_ptr())
        self._set("session_items", sessions.distinct_items)
        self._set("session_last_pos", sessions.last_pos)

    def _sessions(self) -> sp.csr_matrix:
        """X: (S, N + 1) complex CSR of ones, the items of every session (built once per fit/load)."""
        def build() -> sp.csr_matrix:
            ptr, items = self._array("session_ptr"), self._array("session_items")
            return sp.csr_matrix((np.ones(len(items), dtype=np.complex128), items, ptr),
                                 shape=(self.num_sessions, self.num_items + 1))
        return self._cached("sessions", build)

    def _item_index(self) -> sp.csr_matrix:
        """X^T: (N + 1, S) complex CSR, the sessions of every item."""
        return self._cached("item_index", lambda: self._sessions().T.tocsr())

    # -- hooks ---------------------------------------------------------------------------------
    def _query_values(self, queries: Queries) -> np.ndarray:
        """(Q,) complex entry of every prefix record in ``Q``; its products with X^T give each
        candidate's two channels (default ``1 + 1i``: |q ∩ s| in both)."""
        return np.full(len(queries.rows), 1.0 + 1.0j)

    def _similarity(self, queries: Queries, rows: np.ndarray, sessions: np.ndarray, real: np.ndarray,
                    imag: np.ndarray) -> np.ndarray:
        """(C,) similarity of each (row, candidate session) from the two channels of ``Q @ X^T``.
        Non-positive or NaN similarities exclude the candidate."""
        raise NotImplementedError

    def _pair_weights(self, queries: Queries, rows: np.ndarray, similarity: np.ndarray,
                      real: np.ndarray) -> np.ndarray:
        """(P,) what each neighbour adds to each of its items (default: its similarity)."""
        return similarity

    def _item_factor(self) -> np.ndarray | None:
        """(N + 1,) factor of every item's score, or None."""
        return None

    def _idf_factor(self, weight: float) -> np.ndarray | None:
        """(N + 1,) ``1 + weight · log(S / clicks(i))`` (V-SKNN's and V-STAN's IDF boost), None for 0."""
        if not weight:
            return None
        def build() -> np.ndarray:
            idf = np.log(self.num_sessions / np.maximum(self._array("popularity"), 1.0))
            return 1.0 + weight * idf
        return self._cached("idf_factor", build)

    # -- pipeline ------------------------------------------------------------------------------
    def item_scores(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores ``W @ X``: W (B, S) holds the pair weights of the neighbours (plus 1i, which
        counts the neighbours holding each item, so an item whose weights sum to 0 stays scored)."""
        rows, sessions, similarity, real = self._neighbours(queries)
        weights = self._pair_weights(queries, rows, similarity, real)
        w = sp.csr_matrix((weights + 1j, (rows, sessions)), shape=(queries.batch_size, self.num_sessions))
        return self._finish(queries, w @ self._sessions())

    def _finish(self, queries: Queries, scores: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, items, values)`` of a (B, N + 1) complex CSR of scores: the item factor applied,
        the prefix's own items dropped unless ``remind``."""
        rows = np.repeat(np.arange(queries.batch_size), np.diff(scores.indptr))
        items, values = scores.indices.astype(np.int64), scores.data.real
        factor = self._item_factor()
        if factor is not None:
            values = values * factor[items]
        if not getattr(self.params, "remind", True):
            keep = queries.position_table[rows, items] == 0
            rows, items, values = rows[keep], items[keep], values[keep]
        return rows, items, values

    def _neighbours(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, sessions, similarity, real)`` of every selected (prefix, neighbour) pair."""
        p, batch = self.params, queries.batch_size
        q = sp.csr_matrix((self._query_values(queries), (queries.rows, queries.items)),
                          shape=(batch, self.num_items + 1))
        product = q @ self._item_index()  # (B, S): the two channels of every candidate
        product.sort_indices()
        per_row = np.diff(product.indptr)
        rows = np.repeat(np.arange(batch), per_row)
        newest_first = np.repeat(product.indptr[1:], per_row) - 1 - np.arange(len(rows))  # 0: most recent
        sampled = newest_first < p.sample_size if p.sample_size > 0 else np.ones(len(rows), dtype=bool)
        rows, sessions, values = rows[sampled], product.indices[sampled].astype(np.int64), product.data[sampled]
        similarity = self._similarity(queries, rows, sessions, values.real, values.imag)
        valid = similarity > 0
        rows, sessions, similarity, real = rows[valid], sessions[valid], similarity[valid], values.real[valid]
        newest_first = np.cumsum(np.bincount(rows, minlength=batch))[rows] - 1 - np.arange(len(rows))
        chosen = _top_k_recent_first(batch, rows, newest_first, similarity, p.k)
        return rows[chosen], sessions[chosen], similarity[chosen], real[chosen]


def _recency_channel(queries: Queries) -> np.ndarray:
    """``4^(p - L)`` of every prefix record (its last click at position p of L): summed over the shared
    items of a candidate, the binary exponent of the sum gives the position of the most recent shared
    click (distinct powers of 4 sum to below 4/3 of the largest), exact up to 500 positions back."""
    return np.power(4.0, np.maximum(queries.last_pos - queries.lengths[queries.rows], -500))


def _most_recent_shared(real: np.ndarray) -> np.ndarray:
    """(P,) ``p - L`` (≤ 0) of the most recent prefix click shared with each neighbour, from the summed
    :func:`_recency_channel` ``real`` in [4^d, 4^d · 4/3): binary exponent 2d + 1."""
    return (np.frexp(real)[1] - 1) // 2


def _top_k_recent_first(batch: int, rows: np.ndarray, newest_first: np.ndarray, similarity: np.ndarray,
                        k: int) -> np.ndarray:
    """(C,) mask of the k largest similarities of each row, ties to the smaller ``newest_first``
    (each row's candidates numbered 0, 1, ... from the most recent).

    Rows with at most k candidates keep them all; the others go into one dense (R, C_max) matrix
    with columns in recency order, a per-row ``np.partition`` gives the k-th value t, and the mask
    keeps every entry > t and the most recent entries == t up to k.
    """
    counts = np.bincount(rows, minlength=batch)
    crowded = counts > k
    chosen = np.ones(len(rows), dtype=bool)
    if not crowded.any():
        return chosen
    inside = crowded[rows]
    dense_row = (np.cumsum(crowded) - 1)[rows[inside]]
    columns = newest_first[inside]
    width = int(counts.max())
    dense = np.full((int(crowded.sum()), width), -np.inf)
    dense[dense_row, columns] = similarity[inside]
    threshold = np.partition(dense, width - k, axis=1)[:, width - k : width - k + 1]  # k-th largest
    above = dense > threshold
    tied = dense == threshold
    need = k - above.sum(axis=1, keepdims=True)
    selected = above | (tied & (np.cumsum(tied, axis=1) <= need))
    chosen[inside] = selected[dense_row, columns]
    return chosen


class SKNN(SessionKNN):
    r"""SKNN: the k most similar recent sessions by cosine over item sets, items by summed similarity.

    .. math::
        sim(q, s) = \frac{|q \cap s|}{\sqrt{|q|\,|s|}}, \qquad
        r(i) = \sum_{s \in N_k(q)} sim(q, s)\,[i \in s]

    over sets of distinct items, :math:`N_k(q)` the k most similar of the ``sample_size`` most
    recent sessions sharing an item with q (Jannach & Ludewig, RecSys 2017; session-rec
    ``algorithms/knn/sknn.py``, whose ``cosine`` has an operator-precedence slip,
    ``li / sqrt(la) * sqrt(lb)``: we use the cosine).

    Settings: :class:`~sbrzoo.models.neighbourhood.presets.SKNNParams`. Shapes: forward (B prefixes) -> (B, N)
    """

    def __init__(self, num_items: int, **settings: Any) -> None:
        super().__init__(num_items, SKNNParams(**settings))

    def _similarity(self, queries, rows, sessions, real, imag):  # noqa: ANN001, ANN202 - real = |q ∩ s|
        distinct = np.bincount(queries.rows, minlength=queries.batch_size)[rows]
        sizes = np.diff(self._array("session_ptr"))[sessions]
        return real / np.sqrt(distinct * sizes)


class VSKNN(SessionKNN):
    r"""V-SKNN: SKNN with position-weighted prefix items and a decay for old shared clicks.

    .. math::
        w_q(j) = f(p_q(j), L), \quad sim(q, s) = \frac{1}{|q|} \sum_{j \in q \cap s} w_q(j),

        r(i) = \sum_{s \in N_k(q)} sim(q, s)\; g\big(L - \max_{j \in q \cap s} p_q(j) + 1\big)\;
        (1 + \lambda_{idf}\,\log\tfrac{S}{pop(i)})\,[i \in s]

    with :math:`p_q(j)` the position of j's last click in the prefix of L clicks, f =
    ``POSITION_WEIGHTS[weighting]``, g = ``STEP_DECAYS[weighting_score]``, neighbours of positive
    similarity only (Ludewig & Jannach, UMUAI 2018; session-rec ``algorithms/knn/vsknn.py``, whose
    ``calc_similarity`` always uses this weighted overlap whatever ``similarity`` says).

    Settings: :class:`~sbrzoo.models.neighbourhood.presets.VSKNNParams`. Shapes: forward (B prefixes) -> (B, N)
    """

    params: VSKNNParams

    def __init__(self, num_items: int, **settings: Any) -> None:
        params = VSKNNParams(**settings)
        if params.weighting not in POSITION_WEIGHTS or params.weighting_score not in STEP_DECAYS:
            raise ValueError(f"unknown V-SKNN weighting {params.weighting!r} / {params.weighting_score!r}")
        super().__init__(num_items, params)

    def _query_values(self, queries: Queries) -> np.ndarray:
        """``4^(p - L) + i w_q``: the real channel gives the most recent shared click
        (:func:`_recency_channel`), the imaginary one sums the position weights."""
        lengths = queries.lengths[queries.rows]
        weight = POSITION_WEIGHTS[self.params.weighting]
        weights = weight(queries.last_pos.astype(np.float64), lengths.astype(np.float64))
        return _recency_channel(queries) + 1j * weights

    def _similarity(self, queries, rows, sessions, real, imag):  # noqa: ANN001, ANN202 - imag = Σ w_q
        return imag / np.bincount(queries.rows, minlength=queries.batch_size)[rows]

    def _pair_weights(self, queries, rows, similarity, real):  # noqa: ANN001, ANN202
        step = 1 - _most_recent_shared(real)  # L - p + 1: 1 for the last click
        return similarity * STEP_DECAYS[self.params.weighting_score](step.astype(np.float64))

    def _item_factor(self) -> np.ndarray | None:
        return self._idf_factor(self.params.idf_weighting)


class STAN(SessionKNN):
    r"""STAN: sequence- and time-aware neighbourhood (Garg et al., SIGIR 2019).

    .. math::
        w_q(j) = e^{(p_q(j) - L)/\lambda_1}, \quad
        sim(q, s) = \frac{\sum_{j \in q \cap s} w_q(j)}{\sqrt{\sum_{j \in q} w_q(j)^2}\,\sqrt{|s|}}
        \; e^{-(S - s)/\lambda_2},

        r(i) = \sum_{s \in N_k(q)} sim(q, s)\; e^{-|p_s(i) - p^*_s|/\lambda_3}\,[i \in s],
        \quad p^*_s = \max_{j \in q \cap s} p_s(j)

    where :math:`p_s(i)` is the position of i's last click in neighbour s and :math:`S - s` its age
    in training sessions (session ``s`` of S; the test prefixes come after all of them), with
    λ2 = ``lambda_snh_days · sessions_per_day`` sessions; session-rec
    ``algorithms/knn/stan.py``.

    Settings: :class:`~sbrzoo.models.neighbourhood.presets.STANParams`. Shapes: forward (B prefixes) -> (B, N)
    """

    params: STANParams

    def __init__(self, num_items: int, **settings: Any) -> None:
        super().__init__(num_items, self.params_class(**settings))

    params_class: type[STANParams] = STANParams

    @property
    def lambda_recency(self) -> float:
        """λ2 in training sessions."""
        p = self.params
        return p.lambda_snh_days * p.sessions_per_day

    def _query_weights(self, queries: Queries) -> np.ndarray:
        return np.exp((queries.last_pos - queries.lengths[queries.rows]) / self.params.lambda_spw)

    def _query_values(self, queries: Queries) -> np.ndarray:
        return 1.0 + 1j * self._query_weights(queries)

    def _similarity(self, queries, rows, sessions, real, imag):  # noqa: ANN001, ANN202 - imag = Σ w_q
        squares = np.bincount(queries.rows, weights=self._query_weights(queries) ** 2, minlength=queries.batch_size)
        sizes = np.diff(self._array("session_ptr"))[sessions]
        recency = np.exp(-(self.num_sessions - sessions) / self.lambda_recency)
        return imag / (np.sqrt(squares[rows]) * np.sqrt(sizes)) * recency

    def item_scores(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each neighbour item's weight depends on its own position, so the neighbours' (item,
        position) records are gathered (CSR offsets) and summed, instead of one product."""
        rows, sessions, similarity, real = self._neighbours(queries)
        weights = self._pair_weights(queries, rows, similarity, real)
        entry, owner, seg_start = expand_rows(self._array("session_ptr"), sessions)
        items, positions = self._array("session_items")[entry], self._array("session_last_pos")[entry]
        entry_rows = rows[owner]
        shared = np.where(queries.position_table[entry_rows, items] > 0, positions, 0)
        anchor = np.maximum.reduceat(shared, seg_start)[owner] if len(shared) else shared
        weights = weights[owner] * np.exp(-np.abs(positions - anchor) / self.params.lambda_inh)
        summed = sp.csr_matrix((weights + 1j, (entry_rows, items)), shape=(queries.batch_size, self.num_items + 1))
        summed.sum_duplicates()
        return self._finish(queries, summed)


class VSTAN(STAN):
    r"""V-STAN: STAN with V-SKNN's decay for the neighbour's most recent shared click and IDF boost.

    .. math::
        r(i) = \sum_{s \in N_k(q)} sim(q, s)\; e^{-|p_s(i) - p^*_s|/\lambda_3}\;
        (1 + \lambda_{idf}\,\log\tfrac{S}{pop(i)})\; e^{(\max_{j \in q \cap s} p_q(j) - L)/\lambda_{ipw}}\,[i \in s]

    with STAN's neighbours and similarity (its λ1, λ2; :class:`STAN`), pop(i) the training clicks of
    i, and :math:`p_q(j)` the position of j's last click in the prefix of L clicks (Ludewig, Latifi &
    Jannach, UMUAI 2021; session-rec ``algorithms/knn/vstan.py``, with its ``similarity='cosine'``).

    Settings: :class:`~sbrzoo.models.neighbourhood.presets.VSTANParams`. Shapes: forward (B prefixes) -> (B, N)
    """

    params: VSTANParams
    params_class = VSTANParams

    def _query_values(self, queries: Queries) -> np.ndarray:
        """``4^(p - L) + i w_q``: the most recent shared click (:func:`_recency_channel`) and STAN's weights."""
        return _recency_channel(queries) + 1j * self._query_weights(queries)

    def _pair_weights(self, queries, rows, similarity, real):  # noqa: ANN001, ANN202
        return similarity * np.exp(_most_recent_shared(real) / self.params.lambda_ipw)

    def _item_factor(self) -> np.ndarray | None:
        return self._idf_factor(self.params.lambda_idf)
