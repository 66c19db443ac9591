"""EOPAConv equals a per-node loop feeding the time-ordered in-neighbours through the GRU (MODELS.md §3.5)."""

from __future__ import annotations

import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.nn.eopa import EOPAConv

# repeats, self-transitions (2 -> 2), length-1 sessions, nodes without in-edges (every first click)
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1, 3, 8], [6, 6, 6, 6], [9]]


def make_batch(backend: str, prefixes: list[list[int]] = PREFIXES):
    examples = Examples.from_lists(prefixes, [1] * len(prefixes))
    return SessionCollator(examples, 9, ("eop",), backend)(range(len(prefixes)))


def loop_reference(conv: EOPAConv, prefixes: list[list[int]], feat: torch.Tensor) -> torch.Tensor:
    """Per session, per node: the GRU over the features of the clicks just before each of its clicks."""
    normed = conv.batch_norm(feat)
    rows, offset = [], 0
    for prefix in prefixes:
        nodes = sorted(set(prefix))
        nid = [nodes.index(item) for item in prefix]
        for v in range(len(nodes)):
            senders = [offset + u for u, w in zip(nid, nid[1:]) if w == v]
            if senders:
                _, last = conv.gru(normed[senders].unsqueeze(0))
                neigh = last[0, 0]
            else:
                neigh = torch.zeros(conv.in_dim)
            rows.append(conv.fc_self(normed[offset + v]) + conv.fc_neigh(neigh))
        offset += len(nodes)
    return conv.activation(torch.stack(rows))


@pytest.mark.parametrize("backend", ["dgl", "torch"])
def test_matches_per_node_gru_loop(backend: str) -> None:
    torch.manual_seed(0)
    conv = EOPAConv(6, 4).eval()
    batch = make_batch(backend)
    feat = torch.randn(len(batch.node_items), 6)
    expected = loop_reference(conv, PREFIXES, feat)
    torch.testing.assert_close(conv(batch.graphs["eop"], feat), expected, atol=1e-6, rtol=1e-5)


def test_backends_agree_on_outputs_and_gradients() -> None:
    torch.manual_seed(0)
    conv = EOPAConv(6, 4).eval()
    feat = torch.randn(len(make_batch("torch").node_items), 6)
    results = []
    for backend in ("dgl", "torch"):
        conv.zero_grad()
        x = feat.clone().requires_grad_()
        out = conv(make_batch(backend).graphs["eop"], x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), x.grad, [p.grad.clone() for p in conv.parameters()]))
    (out_d, x_d, g_d), (out_t, x_t, g_t) = results
    torch.testing.assert_close(out_d, out_t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x_d, x_t, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_d, g_t):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", ["dgl", "torch"])
def test_batch_without_edges_uses_the_self_term_only(backend: str) -> None:
    torch.manual_seed(0)
    conv = EOPAConv(6, 4).eval()
    batch = make_batch(backend, [[3], [7], [1]])
    feat = torch.randn(3, 6)
    expected = conv.activation(conv.fc_self(conv.batch_norm(feat)))
    torch.testing.assert_close(conv(batch.graphs["eop"], feat), expected)


def test_rejects_wrong_width() -> None:
    batch = make_batch("torch")
    with pytest.raises(ValueError, match="expected node features"):
        EOPAConv(6, 4)(batch.graphs["eop"], torch.zeros(len(batch.node_items), 5))
