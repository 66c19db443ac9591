"""DGL implementations of :mod:`sbrzoo.graph.ops` (built-in SpMM kernels, degree-bucketed UDFs)."""

from __future__ import annotations

from collections.abc import Callable

import dgl
import dgl.function as fn
import torch
from torch import Tensor


def in_sum(graph: dgl.DGLGraph, feat: Tensor, edge_weight: Tensor | None) -> Tensor:
    if edge_weight is None:
        return dgl.ops.copy_u_sum(graph, feat)
    return dgl.ops.u_mul_e_sum(graph, feat, edge_weight.view(-1, *([1] * (feat.dim() - 1))))


def out_sum(graph: dgl.DGLGraph, feat: Tensor, edge_weight: Tensor | None) -> Tensor:
    # the reversed graph keeps edge ids, so the weights stay aligned
    return in_sum(dgl.reverse(graph, copy_ndata=False, copy_edata=False), feat, edge_weight)


def edge_softmax(graph: dgl.DGLGraph, logits: Tensor) -> Tensor:
    return dgl.ops.edge_softmax(graph, logits)


def node_softmax(graph: dgl.DGLGraph, logits: Tensor) -> Tensor:
    with graph.local_scope():
        graph.ndata["_logit"] = logits
        return dgl.softmax_nodes(graph, "_logit")


def node_sum(graph: dgl.DGLGraph, feat: Tensor) -> Tensor:
    with graph.local_scope():
        graph.ndata["_feat"] = feat
        return dgl.sum_nodes(graph, "_feat")


def node_graph(graph: dgl.DGLGraph) -> Tensor:
    counts = graph.batch_num_nodes()
    return torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)


def ordered_in_reduce(
    graph: dgl.DGLGraph, feat: Tensor, reducer: Callable[[Tensor, Tensor], Tensor]
) -> Tensor:
    def reduce(nodes: dgl.udf.NodeBatch) -> dict[str, Tensor]:
        # DGL sorts each mailbox by edge id, so messages arrive in click order
        mailbox = nodes.mailbox["m"]
        lengths = torch.full((mailbox.shape[0],), mailbox.shape[1], dtype=torch.long)
        return {"_out": reducer(mailbox, lengths)}

    with graph.local_scope():
        graph.ndata["_feat"] = feat
        if graph.num_edges() == 0:
            width = reducer(feat.new_zeros(1, 1, feat.shape[1]), torch.ones(1, dtype=torch.long)).shape[1]
            return feat.new_zeros(graph.num_nodes(), width)
        graph.update_all(fn.copy_u("_feat", "m"), reduce)
        return graph.ndata["_out"]
