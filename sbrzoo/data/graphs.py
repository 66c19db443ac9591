"""Vectorised builders of the session graphs of a whole batch (docs/MODELS.md §2).

Input is the batch's clicks flattened session after session. Nodes are the sorted unique items of
each session, numbered globally; every builder returns edges grouped by session so that one batched
graph can be made without per-session objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["NodeIndex", "index_nodes", "session_graph_edges", "eop_edges", "shortcut_edges", "GRAPH_KINDS"]

GRAPH_KINDS = ("session", "eop", "shortcut")


@dataclass(frozen=True)
class NodeIndex:
    """Nodes of a batch and the node of every click.

    Shapes:
        click_node: (C,) global node of every click, C = total clicks
        click_session: (C,) session of every click
        node_items: (N,); node_session: (N,); batch_num_nodes: (B,)
    """

    click_node: Tensor
    click_session: Tensor
    node_items: Tensor
    node_session: Tensor
    batch_num_nodes: Tensor


def index_nodes(items: Tensor, lengths: Tensor, num_items: int) -> NodeIndex:
    """Number the sorted unique items of every session, sessions one after another.

    Args:
        items: (C,) clicks of all sessions, flattened in session order.
        lengths: (B,) clicks per session (each >= 1).
        num_items: largest item id (for the sort key).
    """
    batch_size = len(lengths)
    click_session = torch.repeat_interleave(torch.arange(batch_size), lengths)
    key = click_session * (num_items + 1) + items
    unique_keys, click_node = torch.unique(key, sorted=True, return_inverse=True)
    node_session = unique_keys // (num_items + 1)
    return NodeIndex(
        click_node=click_node,
        click_session=click_session,
        node_items=unique_keys % (num_items + 1),
        node_session=node_session,
        batch_num_nodes=torch.bincount(node_session, minlength=batch_size),
    )


def _consecutive_pairs(nodes: NodeIndex) -> tuple[Tensor, Tensor]:
    """(src, dst) of every consecutive click pair inside a session, in click order."""
    same = nodes.click_session[1:] == nodes.click_session[:-1]
    return nodes.click_node[:-1][same], nodes.click_node[1:][same]


def _edges_per_session(src: Tensor, nodes: NodeIndex) -> Tensor:
    return torch.bincount(nodes.node_session[src], minlength=len(nodes.batch_num_nodes))


def session_graph_edges(nodes: NodeIndex) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """SR-GNN session graph: one edge per distinct transition ``u -> v``, with SR-GNN's weights.

    ``in_weight = 1 / in_degree(v)`` and ``out_weight = 1 / out_degree(u)``, degrees counted over
    distinct edges, so the weighted in-sum equals ``M_in H`` and the out-sum ``M_out H`` (docs/MODELS.md §2.1).

    Returns:
        src, dst (E,), batch_num_edges (B,), edata ``{"in_weight", "out_weight"}`` (E,) float32.
    """
    src, dst = _consecutive_pairs(nodes)
    num_nodes = len(nodes.node_items)
    unique_pairs = torch.unique(src * num_nodes + dst, sorted=True)  # grouped by src, hence by session
    src, dst = unique_pairs // num_nodes, unique_pairs % num_nodes
    in_degree = torch.bincount(dst, minlength=num_nodes).float()
    out_degree = torch.bincount(src, minlength=num_nodes).float()
    edata = {"in_weight": 1.0 / in_degree[dst], "out_weight": 1.0 / out_degree[src]}
    return src, dst, _edges_per_session(src, nodes), edata


def eop_edges(nodes: NodeIndex) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """LESSR edge-order-preserving multigraph: one edge per consecutive click pair, in click order.

    Repeated transitions stay separate edges and self-transitions give self-loops; edge ids
    therefore encode time (docs/MODELS.md §2.2).
    """
    src, dst = _consecutive_pairs(nodes)
    return src, dst, _edges_per_session(src, nodes), {}


def shortcut_edges(nodes: NodeIndex, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """LESSR shortcut graph: ``node(x_i) -> node(x_j)`` for every ``i <= j``, first occurrence kept.

    Edges keep first-insertion order (``i`` ascending, then ``j``), and every node has a self-loop.
    """
    num_clicks = len(nodes.click_node)
    starts = torch.cumsum(lengths, 0) - lengths
    position = torch.arange(num_clicks) - starts[nodes.click_session]
    later = lengths[nodes.click_session] - position  # clicks j >= i in the same session
    first_click = torch.repeat_interleave(torch.arange(num_clicks), later)
    pair_starts = torch.cumsum(later, 0) - later
    second_click = first_click + torch.arange(len(first_click)) - pair_starts[first_click]
    src, dst = nodes.click_node[first_click], nodes.click_node[second_click]
    num_nodes = len(nodes.node_items)
    unique_pairs, inverse = torch.unique(src * num_nodes + dst, return_inverse=True)
    first_seen = torch.full((len(unique_pairs),), len(src), dtype=torch.long).scatter_reduce(
        0, inverse, torch.arange(len(src)), "amin"
    )
    kept = torch.sort(first_seen).values  # pairs are generated session by session
    src, dst = src[kept], dst[kept]
    return src, dst, _edges_per_session(src, nodes), {}
