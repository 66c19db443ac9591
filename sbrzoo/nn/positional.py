"""Learned positional embedding of TAGNN++ (the "PE" of the paper's ablation)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["PositionalEmbedding"]


class PositionalEmbedding(nn.Module):
    r"""Add a learned vector per click index: :math:`X_t \leftarrow X_t + P_t`, ``t = 0`` the first click.

    The paper names a positional embedding but does not define it; this table over click indices is
    our definition (docs/MODELS.md §3.4c).

    Args:
        dim: Width ``d``.
        max_positions: Longest prefix supported (Yoochoose 1/64 has prefixes of 145 clicks).

    Shapes:
        seq: (B, L, d) -> (B, L, d)
    """

    def __init__(self, dim: int, *, max_positions: int = 512) -> None:
        super().__init__()
        self.table = nn.Embedding(max_positions, dim)

    def forward(self, seq: Tensor) -> Tensor:
        length = seq.shape[1]
        if length > self.table.num_embeddings:
            raise ValueError(
                f"prefix of {length} clicks exceeds the positional table ({self.table.num_embeddings}); "
                "raise max_positions"
            )
        return seq + self.table(torch.arange(length, device=seq.device))
