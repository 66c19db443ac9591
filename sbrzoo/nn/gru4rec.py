"""GRU4Rec's parts (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016,
arXiv:1511.06939; docs/MODELS.md §3.8.1): a GRU over the clicks and its last hidden state as the session.

The GRU is also the session encoder of RepeatNet (§3.8.3).
"""

from __future__ import annotations

from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.state import SessionState, Widths, last_click

__all__ = ["ClickGRU", "LastHiddenReadout"]


class ClickGRU(nn.Module):
    r"""One GRU layer over the click sequence, from a zero state.

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}), \quad
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh\big(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big), \quad
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}, \quad h_0 = 0

    ``x_t`` is click ``t``'s state after dropout ``input_dropout``; the output ``h_t`` gets dropout
    ``hidden_dropout`` and is zero past the prefix. Clicks are right-padded, so the padding after a
    prefix never reaches the states of its real clicks and no packing is needed.

    Args:
        widths: ``widths.clicks`` is the input width.
        hidden_size: Width ``h`` of the hidden state (the clicks' width afterwards).
        input_dropout: Dropout on the GRU's input (the item embeddings).
        hidden_dropout: Dropout on its output states.

    Shapes:
        state.clicks: (B, L, widths.clicks) -> (B, L, hidden_size)
    """

    def __init__(self, widths: Widths, *, hidden_size: int, input_dropout: float = 0.0,
                 hidden_dropout: float = 0.0) -> None:
        super().__init__()
        self.gru = nn.GRU(widths.clicks, hidden_size, batch_first=True)
        self.input_dropout = nn.Dropout(input_dropout)
        self.hidden_dropout = nn.Dropout(hidden_dropout)
        self.out_widths = widths.with_(clicks=hidden_size)

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        hidden, _ = self.gru(self.input_dropout(state.clicks))
        return state.with_(clicks=self.hidden_dropout(hidden) * state.mask.unsqueeze(-1))


class LastHiddenReadout(nn.Module):
    r"""GRU4Rec's session vector: the last click's state, :math:`s = h_\ell` when ``h = d``, else
    :math:`s = W_p h_\ell + b_p` (``W_p`` ∈ R^{d×h}) so that it can be scored against the item embeddings.

    Args:
        widths: ``widths.clicks`` is ``h``, ``widths.dim`` is ``d``.

    Shapes:
        state.clicks: (B, L, h) -> (B, d)
    """

    def __init__(self, widths: Widths) -> None:
        super().__init__()
        self.project = nn.Linear(widths.clicks, widths.dim) if widths.clicks != widths.dim else None

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        assert state.clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        last = last_click(state.clicks, batch.lengths)
        return last if self.project is None else self.project(last)
