"""The parts of NARM (Li et al., CIKM 2017, "Neural Attentive Session-based Recommendation",
https://arxiv.org/abs/1711.04725): its readout; the GRU over the click embeddings is GRU4Rec's `click_gru` part. The
readout holds the global and local encoders with the bilinear decoder's projection (a readout, scored by ``dot``).
Equations in docs/MODELS.md §3.8.6.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.attention import AdditiveAttention
from sbrzoo.nn.state import SessionState, Widths, last_click

__all__ = ["NarmReadout"]


class NarmReadout(nn.Module):
    r"""NARM's global and local encoders and the projection ``B`` of its bilinear decoder.

    .. math::
        c^g &= h_\ell, \qquad \alpha_j = v^\top \sigma(A_1 h_\ell + A_2 h_j), \qquad
            c^l = \textstyle\sum_{j \le \ell} \alpha_j h_j \\
        s &= B\, \mathrm{Dropout}_{p_c}([c^g ; c^l])

    ``h_ℓ`` is the last real click's state; the weights ``α_j`` are not normalised (as in the paper;
    the released code takes a softmax over the clicks, docs/MODELS.md §3.8.6). With the ``dot`` scorer
    this gives the decoder's :math:`S_i = E_i^\top B\, c`. :math:`A_1, A_2 \in \mathbb{R}^{H \times H}`,
    :math:`v \in \mathbb{R}^H`, :math:`B \in \mathbb{R}^{d \times 2H}`, none with a bias.

    Args:
        widths: ``widths.clicks`` is ``H`` (after the ``click_gru`` part), ``widths.dim`` the item
            embedding width ``d``.
        context_dropout: ``p_c``, dropout on ``[c^g; c^l]``.

    Shapes:
        state.clicks (B, L, H) (zero at padded clicks) -> (B, d)
    """

    def __init__(self, widths: Widths, *, context_dropout: float = 0.5) -> None:
        super().__init__()
        hidden, dim = widths.clicks, widths.dim
        self.attention = AdditiveAttention(hidden)  # A_1, A_2, v
        self.dropout = nn.Dropout(context_dropout)
        self.bilinear = nn.Linear(2 * hidden, dim, bias=False)  # B

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        clicks, mask = state.clicks, state.mask
        assert clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        last = last_click(clicks, batch.lengths)
        alpha = self.attention(last, clicks)
        local = ((alpha * mask).unsqueeze(-1) * clicks).sum(dim=1)
        return self.bilinear(self.dropout(torch.cat([last, local], dim=1)))
