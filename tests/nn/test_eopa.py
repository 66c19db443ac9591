"""EOP multigraph and EOPAConv: time-ordered in-neighbours through a GRU (docs/MODELS.md §2.2, §3.5)."""

from __future__ import annotations

import pytest
import torch
from helpers import collate, edge_list, random_prefixes

from sbrzoo.graph import ops
from sbrzoo.nn.eopa import EOPAConv

BACKENDS = ["dgl", "torch"]

# repeats, self-transitions (2 -> 2), length-1 sessions, nodes without in-edges (every first click),
# and [7, 3, 5, 3]: node 0 (item 3) hears node 2 (item 7) before node 1 (item 5), so edge-id order
# differs from source-id order
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1, 3, 8], [6, 6, 6, 6], [9], [7, 3, 5, 3]]


def make_batch(backend: str, prefixes: list[list[int]] = PREFIXES):
    return collate(prefixes, ("eop",), backend)


def expected_eop_edges(prefixes: list[list[int]]) -> list[tuple[int, int]]:
    """Per session, one edge per consecutive click pair in click order; node ids offset per session."""
    edges, offset = [], 0
    for prefix in prefixes:
        nodes = sorted(set(prefix))
        nid = [offset + nodes.index(item) for item in prefix]
        edges += list(zip(nid, nid[1:]))
        offset += len(nodes)
    return edges


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("prefix", "nodes", "edges"),
    [
        ([5, 3, 7, 3, 9], [3, 5, 7, 9], [(1, 0), (0, 2), (2, 0), (0, 3)]),  # docs/MODELS.md §2.2 worked example
        ([1, 8, 1, 8], [1, 8], [(0, 1), (1, 0), (0, 1)]),  # repeated transitions stay separate edges
        ([2, 2, 6], [2, 6], [(0, 0), (0, 1)]),  # a self-transition is a self-loop
        ([4], [4], []),  # length 1: no edges
    ],
    ids=["worked", "repeats", "self_transition", "length_one"],
)
def test_eop_graph_of_hand_worked_sessions(backend: str, prefix, nodes, edges) -> None:
    batch = make_batch(backend, [prefix])
    assert batch.node_items.tolist() == nodes
    assert edge_list(batch.graphs["eop"]) == edges
    assert batch.last_node.tolist() == [nodes.index(prefix[-1])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_batching_keeps_every_sessions_edge_order(backend: str) -> None:
    prefixes = PREFIXES + random_prefixes(20, seed=1)
    graph = make_batch(backend, prefixes).graphs["eop"]
    assert edge_list(graph) == expected_eop_edges(prefixes)
    assert graph.batch_num_edges().tolist() == [len(p) - 1 for p in prefixes]


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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("random", [False, True], ids=["hand", "random"])
def test_matches_per_node_gru_loop(backend: str, random: bool) -> None:
    torch.manual_seed(0)
    prefixes = random_prefixes(24, seed=2) if random else PREFIXES
    conv = EOPAConv(6, 4, dropout=0.3).eval()
    batch = make_batch(backend, prefixes)
    feat = torch.randn(len(batch.node_items), 6)
    with torch.no_grad():
        expected = loop_reference(conv, prefixes, feat)
        torch.testing.assert_close(conv(batch.graphs["eop"], feat), expected, atol=1e-6, rtol=1e-5)


def test_message_order_matters() -> None:
    """Node 0 of [7, 3, 5, 3] (item 3) gets GRU(x_2, x_1), which differs from GRU(x_1, x_2)."""
    torch.manual_seed(0)
    conv = EOPAConv(6, 4).eval()
    feat = torch.randn(3, 6)  # nodes: items [3, 5, 7]
    with torch.no_grad():
        out = conv(make_batch("torch", [[7, 3, 5, 3]]).graphs["eop"], feat)[0]
        x = conv.batch_norm(feat)
        in_order, reversed_order = (
            conv.activation(conv.fc_self(x[0]) + conv.fc_neigh(conv.gru(x[senders][None])[1][0, 0])[None])[0]
            for senders in ([2, 1], [1, 2])
        )
    torch.testing.assert_close(out, in_order)
    assert not torch.allclose(out, reversed_order, atol=1e-4)


def test_right_padding_is_never_read() -> None:
    torch.manual_seed(0)
    conv = EOPAConv(5, 3)
    lengths = torch.tensor([3, 1, 4, 2])
    mailbox = torch.randn(4, 4, 5)
    garbage = mailbox.clone()
    garbage[torch.arange(4)[None, :] >= lengths[:, None]] = 1e3
    expected = torch.stack([conv.gru(mailbox[i:i + 1, :n])[1][0, 0] for i, n in enumerate(lengths.tolist())])
    with torch.no_grad():
        torch.testing.assert_close(conv._last_hidden(garbage, lengths), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_in_degree_nodes_get_the_self_term_only(backend: str) -> None:
    torch.manual_seed(0)
    conv = EOPAConv(6, 4).eval()
    batch = make_batch(backend)
    graph = batch.graphs["eop"]
    _, dst = ops.edge_endpoints(graph)
    silent = torch.ones(graph.num_nodes(), dtype=torch.bool)
    silent[dst] = False
    assert silent.sum() == 4  # item 5 of [5,3,7,3,9], [4], [9], item 7 of [7,3,5,3]
    feat = torch.randn(graph.num_nodes(), 6)
    with torch.no_grad():
        out = conv(graph, feat)
        expected = conv.activation(conv.fc_self(conv.batch_norm(feat)))
    torch.testing.assert_close(out[silent], expected[silent])
    assert not torch.allclose(out[~silent], expected[~silent])


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_without_edges_uses_the_self_term_only(backend: str) -> None:
    torch.manual_seed(0)
    conv = EOPAConv(6, 4)
    batch = make_batch(backend, [[3], [7], [1]])
    feat = torch.randn(3, 6, requires_grad=True)
    out = conv(batch.graphs["eop"], feat)
    out.sum().backward()  # training mode: batch statistics, and backward works with no messages at all
    expected = conv.activation(conv.fc_self(conv.batch_norm(feat)))
    torch.testing.assert_close(out, expected)
    assert feat.grad is not None and torch.isfinite(feat.grad).all()


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_backends_agree_on_outputs_and_gradients(train: bool) -> None:
    """Eval mode with dropout, or training mode (batch statistics) without it: no random draws either way."""
    torch.manual_seed(0)
    prefixes = PREFIXES + random_prefixes(30, seed=3)
    conv = EOPAConv(6, 4, dropout=0.0 if train else 0.3).train(train)
    feat = torch.randn(len(make_batch("torch", prefixes).node_items), 6)
    results = []
    for backend in BACKENDS:
        conv.zero_grad()
        x = feat.clone().requires_grad_()
        out = conv(make_batch(backend, prefixes).graphs["eop"], x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), x.grad, [p.grad.clone() for p in conv.parameters()]))
    (out_d, x_d, g_d), (out_t, x_t, g_t) = results
    torch.testing.assert_close(out_d, out_t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x_d, x_t, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_d, g_t):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_reset_parameters_gives_pytorch_defaults() -> None:
    conv = EOPAConv(6, 4)
    with torch.no_grad():
        for p in conv.parameters():
            p.fill_(7.0)
    conv.reset_parameters()
    assert torch.all(conv.activation.weight == 0.25) and conv.activation.weight.shape == (4,)
    assert torch.all(conv.batch_norm.weight == 1) and torch.all(conv.batch_norm.bias == 0)
    assert conv.fc_self.weight.abs().max() <= 6**-0.5 and conv.gru.weight_hh_l0.abs().max() <= 6**-0.5
    assert conv.fc_self.bias is None and conv.fc_neigh.bias is None


def test_rejects_wrong_width() -> None:
    batch = make_batch("torch")
    with pytest.raises(ValueError, match="expected node features"):
        EOPAConv(6, 4)(batch.graphs["eop"], torch.zeros(len(batch.node_items), 5))
