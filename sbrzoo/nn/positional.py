"""Learned positional embedding of TAGNN++ (the "PE" of the paper's ablation)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.state import SessionState, Widths

__all__ = ["PositionalEmbedding", "longest_prefix"]


class PositionalEmbedding(nn.Module):
    r"""Add a learned vector per click index: :math:`X_t \leftarrow X_t + P_t`, ``t = 0`` the first click.

    The paper names a positional embedding but does not define it; this table over click indices is
    our definition (docs/MODELS.md §3.4c).

    As a sequence encoder it adds the table to ``state.clicks``.

    Args:
        widths: ``widths.clicks`` is the width ``d``.
        max_positions: Longest prefix supported (Yoochoose 1/64 has prefixes of 145 clicks).

    Shapes:
        add: seq (B, L, d) -> (B, L, d)
    """

    def __init__(self, widths: Widths, *, max_positions: int = 512) -> None:
        super().__init__()
        self.table = nn.Embedding(max_positions, widths.clicks)
        self.out_widths = widths

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        assert state.clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        return state.with_(clicks=self.add(state.clicks))

    def add(self, seq: Tensor) -> Tensor:
        """``seq + P[:L]``."""
        length = seq.shape[1]
        if length > self.table.num_embeddings:
            raise ValueError(
                f"a prefix of {length} clicks is longer than the {self.table.num_embeddings} positions this model "
                f"has; cut the sessions to at most {self.table.num_embeddings} clicks"
            )
        return seq + self.table(torch.arange(length, device=seq.device))


def longest_prefix(model: nn.Module) -> int | None:
    """The most clicks ``model`` reads: its smallest positional table (None: no table, no limit).

    Longer sessions are read from their latest clicks (``sbrzoo recommend``, ``serve``, exported programs).
    """
    tables = [m.table.num_embeddings for m in model.modules() if isinstance(m, PositionalEmbedding)]
    return min(tables) if tables else None
