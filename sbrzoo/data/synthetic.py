"""The built-in ``synthetic`` dataset: click sessions generated from a seed, no download.

The generator is a small Markov model with the traits of the real benchmarks:

* **Popularity** is Zipf-like: item ``i`` has weight ``rank(i)^-zipf_exponent``.
* **Latent clusters**: every item belongs to one of ``num_clusters`` clusters; a session stays in
  the cluster of its first click except for noise clicks.
* **Transitions**: every item has ``num_successors`` preferred successors in its cluster (drawn by
  popularity), chosen with decreasing probabilities; a first-order model can learn them.
* **Repeats**: a click returns to an earlier item of the session (the previous click included,
  giving ``A A`` pairs, 9% of Diginetica's transitions).
* **Noise**: a click drawn by popularity from the session's cluster or from the whole catalogue.
* **Lengths** follow Diginetica's (docs/MODELS.md §1.5): ``2 + NegativeBinomial``, mean ≈ 4.85, long
  tail.

Sessions are generated in "time order"; the last ``num_test_sessions`` are the test part. As in the
SR-GNN preprocessing, items are re-indexed ``1..N`` in order of first appearance in training, and
test clicks on items never seen in training are dropped (then test sessions under 2 clicks).

Generation is vectorised across sessions (one numpy step per click position) and takes well under a
second; the same :class:`SyntheticConfig` always gives the same data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from sbrzoo.data.sources import Sessions

__all__ = ["SyntheticConfig", "SyntheticData", "generate"]


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of the generator (the defaults are the registered ``synthetic`` dataset).

    Attributes:
        seed: Seed of ``np.random.default_rng``; everything is drawn from it.
        num_items: Catalogue size before re-indexing (a few rare items may never be clicked).
        num_clusters: Latent clusters of items.
        num_train_sessions: Sessions of the training part.
        num_test_sessions: Sessions generated for the test part (a few may be dropped).
        num_successors: Preferred successors per item.
        zipf_exponent: Popularity weight of the item of rank r is ``r^-zipf_exponent``.
        successor_weights: Probability of each preferred successor, most likely first (normalised).
        p_successor: Probability that a click follows a preferred successor of the previous click.
        p_repeat: Probability that a click returns to an earlier item of the session.
        p_cluster_noise: Probability of a popularity draw inside the session's cluster
            (the rest, ``1 − p_successor − p_repeat − p_cluster_noise``, is drawn from all items).
        mean_length: Mean session length in clicks (≥ 2).
        length_dispersion: Negative-binomial shape of ``length − 2``; below 1 gives a longer tail.
        max_length: Longest session.
    """

    seed: int = 0
    num_items: int = 1000
    num_clusters: int = 40
    num_train_sessions: int = 12_000
    num_test_sessions: int = 2_000
    num_successors: int = 4
    zipf_exponent: float = 0.8
    successor_weights: tuple[float, ...] = (0.45, 0.25, 0.18, 0.12)
    p_successor: float = 0.45
    p_repeat: float = 0.1
    p_cluster_noise: float = 0.25
    mean_length: float = 4.85
    length_dispersion: float = 0.85
    max_length: int = 70

    def describe(self) -> str:
        """The settings as ``synthetic(seed=0, num_items=1000, ...)``, for run records."""
        return "synthetic(" + ", ".join(f"{k}={v}" for k, v in asdict(self).items()) + ")"


@dataclass(frozen=True)
class SyntheticData:
    """Generated sessions, items re-indexed ``1..num_items`` (all of them clicked in training).

    Attributes:
        train: Training sessions in time order.
        test: Test sessions (later in time than every training session).
        num_items: Number of distinct training items, the largest id.
        config: The settings that generated them.
    """

    train: Sessions
    test: Sessions
    num_items: int
    config: SyntheticConfig


def generate(config: SyntheticConfig | None = None) -> SyntheticData:
    """Generate the sessions of ``config`` (default: the registered ``synthetic`` dataset).

    Args:
        config: Generator settings; None for the defaults.

    Returns:
        Train and test sessions; the same config always gives identical arrays.
    """
    config = config or SyntheticConfig()
    rng = np.random.default_rng(config.seed)
    popularity = _zipf_weights(rng, config)  # (I,)
    cluster = rng.integers(config.num_clusters, size=config.num_items)  # (I,)
    successors = _preferred_successors(rng, popularity, cluster, config.num_successors)  # (I, K)
    num_sessions = config.num_train_sessions + config.num_test_sessions
    lengths = _session_lengths(rng, num_sessions, config)  # (S,)
    clicks = _walk(rng, lengths, popularity, cluster, successors, config)  # (S, width), -1: none
    train, test = clicks[: config.num_train_sessions], clicks[config.num_train_sessions :]
    new_id = _first_seen_ids(train[train >= 0], config.num_items)  # (I,), 0 = not in training
    return SyntheticData(
        train=_to_sessions(train, new_id),
        test=_to_sessions(test, new_id),
        num_items=int(new_id.max()),
        config=config,
    )


def _zipf_weights(rng: np.random.Generator, config: SyntheticConfig) -> np.ndarray:
    """Popularity ``rank^-a`` with ranks shuffled over items, normalised; shape (I,)."""
    ranks = rng.permutation(config.num_items) + 1
    weights = ranks.astype(np.float64) ** -config.zipf_exponent
    return weights / weights.sum()


