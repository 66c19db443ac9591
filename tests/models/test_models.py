"""Every registered model: shapes, a training step, and equal results on the DGL and torch backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import settings_for

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.models import create_model, get_spec, list_models

NUM_ITEMS = 40
NEURAL = [name for name in list_models() if get_spec(name).composed]


def make_batch(name: str, backend: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    prefixes = [rng.integers(1, NUM_ITEMS + 1, size=rng.integers(1, 9)).tolist() for _ in range(12)]
    prefixes[0] = [5, 3, 7, 3, 9]
    targets = rng.integers(1, NUM_ITEMS + 1, size=12).tolist()
    examples = Examples.from_lists(prefixes, targets)
    return SessionCollator(examples, NUM_ITEMS, get_spec(name).graph_kinds, backend)(range(12))


def make_model(name: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    settings = settings_for(name, dim=16, **({"heads": 2} if "heads" in get_spec(name).settings() else {}),
                            **overrides)[0]
    return create_model(name, NUM_ITEMS, settings)


@pytest.mark.parametrize("name", NEURAL)
def test_forward_backward_and_step(name: str) -> None:
    model = make_model(name)
    batch = make_batch(name, "torch")
    logits = model(batch)
    assert logits.shape == (12, NUM_ITEMS)
    assert torch.isfinite(logits).all()
    loss = model.loss(batch)
    loss.backward()
    # created but never used, as in the released code: its vestigial layer, and W_3 of a non-hybrid readout
    idle = ("unused_edge", *(() if settings_for(name)[0].get("hybrid", True) else ("readout.combine",)))
    used = [(n, p) for n, p in model.named_parameters() if not any(k in n for k in idle)]
    missing = [n for n, p in used if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"
    before = [p.detach().clone() for _, p in used]
    torch.optim.Adam(model.parameters(), lr=1e-2).step()
    assert all(not torch.equal(a, p) for a, (_, p) in zip(before, used))


@pytest.mark.parametrize("name", NEURAL)
def test_scores_do_not_depend_on_the_targets(name: str) -> None:
    """The next item must not leak into its own score: other targets, or none at inference, give the same logits."""
    import dataclasses

    model = make_model(name).eval()
    batch = make_batch(name, "torch")
    with torch.no_grad():
        model(batch)  # LESSR's max_norm lookup renormalises the rows it reads in place, once
        scores = model(batch)
        for targets in (torch.roll(batch.targets, 1), torch.ones_like(batch.targets), None):
            assert torch.equal(model(dataclasses.replace(batch, targets=targets)), scores)


@pytest.mark.parametrize("name", [name for name in NEURAL if get_spec(name).graph_kinds])  # others build no graph
def test_backends_give_the_same_scores_and_gradients(name: str) -> None:
    model = make_model(name).eval()
    results = []
    for backend in ("dgl", "torch"):
        model.zero_grad()
        logits = model(make_batch(name, backend))
        torch.nn.functional.cross_entropy(logits, torch.arange(12) % NUM_ITEMS).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((logits.detach(), grads))
    (dgl_logits, dgl_grads), (torch_logits, torch_grads) = results
    torch.testing.assert_close(dgl_logits, torch_logits, atol=1e-5, rtol=1e-5)
    for key in dgl_grads:
        torch.testing.assert_close(dgl_grads[key], torch_grads[key], atol=1e-5, rtol=1e-4, msg=key)


def test_tagnnpp_without_transformer_is_tagnn() -> None:
    tagnn = make_model("tagnn", hybrid=True).eval()
    ablated = make_model("tagnnpp_no_transformer", hybrid=True).eval()
    ablated.load_state_dict(tagnn.state_dict())  # identical parameter sets
    batch = make_batch("tagnn", "torch")
    torch.testing.assert_close(ablated(batch), tagnn(batch), rtol=0, atol=0)


def test_padding_id_is_never_scored() -> None:
    model = make_model("srgnn").eval()
    batch = make_batch("srgnn", "torch")
    with torch.no_grad():
        model.embedding.weight[0] = 1e6  # a padding row that would win every ranking if scored
        logits = model(batch)
    assert logits.shape[1] == NUM_ITEMS
    assert logits.abs().max() < 1e5
