"""Shortcut graph and SGATConv: attention over each node's in-edges (docs/MODELS.md §2.2, §3.5)."""

from __future__ import annotations

import pytest
import torch
from helpers import collate, edge_list

from sbrzoo.graph import ops
from sbrzoo.graph.backends import build_graph
from sbrzoo.nn.sgat import SGATConv

BACKENDS = ["dgl", "torch"]
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1, 3, 8], [7, 3, 5, 3]]


def make_batch(backend: str, prefixes: list[list[int]] = PREFIXES):
    return collate(prefixes, ("shortcut",), backend)


def expected_shortcut_edges(prefixes: list[list[int]]) -> list[tuple[int, int]]:
    """Per session, ``nid(x_i) -> nid(x_j)`` for i <= j, first insertion kept; node ids offset per session."""
    edges, offset = [], 0
    for prefix in prefixes:
        nodes = sorted(set(prefix))
        nid = [offset + nodes.index(item) for item in prefix]
        pairs = [(nid[i], nid[j]) for i in range(len(nid)) for j in range(i, len(nid))]
        edges += list(dict.fromkeys(pairs))
        offset += len(nodes)
    return edges


def dense_reference(conv: SGATConv, graph, feat: torch.Tensor) -> torch.Tensor:
    """Per node: softmax of the logits of its in-edges, weighted sum of the senders' values."""
    x = conv.batch_norm(feat)
    src, dst = ops.edge_endpoints(graph)
    rows = []
    for v in range(graph.num_nodes()):
        senders = src[dst == v]
        e = conv.fc_e(torch.sigmoid(conv.fc_q(x[senders]) + conv.fc_k(x[v]))).squeeze(-1)
        rows.append((torch.softmax(e, 0)[:, None] * conv.fc_v(x[senders])).sum(0))
    return conv.activation(torch.stack(rows))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("prefix", "edges"),
    [
        # docs/MODELS.md §2.2 worked example: nodes [3, 5, 7, 9], positions [1, 0, 2, 0, 3]
        ([5, 3, 7, 3, 9],
         [(1, 1), (1, 0), (1, 2), (1, 3), (0, 0), (0, 2), (0, 3), (2, 2), (2, 0), (2, 3), (3, 3)]),
        ([2, 2, 6], [(0, 0), (0, 1), (1, 1)]),  # the repeated self-pair is kept once
        ([1, 8, 1, 8], [(0, 0), (0, 1), (1, 1), (1, 0)]),
        ([4], [(0, 0)]),  # length 1: one self-loop
    ],
    ids=["worked", "self_transition", "repeats", "length_one"],
)
def test_shortcut_graph_of_hand_worked_sessions(backend: str, prefix, edges) -> None:
    assert edge_list(make_batch(backend, [prefix]).graphs["shortcut"]) == edges


@pytest.mark.parametrize("backend", BACKENDS)
def test_batching_keeps_first_insertion_order_and_self_loops(backend: str) -> None:
    gen = torch.Generator().manual_seed(1)
    prefixes = PREFIXES + [torch.randint(1, 10, (int(n),), generator=gen).tolist()
                           for n in torch.randint(1, 21, (20,), generator=gen)]
    batch = make_batch(backend, prefixes)
    graph = batch.graphs["shortcut"]
    assert edge_list(graph) == expected_shortcut_edges(prefixes)
    src, dst = ops.edge_endpoints(graph)
    loops = torch.bincount(src[src == dst], minlength=graph.num_nodes())
    assert loops.tolist() == [1] * graph.num_nodes()  # exactly one self-loop per node


@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_sums_to_one_over_in_edges(backend: str) -> None:
    torch.manual_seed(0)
    graph = make_batch(backend).graphs["shortcut"]
    conv = SGATConv(6, 4).eval()
    _, weights = conv.attend(graph, torch.randn(graph.num_nodes(), 6))
    _, dst = ops.edge_endpoints(graph)
    totals = torch.zeros(graph.num_nodes()).index_add_(0, dst, weights)
    torch.testing.assert_close(totals, torch.ones(graph.num_nodes()))
    assert weights.shape == (graph.num_edges(),) and (weights > 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_dense_formula(backend: str) -> None:
    torch.manual_seed(0)
    graph = make_batch(backend).graphs["shortcut"]
    conv = SGATConv(6, 4, dropout=0.3).eval()
    feat = torch.randn(graph.num_nodes(), 6)
    with torch.no_grad():
        torch.testing.assert_close(conv(graph, feat), dense_reference(conv, graph, feat), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_in_degree_nodes_get_zeros(backend: str) -> None:
    """Nodes 0 and 3 have no in-edges (one is isolated): PReLU(empty sum) = 0; the rest follow the formula."""
    torch.manual_seed(0)
    src, dst = torch.tensor([0, 1, 2, 0, 4]), torch.tensor([1, 1, 1, 2, 4])
    graph = build_graph(backend, src, dst, torch.tensor([3, 2]), torch.tensor([4, 1]))
    conv = SGATConv(6, 4).eval()
    feat = torch.randn(5, 6)
    with torch.no_grad():
        out = conv(graph, feat)
        expected = dense_reference(conv, graph, feat)
    torch.testing.assert_close(out[[0, 3]], torch.zeros(2, 4))
    torch.testing.assert_close(out[[1, 2, 4]], expected[[1, 2, 4]], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_graph_without_edges_gives_zeros(backend: str) -> None:
    graph = build_graph(backend, torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                        torch.tensor([2, 1]), torch.tensor([0, 0]))
    conv = SGATConv(6, 4)
    feat = torch.randn(3, 6, requires_grad=True)
    out = conv(graph, feat)
    out.sum().backward()
    torch.testing.assert_close(out, torch.zeros(3, 4))
    torch.testing.assert_close(feat.grad, torch.zeros(3, 6))


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_backends_agree_on_outputs_and_gradients(train: bool) -> None:
    torch.manual_seed(0)
    conv = SGATConv(6, 4, dropout=0.0 if train else 0.3).train(train)
    feat = torch.randn(len(make_batch("torch").node_items), 6)
    results = []
    for backend in BACKENDS:
        conv.zero_grad()
        x = feat.clone().requires_grad_()
        out = conv(make_batch(backend).graphs["shortcut"], x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), x.grad, [p.grad.clone() for p in conv.parameters()]))
    (out_d, x_d, g_d), (out_t, x_t, g_t) = results
    torch.testing.assert_close(out_d, out_t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x_d, x_t, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_d, g_t):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_parameters_and_defaults() -> None:
    conv = SGATConv(6, 4)
    with torch.no_grad():
        for p in conv.parameters():
            p.fill_(7.0)
    conv.reset_parameters()
    assert conv.fc_q.bias is not None
    assert conv.fc_k.bias is None and conv.fc_v.bias is None and conv.fc_e.bias is None
    assert torch.all(conv.activation.weight == 0.25) and torch.all(conv.batch_norm.weight == 1)
    # BN 2*6, q 6*4+4, k 6*4, v 6*4, w_e 4, PReLU 4
    assert sum(p.numel() for p in conv.parameters()) == 12 + 28 + 24 + 24 + 4 + 4


def test_rejects_wrong_width() -> None:
    graph = make_batch("torch").graphs["shortcut"]
    with pytest.raises(ValueError, match="expected node features"):
        SGATConv(6, 4)(graph, torch.zeros(graph.num_nodes(), 3))
