"""The attention block of the released TAGNN++ code (reference fidelity, docs/MODELS.md §3.4a, P8, P9)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.state import SessionState, Widths

__all__ = ["NodeSelfAttention"]


class NodeSelfAttention(nn.Module):
    r"""Multi-head attention over a session's graph nodes in item-id order, as the released code has it.

    .. math:: Y = \mathrm{MHA}(X, X, X;\ \text{causal over node slots}) + \mathrm{LN}(X)

    No feed-forward sub-layer, LayerNorm on the skip branch only, dropout on the attention
    probabilities. The slots are the session's unique items sorted by id, so the "causal" mask is not
    temporal (P9). A session padded to the split-wide length has the padding item as its first
    node (slot 0), which every real node can see; that slot carries ``pad_state`` here.

    As a node encoder it updates ``state.nodes`` and ``state.padding``; a session has the padding
    slot when ``state.padding_slots > 0``.

    Args:
        widths: ``widths.nodes`` is the width ``d``.
        heads: Attention heads (the released code always uses 2).
        dropout: Dropout on attention probabilities.

    Shapes:
        attend: node_state (N, d); pad_state (B, d); has_pad (B,) bool -> ((N, d), (B, d)) updated
        node and padding-slot states.
    """

    def __init__(self, widths: Widths, *, heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(widths.nodes, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(widths.nodes)
        self.out_widths = widths

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        if state.padding is None or state.padding_slots is None:
            raise ValueError("the released code's node attention needs the padding node: use the 'items_padded' input")
        nodes, padding = self.attend(state.nodes, batch.batch_num_nodes, state.padding, state.padding_slots > 0)
        return state.with_(nodes=nodes, padding=padding)

    def attend(self, node_state: Tensor, batch_num_nodes: Tensor, pad_state: Tensor, has_pad: Tensor
               ) -> tuple[Tensor, Tensor]:
        batch_size, width = len(batch_num_nodes), int(batch_num_nodes.max()) + 1
        device = node_state.device
        owner = torch.repeat_interleave(torch.arange(batch_size, device=device), batch_num_nodes)
        first = torch.cumsum(batch_num_nodes, 0) - batch_num_nodes
        slot = 1 + torch.arange(len(owner), device=device) - first[owner]  # slot 0 = padding node
        slots = node_state.new_zeros(batch_size, width, node_state.shape[1])
        slots[:, 0] = pad_state
        slots[owner, slot] = node_state
        present = torch.arange(width, device=device)[None, :] <= batch_num_nodes[:, None]
        present[:, 0] = has_pad
        causal = torch.ones(width, width, dtype=torch.bool, device=device).triu(1)
        blocked = causal[None] | ~present[:, None, :]  # (B, W, W): query slot may not see key slot
        # The padding slot of a session without padding (its split's longest) sees nothing: its softmax
        # would be NaN, and NaN's backward poisons everything. Let such a row see itself, then zero its
        # output (the slot is unused); every other row, and the forward numbers, stay as they were.
        blind = blocked.all(dim=-1)
        blocked &= ~(blind[:, :, None] & torch.eye(width, dtype=torch.bool, device=device))
        heads = self.attention.num_heads
        attn_mask = blocked[:, None].expand(-1, heads, -1, -1).reshape(batch_size * heads, width, width)
        attended, _ = self.attention(slots, slots, slots, attn_mask=attn_mask, need_weights=False)
        out = attended.masked_fill(blind[:, :, None], 0.0) + self.norm(slots)
        return out[owner, slot], out[:, 0]