def _preferred_successors(
    rng: np.random.Generator, popularity: np.ndarray, cluster: np.ndarray, num_successors: int
) -> np.ndarray:
    """K distinct successors per item from its own cluster, drawn by popularity (Gumbel top-k).

    Items whose cluster is too small take the missing successors from other clusters.

    Returns:
        (I, K) item indices, most likely successor first.
    """
    num_items = len(popularity)
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(num_items, num_items))  # (I, I)
    keys[cluster[:, None] != cluster[None, :]] -= 1e3  # other clusters only as a last resort
    np.fill_diagonal(keys, -np.inf)
    top = np.argpartition(-keys, num_successors, axis=1)[:, :num_successors]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def _session_lengths(
    rng: np.random.Generator, num_sessions: int, config: SyntheticConfig
) -> np.ndarray:
    """``2 + NegativeBinomial`` with mean ``mean_length``, capped at ``max_length``; shape (S,)."""
    extra_mean = config.mean_length - 2.0
    p = config.length_dispersion / (config.length_dispersion + extra_mean)
    extra = rng.negative_binomial(config.length_dispersion, p, size=num_sessions)
    return np.minimum(2 + extra, config.max_length)


def _walk(
    rng: np.random.Generator,
    lengths: np.ndarray,
    popularity: np.ndarray,
    cluster: np.ndarray,
    successors: np.ndarray,
    config: SyntheticConfig,
) -> np.ndarray:
    """Generate all sessions at once, one click position per step.

    Returns:
        (S, max length) item indices; positions past a session's length hold -1.
    """
    num_sessions, width = len(lengths), int(lengths.max())
    clicks = np.full((num_sessions, width), -1, dtype=np.int64)
    clicks[:, 0] = _draw(rng, popularity, num_sessions)
    session_cluster = cluster[clicks[:, 0]]
    in_cluster = _ClusterSampler(popularity, cluster)
    weights = np.asarray(config.successor_weights) / np.sum(config.successor_weights)
    bounds = np.cumsum([config.p_successor, config.p_repeat, config.p_cluster_noise])
    for t in range(1, width):
        rows = np.flatnonzero(lengths > t)
        # action 0: successor, 1: repeat, 2: cluster noise, 3: catalogue noise
        action = np.searchsorted(bounds, rng.random(len(rows)), side="right")
        nxt = successors[clicks[rows, t - 1], rng.choice(len(weights), size=len(rows), p=weights)]
        earlier = clicks[rows, (rng.random(len(rows)) * t).astype(np.int64)]
        nxt = np.where(action == 1, earlier, nxt)
        nxt = np.where(action == 2, in_cluster.draw(rng, session_cluster[rows]), nxt)
        nxt = np.where(action == 3, _draw(rng, popularity, len(rows)), nxt)
        clicks[rows, t] = nxt
    return clicks


def _draw(rng: np.random.Generator, probabilities: np.ndarray, size: int) -> np.ndarray:
    """``size`` independent draws of an index with the given probabilities; shape (size,)."""
    cdf = np.cumsum(probabilities)
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right"), len(cdf) - 1)


class _ClusterSampler:
    """Draws an item of a given cluster by popularity, for many sessions at once.

    Items are sorted by cluster; the key of item j is ``cluster(j) + CDF within its cluster``, so a
    draw for cluster c is a binary search for ``c + u``.
    """

    def __init__(self, popularity: np.ndarray, cluster: np.ndarray) -> None:
        order = np.argsort(cluster, kind="stable")
        sorted_cluster, sorted_weight = cluster[order], popularity[order]
        totals = np.bincount(sorted_cluster, weights=sorted_weight)  # (C,)
        before = np.concatenate([[0.0], np.cumsum(totals)[:-1]])  # weight of earlier clusters
        within = np.cumsum(sorted_weight) - before[sorted_cluster]
        self._keys = sorted_cluster + within / totals[sorted_cluster]  # (I,) increasing
        self._items = order

    def draw(self, rng: np.random.Generator, clusters: np.ndarray) -> np.ndarray:
        """One item per entry of ``clusters`` (each must hold an item); shape as ``clusters``."""
        position = np.searchsorted(self._keys, clusters + rng.random(len(clusters)), side="left")
        return self._items[np.minimum(position, len(self._items) - 1)]


def _first_seen_ids(train_clicks: np.ndarray, num_items: int) -> np.ndarray:
    """New ids ``1..`` by first appearance in the training clicks, 0 for unseen items; (I,)."""
    seen, first = np.unique(train_clicks, return_index=True)
    new_id = np.zeros(num_items, dtype=np.int64)
    new_id[seen[np.argsort(first)]] = np.arange(1, len(seen) + 1)
    return new_id


def _to_sessions(clicks: np.ndarray, new_id: np.ndarray) -> Sessions:
    """Re-index, drop clicks on unseen items (0) and sessions left under 2 clicks.

    Args:
        clicks: (S, width) item indices, -1 past each session's end.
        new_id: (I,) new id of every item index, 0 when dropped.
    """
    ids = np.where(clicks >= 0, new_id[np.maximum(clicks, 0)], 0)
    keep = ids > 0
    lengths = keep.sum(axis=1)
    rows = lengths >= 2
    lengths = lengths[rows]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Sessions(ids[rows][keep[rows]], offsets)
