"""Target attention: the packed computation equals TAGNN's naive B x N x d formulation."""

from __future__ import annotations

import torch

from sbrzoo.nn.state import SessionState, Widths
from sbrzoo.nn.target_attention import TargetAttentionScorer

W16 = Widths(16, 16, 16)


def naive_tagnn(scorer, session, items, seq_state, mask, padding_slots=None):
    """docs/MODELS.md §3.3 as the reference code writes it: tau_i materialised for every candidate."""
    masked = seq_state * mask[..., None]  # S~ (B, L, d)
    keys = scorer.transform(masked)  # W_t S~
    logits = torch.einsum("nd,bld->bnl", items, keys)  # (B, N, L)
    logits = logits.masked_fill(~mask[:, None, :], float("-inf"))
    if padding_slots is not None:
        # explicit padding: P_b extra slots with logit 0 and a zero value vector
        max_pad = int(padding_slots.max())
        pad = torch.zeros(len(session), items.shape[0], max_pad)
        pad_mask = torch.arange(max_pad)[None, :] < padding_slots[:, None]
        pad = pad.masked_fill(~pad_mask[:, None, :], float("-inf"))
        logits = torch.cat([logits, pad], dim=2)
        masked = torch.cat([masked, torch.zeros(len(session), max_pad, masked.shape[2])], dim=1)
    beta = torch.softmax(logits, dim=2)
    tau = torch.einsum("bnl,bld->bnd", beta, masked)  # (B, N, d)
    return ((session[:, None, :] + tau) * items[None]).sum(-1)


def inputs(seed: int = 0):
    torch.manual_seed(seed)
    lengths = torch.tensor([5, 1, 3, 7])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    return torch.randn(4, 16), torch.randn(50, 16), torch.randn(4, 7, 16) * mask[..., None], mask


def test_packed_equals_naive() -> None:
    session, items, seq_state, mask = inputs()
    scorer = TargetAttentionScorer(W16)
    fast = scorer(session, items, SessionState(None, seq_state, mask))
    torch.testing.assert_close(fast, naive_tagnn(scorer, session, items, seq_state, mask), atol=1e-5, rtol=1e-5)


def test_padding_emulation_equals_explicit_padding() -> None:
    session, items, seq_state, mask = inputs(1)
    scorer = TargetAttentionScorer(W16)
    slots = 12 - mask.sum(1)  # pad every prefix to a split-wide length of 12
    fast = scorer(session, items, SessionState(None, seq_state, mask, padding_slots=slots))
    expected = naive_tagnn(scorer, session, items, seq_state, mask, padding_slots=slots)
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=1e-5)


def test_gradients_match_naive() -> None:
    session, items, seq_state, mask = inputs(2)
    scorer = TargetAttentionScorer(W16)
    grads = []
    for fn in (lambda *a: scorer(*a[:2], SessionState(None, a[2], mask)), lambda *a: naive_tagnn(scorer, *a, mask)):
        leaves = [t.clone().requires_grad_() for t in (session, items, seq_state)]
        fn(*leaves).logsumexp(1).sum().backward()
        grads.append([t.grad for t in leaves])
    for fast, slow in zip(*grads):
        torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-4)


def test_tiles_of_the_catalogue_give_the_same_scores_and_gradients() -> None:
    session, items, seq_state, mask = inputs(3)
    untiled = TargetAttentionScorer(W16, tile_elements=None)
    tiled = TargetAttentionScorer(W16, tile_elements=16 * 7)  # 16 clicks -> tiles of 7 items
    tiled.load_state_dict(untiled.state_dict())
    results = []
    for scorer in (untiled, tiled):
        leaves = [t.clone().requires_grad_() for t in (session, items, seq_state)]
        scores = scorer(leaves[0], leaves[1], SessionState(None, leaves[2], mask, padding_slots=9 - mask.sum(1)))
        scores.logsumexp(1).sum().backward()
        results.append([scores.detach(), *(t.grad for t in leaves)])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
