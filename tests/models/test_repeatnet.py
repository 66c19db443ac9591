"""RepeatNet (docs/MODELS.md §3.8.3): the composition's log-probabilities equal a naive per-session
implementation of the paper's mixture (values and gradients of the NLL), they are a distribution whose
repeat part lives on the session's own items, the loss is their negative log-likelihood (the
``returns_log_probabilities`` contract of SessionModel.loss), and it trains on the synthetic data clearly
above popularity."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from helpers import collate, naive_gru, settings_for, train_run
from torch import Tensor, nn

from sbrzoo.models import create_model, get_spec
from sbrzoo.nn.repeatnet import log_weights

NUM_ITEMS = 12
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1], [11, 12, 10, 12, 3, 3, 7, 1], [6, 9]]
TARGETS = torch.tensor([3, 7, 1, 8, 5, 9])  # repeats and new items


def make_model(seed: int = 0, num_items: int = NUM_ITEMS, **overrides: object) -> nn.Module:
    torch.manual_seed(seed)
    settings = settings_for("repeatnet", dim=16, hidden_size=12, input_dropout=0.0, hidden_dropout=0.0, **overrides)
    return create_model("repeatnet", num_items, settings[0])


def attention(module: nn.Module, states: Tensor) -> Tensor:
    """softmax_tau v^T tanh(W h_last + U h_tau)."""
    last = states[-1]
    scores = torch.stack([module.score.weight[0] @ torch.tanh(module.query.weight @ last + module.key.weight @ h)
                          for h in states])
    return torch.softmax(scores, dim=0)


def naive_probabilities(model: nn.Module, prefix: list[int]) -> Tensor:
    """P(i) = P(r) P(i|r) + P(e) P(i|e) for i = 1..N, written out for one session in probability space."""
    (encoder,), readout, scorer = model.sequence_encoders, model.readout, model.scorer
    states = naive_gru(encoder.gru, model.embedding.weight[torch.tensor(prefix)])
    last = states[-1]
    # repeat-explore mechanism
    alpha = attention(scorer.mode_attention, states)
    p_repeat_mode, p_explore_mode = torch.softmax(scorer.mode.weight @ (alpha[:, None] * states).sum(0), dim=0)
    # repeat decoder: the weights of a session's clicks, summed per item
    alpha_r = attention(scorer.repeat_attention, states)
    repeat = torch.zeros(model.num_items)
    repeat = repeat.index_add(0, torch.tensor(prefix) - 1, alpha_r)
    # explore decoder: W_c [c_e; h_last] . E_i, the session's items excluded
    alpha_e = attention(readout.attention, states)
    session = readout.project.weight @ torch.cat([(alpha_e[:, None] * states).sum(0), last])
    logits = model.embedding.weight[1:] @ session
    seen = torch.zeros(model.num_items, dtype=torch.bool)
    seen[torch.tensor(prefix) - 1] = True
    explore = torch.softmax(logits.masked_fill(seen, float("-inf")) if not seen.all() else logits, dim=0)
    return p_repeat_mode * repeat + p_explore_mode * explore


def test_log_probabilities_and_gradients_equal_the_papers_mixture() -> None:
    model = make_model().eval()
    batch = replace(collate(PREFIXES, (), num_items=NUM_ITEMS), targets=TARGETS)
    log_p = model(batch)
    loss = model.loss(batch)
    grads = torch.autograd.grad(loss, model.parameters())
    naive = torch.stack([naive_probabilities(model, prefix) for prefix in PREFIXES])
    naive_loss = -naive[torch.arange(len(PREFIXES)), TARGETS - 1].log().mean()
    naive_grads = torch.autograd.grad(naive_loss, model.parameters())
    torch.testing.assert_close(log_p.exp(), naive, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(log_p, naive.log(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, naive_loss, atol=1e-6, rtol=1e-5)
    for (name, _), got, expected in zip(model.named_parameters(), grads, naive_grads):
        assert torch.isfinite(got).all(), name
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-4, msg=name)


def test_the_mixture_is_a_distribution_with_the_repeat_mass_on_the_sessions_items() -> None:
    model = make_model(seed=3).eval()
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    with torch.no_grad():
        p = model(batch).exp()
        state = model.encode(batch)
        clicks, mask = state.clicks, state.mask
        last = clicks[torch.arange(len(PREFIXES)), batch.lengths - 1]
        mode_alpha = log_weights(model.scorer.mode_attention, clicks, last, mask).exp()
        p_repeat = torch.softmax(model.scorer.mode((mode_alpha[..., None] * clicks).sum(1)), dim=1)[:, 0]
    torch.testing.assert_close(p.sum(dim=1), torch.ones(len(PREFIXES)))
    for row, prefix in enumerate(PREFIXES):
        own = torch.tensor(sorted(set(prefix))) - 1
        torch.testing.assert_close(p[row, own].sum(), p_repeat[row])  # P(r) sum_i P(i|r), explore is 0 there
        assert (p[row] > 0).all()  # every item is reachable: its own items by repeat, the rest by explore


def test_a_session_holding_the_whole_catalogue_still_gets_a_distribution() -> None:
    model = make_model(num_items=3).eval()
    batch = collate([[1, 2, 3, 1], [2]], (), num_items=3)
    log_p = model(batch)
    assert torch.isfinite(log_p).all()
    torch.testing.assert_close(log_p.exp().sum(dim=1), torch.ones(2))
    loss = model.loss(batch)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_the_loss_is_the_nll_of_a_scorer_that_returns_log_probabilities() -> None:
    batch = replace(collate(PREFIXES, (), num_items=NUM_ITEMS), targets=TARGETS)
    model = make_model().eval()
    assert model.scorer.returns_log_probabilities
    torch.testing.assert_close(model.loss(batch), nn.functional.nll_loss(model(batch), TARGETS - 1), rtol=0, atol=0)
    # the flag, not the model, selects the loss: a logit scorer that declares it is trained on NLL too
    torch.manual_seed(0)
    logits_model = create_model("gru4rec", NUM_ITEMS, settings_for("gru4rec", dim=16)[0]).eval()
    logits = logits_model(batch)
    torch.testing.assert_close(logits_model.loss(batch), nn.functional.cross_entropy(logits, TARGETS - 1))
    logits_model.scorer.returns_log_probabilities = True
    torch.testing.assert_close(logits_model.loss(batch), nn.functional.nll_loss(logits, TARGETS - 1))


def test_registered_with_its_parts_and_the_papers_figures() -> None:
    spec = get_spec("repeatnet")
    assert spec.parts() == ["items", "click_gru", "explore_attention", "repeat_explore"]
    assert spec.reference["yoochoose1_64"] == {"HR@20": 70.71, "MRR@20": 31.03}
    assert spec.reference["diginetica"] == {"HR@20": 47.79, "MRR@20": 17.66}
    settings, training = settings_for("repeatnet", "diginetica")
    assert settings == {"dim": 100, "hidden_size": 100, "input_dropout": 0.5, "hidden_dropout": 0.5}
    assert (training.batch_size, training.lr, training.weight_decay, training.lr_step, training.lr_gamma) == (
        1024, 1e-3, 0.0, 3, 0.5)


def test_trains_on_synthetic_data_clearly_above_popularity(tmp_path: Path) -> None:
    # 150 steps of 100 at lr 1e-2: a quick check that it learns (the preset's 1e-3 needs more steps)
    repeatnet = train_run(tmp_path, "repeatnet", "--model", "repeatnet", "--epochs", "1", "--batch-size", "100",
                          "--max-train-batches", "150", "--lr", "0.01", "--valid-split", "none",
                          "--select-on", "last")["test"]
    pop = train_run(tmp_path, "pop", "--model", "pop", "--valid-split", "none", "--select-on", "last")["test"]
    assert repeatnet["HR@20"] > pop["HR@20"] + 15
    assert repeatnet["MRR@20"] > pop["MRR@20"] + 5
