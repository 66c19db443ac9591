"""Batches of fixed shapes built on the model's device from device-resident examples.

A GPU step replays fastest when every tensor it touches has the same shape and address as when it
was captured. :func:`build_static_batch` therefore builds a :class:`SessionBatch` (session graph
included) whose shapes depend only on a :class:`BatchShape` — a handful of padded sizes chosen on
the host from example lengths the host already knows — with tensor operations only: no ``unique``,
no boolean indexing, no host synchronisation. It can run inside a captured CUDA graph.

Padding never changes the numbers of the real sessions:

* the batch always has ``batch_size + 1`` rows. Rows past the real examples are *filler* sessions of
  one click on item 0; the last row is the *sink*: it owns every unused click, node and edge slot;
* unused click slots pack into the sink's first position, unused nodes are item 0 nodes of the sink,
  unused edges are weight-0 self-loops on the sink's last node: they touch no real session;
* ``extras["example_weight"]`` is 1 on real rows and 0 elsewhere, so the weighted mean loss
  (:meth:`SessionModel.loss`) is the mean over real examples, and filler rows get no gradient;
* ``extras["click_index"]`` packs the clicks session after session (what ``mask`` selects in an
  unpadded batch) into a fixed length, unused slots pointing at the sink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.examples import Examples
from sbrzoo.graph.torch_graph import TorchGraph

__all__ = ["BatchShape", "DeviceExamples", "build_static_batch", "click_step", "shape_for", "STATIC_GRAPH_KINDS"]

#: Graph kinds :func:`build_static_batch` builds (LESSR's EOP and shortcut graphs are not among them).
STATIC_GRAPH_KINDS = ("session",)


@dataclass(frozen=True)
class BatchShape:
    """The padded sizes of a static batch: its key when steps are captured per shape.

    Attributes:
        rows: Sessions, ``batch_size + 1`` (the last is the sink).
        clicks: Click slots ``C``, also the node and edge slots (a prefix has at most as many nodes and
            distinct transitions as clicks).
        positions: ``L``, the padded prefix length.
    """

    rows: int
    clicks: int
    positions: int


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def click_step(batch_size: int, mean_length: float) -> int:
    """The rounding of click slots: the power of two nearest an eighth of a typical batch's clicks
    (at least 32), so padding wastes about a sixteenth of the work and an epoch meets a few dozen shapes."""
    return max(32, 1 << max(round(math.log2(max(batch_size * mean_length / 8, 1.0))), 0))


def shape_for(lengths: np.ndarray, batch_size: int, longest: int, *, step: int) -> BatchShape:
    """The bucket of a batch of prefixes of ``lengths``.

    Click slots round up to a multiple of ``step`` (filler rows and the sink take one each), positions
    to the next power of two, but never beyond ``longest`` (the split's longest prefix, so that
    positional tables sized for the data suffice).

    Args:
        lengths: (B,) prefix lengths of the real examples, ``B <= batch_size``.
        batch_size: The training batch size.
        longest: The longest prefix of the split.
        step: See :func:`click_step`.
    """
    fillers = batch_size - len(lengths)
    clicks = _round_up(int(lengths.sum()) + fillers + 1, step)
    positions = min(1 << (int(lengths.max()) - 1).bit_length(), longest)
    return BatchShape(rows=batch_size + 1, clicks=clicks, positions=max(positions, 1))


class DeviceExamples:
    """A split's examples as flat tensors on ``device`` (Diginetica's training set is ~3 M clicks).

    Shapes:
        items: (total clicks,); offsets: (E + 1,); targets: (E,); lengths: (E,), all int64.
    """

    def __init__(self, examples: Examples, num_items: int, device: torch.device | str) -> None:
        self.num_items = num_items
        self.host_lengths = examples.lengths
        self.longest = int(self.host_lengths.max()) if len(examples) else 1
        self.items = torch.as_tensor(examples.items, dtype=torch.long, device=device)
        self.offsets = torch.as_tensor(examples.offsets, dtype=torch.long, device=device)
        self.targets = torch.as_tensor(examples.targets, dtype=torch.long, device=device)
        self.lengths = self.offsets[1:] - self.offsets[:-1]

    def shape_for(self, indices: np.ndarray, batch_size: int) -> BatchShape:
        """The :class:`BatchShape` of the examples ``indices`` (host-side lengths: no device sync)."""
        step = click_step(batch_size, float(self.host_lengths.mean()) if len(self.host_lengths) else 1.0)
        return shape_for(self.host_lengths[indices], batch_size, self.longest, step=step)


def build_static_batch(data: DeviceExamples, indices: Tensor, num_real: Tensor, shape: BatchShape) -> SessionBatch:
    """The batch of examples ``indices[:num_real]``, padded to ``shape``, with its session graph.

    Args:
        data: The examples, on the device the batch is built on.
        indices: (rows - 1,) int64 example ids; entries from ``num_real`` on are ignored.
        num_real: () int64 number of real examples (a tensor, so the same capture serves any count).
        shape: The padded sizes; ``shape.clicks`` must exceed the real clicks plus the filler rows.

    Returns:
        A batch of ``shape.rows`` sessions whose real rows equal, row by row, those the unpadded
        :class:`~sbrzoo.data.collate.SessionCollator` builds for the same examples.
    """
    device = indices.device
    rows, slots, width = shape.rows, shape.clicks, shape.positions
    sink = rows - 1
    row = torch.arange(rows, device=device)
    real = row < num_real
    example = torch.where(real[:-1], indices, torch.zeros_like(indices))
    lengths = torch.ones(rows, dtype=torch.long, device=device)
    lengths[:-1] = torch.where(real[:-1], data.lengths[example], 1)
    starts = torch.cumsum(lengths, 0) - lengths

    # clicks: slot j belongs to the row whose span holds it; slots past the last row's span are unused
    slot = torch.arange(slots, device=device)
    click_row = torch.searchsorted(torch.cumsum(lengths, 0), slot, right=True).clamp(max=sink)
    position = slot - starts[click_row]
    used = position < lengths[click_row]
    on_real = used & real[click_row]
    source = data.offsets[example[click_row.clamp(max=sink - 1)]] + position
    item = torch.where(on_real, data.items[source.clamp(max=len(data.items) - 1)], 0)
    position = torch.where(used, position, 0)
    click_row = torch.where(used, click_row, sink)

    # nodes: the sorted unique (row, item) pairs; unused click slots are the sink's item 0
    node_key = click_row * (data.num_items + 1) + item
    sorted_key, order = torch.sort(node_key, stable=True)
    is_new = torch.ones_like(sorted_key, dtype=torch.bool)
    is_new[1:] = sorted_key[1:] != sorted_key[:-1]
    node_of_sorted = torch.cumsum(is_new.long(), 0) - 1
    click_node = torch.empty_like(node_of_sorted).scatter_(0, order, node_of_sorted)
    node_key_table = torch.full((slots,), sink * (data.num_items + 1), dtype=torch.long, device=device)
    node_key_table.scatter_(0, node_of_sorted, sorted_key)  # nodes past the last stay the sink's item 0
    node_items = node_key_table % (data.num_items + 1)
    node_row = node_key_table // (data.num_items + 1)
    batch_num_nodes = torch.zeros(rows, dtype=torch.long, device=device).index_add_(0, node_row,
                                                                                    torch.ones_like(node_row))

    # the session graph: distinct transitions between consecutive clicks of a row
    pair = used[:-1] & used[1:] & (click_row[:-1] == click_row[1:])
    no_edge = slots * slots  # sorts after every real pair
    edge_key = torch.where(pair, click_node[:-1] * slots + click_node[1:], no_edge)
    sorted_edge, _ = torch.sort(edge_key)
    is_edge = sorted_edge < no_edge
    first = torch.ones_like(is_edge)
    first[1:] = sorted_edge[1:] != sorted_edge[:-1]
    edge_of_sorted = torch.cumsum((first & is_edge).long(), 0) - 1
    edge_slot = torch.where(is_edge, edge_of_sorted, slots - 1)  # slots - 1 >= the number of real edges
    last_node = slots - 1  # always the sink's (unused nodes are the sink's)
    edge_key_table = torch.full((slots,), last_node * slots + last_node, dtype=torch.long, device=device)
    # duplicates of a real pair write the same key; non-edges write the sink loop to slot slots - 1
    edge_key_table.scatter_(0, edge_slot, torch.where(is_edge, sorted_edge, last_node * slots + last_node))
    src, dst = edge_key_table // slots, edge_key_table % slots
    valid_edge = torch.zeros(slots, device=device).scatter_(0, edge_slot, is_edge.float())
    in_degree = torch.zeros(slots, device=device).index_add_(0, dst, valid_edge)
    out_degree = torch.zeros(slots, device=device).index_add_(0, src, valid_edge)
    edata = {"in_weight": valid_edge / in_degree[dst].clamp(min=1.0),
             "out_weight": valid_edge / out_degree[src].clamp(min=1.0)}
    batch_num_edges = torch.zeros(rows, dtype=torch.long, device=device).index_add_(0, node_row[src],
                                                                                    torch.ones_like(src))
    graph = TorchGraph(src, dst, batch_num_nodes, batch_num_edges, num_nodes=slots)
    graph.edata = edata

    # the click sequence; unused slots write into one spare cell past the table
    flat = torch.where(used, click_row * width + position, rows * width)
    seq_nodes = torch.full((rows * width + 1,), -1, dtype=torch.long, device=device)
    seq_nodes.scatter_(0, flat, torch.where(used, click_node, -1))
    seq_items = torch.zeros(rows * width + 1, dtype=torch.long, device=device).scatter_(0, flat, item)
    seq_nodes, seq_items = seq_nodes[:-1].view(rows, width), seq_items[:-1].view(rows, width)

    targets = torch.ones(rows, dtype=torch.long, device=device)
    targets[:-1] = torch.where(real[:-1], data.targets[example], 1)
    return SessionBatch(
        graphs={"session": graph},
        node_items=node_items,
        batch_num_nodes=batch_num_nodes,
        seq_nodes=seq_nodes,
        seq_items=seq_items,
        lengths=lengths,
        last_node=seq_nodes[row, lengths - 1],
        targets=targets,
        extras={"padding_slots": data.longest - lengths, "example_weight": real.float(),
                "click_index": torch.where(used, click_row * width + position, sink * width)},
    )
