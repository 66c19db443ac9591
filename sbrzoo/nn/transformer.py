"""The Transformer block of TAGNN++ (Mitheran et al., 2021, https://arxiv.org/abs/2107.01516)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.state import SessionState, Widths

__all__ = ["TransformerBlock"]


class TransformerBlock(nn.Module):
    r"""One standard post-LN Transformer encoder layer over a session's clicks (docs/MODELS.md §9.1).

    .. math::
        Y &= \mathrm{LN}\big(X + \mathrm{MHA}(X, X, X)\big) \\
        Z &= \mathrm{LN}\big(Y + W_2\,\mathrm{ReLU}(W_1 Y)\big)

    Attention uses a key-padding mask (padded clicks are never attended) and, when ``causal``, a
    causal mask (click ``t`` attends to clicks ``0..t``), so the last click sees the whole prefix.
    Padded positions get finite outputs that the readouts mask out.

    As a sequence encoder it transforms ``state.clicks`` under ``state.mask``.

    Args:
        widths: ``widths.clicks`` is the model width ``d`` (divisible by ``heads``).
        heads: Number of attention heads.
        dropout: Dropout on attention probabilities and after each sub-layer.
        ffn_mult: Feed-forward width as a multiple of ``d`` (4, our choice: the paper gives none).
        causal: Apply the causal mask.

    Shapes:
        encode: seq (B, L, d); mask (B, L) bool, True at real clicks -> (B, L, d)
    """

    def __init__(self, widths: Widths, *, heads: int, dropout: float = 0.1, ffn_mult: int = 4,
                 causal: bool = True) -> None:
        super().__init__()
        dim = widths.clicks
        if dim % heads:
            raise ValueError(f"{heads} heads do not divide the width {dim} (each head takes width/heads features)")
        self.out_widths = widths
        self.causal = causal
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_attention = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, ffn_mult * dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_mult * dim, dim)
        )
        self.norm_feed_forward = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        assert state.clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        return state.with_(clicks=self.encode(state.clicks, state.mask))

    def encode(self, seq: Tensor, mask: Tensor) -> Tensor:
        """The block over ``seq``, attending to real clicks only."""
        length = seq.shape[1]
        causal = None
        if self.causal:
            causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).triu(1)
        attended, _ = self.attention(seq, seq, seq, key_padding_mask=~mask, attn_mask=causal, need_weights=False)
        hidden = self.norm_attention(seq + self.dropout(attended))
        return self.norm_feed_forward(hidden + self.dropout(self.feed_forward(hidden)))
