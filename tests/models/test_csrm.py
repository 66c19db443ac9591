"""CSRM (docs/MODELS.md §3.8.4): the composition equals a naive per-session implementation of its
equations (scores and gradients, with an empty and a partly filled outer memory); the memory holds the
most recent training sessions first in first out, is written in training mode only (evaluation never
stores validation or test sessions), lives in ``state_dict()`` so that a resumed run ends exactly like an
uninterrupted one; and it trains on the synthetic data clearly above popularity."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import (
    assert_same_scores_and_gradients,
    collate,
    interrupted_and_resumed,
    naive_gru,
    settings_for,
    train_run,
)
from torch import Tensor, nn

from sbrzoo.evaluator import evaluate
from sbrzoo.models import create_model, get_spec

NUM_ITEMS = 12
HIDDEN = 10
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1], [11, 12, 10, 12, 3, 3, 7, 1], [6, 9]]
TARGETS = torch.tensor([2, 7, 1, 12, 5, 9])


def make_model(seed: int = 0, memory_size: int = 8, **overrides: object) -> nn.Module:
    torch.manual_seed(seed)
    settings = settings_for("csrm", dim=16, hidden_size=HIDDEN, memory_size=memory_size, input_dropout=0.0,
                            readout_dropout=0.0, **overrides)[0]
    return create_model("csrm", NUM_ITEMS, settings)


def z_score(x: Tensor) -> Tensor:
    return (x - x.mean()) / torch.sqrt(((x - x.mean()) ** 2).mean() + 1e-10)


def naive_local(model: nn.Module, prefix: list[int]) -> tuple[Tensor, Tensor]:
    """(c_g, c_l): NARM's global last state and local attention for one session."""
    (encoder,), attention = model.sequence_encoders, model.readout.attention
    x = model.embedding.weight[torch.tensor(prefix)]
    h_g, h_l = naive_gru(encoder.global_gru, x), naive_gru(encoder.local_gru, x)
    w_q, w_k, v = attention.query.weight, attention.key.weight, attention.score.weight[0]
    scores = torch.stack([v @ torch.sigmoid(w_q @ h_l[-1] + w_k @ h) for h in h_l])
    alpha = torch.softmax(scores, dim=0)
    return h_g[-1], (alpha[:, None] * h_l).sum(dim=0)


def naive_logits(model: nn.Module, prefix: list[int], memory: Tensor, neighbours: int = 0) -> Tensor:
    """The inner encoder, the outer-memory read of ``memory`` (the filled slots; the ``neighbours`` most similar
    of them if set), gate and bilinear decoder."""
    r = model.readout
    c_g, c_l = naive_local(model, prefix)
    if len(memory):
        cosine = torch.stack([c_l @ m / (c_l.norm() * m.norm() + 1e-8) for m in memory])
        chosen = cosine.argsort(descending=True)[:neighbours] if neighbours else torch.arange(len(memory))
        read = (torch.softmax(cosine[chosen], dim=0)[:, None] * memory[chosen]).sum(dim=0)
    else:
        read = c_l
    c_l, c_g, read = z_score(c_l), z_score(c_g), z_score(read)
    f = torch.sigmoid(r.gate_local.weight[0] @ c_l + r.gate_memory.weight[0] @ read + r.gate_global.weight[0] @ c_g)
    fused = f * torch.cat([c_l, c_g]) + (1 - f) * torch.cat([read, read])
    return model.embedding.weight[1:] @ (r.decoder.weight @ fused)  # E_i^T B c


@pytest.mark.parametrize(("filled", "neighbours"), [(0, 0), (5, 0), (8, 0), (8, 3), (2, 3)])
def test_scores_and_gradients_equal_the_equations(filled: int, neighbours: int) -> None:
    model = make_model(memory_neighbours=neighbours).eval()
    memory = torch.randn(8, HIDDEN)
    model.readout.memory = memory.clone()
    model.readout.memory_filled = torch.tensor(filled)
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    logits = model(batch)
    naive = torch.stack([naive_logits(model, prefix, memory[:filled], neighbours) for prefix in PREFIXES])
    assert_same_scores_and_gradients(model, logits, naive, TARGETS)


def memory_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith("readout.memory")}


