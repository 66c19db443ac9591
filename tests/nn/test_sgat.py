"""SGATConv: attention over the shortcut graph (MODELS.md §3.5)."""

from __future__ import annotations

import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.graph import ops
from sbrzoo.nn.sgat import SGATConv

PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1, 3, 8]]


def make_batch(backend: str):
    examples = Examples.from_lists(PREFIXES, [1] * len(PREFIXES))
    return SessionCollator(examples, 9, ("shortcut",), backend)(range(len(PREFIXES)))


@pytest.mark.parametrize("backend", ["dgl", "torch"])
def test_attention_sums_to_one_over_in_edges(backend: str) -> None:
    torch.manual_seed(0)
    graph = make_batch(backend).graphs["shortcut"]
    conv = SGATConv(6, 4).eval()
    _, weights = conv.attend(graph, torch.randn(graph.num_nodes(), 6))
    _, dst = ops.edge_endpoints(graph)
    totals = torch.zeros(graph.num_nodes()).index_add_(0, dst, weights)
    torch.testing.assert_close(totals, torch.ones(graph.num_nodes()))
    assert (weights > 0).all()


@pytest.mark.parametrize("backend", ["dgl", "torch"])
def test_matches_dense_formula(backend: str) -> None:
    torch.manual_seed(0)
    graph = make_batch(backend).graphs["shortcut"]
    conv = SGATConv(6, 4).eval()
    feat = torch.randn(graph.num_nodes(), 6)
    x = conv.batch_norm(feat)
    src, dst = ops.edge_endpoints(graph)
    rows = []
    for v in range(graph.num_nodes()):
        senders = src[dst == v]
        e = conv.fc_e(torch.sigmoid(conv.fc_q(x[senders]) + conv.fc_k(x[v]))).squeeze(-1)
        rows.append((torch.softmax(e, 0)[:, None] * conv.fc_v(x[senders])).sum(0))
    torch.testing.assert_close(conv(graph, feat), conv.activation(torch.stack(rows)), atol=1e-6, rtol=1e-5)


def test_backends_agree_on_outputs_and_gradients() -> None:
    torch.manual_seed(0)
    conv = SGATConv(6, 4).eval()
    feat = torch.randn(len(make_batch("torch").node_items), 6)
    results = []
    for backend in ("dgl", "torch"):
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


def test_rejects_wrong_width() -> None:
    graph = make_batch("torch").graphs["shortcut"]
    with pytest.raises(ValueError, match="expected node features"):
        SGATConv(6, 4)(graph, torch.zeros(graph.num_nodes(), 3))
