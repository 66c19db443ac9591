"""The one structure that flows from the data layer into every model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

__all__ = ["SessionBatch"]


@dataclass(frozen=True)
class SessionBatch:
    """A batch of ``B`` session prefixes with their graphs.

    Every graph kind of a batch shares one node set: the sorted unique items of each prefix, sessions
    one after another (``N`` nodes in all), so node ``i`` of any graph is item ``node_items[i]``.

    Attributes:
        graphs: graph kind (``"session"``, ``"eop"``, ``"shortcut"``) -> batched graph (DGL or torch).
        node_items: (N,) item id of every node.
        batch_num_nodes: (B,) nodes per session.
        seq_nodes: (B, L) global node index of every click, ``-1`` past the prefix (L = longest prefix).
        seq_items: (B, L) item id of every click, ``0`` past the prefix.
        lengths: (B,) prefix lengths.
        last_node: (B,) node of each session's last click.
        targets: (B,) next item, or None at inference.
        extras: further per-session tensors; ``"padding_slots"`` (B,) = longest prefix of the
            example set minus this prefix's length (what the reference codes pad with). Static-shape
            batches (:mod:`sbrzoo.engine.static_batch`) add ``"example_weight"`` (B,), each row's weight
            in the loss, and ``"click_index"`` (T,), the flat (B x L) positions of the clicks session after
            session, padded to a fixed T with the sink's (what ``mask`` selects, in an unpadded batch).
    """

    graphs: Mapping[str, Any]
    node_items: Tensor
    batch_num_nodes: Tensor
    seq_nodes: Tensor
    seq_items: Tensor
    lengths: Tensor
    last_node: Tensor
    targets: Tensor | None
    extras: Mapping[str, Tensor] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return len(self.lengths)

    @property
    def mask(self) -> Tensor:
        """(B, L) True at real clicks."""
        return self.seq_nodes >= 0

    @property
    def device(self) -> torch.device:
        return self.node_items.device

    def to(self, device: torch.device | str, non_blocking: bool = False) -> SessionBatch:
        """A copy with every tensor and graph on ``device``."""
        device = torch.device(device)
        if device == self.device:
            return self
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return SessionBatch(
            graphs={kind: _move_graph(g, device, non_blocking) for kind, g in self.graphs.items()},
            node_items=move(self.node_items),
            batch_num_nodes=move(self.batch_num_nodes),
            seq_nodes=move(self.seq_nodes),
            seq_items=move(self.seq_items),
            lengths=move(self.lengths),
            last_node=move(self.last_node),
            targets=None if self.targets is None else move(self.targets),
            extras={k: move(v) for k, v in self.extras.items()},
        )

    def pin_memory(self) -> SessionBatch:
        """A copy in pinned host memory (called by the DataLoader when ``pin_memory=True``)."""
        pinned = {
            name: getattr(self, name).pin_memory()
            for name in ("node_items", "batch_num_nodes", "seq_nodes", "seq_items", "lengths", "last_node")
        }
        return replace(
            self,
            graphs={k: g.pin_memory() if hasattr(g, "pin_memory") else g for k, g in self.graphs.items()},
            targets=None if self.targets is None else self.targets.pin_memory(),
            extras={k: v.pin_memory() for k, v in self.extras.items()},
            **pinned,
        )


def _move_graph(graph: Any, device: torch.device, non_blocking: bool) -> Any:
    from sbrzoo.graph.torch_graph import TorchGraph

    if isinstance(graph, TorchGraph):
        return graph.to(device, non_blocking=non_blocking)
    return graph.to(device)
