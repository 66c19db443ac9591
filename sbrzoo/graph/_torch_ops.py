"""Plain-PyTorch implementations of :mod:`sbrzoo.graph.ops` (index_add / scatter on COO edges)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sbrzoo.graph.torch_graph import TorchGraph


def _weighted(values: Tensor, edge_weight: Tensor | None) -> Tensor:
    if edge_weight is None:
        return values
    return values * edge_weight.view(-1, *([1] * (values.dim() - 1)))


def in_sum(graph: TorchGraph, feat: Tensor, edge_weight: Tensor | None) -> Tensor:
    messages = _weighted(feat[graph.src], edge_weight)
    return feat.new_zeros(graph.num_nodes(), *feat.shape[1:]).index_add_(0, graph.dst, messages)


def out_sum(graph: TorchGraph, feat: Tensor, edge_weight: Tensor | None) -> Tensor:
    messages = _weighted(feat[graph.dst], edge_weight)
    return feat.new_zeros(graph.num_nodes(), *feat.shape[1:]).index_add_(0, graph.src, messages)


def _segment_softmax(logits: Tensor, segment: Tensor, num_segments: int) -> Tensor:
    """Softmax of ``logits`` (K, ...) within groups given by ``segment`` (K,)."""
    index = segment.view(-1, *([1] * (logits.dim() - 1))).expand_as(logits)
    shape = (num_segments, *logits.shape[1:])
    peak = logits.new_full(shape, float("-inf")).scatter_reduce(0, index, logits, "amax", include_self=True)
    exp = (logits - peak.gather(0, index)).exp()
    total = logits.new_zeros(shape).index_add_(0, segment, exp)
    return exp / total.gather(0, index)


def edge_softmax(graph: TorchGraph, logits: Tensor) -> Tensor:
    return _segment_softmax(logits, graph.dst, graph.num_nodes())


def node_softmax(graph: TorchGraph, logits: Tensor) -> Tensor:
    return _segment_softmax(logits, graph.node_graph(), graph.batch_size)


def node_sum(graph: TorchGraph, feat: Tensor) -> Tensor:
    return feat.new_zeros(graph.batch_size, *feat.shape[1:]).index_add_(0, graph.node_graph(), feat)


def node_graph(graph: TorchGraph) -> Tensor:
    return graph.node_graph()


def ordered_in_reduce(
    graph: TorchGraph, feat: Tensor, reducer: Callable[[Tensor, Tensor], Tensor]
) -> Tensor:
    num_nodes = graph.num_nodes()
    if graph.num_edges() == 0:
        width = reducer(feat.new_zeros(1, 1, feat.shape[1]), torch.ones(1, dtype=torch.long)).shape[1]
        return feat.new_zeros(num_nodes, width)
    # stable sort by destination keeps edge-id (time) order inside each node's mailbox
    dst_sorted, order = torch.sort(graph.dst, stable=True)
    in_degree = torch.bincount(graph.dst, minlength=num_nodes)
    receivers = torch.nonzero(in_degree, as_tuple=True)[0]
    lengths = in_degree[receivers]
    row_of_node = torch.full((num_nodes,), -1, dtype=torch.long, device=feat.device)
    row_of_node[receivers] = torch.arange(len(receivers), device=feat.device)
    starts = torch.cumsum(in_degree, 0) - in_degree
    slot = torch.arange(len(order), device=feat.device) - starts[dst_sorted]
    mailbox = feat.new_zeros(len(receivers), int(lengths.max()), feat.shape[1])
    mailbox[row_of_node[dst_sorted], slot] = feat[graph.src[order]]
    reduced = reducer(mailbox, lengths)
    out = feat.new_zeros(num_nodes, reduced.shape[1])
    out[receivers] = reduced
    return out
