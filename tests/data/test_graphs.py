"""Batch graph construction against hand-worked sessions (docs/MODELS.md §2.1, §2.2)."""

from __future__ import annotations

import pytest
import torch
from helpers import collate, edge_list

BACKENDS = ["dgl", "torch"]


ALL_KINDS = ("session", "eop", "shortcut")


@pytest.mark.parametrize("backend", BACKENDS)
def test_worked_example_session_graph(backend: str) -> None:
    batch = collate([[5, 3, 7, 3, 9]], ALL_KINDS, backend)
    assert batch.node_items.tolist() == [3, 5, 7, 9]  # sorted item ids, no padding node
    assert batch.seq_nodes.tolist() == [[1, 0, 2, 0, 3]]  # alias
    assert batch.last_node.tolist() == [3]
    graph = batch.graphs["session"]
    weights = {e: (float(i), float(o)) for e, i, o in
               zip(edge_list(graph), graph.edata["in_weight"], graph.edata["out_weight"], strict=True)}
    # docs/MODELS.md §2.1 with the padding node removed: M_in (1,2)=(1,3)=1/2 -> node 0 has preds 1 and 2
    assert weights == {(1, 0): (0.5, 1.0), (2, 0): (0.5, 1.0), (0, 2): (1.0, 0.5), (0, 3): (1.0, 0.5)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_worked_example_lessr_graphs(backend: str) -> None:
    batch = collate([[5, 3, 7, 3, 9]], ALL_KINDS, backend)
    assert edge_list(batch.graphs["eop"]) == [(1, 0), (0, 2), (2, 0), (0, 3)]
    assert edge_list(batch.graphs["shortcut"]) == [
        (1, 1), (1, 0), (1, 2), (1, 3), (0, 0), (0, 2), (0, 3), (2, 2), (2, 0), (2, 3), (3, 3)
    ]


def test_repeats_and_self_transitions() -> None:
    batch = collate([[2, 2, 6, 2, 2]], ALL_KINDS)
    assert batch.node_items.tolist() == [2, 6]
    # binary SR-GNN edges: 2->2 (twice), 2->6, 6->2 collapse to three distinct edges
    assert sorted(edge_list(batch.graphs["session"])) == [(0, 0), (0, 1), (1, 0)]
    # the EOP multigraph keeps every transition, in click order
    assert edge_list(batch.graphs["eop"]) == [(0, 0), (0, 1), (1, 0), (0, 0)]
    graph = batch.graphs["session"]
    in_w = {e: float(w) for e, w in zip(edge_list(graph), graph.edata["in_weight"], strict=True)}
    assert in_w == {(0, 0): 0.5, (1, 0): 0.5, (0, 1): 1.0}


def test_length_one_session() -> None:
    batch = collate([[4]], ALL_KINDS)
    assert batch.node_items.tolist() == [4]
    assert batch.graphs["session"].num_edges() == 0
    assert batch.graphs["eop"].num_edges() == 0
    assert edge_list(batch.graphs["shortcut"]) == [(0, 0)]
    assert batch.last_node.tolist() == [0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_batching_offsets_nodes_and_keeps_edge_order(backend: str) -> None:
    prefixes = [[5, 3, 7, 3, 9], [4], [2, 2, 6], [8, 1, 8]]
    batch = collate(prefixes, ALL_KINDS, backend)
    assert batch.batch_num_nodes.tolist() == [4, 1, 2, 2]
    assert batch.node_items.tolist() == [3, 5, 7, 9, 4, 2, 6, 1, 8]
    assert batch.seq_nodes.tolist() == [[1, 0, 2, 0, 3], [4, -1, -1, -1, -1], [5, 5, 6, -1, -1], [8, 7, 8, -1, -1]]
    assert batch.last_node.tolist() == [3, 4, 6, 8]
    eop = batch.graphs["eop"]
    assert edge_list(eop) == [(1, 0), (0, 2), (2, 0), (0, 3), (5, 5), (5, 6), (8, 7), (7, 8)]
    assert eop.batch_num_edges().tolist() == [4, 0, 2, 2]
    for kind, graph in batch.graphs.items():
        # every edge stays inside its session
        src, dst = graph.edges()
        owner = torch.repeat_interleave(torch.arange(4), batch.batch_num_nodes)
        assert torch.equal(owner[src], owner[dst]), kind
        assert graph.batch_num_nodes().tolist() == [4, 1, 2, 2]


def test_alias_reproduces_prefixes() -> None:
    prefixes = [[9, 1, 9, 4, 4, 2], [3, 3], [7]]
    batch = collate(prefixes, ALL_KINDS)
    for row, prefix in enumerate(prefixes):
        nodes = batch.seq_nodes[row, : len(prefix)]
        assert batch.node_items[nodes].tolist() == prefix
        assert batch.seq_items[row, : len(prefix)].tolist() == prefix
    assert batch.lengths.tolist() == [6, 2, 1]


def test_in_and_out_weights_sum_to_one() -> None:
    batch = collate([[1, 2, 3, 2, 4], [5, 6, 5, 6, 7, 5]], ALL_KINDS)
    graph = batch.graphs["session"]
    src, dst = graph.edges()
    num_nodes = len(batch.node_items)
    in_total = torch.zeros(num_nodes).index_add_(0, dst, graph.edata["in_weight"])
    out_total = torch.zeros(num_nodes).index_add_(0, src, graph.edata["out_weight"])
    has_in = torch.bincount(dst, minlength=num_nodes) > 0
    has_out = torch.bincount(src, minlength=num_nodes) > 0
    torch.testing.assert_close(in_total[has_in], torch.ones(int(has_in.sum())))
    torch.testing.assert_close(out_total[has_out], torch.ones(int(has_out.sum())))
