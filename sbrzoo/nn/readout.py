"""Session readouts: the soft attention of SR-GNN and TAGNN (docs/MODELS.md §3.2, §3.3) and LESSR's
attention over nodes (§3.5). A readout maps ``(batch, state)`` to one vector per session, (B, d)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.graph import ops
from sbrzoo.nn.attention import AdditiveAttention
from sbrzoo.nn.state import SessionState, Widths, last_click

__all__ = ["SoftAttentionReadout", "LessrReadout"]


class SoftAttentionReadout(nn.Module):
    r"""Attention over a session's clicks, queried by the last click.

    .. math::
        \alpha_t &= w_3^\top \sigma(W_1 s_l + b_1 + W_2 S_t + b_2) \qquad
            (\text{TAGNN: } \alpha = \mathrm{softmax}_t\,\alpha) \\
        s_g &= \textstyle\sum_t \alpha_t S_t, \qquad s = W_3 [s_g; s_l] + b_3 \ (\text{hybrid}) \text{ or } s_g

    SR-GNN uses the raw scores (``normalize=False``); TAGNN normalises them with a softmax over the
    session's real clicks (``normalize=True``). When the state carries the released code's padding
    (``state.padding_slots``, reference fidelity), the softmax also covers it, as that code's does:
    ``P_b`` extra slots holding the padding node's state ``state.padding`` and a zero value (the
    mask multiplies them out of the sum).

    Args:
        widths: ``widths.clicks`` is the session-state size ``d``.
        normalize: Softmax over clicks (TAGNN) instead of raw scores (SR-GNN).
        hybrid: Combine the global and the last-click vectors through ``W_3``.

    Shapes:
        state.clicks: (B, L, d) (padded clicks masked out by ``state.mask``, whatever they hold);
        padding_slots: (B,); padding: (B, d) -> (B, d)
    """

    def __init__(self, widths: Widths, *, normalize: bool, hybrid: bool = True) -> None:
        super().__init__()
        dim = widths.clicks
        self.normalize = normalize
        self.hybrid = hybrid
        self.attention = AdditiveAttention(dim, bias=True)  # W_1, b_1, W_2, b_2, w_3
        self.combine = nn.Linear(2 * dim, dim)  # W_3 (created in both modes, as in the reference)

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        mask, seq_state = state.mask, state.clicks
        assert seq_state is not None  # laid out by SessionModel.encode, before the sequence encoders
        padding_slots, padding_state = state.padding_slots, state.padding
        last = last_click(seq_state, batch.lengths)
        logits = self.attention(last, seq_state)
        if self.normalize:
            logits = logits.masked_fill(~mask, float("-inf"))
            if padding_slots is not None and padding_state is not None:
                # P_b extra slots with the padding node's logit and zero value: they only enlarge the denominator
                pad_logit = self.attention(last, padding_state.unsqueeze(1)).squeeze(1)
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


class LessrReadout(nn.Module):
    r"""LESSR's attention readout with the last node, followed by the session projection (docs/MODELS.md §3.5).

    From "Handling Information Loss of Graph Neural Networks for Session-based Recommendation"
    (Chen & Wong, KDD 2020). Attention runs over the unique nodes of each session, not its clicks.

    .. math::
        \tilde X &= \mathrm{Dropout}_p(\mathrm{BN}(X)), \quad
        \alpha_i = \operatorname{softmax}_{i \in g}
            \big(w_e^\top \sigma(W_u \tilde X_i + W_v \tilde X_\ell + b_v)\big) \\
        s_g &= \mathrm{PReLU}\Big(W_{out} \sum_{i \in g} \alpha_i \tilde X_i\Big), \quad
        z = W_{sr}\, \mathrm{Dropout}_p\big(\mathrm{BN}([X_\ell ; s_g])\big)

    ``ℓ`` is the node of the session's last click and ``X_ℓ`` its raw (not normalised) features.
    ``W_out`` is left out when ``in_dim == dim``. Only ``W_v`` has a bias.

    Args:
        widths: ``widths.dim`` is the embedding size ``d`` (attention and output width),
            ``widths.nodes`` the width ``D`` of the node states (``d(K+1)`` after a
            :class:`~sbrzoo.nn.lessr.LessrEncoder`).
        dropout: Feature dropout ``p``.

    Shapes:
        batch: B sessions and N nodes; state.nodes: (N, D) -> (B, d)
    """

    def __init__(self, widths: Widths, *, dropout: float = 0.0) -> None:
        super().__init__()
        dim, in_dim = widths.dim, widths.nodes
        self.dim = dim
        self.in_dim = in_dim
        self.batch_norm = nn.BatchNorm1d(in_dim)
        self.feat_drop = nn.Dropout(dropout)
        self.fc_u = nn.Linear(in_dim, dim, bias=False)
        self.fc_v = nn.Linear(in_dim, dim, bias=True)
        self.fc_e = nn.Linear(dim, 1, bias=False)
        self.fc_out = nn.Linear(in_dim, dim, bias=False) if in_dim != dim else None
        self.activation = nn.PReLU(dim)
        self.sr_norm = nn.BatchNorm1d(in_dim + dim)
        self.sr_drop = nn.Dropout(dropout)
        self.fc_sr = nn.Linear(in_dim + dim, dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch defaults (docs/MODELS.md §3.6): Linear ``U(±1/sqrt(fan_in))``, BatchNorm ``γ = 1, β = 0``
        with fresh running statistics, PReLU slope 0.25 per channel."""
        for module in (self.batch_norm, self.fc_u, self.fc_v, self.fc_e, self.fc_out, self.activation,
                       self.sr_norm, self.fc_sr):
            if module is not None:
                module.reset_parameters()

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        """Pool each session's nodes with attention to its last node and project ``[X_ℓ ; s_g]``.

        Args:
            batch: The batch; its ``"eop"`` graph groups the nodes by session.
            state: ``state.nodes`` are the node states from the encoder.

        Returns:
            One vector per session.

        Raises:
            ValueError: ``node_state`` is not (N, in_dim).

        Shapes:
            state.nodes: (N, in_dim) -> (B, dim)
        """
        node_state = state.nodes
        if node_state.dim() != 2 or node_state.shape[1] != self.in_dim:
            raise ValueError(
                f"expected node states of shape (N, {self.in_dim}), got {tuple(node_state.shape)}"
            )
        graph = batch.graphs["eop"]
        feat = self.feat_drop(self.batch_norm(node_state))
        last = self.fc_v(feat[batch.last_node])
        logits = self.fc_e(torch.sigmoid(self.fc_u(feat) + ops.broadcast_nodes(graph, last)))
        alpha = ops.node_softmax(graph, logits)
        pooled = ops.node_sum(graph, alpha * feat)
        if self.fc_out is not None:
            pooled = self.fc_out(pooled)
        session = torch.cat([node_state[batch.last_node], self.activation(pooled)], dim=1)
        return self.fc_sr(self.sr_drop(self.sr_norm(session)))

    def extra_repr(self) -> str:
        return f"{self.dim}, in_dim={self.in_dim}"
