"""Target attention of TAGNN (Yu et al., SIGIR 2020), computed without a B x N x d tensor."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.nn.state import SessionState, Widths

__all__ = ["TargetAttentionScorer"]

_GPU_TILE_ELEMENTS = 2**26


class _TiledTargetAttention(torch.autograd.Function):
    r"""``out[b, i] = sum_t softmax_t(k_t . E_i) (v_t . E_i)`` over the clicks ``t`` of session ``b``.

    Works through the catalogue in tiles of items so that each (T, tile) block stays in cache, and
    recomputes the blocks in backward instead of storing (T, N) tensors (as flash attention does).
    With :math:`\beta` the softmax and :math:`g` the incoming gradient:
    :math:`\partial (v \cdot E) = g\,\beta` and :math:`\partial (k \cdot E) = g\,\beta\,(v \cdot E - out)`.
    ``padding_slots`` adds ``P_b`` slots with logit 0 and value 0 to each softmax.

    Shapes:
        keys_values: (2T, d), keys then values; items: (N, d); owner: (T,) session of each click;
        padding_slots: (B,) or None -> (B, N)
    """

    @staticmethod
    def forward(ctx, keys_values: Tensor, items: Tensor, owner: Tensor, batch_size: int,  # noqa: ANN001
                padding_slots: Tensor | None, tile: int) -> Tensor:
        num_items = items.shape[0]
        peak = keys_values.new_empty(batch_size, num_items)
        total = torch.zeros_like(peak)
        out = torch.zeros_like(peak)
        for start in range(0, num_items, tile):
            cols = slice(start, start + tile)
            logits, values = (keys_values @ items[cols].T).chunk(2)
            tile_peak = logits.new_full((batch_size, logits.shape[1]), float("-inf"))
            tile_peak.scatter_reduce_(0, owner[:, None].expand_as(logits), logits, "amax")
            if padding_slots is not None:
                tile_peak = torch.where(padding_slots[:, None] > 0, tile_peak.clamp(min=0.0), tile_peak)
            peak[:, cols] = tile_peak
            weights = logits.sub_(tile_peak.index_select(0, owner)).exp_()
            total[:, cols].index_add_(0, owner, weights)
            out[:, cols].index_add_(0, owner, weights.mul_(values))
        if padding_slots is not None:
            total += padding_slots[:, None] * (-peak).exp()
        out /= total
        ctx.save_for_backward(keys_values, items, owner, peak, total, out)
        ctx.tile = tile
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # noqa: ANN001, ANN205
        keys_values, items, owner, peak, total, out = ctx.saved_tensors
        scaled = grad_out / total
        grad_keys_values = torch.zeros_like(keys_values)
        grad_items = torch.empty_like(items)
        for start in range(0, items.shape[0], ctx.tile):
            cols = slice(start, start + ctx.tile)
            logits, values = (keys_values @ items[cols].T).chunk(2)
            weights = logits.sub_(peak[:, cols].index_select(0, owner)).exp_()
            grad_values = weights.mul_(scaled[:, cols].index_select(0, owner))  # g * beta
            grad_logits = values.sub_(out[:, cols].index_select(0, owner)).mul_(grad_values)
            grad_tile = torch.cat([grad_logits, grad_values])  # (2T, tile)
            grad_keys_values.addmm_(grad_tile, items[cols])
            grad_items[cols] = grad_tile.T @ keys_values
        return grad_keys_values, grad_items, None, None, None, None


class TargetAttentionScorer(nn.Module):
    r"""Candidate-conditioned scores of TAGNN (docs/MODELS.md §3.3).

    .. math::
        \beta_{i,t} &= \mathrm{softmax}_t\big(E_i \cdot (W_t S_t)\big), \qquad
        \tau_i = \textstyle\sum_t \beta_{i,t} S_t \\
        z_i &= (s + \tau_i) \cdot E_i = s \cdot E_i + \textstyle\sum_t \beta_{i,t}\,(S_t \cdot E_i)

    The batch's clicks are packed into one (T, d) matrix (T = total clicks, no padding), so the
    largest tensors are (T, tile) blocks of at most (T, N): with Diginetica's 43,097 items and a batch of 100 prefixes
    (T ~ 500) that is ~86 MB instead of the 1.7 GB of the naive (B, N, d) form. The softmax runs
    over each session's real clicks; ``padding_slots`` adds the reference code's ``P_b`` padded
    slots analytically (logit 0, value 0).

    Args:
        widths: ``widths.clicks`` is the session-state size ``d``.
        tile_elements: Size of the (T, tile) blocks worked on at once; small blocks stay in the CPU's
            cache. None processes the whole catalogue at once. On a GPU the blocks are much larger
            (2**26 elements, ~256 MB each), only to bound memory at large evaluation batches.

    Shapes:
        session: (B, d); state.clicks: (B, L, d); state.mask: (B, L) bool; items: (N, d);
        state.padding_slots: (B,) or None -> (B, N)
    """

    def __init__(self, widths: Widths, *, tile_elements: int | None = 2**19) -> None:
        super().__init__()
        self.transform = nn.Linear(widths.clicks, widths.clicks, bias=False)  # W_t
        self.tile_elements = tile_elements

    def forward(self, session: Tensor, items: Tensor, state: SessionState) -> Tensor:
        seq_state, mask, padding_slots = state.clicks, state.mask, state.padding_slots
        assert seq_state is not None  # laid out by SessionModel.encode, before the sequence encoders
        batch_size, width = mask.shape
        index = mask.flatten().nonzero().squeeze(1) if state.click_index is None else state.click_index
        clicks = seq_state.flatten(0, 1).index_select(0, index)  # (T, d), grouped by session
        owner = index // width  # (T,)
        keys_values = torch.cat([self.transform(clicks), clicks])  # (2T, d)
        budget = _GPU_TILE_ELEMENTS if items.is_cuda else self.tile_elements
        tile = budget // max(len(clicks), 1) if budget else items.shape[0]
        attended = _TiledTargetAttention.apply(keys_values, items, owner, batch_size, padding_slots, max(tile, 1))
        return session @ items.T + attended
