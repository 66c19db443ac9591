"""Soft-attention session readout of SR-GNN and TAGNN (docs/MODELS.md §3.2, §3.3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch

__all__ = ["SoftAttentionReadout"]


class SoftAttentionReadout(nn.Module):
    r"""Attention over a session's clicks, queried by the last click.

    .. math::
        \alpha_t &= w_3^\top \sigma(W_1 s_l + W_2 S_t) \qquad
            (\text{TAGNN: } \alpha = \mathrm{softmax}_t\,\alpha) \\
        s_g &= \textstyle\sum_t \alpha_t S_t, \qquad s = W_3 [s_g; s_l] \ (\text{hybrid}) \text{ or } s_g

    SR-GNN uses the raw scores (``normalize=False``); TAGNN normalises them with a softmax over the
    session's real clicks (``normalize=True``). ``padding_slots`` emulates the reference code, whose
    softmax also covers the split-wide padding: ``P_b`` extra slots holding the padding node's
    state ``padding_state`` and a zero value (the mask multiplies them out of the sum).

    Args:
        dim: Session-state size ``d``.
        normalize: Softmax over clicks (TAGNN) instead of raw scores (SR-GNN).
        hybrid: Combine the global and the last-click vectors through ``W_3``.

    Shapes:
        seq_state: (B, L, d) (zero at padded clicks); padding_slots: (B,); padding_state: (B, d) -> (B, d)
    """

    def __init__(self, dim: int, *, normalize: bool, hybrid: bool = True) -> None:
        super().__init__()
        self.normalize = normalize
        self.hybrid = hybrid
        self.query = nn.Linear(dim, dim)  # W_1
        self.key = nn.Linear(dim, dim)  # W_2
        self.score = nn.Linear(dim, 1, bias=False)  # w_3
        self.combine = nn.Linear(2 * dim, dim)  # W_3 (created in both modes, as in the reference)

    def forward(
        self,
        batch: SessionBatch,
        node_state: Tensor,
        seq_state: Tensor,
        *,
        padding_slots: Tensor | None = None,
        padding_state: Tensor | None = None,
    ) -> Tensor:
        mask = batch.mask
        last = seq_state[torch.arange(batch.batch_size, device=mask.device), batch.lengths - 1]
        query = self.query(last)
        logits = self.score(torch.sigmoid(query[:, None, :] + self.key(seq_state))).squeeze(-1)
        if self.normalize:
            logits = logits.masked_fill(~mask, float("-inf"))
            if padding_slots is not None and padding_state is not None:
                # P_b extra slots with the padding node's logit and zero value: they only enlarge the denominator
                pad_logit = self.score(torch.sigmoid(query + self.key(padding_state))).squeeze(-1)
                peak = torch.maximum(logits.amax(dim=1), torch.where(padding_slots > 0, pad_logit, -torch.inf))
                weights = (logits - peak[:, None]).exp()
                total = weights.sum(dim=1) + padding_slots * (pad_logit - peak).exp()
                alpha = weights / total[:, None]
            else:
                alpha = torch.softmax(logits, dim=1)
        else:
            alpha = logits * mask
        global_ = (alpha.unsqueeze(-1) * seq_state).sum(dim=1)
        if self.hybrid:
            return self.combine(torch.cat([global_, last], dim=1))
        return global_
