"""Turn a list of example indices into one :class:`SessionBatch` with batched graphs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.examples import Examples
from sbrzoo.data.graphs import GRAPH_KINDS, eop_edges, index_nodes, session_graph_edges, shortcut_edges
from sbrzoo.errors import ConfigError
from sbrzoo.graph.backends import build_graph

__all__ = ["SessionCollator"]


class SessionCollator:
    """Build a batch from example indices in one vectorised pass.

    Args:
        examples: The examples to draw from.
        num_items: Largest item id ``N``.
        graph_kinds: Which graphs to build (a subset of ``("session", "eop", "shortcut")``).
        backend: ``"dgl"`` or ``"torch"``.
    """

    def __init__(self, examples: Examples, num_items: int, graph_kinds: Sequence[str], backend: str) -> None:
        unknown = set(graph_kinds) - set(GRAPH_KINDS)
        if unknown:
            raise ConfigError(f"unknown graph kinds {sorted(unknown)}; known: {GRAPH_KINDS}")
        self.examples = examples
        self.num_items = num_items
        self.graph_kinds = tuple(graph_kinds)
        self.backend = backend
        # the reference codes pad every prefix to the longest of its split (P8)
        self.split_max_len = int(examples.lengths.max()) if len(examples) else 0

    def __call__(self, indices: Sequence[int] | np.ndarray) -> SessionBatch:
        indices = np.asarray(indices, dtype=np.int64)
        ex = self.examples
        starts = ex.offsets[indices]
        lengths_np = ex.offsets[indices + 1] - starts
        click_offsets = np.repeat(np.cumsum(lengths_np) - lengths_np, lengths_np)
        flat = np.repeat(starts, lengths_np) + np.arange(lengths_np.sum()) - click_offsets
        items = torch.from_numpy(ex.items[flat])
        lengths = torch.from_numpy(lengths_np)
        nodes = index_nodes(items, lengths, self.num_items)

        graphs = {}
        for kind in self.graph_kinds:
            if kind == "session":
                src, dst, num_edges, edata = session_graph_edges(nodes)
            elif kind == "eop":
                src, dst, num_edges, edata = eop_edges(nodes)
            else:
                src, dst, num_edges, edata = shortcut_edges(nodes, lengths)
            graphs[kind] = build_graph(self.backend, src, dst, nodes.batch_num_nodes, num_edges, edata)

        batch_size, max_len = len(indices), int(lengths_np.max())
        position = torch.arange(len(items)) - torch.from_numpy(click_offsets)
        seq_nodes = torch.full((batch_size, max_len), -1, dtype=torch.long)
        seq_nodes[nodes.click_session, position] = nodes.click_node
        seq_items = torch.zeros((batch_size, max_len), dtype=torch.long)
        seq_items[nodes.click_session, position] = items
        return SessionBatch(
            graphs=graphs,
            node_items=nodes.node_items,
            batch_num_nodes=nodes.batch_num_nodes,
            seq_nodes=seq_nodes,
            seq_items=seq_items,
            lengths=lengths,
            last_node=seq_nodes[torch.arange(batch_size), lengths - 1],
            targets=torch.from_numpy(ex.targets[indices]),
            extras={"padding_slots": self.split_max_len - lengths},
        )
