"""The DGL and PyTorch implementations of every graph operation give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.graph import ops


def random_prefixes(seed: int, count: int = 40, num_items: int = 30) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(1, num_items + 1, size=rng.integers(1, 12)).tolist() for _ in range(count)]


@pytest.fixture(scope="module")
def batches():
    prefixes = random_prefixes(0)
    examples = Examples.from_lists(prefixes, [1] * len(prefixes))
    indices = list(range(len(prefixes)))
    return {
        backend: SessionCollator(examples, 30, ("session", "eop", "shortcut"), backend)(indices)
        for backend in ("dgl", "torch")
    }


def both(batches, kind: str, fn):
    torch.manual_seed(0)
    num_nodes = len(batches["torch"].node_items)
    feat = torch.randn(num_nodes, 6, requires_grad=True)
    outputs, grads = [], []
    for backend in ("dgl", "torch"):
        feat.grad = None
        out = fn(batches[backend].graphs[kind], feat)
        out.pow(2).sum().backward()
        outputs.append(out.detach())
        grads.append(feat.grad.clone())
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-5)
    return outputs[0]


def test_weighted_neighbour_sums(batches) -> None:
    both(batches, "session", lambda g, f: ops.in_sum(g, f, g.edata["in_weight"]))
    both(batches, "session", lambda g, f: ops.out_sum(g, f, g.edata["out_weight"]))
    both(batches, "eop", lambda g, f: ops.in_sum(g, f))


def test_edge_softmax_sums_to_one_per_destination(batches) -> None:
    def softmax_of_endpoints(g, f):
        src, dst = ops.edge_endpoints(g)
        return ops.edge_softmax(g, (f[src] * f[dst]).sum(1))

    weights = both(batches, "shortcut", softmax_of_endpoints)
    _, dst = batches["torch"].graphs["shortcut"].edges()
    totals = torch.zeros(len(batches["torch"].node_items)).index_add_(0, dst, weights)
    torch.testing.assert_close(totals, torch.ones_like(totals))  # every node has a self-loop


def test_node_softmax_and_sum(batches) -> None:
    weights = both(batches, "session", lambda g, f: ops.node_softmax(g, f[:, 0]))
    per_session = both(batches, "session", lambda g, f: ops.node_sum(g, f))
    assert per_session.shape == (40, 6)
    torch.testing.assert_close(ops.node_sum(batches["torch"].graphs["session"], weights[:, None]),
                               torch.ones(40, 1))


def test_ordered_reduce_sees_messages_in_edge_order(batches) -> None:
    # a reducer that weights the k-th message by 10**k exposes the order of the mailbox
    def positional_sum(mailbox, lengths):
        scale = 10.0 ** torch.arange(mailbox.shape[1], dtype=mailbox.dtype)
        keep = torch.arange(mailbox.shape[1])[None, :] < lengths[:, None]
        return (mailbox * (scale * keep)[:, :, None]).sum(1)

    out = both(batches, "eop", lambda g, f: ops.ordered_in_reduce(g, f, positional_sum))
    graph = batches["torch"].graphs["eop"]
    src, dst = graph.edges()
    torch.manual_seed(0)  # the same features as both() drew
    feat = torch.randn(len(batches["torch"].node_items), 6)
    expected = torch.zeros_like(feat)
    for node in range(len(feat)):
        senders = src[dst == node]  # edge-id order = click order
        for k, sender in enumerate(senders.tolist()):
            expected[node] += feat[sender] * 10.0**k
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-4)


def test_empty_graph_gives_zeros() -> None:
    examples = Examples.from_lists([[3], [4]], [1, 2])
    for backend in ("dgl", "torch"):
        graph = SessionCollator(examples, 5, ("eop",), backend)([0, 1]).graphs["eop"]
        out = ops.ordered_in_reduce(graph, torch.ones(2, 3), lambda m, _lengths: m.sum(1))
        assert torch.equal(out, torch.zeros(2, 3))
