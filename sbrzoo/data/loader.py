"""Batches of examples as a DataLoader: index batches in, :class:`SessionBatch` out."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np
from torch.utils.data import DataLoader

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples

__all__ = ["batch_indices", "make_loader", "prefetch_in_thread"]

T = TypeVar("T")


def batch_indices(num_examples: int, batch_size: int, *, shuffle_seed: Sequence[int] | None = None,
                  drop_last: bool = False) -> list[np.ndarray]:
    """Consecutive slices of ``batch_size`` (the last one smaller) of the examples' order.

    Args:
        shuffle_seed: When given, the order is a permutation drawn from
            ``np.random.default_rng(shuffle_seed)`` (e.g. ``[seed, epoch]``, so a resumed run
            sees the same batches); else file order.
        drop_last: Leave out a smaller last slice (as a DataLoader's ``drop_last``), unless it is
            the only one.
    """
    order = np.arange(num_examples)
    if shuffle_seed is not None:
        order = np.random.default_rng(list(shuffle_seed)).permutation(num_examples)
    batches = [order[start : start + batch_size] for start in range(0, num_examples, batch_size)]
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def make_loader(
    examples: Examples,
    num_items: int,
    graph_kinds: Sequence[str],
    backend: str,
    batches: list[np.ndarray],
    *,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader yielding one :class:`SessionBatch` per entry of ``batches``, built in workers."""
    collator = SessionCollator(examples, num_items, graph_kinds, backend)
    return DataLoader(
        batches,  # type: ignore[arg-type]  # a list is a map-style dataset; torch's stub asks for Dataset
        batch_size=None,
        shuffle=False,
        collate_fn=collator,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )


def prefetch_in_thread(batches: Iterable[T], depth: int = 3) -> Iterator[T]:
    """Build the next batches in a background thread while the caller computes.

    Collation is torch work that releases the GIL, so on a GPU it overlaps with the step; unlike
    DataLoader workers, nothing is pickled between processes. Exceptions are re-raised in the caller.
    A caller that stops early (an error, a diverged loss, Ctrl-C) stops the thread too: it ends at
    its next batch instead of waiting forever, with up to ``depth`` batches, to hand them over.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    finished = object()
    stopped = threading.Event()

    def hand_over(item: object) -> bool:
        """Put ``item`` in the buffer unless the consumer has stopped; whether it went in."""
        while not stopped.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not hand_over(batch):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            hand_over(error)
            return
        hand_over(finished)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        while (item := buffer.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopped.set()
        producer.join(timeout=10.0)  # it ends after the batch it is building
