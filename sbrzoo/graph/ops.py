"""Graph operations used by the encoders, dispatched on the graph's backend.

Every function takes a batched graph (DGL or :class:`TorchGraph`) and tensors whose first dimension
is the number of nodes ``N`` or edges ``E``. Edge ``e`` goes from ``src[e]`` to ``dst[e]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from sbrzoo.graph import _torch_ops
from sbrzoo.graph.torch_graph import TorchGraph

__all__ = [
    "MailboxReducer",
    "in_sum",
    "out_sum",
    "edge_softmax",
    "edge_endpoints",
    "ordered_in_reduce",
    "node_softmax",
    "node_sum",
    "broadcast_nodes",
    "node_graph",
]

#: ``reducer(mailbox, lengths) -> out``: mailbox (M, D, d) holds each node's in-neighbour features
#: in edge-id order, right-padded to D; lengths (M,) counts the real messages; out is (M, d_out).
MailboxReducer = Callable[[Tensor, Tensor], Tensor]


def _impl(graph: Any):  # noqa: ANN202 - returns a module
    if isinstance(graph, TorchGraph):
        return _torch_ops
    from sbrzoo.graph import _dgl_ops  # only DGL graphs reach here, so DGL is importable

    return _dgl_ops


def in_sum(graph: Any, feat: Tensor, edge_weight: Tensor | None = None) -> Tensor:
    r"""Weighted sum over in-edges: :math:`out_v = \sum_{e = (u \to v)} w_e\, feat_u`.

    Shapes:
        feat: (N, d); edge_weight: (E,) or None (weights 1) -> (N, d)
    """
    return _impl(graph).in_sum(graph, feat, edge_weight)


def out_sum(graph: Any, feat: Tensor, edge_weight: Tensor | None = None) -> Tensor:
    r"""Weighted sum over out-edges: :math:`out_u = \sum_{e = (u \to v)} w_e\, feat_v`.

    Shapes:
        feat: (N, d); edge_weight: (E,) or None -> (N, d)
    """
    return _impl(graph).out_sum(graph, feat, edge_weight)


def edge_softmax(graph: Any, logits: Tensor) -> Tensor:
    """Softmax of edge logits over the in-edges of each destination node.

    Shapes:
        logits: (E,) or (E, H) -> same shape
    """
    return _impl(graph).edge_softmax(graph, logits)


def edge_endpoints(graph: Any) -> tuple[Tensor, Tensor]:
    """``(src, dst)`` node ids of every edge in edge-id order, each (E,)."""
    src, dst = graph.edges()
    return src, dst


def ordered_in_reduce(graph: Any, feat: Tensor, reducer: MailboxReducer) -> Tensor:
    """Reduce each node's incoming messages ``feat[src]`` in edge-id (= time) order.

    Nodes without in-edges get zeros. The DGL backend calls ``reducer`` once per in-degree bucket
    (no padding); the torch backend calls it once on a right-padded mailbox.

    Shapes:
        feat: (N, d) -> (N, d_out)
    """
    return _impl(graph).ordered_in_reduce(graph, feat, reducer)


def node_softmax(graph: Any, logits: Tensor) -> Tensor:
    """Softmax of node logits over the nodes of each graph. Shapes: (N,) or (N, H) -> same."""
    return _impl(graph).node_softmax(graph, logits)


def node_sum(graph: Any, feat: Tensor) -> Tensor:
    """Sum of node features per graph. Shapes: feat (N, d) -> (B, d)."""
    return _impl(graph).node_sum(graph, feat)


def broadcast_nodes(graph: Any, graph_feat: Tensor) -> Tensor:
    """Copy each graph's row to its nodes. Shapes: graph_feat (B, d) -> (N, d)."""
    return graph_feat[node_graph(graph)]


def node_graph(graph: Any) -> Tensor:
    """Graph index of every node, shape (N,)."""
    return _impl(graph).node_graph(graph)
