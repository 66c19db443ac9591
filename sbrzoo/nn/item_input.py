"""Input parts: the item embeddings of a batch's nodes, the first state of every composition."""

from __future__ import annotations

import torch
from torch import nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.state import SessionState, Widths

__all__ = ["ItemInput", "MaxNormItemInput", "PaddedItemInput"]


class ItemInput(nn.Module):
    """``state.nodes = E[node_items]``.

    Args:
        widths: The embedding width (the part has no parameters; the embedding is the model's).

    Shapes:
        embedding: (N_items + 1, d) table; batch with N nodes -> state.nodes (N, d)
    """

    def __init__(self, widths: Widths) -> None:
        super().__init__()

    def forward(self, batch: SessionBatch, embedding: nn.Embedding) -> SessionState:
        return SessionState(nodes=embedding(batch.node_items), clicks=None, mask=batch.mask,
                            click_items=batch.seq_items, click_index=batch.extras.get("click_index"))


class MaxNormItemInput(ItemInput):
    """LESSR's ``max_norm`` embedding (P15): rows longer than ``max_norm`` are rescaled in place first.

    ``nn.Embedding(max_norm=...)`` does this row by row at every lookup, and LESSR looks up the whole
    catalogue for scoring, so renormalising every row once per forward gives the same numbers, vectorised.
    """

    def __init__(self, widths: Widths, *, max_norm: float) -> None:
        super().__init__(widths)
        self.max_norm = max_norm

    def forward(self, batch: SessionBatch, embedding: nn.Embedding) -> SessionState:
        with torch.no_grad():
            weight = embedding.weight
            norms = weight.norm(dim=1, keepdim=True)
            weight.mul_(torch.where(norms > self.max_norm, self.max_norm / (norms + 1e-7), torch.ones_like(norms)))
        return super().forward(batch, embedding)


class PaddedItemInput(ItemInput):
    """The released SR-GNN-family code's input (reference fidelity, docs/MODELS.md §9.2): every prefix
    is padded to the split's longest with item 0, whose embedding row becomes a padding node.

    Shapes:
        -> state.padding (B, d) = E[0] per session; state.padding_slots (B,) padded positions
    """

    def forward(self, batch: SessionBatch, embedding: nn.Embedding) -> SessionState:
        state = super().forward(batch, embedding)
        return state.with_(padding=embedding.weight[:1].expand(batch.batch_size, -1),
                           padding_slots=batch.extras["padding_slots"].to(state.nodes.dtype))