def test_training_writes_the_most_recent_sessions_first_in_first_out() -> None:
    model = make_model(memory_size=8).train()
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)  # 6 sessions
    with torch.no_grad():
        c_l = torch.stack([naive_local(model, prefix)[1] for prefix in PREFIXES])
    model(batch)
    r = model.readout
    assert (int(r.memory_filled), int(r.memory_next)) == (6, 6)
    torch.testing.assert_close(r.memory[:6], c_l, atol=1e-6, rtol=1e-5)
    assert torch.all(r.memory[6:] == 0)
    model(batch)  # 6 more: slots 6, 7, then 0..3 are overwritten, oldest first
    assert (int(r.memory_filled), int(r.memory_next)) == (8, 4)
    torch.testing.assert_close(r.memory[[6, 7, 0, 1, 2, 3]], c_l, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(r.memory[[4, 5]], c_l[[4, 5]], atol=1e-6, rtol=1e-5)  # left from the first batch
    small = make_model(memory_size=4).train()
    small(batch)  # more sessions than slots: the last 4 are kept
    assert (int(small.readout.memory_filled), int(small.readout.memory_next)) == (4, 0)
    torch.testing.assert_close(small.readout.memory, c_l[2:], atol=1e-6, rtol=1e-5)


def test_evaluation_never_writes_to_the_memory() -> None:
    model = make_model().train()
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    model(batch)
    before = memory_state(model)
    model.eval()
    model(batch)
    with torch.no_grad():
        model(batch)
    report = evaluate(model.train(), [replace(batch, targets=TARGETS)] * 3)  # evaluate() switches to eval itself
    assert report.num_examples == 3 * len(PREFIXES) and model.training
    after = memory_state(model)
    assert before.keys() == after.keys() == {"readout.memory", "readout.memory_filled", "readout.memory_next"}
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_memory_is_saved_and_loaded_with_the_weights() -> None:
    trained = make_model().train()
    trained(collate(PREFIXES, (), num_items=NUM_ITEMS))
    fresh = make_model(seed=1)
    assert int(fresh.readout.memory_filled) == 0
    fresh.load_state_dict(trained.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(memory_state(fresh).values(), memory_state(trained).values()))
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    torch.testing.assert_close(fresh.eval()(batch), trained.eval()(batch), rtol=0, atol=0)


def test_registered_with_its_parts_and_the_papers_figures() -> None:
    spec = get_spec("csrm")
    assert spec.parts() == ["items", "twin_gru", "csrm_memory", "dot"]
    assert spec.reference["yoochoose1_64"] == {"HR@20": 71.45, "MRR@20": 30.36}
    assert spec.reference["diginetica"] == {"HR@20": 50.55, "MRR@20": 16.38}
    settings, training = settings_for("csrm", "diginetica")
    assert settings == {"dim": 150, "hidden_size": 150, "input_dropout": 0.25, "memory_size": 512,
                        "memory_neighbours": 0, "readout_dropout": 0.5}
    assert (training.batch_size, training.lr, training.epochs, training.weight_decay, training.lr_step) == (
        512, 5e-4, 50, 0.0, 0)


# -- end to end on the synthetic data --------------------------------------------------------------------
SMALL = ["--model", "csrm", "--batch-size", "100", "--dim", "32", "--set", "hidden_size=32", "--set", "memory_size=64"]
QUICK = ["--epochs", "2", "--max-train-batches", "15", "--eval-batch-size", "2000"]


def test_resume_ends_like_an_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, resumed = interrupted_and_resumed(tmp_path, monkeypatch, *SMALL, *QUICK)
    assert [e["valid"] for e in resumed["epochs"]] == [e["valid"] for e in whole["epochs"]]
    assert {k: v for k, v in resumed["test"].items() if k != "seconds"} == {
        k: v for k, v in whole["test"].items() if k != "seconds"}
    finals = [torch.load(tmp_path / run / "last.pt", weights_only=True)["model"] for run in ("whole", "cut")]
    assert int(finals[1]["readout.memory_filled"]) == 64  # the memory travels in the checkpoint, full
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])  # the memory too, to the bit


def test_trains_on_synthetic_data_clearly_above_popularity(tmp_path: Path) -> None:
    # 150 steps of 100 at lr 5e-3: a quick check that it learns (the preset's 5e-4 needs more steps)
    csrm = train_run(tmp_path, "csrm", "--model", "csrm", "--batch-size", "100", "--epochs", "1", "--lr", "0.005",
                  "--max-train-batches", "150", "--valid-split", "none", "--select-on", "last")["test"]
    pop = train_run(tmp_path, "pop", "--model", "pop", "--valid-split", "none", "--select-on", "last")["test"]
    assert csrm["HR@20"] > pop["HR@20"] + 15
    assert csrm["MRR@20"] > pop["MRR@20"] + 5
