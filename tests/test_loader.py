"""Batch order, seeded shuffling and the threaded prefetcher."""

from __future__ import annotations

import numpy as np
import pytest

from sbrzoo.data.loader import batch_indices, prefetch_in_thread


def test_batches_cover_every_example_once() -> None:
    batches = batch_indices(10, 4)
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    shuffled = batch_indices(10, 4, shuffle_seed=[0, 1])
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(10))
    assert [b.tolist() for b in shuffled] == [b.tolist() for b in batch_indices(10, 4, shuffle_seed=[0, 1])]
    assert [b.tolist() for b in shuffled] != [b.tolist() for b in batch_indices(10, 4, shuffle_seed=[0, 2])]


def test_drop_last_leaves_out_only_a_smaller_last_batch() -> None:
    shuffled = batch_indices(10, 4, shuffle_seed=[0, 1])
    dropped = batch_indices(10, 4, shuffle_seed=[0, 1], drop_last=True)
    assert [b.tolist() for b in dropped] == [b.tolist() for b in shuffled[:2]]  # the same order, 2 left out
    assert [len(b) for b in batch_indices(8, 4, drop_last=True)] == [4, 4]  # nothing smaller: nothing dropped
    assert [len(b) for b in batch_indices(3, 4, drop_last=True)] == [3]  # never every example


def test_prefetch_keeps_order_and_reraises() -> None:
    assert list(prefetch_in_thread(iter(range(50)), depth=2)) == list(range(50))

    def failing():  # noqa: ANN202
        yield 1
        raise ValueError("broken batch")

    with pytest.raises(ValueError, match="broken batch"):
        list(prefetch_in_thread(failing()))


def test_a_consumer_that_stops_early_stops_the_thread() -> None:
    import threading

    before = threading.active_count()
    batches = prefetch_in_thread(iter(range(1000)), depth=2)
    assert next(batches) == 0
    batches.close()  # what leaving the training loop early does
    assert threading.active_count() == before
