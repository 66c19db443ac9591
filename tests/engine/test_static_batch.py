"""A static-shape batch (sbrzoo.engine.static_batch) gives the unpadded batch's loss and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.engine.static_batch import BatchShape, DeviceExamples, build_static_batch, click_step, shape_for
from sbrzoo.models import get_spec, list_models
from tests.helpers import build_model, edge_list, random_prefixes

NUM_ITEMS = 9
STATIC_MODELS = [name for name in list_models() if get_spec(name).static_shapes]


def test_the_engine_serves_the_paper_models_and_refuses_batch_wide_state() -> None:
    assert {"srgnn", "tagnn", "tagnnpp", "tagnnpp_no_gnn", "gcsan", "narm", "gru4rec", "stamp", "repeatnet"} \
        <= set(STATIC_MODELS)
    assert not {"lessr", "csrm", "tagnnpp_ref", "pop", "stan"} & set(STATIC_MODELS)


def _examples(num: int, seed: int) -> Examples:
    prefixes = random_prefixes(num, seed)
    targets = np.random.default_rng(seed).integers(1, NUM_ITEMS + 1, num).tolist()
    return Examples.from_lists(prefixes, targets)


def _static(examples: Examples, chosen: np.ndarray, batch_size: int, shape: BatchShape | None = None):  # noqa: ANN202
    data = DeviceExamples(examples, NUM_ITEMS, "cpu")
    shape = shape or data.shape_for(chosen, batch_size)
    indices = torch.zeros(batch_size, dtype=torch.long)
    indices[: len(chosen)] = torch.as_tensor(chosen)
    return build_static_batch(data, indices, torch.tensor(len(chosen)), shape)


def test_shape_rounds_clicks_and_positions_up() -> None:
    shape = shape_for(np.array([3, 5, 9]), batch_size=4, longest=12, step=32)
    assert shape == BatchShape(rows=5, clicks=32, positions=12)  # 17 clicks + 1 filler + the sink
    assert shape_for(np.array([3, 5]), batch_size=2, longest=40, step=32).positions == 8
    assert shape_for(np.full(8, 4), batch_size=8, longest=4, step=32).clicks == 64  # 32 clicks + the sink


def test_click_slots_round_to_an_eighth_of_a_typical_batch() -> None:
    assert click_step(batch_size=100, mean_length=4.9) == 64  # Diginetica, SR-GNN's batch
    assert click_step(batch_size=512, mean_length=4.9) == 256
    assert click_step(batch_size=4, mean_length=2.0) == 32


@pytest.mark.parametrize("num_real", [7, 4])  # a full batch, and a last batch with filler rows
def test_real_rows_match_the_unpadded_batch(num_real: int) -> None:
    examples = _examples(30, seed=1)
    chosen = np.array([3, 17, 0, 29, 8, 11, 21])[:num_real]
    eager = SessionCollator(examples, NUM_ITEMS, ["session"], "torch")(chosen)
    static = _static(examples, chosen, batch_size=7, shape=BatchShape(rows=8, clicks=200, positions=24))
    n, rows = eager.node_items.shape[0], num_real
    assert torch.equal(static.node_items[:n], eager.node_items)
    assert torch.equal(static.batch_num_nodes[:rows], eager.batch_num_nodes)
    length = eager.seq_nodes.shape[1]
    assert torch.equal(static.seq_nodes[:rows, :length], eager.seq_nodes)
    assert (static.seq_nodes[:rows, length:] == -1).all()
    assert torch.equal(static.targets[:rows], eager.targets)
    assert torch.equal(static.last_node[:rows], eager.last_node)
    real_edges = edge_list(eager.graphs["session"])
    graph = static.graphs["session"]
    assert edge_list(graph)[: len(real_edges)] == real_edges
    for name in ("in_weight", "out_weight"):
        assert torch.equal(graph.edata[name][: len(real_edges)], eager.graphs["session"].edata[name])
        assert (graph.edata[name][len(real_edges):] == 0).all()
    sink_node = graph.num_nodes() - 1
    assert static.graphs["session"].node_graph()[sink_node] == static.batch_size - 1
    weight = static.extras["example_weight"]
    assert (weight[:rows] == 1).all() and (weight[rows:] == 0).all()


@pytest.mark.parametrize("model", STATIC_MODELS)
def test_loss_and_gradients_equal_the_unpadded_step(model: str) -> None:
    """CPU, float64, dropout off: the padded step's loss and every gradient equal the eager one's (<= 1e-10)."""
    examples = _examples(40, seed=2)
    chosen = np.array([5, 1, 33, 12, 20, 39, 7, 26, 2])
    torch.manual_seed(0)
    network = build_model(model, NUM_ITEMS).double().eval()  # eval: no dropout, same arithmetic
    eager = SessionCollator(examples, NUM_ITEMS, get_spec(model).graph_kinds, "torch")(chosen)
    static = _static(examples, chosen, batch_size=12)
    results = []
    for batch in (eager, static):
        network.zero_grad()
        loss = network.loss(batch)
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() if p.grad is not None else None
                                        for p in network.parameters()]))
    (eager_loss, eager_grads), (static_loss, static_grads) = results
    assert abs(float(eager_loss - static_loss)) <= 1e-10
    for (name, _), a, b in zip(network.named_parameters(), eager_grads, static_grads):
        if a is None:
            assert b is None or not b.any(), name
        else:
            assert (a - b).abs().max() <= 1e-10, name
