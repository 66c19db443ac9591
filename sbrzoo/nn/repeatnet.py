"""RepeatNet's decoders (Ren et al., "RepeatNet: A Repeat Aware Neural Recommendation Machine for Session-based
Recommendation", AAAI 2019, arXiv:1812.02646; docs/MODELS.md §3.8.3).

The encoder is :class:`~sbrzoo.nn.gru4rec.ClickGRU`. The readout is the explore decoder's context; the
scorer mixes the repeat and explore decoders into one distribution and returns its **log-probabilities**
(``returns_log_probabilities = True``): the model's loss is their negative log-likelihood and the evaluator
ranks by them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.attention import AdditiveAttention
from sbrzoo.nn.state import SessionState, Widths, last_click

__all__ = ["log_weights", "ExploreReadout", "RepeatExploreScorer"]


def log_weights(attention: AdditiveAttention, clicks: Tensor, last: Tensor, mask: Tensor) -> Tensor:
    r"""Log-weights of the clicks for the query ``h_ℓ``: :math:`\log \mathrm{softmax}_\tau\,
    v^\top \tanh(W h_\ell + U h_\tau)` over the real clicks (-inf past the prefix).

    Shapes:
        clicks: (B, L, h); last: (B, h); mask: (B, L) -> (B, L)
    """
    return torch.log_softmax(attention(last, clicks).masked_fill(~mask, float("-inf")), dim=1)


def _tanh_attention(hidden: int) -> AdditiveAttention:
    """RepeatNet's attention: tanh, no biases, as in the paper's equations."""
    return AdditiveAttention(hidden, activation=torch.tanh)


class ExploreReadout(nn.Module):
    r"""The explore decoder's session vector.

    .. math::
        c^I_e = \textstyle\sum_\tau \alpha^e_\tau h_\tau, \quad
        \alpha^e = \mathrm{softmax}_\tau\, v_e^\top \tanh(W_e h_\ell + U_e h_\tau), \qquad
        s = W_c\,[c^I_e ; h_\ell] \in \mathbb{R}^d

    The paper's explore logits are :math:`\hat W_c [c^I_e ; h_\ell]` with a free matrix
    :math:`\hat W_c \in \mathbb{R}^{N \times 2h}`; in the zoo every part is built before the catalogue
    size is known, so the item embeddings factor it, :math:`\hat W_c = E\,W_c`, and the explore logits
    are ``s · E_i`` (the bilinear decoder of NARM and CSRM).

    Shapes:
        state.clicks: (B, L, h) -> (B, d)
    """

    def __init__(self, widths: Widths) -> None:
        super().__init__()
        hidden = widths.clicks
        self.attention = _tanh_attention(hidden)
        self.project = nn.Linear(2 * hidden, widths.dim, bias=False)  # W_c

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        clicks = state.clicks
        assert clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        last = last_click(clicks, batch.lengths)
        alpha = log_weights(self.attention, clicks, last, state.mask).exp()
        context = (alpha.unsqueeze(-1) * clicks).sum(dim=1)
        return self.project(torch.cat([context, last], dim=1))


class RepeatExploreScorer(nn.Module):
    r"""The repeat/explore mixture, as log-probabilities of every item ``i = 1..N``.

    .. math::
        [P(r), P(e)] &= \mathrm{softmax}(W_m\, c_{re}), \quad c_{re} = \textstyle\sum_\tau \alpha^{re}_\tau h_\tau,
            \quad \alpha^{re} = \mathrm{softmax}_\tau\, v_{re}^\top \tanh(W_{re} h_\ell + U_{re} h_\tau) \\
        P(i \mid r) &= \textstyle\sum_{\tau:\, x_\tau = i} \alpha^r_\tau, \quad
            \alpha^r = \mathrm{softmax}_\tau\, v_r^\top \tanh(W_r h_\ell + U_r h_\tau) \\
        P(i \mid e) &= \mathrm{softmax}_i\,(s \cdot E_i + f_i), \quad
            f_i = -\infty \text{ if } i \text{ is in the session} \\
        \log P(i) &= \log\big(P(r)\,P(i \mid r) + P(e)\,P(i \mid e)\big)

    computed in the log domain, so every item gets a finite log-probability: the session's items through
    the repeat decoder, the others through the explore decoder. Only the explore term is dense; the repeat
    term lives on the session's clicks: ``P(i|r)`` is a (B, L) logsumexp over the clicks of the same item,
    and the two terms are mixed at one click per distinct item, then written into the (B, N) explore
    log-probabilities. A session holding every item of the catalogue (tiny catalogues only) leaves the
    explore softmax unmasked rather than empty.

    Args:
        widths: ``widths.clicks`` is the GRU width ``h``.

    Shapes:
        session: (B, d) from :class:`ExploreReadout`; items: (N, d); state.clicks (B, L, h),
        state.click_items (B, L) -> (B, N) log-probabilities
    """

    returns_log_probabilities = True

    def __init__(self, widths: Widths) -> None:
        super().__init__()
        hidden = widths.clicks
        self.mode_attention = _tanh_attention(hidden)
        self.mode = nn.Linear(hidden, 2, bias=False)  # W_m: [repeat, explore]
        self.repeat_attention = _tanh_attention(hidden)

    def forward(self, session: Tensor, items: Tensor, state: SessionState) -> Tensor:
        clicks, mask, click_items = state.clicks, state.mask, state.click_items
        assert clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        if click_items is None:
            raise ValueError("RepeatNet's scorer needs state.click_items (set by the input part)")
        batch_size, num_items = clicks.shape[0], items.shape[0]
        last = last_click(clicks, mask.sum(dim=1))
        # P(r), P(e)
        mode_alpha = log_weights(self.mode_attention, clicks, last, mask).exp()
        log_mode = torch.log_softmax(self.mode((mode_alpha.unsqueeze(-1) * clicks).sum(dim=1)), dim=1)
        # repeat, per click: log P(x_tau | r) = logsumexp of the weights of the clicks on the same item
        log_alpha = log_weights(self.repeat_attention, clicks, last, mask)  # (B, L), -inf past the prefix
        same_item = (click_items.unsqueeze(2) == click_items.unsqueeze(1)) & mask.unsqueeze(1)  # (B, L, L)
        # rows past the prefix get zeros, not all -inf (whose logsumexp has a nan gradient); never used
        padding = torch.zeros_like(log_alpha).masked_fill(mask, float("-inf")).unsqueeze(2)
        log_repeat = torch.logsumexp(torch.where(same_item, log_alpha.unsqueeze(1), padding), dim=2)
        first = mask & ~(same_item & torch.ones_like(same_item[0]).tril(-1)).any(dim=2)  # one click per item
        # explore: a softmax over the items not in the session
        columns = torch.where(mask, click_items, 0)  # column 0 of the padded width below is a dump
        in_session = torch.zeros(batch_size, num_items + 1, dtype=torch.bool, device=clicks.device)
        in_session = in_session.scatter(1, columns, torch.ones_like(mask))[:, 1:]
        whole_catalogue = first.sum(dim=1, keepdim=True) == num_items
        explore = (session @ items.T).masked_fill(in_session & ~whole_catalogue, float("-inf"))
        log_p = log_mode[:, 1:] + torch.log_softmax(explore, dim=1)  # exact off the session: P(i|r) = 0
        # on the session's items: log(P(r) P(i|r) + P(e) P(i|e)), written once per distinct item
        item_columns = (click_items - 1).clamp(min=0)
        mixed = torch.logaddexp(log_mode[:, :1] + log_repeat, log_p.gather(1, item_columns))
        return log_p.masked_fill(in_session, 0.0).scatter_add(1, item_columns, torch.where(first, mixed, 0.0))
