"""STAMP's readout (Liu et al., "STAMP: Short-Term Attention/Memory Priority Model for Session-based
Recommendation", KDD 2018; docs/MODELS.md §3.8.2)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.state import SessionState, Widths, last_click

__all__ = ["StampReadout"]


class StampReadout(nn.Module):
    r"""The short-term attention/memory priority readout over the click embeddings ``x_1..x_ℓ``.

    .. math::
        m_s &= \tfrac{1}{\ell} \textstyle\sum_i x_i, \qquad m_t = x_\ell \\
        \alpha_i &= w_0^\top \sigma(W_1 x_i + W_2 m_t + W_3 m_s + b_a), \qquad
            m_a = \textstyle\sum_i \alpha_i x_i \quad (\text{raw weights, no softmax}) \\
        h_s &= \tanh(W_s m_a + b_s), \quad h_t = \tanh(W_t m_t + b_t), \qquad s = h_s \odot h_t

    With the dot scorer, :math:`z_i = s \cdot E_i = \langle h_s, h_t, E_i \rangle`, the paper's trilinear
    product. The paper applies a sigmoid to it before the softmax; the released code and RecBole use the
    raw product as the logits, and so does the zoo (the ranks are the same; docs/MODELS.md §3.8.2).

    Args:
        widths: ``widths.clicks`` must be ``widths.dim``: the clicks are the item embeddings.

    Shapes:
        state.clicks: (B, L, d), zero past the prefix -> (B, d)
    """

    def __init__(self, widths: Widths) -> None:
        super().__init__()
        if widths.clicks != widths.dim:
            raise ValueError(f"STAMP attends over item embeddings of width {widths.dim}, got clicks of {widths.clicks}")
        dim = widths.dim
        self.w1 = nn.Linear(dim, dim, bias=False)  # on every click x_i
        self.w2 = nn.Linear(dim, dim, bias=False)  # on the last click m_t
        self.w3 = nn.Linear(dim, dim)  # on the mean m_s; its bias is b_a
        self.w0 = nn.Linear(dim, 1, bias=False)
        self.mlp_s = nn.Linear(dim, dim)  # W_s, b_s
        self.mlp_t = nn.Linear(dim, dim)  # W_t, b_t

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        clicks, mask = state.clicks, state.mask
        assert clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        lengths = batch.lengths
        mean = clicks.sum(dim=1) / lengths.unsqueeze(1).to(clicks.dtype)
        last = last_click(clicks, lengths)
        hidden = torch.sigmoid(self.w1(clicks) + (self.w2(last) + self.w3(mean)).unsqueeze(1))
        alpha = self.w0(hidden).squeeze(-1) * mask
        attended = (alpha.unsqueeze(-1) * clicks).sum(dim=1)
        return torch.tanh(self.mlp_s(attended)) * torch.tanh(self.mlp_t(last))
