"""A minimal batched directed graph in plain PyTorch (COO edges, per-graph node and edge counts)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["TorchGraph"]


class TorchGraph:
    """Batched graph with the subset of :class:`dgl.DGLGraph`'s interface the zoo uses.

    Args:
        src, dst: (E,) int64 global node ids, grouped by graph; edge ids are positions.
        batch_num_nodes, batch_num_edges: (B,) int64 counts per graph.
    """

    def __init__(self, src: Tensor, dst: Tensor, batch_num_nodes: Tensor, batch_num_edges: Tensor,
                 num_nodes: int | None = None) -> None:
        self.src = src
        self.dst = dst
        self._batch_num_nodes = batch_num_nodes
        self._batch_num_edges = batch_num_edges
        self.edata: dict[str, Tensor] = {}
        self._node_graph: Tensor | None = None
        # kept as a Python int so that moving the graph to a GPU adds no host sync per operation
        self._num_nodes = int(batch_num_nodes.sum()) if num_nodes is None else num_nodes

    @property
    def batch_size(self) -> int:
        return len(self._batch_num_nodes)

    def num_nodes(self) -> int:
        return self._num_nodes

    def num_edges(self) -> int:
        return len(self.src)

    def edges(self) -> tuple[Tensor, Tensor]:
        return self.src, self.dst

    def batch_num_nodes(self) -> Tensor:
        return self._batch_num_nodes

    def batch_num_edges(self) -> Tensor:
        return self._batch_num_edges

    def node_graph(self) -> Tensor:
        """Graph (session) index of every node, shape (N,)."""
        if self._node_graph is None:
            counts = self._batch_num_nodes
            self._node_graph = torch.repeat_interleave(
                torch.arange(len(counts), device=counts.device), counts, output_size=self.num_nodes()
            )
        return self._node_graph

    def to(self, device: torch.device | str, non_blocking: bool = False) -> TorchGraph:
        """A copy on ``device`` (edge data included)."""
        src, dst, batch_num_nodes, batch_num_edges = (
            t.to(device, non_blocking=non_blocking)
            for t in (self.src, self.dst, self._batch_num_nodes, self._batch_num_edges)
        )
        moved = TorchGraph(src, dst, batch_num_nodes, batch_num_edges, num_nodes=self._num_nodes)
        moved.edata = {k: v.to(device, non_blocking=non_blocking) for k, v in self.edata.items()}
        return moved

    def pin_memory(self) -> TorchGraph:
        """A copy in pinned host memory, for asynchronous copies to the GPU."""
        src, dst, batch_num_nodes, batch_num_edges = (
            t.pin_memory() for t in (self.src, self.dst, self._batch_num_nodes, self._batch_num_edges)
        )
        pinned = TorchGraph(src, dst, batch_num_nodes, batch_num_edges, num_nodes=self._num_nodes)
        pinned.edata = {k: v.pin_memory() for k, v in self.edata.items()}
        return pinned

    def __repr__(self) -> str:
        return f"TorchGraph(num_graphs={self.batch_size}, num_nodes={self.num_nodes()}, num_edges={self.num_edges()})"
