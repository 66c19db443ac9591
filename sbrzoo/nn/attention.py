"""Additive attention over a session's clicks, the scoring step SR-GNN's readout, NARM, CSRM and RepeatNet share."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["AdditiveAttention"]


class AdditiveAttention(nn.Module):
    r"""Unnormalised attention logits of the clicks ``h_t`` for a query ``q``.

    .. math:: \alpha_t = v^\top \phi(W_q q + b_q + W_k h_t + b_k)

    with ``φ`` the logistic sigmoid (SR-GNN, TAGNN, NARM, CSRM) or tanh (RepeatNet), and the biases only
    where the model's equations have them (SR-GNN's readout). Each model normalises the logits its own
    way (raw, softmax, masked log-softmax), so they are returned as they are, padded clicks included.

    Args:
        dim: Width of the query and the clicks.
        bias: Biases on ``W_q`` and ``W_k`` (``v`` never has one).
        activation: ``φ``.

    Shapes:
        query: (B, dim); clicks: (B, L, dim) -> (B, L)
    """

    def __init__(self, dim: int, *, bias: bool = False, activation: Callable[[Tensor], Tensor] = torch.sigmoid) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=bias)  # W_q
        self.key = nn.Linear(dim, dim, bias=bias)  # W_k
        self.score = nn.Linear(dim, 1, bias=False)  # v
        self.activation = activation

    def forward(self, query: Tensor, clicks: Tensor) -> Tensor:
        return self.score(self.activation(self.query(query).unsqueeze(1) + self.key(clicks))).squeeze(-1)
