"""The parts of GC-SAN (Xu et al., IJCAI 2019, "Graph Contextualized Self-Attention Network for
Session-based Recommendation", https://doi.org/10.24963/ijcai.2019/547): ``k`` self-attention blocks
over the click sequence (a sequence encoder) and the session vector that mixes the last click's
attention output with its graph state (a readout). The gated graph cell before them is SR-GNN's
(:mod:`sbrzoo.nn.gated_gnn`); equations in docs/MODELS.md §3.8.5.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.state import SessionState, Widths, last_click

__all__ = ["SelfAttentionBlocks", "WeightedLastReadout"]


class SelfAttentionBlocks(nn.Module):
    r"""GC-SAN's stack of ``k`` single-head self-attention blocks over a session's clicks.

    For the click states :math:`H \in \mathbb{R}^{n \times d}` of one session, one block computes

    .. math::
        F &= \mathrm{Dropout}\Big(\mathrm{softmax}\big((H W^Q)(H W^K)^\top / \sqrt{d}\big)\,(H W^V)\Big) \\
        E &= F + \mathrm{Dropout}\big(\mathrm{ReLU}(F W_1 + b_1) W_2 + b_2\big)

    and block ``i`` reads block ``i - 1``'s ``E``: :math:`E^{(1)} = \mathrm{SAN}(H)`,
    :math:`E^{(i)} = \mathrm{SAN}(E^{(i-1)})`. :math:`W^Q, W^K, W^V, W_1, W_2` are ``d x d``; the
    projections have no bias. This is the paper's block, not a Transformer layer: one head, no output
    projection, no layer normalisation and no residual around the attention, so it is not
    :class:`~sbrzoo.nn.transformer.TransformerBlock`. The paper applies dropout without saying where;
    here it acts on each sub-layer's output.

    Attention covers the session's real clicks only (a key-padding mask); with ``causal`` click ``t``
    also sees only clicks ``0..t`` (RecBole's port; the paper attends over the whole session). The
    readout reads the last click, which sees the whole prefix either way, so for ``k = 1`` the two
    give the same scores. Padded clicks come out as zero.

    As a sequence encoder it transforms ``state.clicks`` under ``state.mask``.

    Args:
        widths: ``widths.clicks`` is the width ``d``.
        num_layers: ``k``, the number of blocks.
        dropout: Dropout rate on the attention and feed-forward outputs.
        causal: Mask later clicks as well.

    Shapes:
        state.clicks (B, L, d), state.mask (B, L) -> state.clicks (B, L, d)
    """

    def __init__(self, widths: Widths, *, num_layers: int = 1, dropout: float = 0.2, causal: bool = False) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.out_widths = widths
        self.causal = causal
        self.blocks = nn.ModuleList(_SelfAttentionBlock(widths.clicks, dropout) for _ in range(num_layers))

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        assert state.clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        return state.with_(clicks=self.encode(state.clicks, state.mask))

    def encode(self, seq: Tensor, mask: Tensor) -> Tensor:
        """The blocks over ``seq`` (B, L, d), attending to real clicks (``mask`` (B, L)) only."""
        allowed = mask[:, None, :]  # (B, 1, L): key j is a real click
        if self.causal:
            length = seq.shape[1]
            allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=seq.device).tril()
        for block in self.blocks:
            seq = block(seq, allowed)
        return seq * mask.unsqueeze(-1)

    def extra_repr(self) -> str:
        return f"k={len(self.blocks)}, causal={self.causal}"


class _SelfAttentionBlock(nn.Module):
    """One block of :class:`SelfAttentionBlocks`: ``allowed`` (B, 1 or L, L) marks the keys each query
    may attend to; every query has at least one (the session's first click)."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=False)  # W^Q
        self.key = nn.Linear(dim, dim, bias=False)  # W^K
        self.value = nn.Linear(dim, dim, bias=False)  # W^V
        self.feed_forward_in = nn.Linear(dim, dim)  # W_1, b_1
        self.feed_forward_out = nn.Linear(dim, dim)  # W_2, b_2
        self.dropout = nn.Dropout(dropout)
        self.scale = dim**-0.5

    def forward(self, seq: Tensor, allowed: Tensor) -> Tensor:
        logits = (self.query(seq) @ self.key(seq).transpose(1, 2)) * self.scale
        weights = torch.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
        attended = self.dropout(weights @ self.value(seq))
        return attended + self.dropout(self.feed_forward_out(torch.relu(self.feed_forward_in(attended))))


class WeightedLastReadout(nn.Module):
    r"""GC-SAN's session vector: :math:`s = \omega\, a_\ell + (1 - \omega)\, h_\ell`.

    ``a_ℓ`` is the last click's state after the sequence encoders (``state.clicks``, GC-SAN's
    :math:`E^{(k)}_n`), ``h_ℓ`` the graph state of the last click's node (``state.nodes[batch.last_node]``,
    the gated cell's :math:`h_n`). ``ω`` is a fixed hyper-parameter, not learned. No parameters.

    Args:
        widths: Clicks, nodes and the item embedding must all have the width ``d``.
        omega: The weight ``ω`` of the attention output, in ``[0, 1]``.

    Raises:
        ValueError: ``omega`` outside ``[0, 1]``, or the widths differ.

    Shapes:
        state.clicks (B, L, d), state.nodes (N, d) -> (B, d)
    """

    def __init__(self, widths: Widths, *, omega: float = 0.6) -> None:
        super().__init__()
        if not 0.0 <= omega <= 1.0:
            raise ValueError(f"omega must be in [0, 1], got {omega}")
        if not widths.clicks == widths.nodes == widths.dim:
            raise ValueError(f"the weighted readout needs equal widths, got {widths}")
        self.omega = omega

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        assert state.clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        return self.omega * last_click(state.clicks, batch.lengths) + (1.0 - self.omega) * state.nodes[batch.last_node]

    def extra_repr(self) -> str:
        return f"omega={self.omega}"
