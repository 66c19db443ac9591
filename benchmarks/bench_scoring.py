"""Full-catalogue scoring and top-20: the shared dot scorer, TAGNN's target attention and RepeatNet's
repeat/explore mixture."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICE, DIMS, MODES, NUM_ITEMS, QUICK, SIZES, make_batch, run_timed

from sbrzoo.metrics import target_ranks
from sbrzoo.nn.dot_scorer import DotScorer
from sbrzoo.nn.repeatnet import RepeatExploreScorer
from sbrzoo.nn.state import SessionState, Widths
from sbrzoo.nn.target_attention import TargetAttentionScorer

SCORERS = {"dot": DotScorer, "target_attention": TargetAttentionScorer, "repeat_explore": RepeatExploreScorer}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scorer_name", list(SCORERS))
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize(("batch_size", "profile"), SIZES)
def bench_score_and_top20(benchmark, sync, batch_size, profile, dim, scorer_name, mode) -> None:  # noqa: ANN001
    batch = make_batch(batch_size, profile, (), "torch")
    widths = Widths(dim, dim, dim)
    scorer = SCORERS[scorer_name](widths).to(DEVICE)
    needs_grad = mode != "fwd"
    items = torch.randn(NUM_ITEMS, dim, device=DEVICE, requires_grad=needs_grad)
    session = torch.randn(batch_size, dim, device=DEVICE, requires_grad=needs_grad)
    seq = torch.randn(*batch.seq_nodes.shape, dim, device=DEVICE) * batch.mask[..., None]
    seq.requires_grad_(needs_grad)
    state = SessionState(None, seq, batch.mask, click_items=batch.seq_items)

    def run() -> torch.Tensor:
        if mode == "fwd":
            with torch.no_grad():
                scores = scorer(session, items, state)
                return scores.topk(20, dim=1).indices
        scores = scorer(session, items, state)
        torch.nn.functional.cross_entropy(scores, batch.targets - 1).backward()
        return scores.detach()

    benchmark.group = f"score-{scorer_name}-{mode}"
    benchmark.extra_info.update(clicks=int(batch.lengths.sum()), items=NUM_ITEMS, backend="torch")
    out = run_timed(benchmark, run, sync)
    assert out.shape == ((batch_size, 20) if mode == "fwd" else (batch_size, NUM_ITEMS))


@pytest.mark.parametrize("batch_size", [64] if QUICK else [500])
def bench_target_ranks(benchmark, sync, batch_size) -> None:  # noqa: ANN001
    """The evaluator's ranking of every target among all items (its eval batch of 500 by default)."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch_size, NUM_ITEMS, generator=generator).to(DEVICE)
    targets = torch.randint(1, NUM_ITEMS + 1, (batch_size,), generator=generator).to(DEVICE)
    benchmark.group = "target-ranks"
    optimistic, pessimistic = run_timed(benchmark, lambda: target_ranks(logits, targets), sync)
    assert (optimistic <= pessimistic).all()
