"""Batch graph construction: SR-GNN session graph, LESSR EOP multigraph and shortcut graph."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS, NUM_ITEMS, SIZES, make_examples

from sbrzoo.data.collate import SessionCollator


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["session", "eop", "shortcut"])
@pytest.mark.parametrize(("batch_size", "profile"), SIZES)
def bench_collate(benchmark, batch_size: int, profile: str, kind: str, backend: str) -> None:  # noqa: ANN001
    examples = make_examples(batch_size, profile)
    collator = SessionCollator(examples, NUM_ITEMS, (kind,), backend)
    indices = np.arange(batch_size)
    benchmark.group = f"collate-{kind}"
    batch = benchmark(collator, indices)
    graph = batch.graphs[kind]
    benchmark.extra_info.update(nodes=graph.num_nodes(), edges=graph.num_edges(), backend=backend)
    assert batch.seq_nodes.shape == (batch_size, int(examples.lengths.max()))
    assert graph.batch_num_nodes().tolist() == batch.batch_num_nodes.tolist()
