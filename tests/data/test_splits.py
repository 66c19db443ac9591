"""Validation splits: no session straddles train/valid; the random split is the reference's."""

from __future__ import annotations

import numpy as np
import pytest

from sbrzoo.data.examples import Examples
from sbrzoo.data.sources import Sessions
from sbrzoo.data.splits import split_last_sessions, split_random, validation_split
from sbrzoo.errors import ConfigError, DataError, UnknownNameError


def unique_item_sessions(count: int, seed: int = 0) -> Sessions:
    """``count`` sessions of 1..7 clicks; session s only uses items 100·s + 1..100·s + 7."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 8, size=count)
    return Sessions.from_lists([(100 * s + rng.integers(1, 8, size=n)).tolist()
                                for s, n in enumerate(lengths)])


def sequences(examples: Examples) -> list[tuple[int, ...]]:
    """Every example as the tuple prefix + (target,)."""
    return [(*examples.prefix(i), int(examples.targets[i])) for i in range(len(examples))]


def session_of(examples: Examples) -> set[int]:
    """Sessions (item // 100) the examples' clicks come from."""
    return set((np.concatenate([examples.items, examples.targets]) // 100).tolist())


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_last_sessions_hold_out_whole_sessions(fraction: float) -> None:
    sessions = unique_item_sessions(203)
    train, valid = split_last_sessions(sessions, fraction)
    num_valid = int(203 * fraction)
    assert session_of(train).isdisjoint(session_of(valid))
    assert session_of(train) <= set(range(203 - num_valid))
    assert sequences(train) == sequences(sessions.slice(0, 203 - num_valid).augment())
    assert sequences(valid) == sequences(sessions.slice(203 - num_valid, 203).augment())
    assert len(train) + len(valid) == sessions.num_examples


def test_no_validation_sequence_is_a_prefix_of_a_training_session() -> None:
    sessions = unique_item_sessions(50, seed=1)
    train, valid = validation_split(sessions, "last_sessions", fraction=0.2)
    trained = {seq[:cut] for seq in sequences(train) for cut in range(2, len(seq) + 1)}
    assert trained.isdisjoint(sequences(valid))


def test_last_sessions_keeps_at_least_one_session_each_side() -> None:
    train, valid = split_last_sessions(Sessions.from_lists([[1, 2], [3, 4, 5]]), 0.01)
    assert sequences(train) == [(1, 2)] and sequences(valid) == [(3, 4, 5), (3, 4)]
    with pytest.raises(DataError, match="1 training session"):
        split_last_sessions(Sessions.from_lists([[1, 2]]), 0.1)


@pytest.mark.parametrize("num_examples", [10, 25, 719])
def test_random_split_sizes_are_round_n_times_point_nine(num_examples: int) -> None:
    examples = Examples.from_lists([[i + 1] for i in range(num_examples)], [1] * num_examples)
    train, valid = split_random(examples, 0.1, seed=3)
    assert len(train) == round(num_examples * 0.9) and len(valid) == num_examples - len(train)
    assert sorted(sequences(train) + sequences(valid)) == sorted(sequences(examples))


def test_random_split_shuffles_examples_of_sessions() -> None:
    sessions = unique_item_sessions(100)
    train, valid = validation_split(sessions, "random", seed=0)
    assert len(train) == round(sessions.num_examples * 0.9)
    assert session_of(train) & session_of(valid)  # leaky by design


@pytest.mark.parametrize("method", ["last_sessions", "random"])
def test_same_seed_same_split(method: str) -> None:
    sessions = unique_item_sessions(100)
    first = validation_split(sessions, method, seed=7)
    again = validation_split(sessions, method, seed=7)
    assert [sequences(part) for part in first] == [sequences(part) for part in again]


def test_other_seed_other_random_split() -> None:
    sessions = unique_item_sessions(100)
    assert sequences(validation_split(sessions, "random", seed=1)[1]) != sequences(
        validation_split(sessions, "random", seed=2)[1]
    )


def test_none_keeps_every_example() -> None:
    sessions = unique_item_sessions(30)
    train, valid = validation_split(sessions, "none")
    assert valid is None and sequences(train) == sequences(sessions.augment())
    examples = sessions.augment()
    assert validation_split(examples, "none")[0] is examples


def test_prefix_examples_support_random_and_none_only() -> None:
    examples = unique_item_sessions(30).augment()
    valid = validation_split(examples, "random")[1]
    assert len(valid) == len(examples) - round(len(examples) * 0.9)
    with pytest.raises(DataError, match="needs whole training sessions.*'random' or 'none'"):
        validation_split(examples, "last_sessions")


def test_bad_settings() -> None:
    sessions = unique_item_sessions(10)
    with pytest.raises(UnknownNameError, match="'last_session'; did you mean 'last_sessions'"):
        validation_split(sessions, "last_session")
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ConfigError, match="valid_fraction"):
            validation_split(sessions, "random", fraction=fraction)
