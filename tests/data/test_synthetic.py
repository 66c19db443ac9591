"""The built-in synthetic dataset: deterministic, fast, Diginetica-like, and learnable."""

from __future__ import annotations

import numpy as np
import pytest

from sbrzoo.data.examples import Examples
from sbrzoo.data.synthetic import SyntheticConfig, SyntheticData, generate


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate()


def hit_rate(scores: np.ndarray, targets: np.ndarray, k: int = 20) -> float:
    """HR@k in percent; ties count against the target (pessimistic)."""
    target_scores = scores[np.arange(len(targets)), targets]
    rank = (scores >= target_scores[:, None]).sum(axis=1)
    return 100.0 * float(np.mean(rank <= k))


def click_counts(train: Examples, num_items: int) -> np.ndarray:
    """Training clicks per item id (index 0 unused): every target plus every first click."""
    first_clicks = train.items[train.offsets[:-1][train.lengths == 1]]
    return np.bincount(np.concatenate([train.targets, first_clicks]), minlength=num_items + 1)


def test_same_seed_same_data_other_seed_other_data(data: SyntheticData) -> None:
    again, other = generate(SyntheticConfig(seed=0)), generate(SyntheticConfig(seed=1))
    for part in ("train", "test"):
        np.testing.assert_array_equal(getattr(data, part).items, getattr(again, part).items)
        np.testing.assert_array_equal(getattr(data, part).offsets, getattr(again, part).offsets)
    assert not np.array_equal(data.train.items[:1000], other.train.items[:1000])


def test_sizes_and_lengths_look_like_diginetica(data: SyntheticData) -> None:
    lengths = data.train.lengths
    assert len(data.train) == 12_000 and 1_900 <= len(data.test) <= 2_000
    assert 40_000 <= data.train.num_examples <= 50_000
    assert 950 <= data.num_items <= 1_000
    assert lengths.min() == 2 and data.test.lengths.min() >= 2
    assert 4.0 <= lengths.mean() <= 6.0 and lengths.max() >= 20  # long tail
    assert 0.2 <= np.mean(lengths == 2) <= 0.4  # Diginetica: 28%


def test_ids_are_first_seen_order_and_test_items_are_trained(data: SyntheticData) -> None:
    train_items = data.train.items
    assert np.array_equal(np.unique(train_items), np.arange(1, data.num_items + 1))
    _, first = np.unique(train_items, return_index=True)
    assert np.all(np.diff(first) > 0)  # id k + 1 first appears after id k
    assert set(data.test.items.tolist()) <= set(train_items.tolist())


def test_repeats_and_zipf_popularity(data: SyntheticData) -> None:
    train = data.train.augment()
    last = train.items[train.offsets[1:] - 1]
    assert np.mean(last == train.targets) > 0.03  # "A A" pairs
    repeats = [len(s) - len(set(s)) for s in map(data.train.session, range(len(data.train)))]
    assert sum(repeats) / len(data.train.items) > 0.05  # returns to an earlier item
    counts = np.sort(np.bincount(data.train.items)[1:])[::-1]
    assert counts[: len(counts) // 10].sum() / counts.sum() > 0.3  # top 10% items: > 30% of clicks


def test_a_markov_predictor_beats_most_popular_by_ten_points(data: SyntheticData) -> None:
    train, test = data.train.augment(), data.test.augment()
    popularity = click_counts(train, data.num_items).astype(np.float64)
    popularity[0] = -np.inf
    transitions = np.zeros((data.num_items + 1, data.num_items + 1))
    np.add.at(transitions, (train.items[train.offsets[1:] - 1], train.targets), 1.0)
    last = test.items[test.offsets[1:] - 1]
    markov = transitions[last] + 1e-6 * popularity[None, :]  # ties broken by popularity
    pop_hr = hit_rate(np.broadcast_to(popularity, markov.shape), test.targets)
    markov_hr = hit_rate(markov, test.targets)
    assert markov_hr >= pop_hr + 10.0, (markov_hr, pop_hr)
