"""Helpers shared by the graph and layer tests."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.graph import ops


def collate(prefixes: Sequence[Sequence[int]], kinds: Sequence[str], backend: str = "torch",
            num_items: int = 10) -> SessionBatch:
    """One batch of every prefix (targets 1), with the graphs of ``kinds``."""
    examples = Examples.from_lists(prefixes, [1] * len(prefixes))
    return SessionCollator(examples, num_items, kinds, backend)(range(len(prefixes)))


def edge_list(graph) -> list[tuple[int, int]]:  # noqa: ANN001 - DGL or torch graph
    """``(src, dst)`` of every edge, in edge-id order."""
    src, dst = ops.edge_endpoints(graph)
    return list(zip(src.tolist(), dst.tolist()))


def random_prefixes(num_sessions: int, seed: int) -> list[list[int]]:
    """Sessions of 1..20 clicks over 9 items: many repeats, high in-degrees, mixed mailbox lengths."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 21, (num_sessions,), generator=gen).tolist()
    return [torch.randint(1, 10, (n,), generator=gen).tolist() for n in lengths]
