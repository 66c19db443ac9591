"""The shared scorer: the session vector against every item embedding."""

from __future__ import annotations

from torch import Tensor, nn

from sbrzoo.nn.state import SessionState, Widths

__all__ = ["DotScorer"]


class DotScorer(nn.Module):
    r""":math:`z_{b,i} = s_b \cdot E_i` for every real item ``i = 1..N``; the state is not needed.

    Args:
        widths: Unused beyond the contract (the scores have no parameters).

    Shapes:
        session: (B, d); items: (N, d) rows of items 1..N -> (B, N)
    """

    def __init__(self, widths: Widths) -> None:
        super().__init__()

    def forward(self, session: Tensor, items: Tensor, state: SessionState) -> Tensor:
        return session @ items.T
