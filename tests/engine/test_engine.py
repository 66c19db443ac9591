"""The static-shape engine trains like the eager trainer, and `--engine static` is checked up front."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.engine.step import StaticEngine
from sbrzoo.models import get_spec
from sbrzoo.step import clipped_parameters, train_step
from tests.helpers import build_model, random_prefixes, run_main, settings_for, train_run

NUM_ITEMS = 9


@pytest.mark.parametrize("model", ["tagnnpp", "srgnn"])  # with and without AGC
def test_an_engine_epoch_moves_the_weights_as_eager_steps_do(model: str) -> None:
    """CPU, float64, dropout off: three steps (the last one short) leave the same weights (<= 1e-10)."""
    prefixes = random_prefixes(30, seed=4)
    examples = Examples.from_lists(prefixes, np.random.default_rng(4).integers(1, NUM_ITEMS + 1, 30).tolist())
    batches = [np.array([4, 9, 0, 22, 13, 5, 28, 17]), np.array([1, 2, 3, 11, 19, 25, 26, 29]), np.array([7, 8, 14])]
    _, hp = settings_for(model)
    weights = []
    for engine in (False, True):
        torch.manual_seed(0)
        network = build_model(model, NUM_ITEMS).double().eval()  # eval: no dropout
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-2, weight_decay=hp.weight_decay)
        agc = clipped_parameters(network, get_spec(model), hp)
        if engine:
            runner = StaticEngine(network, optimizer, examples, NUM_ITEMS, 8, hp, agc, torch.device("cpu"),
                                  capture=False)
            total, first_bad = runner.run_epoch(batches, lambda *_, **__: None)
            assert int(first_bad) == 0 and int(runner.steps) == 3
        else:
            collate = SessionCollator(examples, NUM_ITEMS, get_spec(model).graph_kinds, "torch")
            total = sum(train_step(network, collate(b), optimizer, hp, agc) for b in batches)
        weights.append((float(total), [p.detach().clone() for p in network.parameters()]))
    (eager_total, eager_weights), (engine_total, engine_weights) = weights
    assert abs(eager_total - engine_total) <= 1e-10
    for a, b in zip(eager_weights, engine_weights):
        assert (a - b).abs().max() <= 1e-10


def test_the_engine_reports_the_first_non_finite_step() -> None:
    examples = Examples.from_lists(random_prefixes(12, seed=1), [1] * 12)
    network = build_model("srgnn", NUM_ITEMS)
    calls = []

    def nan_from_the_second_step(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        calls.append(module)
        return output * float("nan") if len(calls) >= 2 else output

    network.readout.register_forward_hook(nan_from_the_second_step)
    _, hp = settings_for("srgnn")
    runner = StaticEngine(network, torch.optim.Adam(network.parameters()), examples, NUM_ITEMS, 4, hp, None,
                          torch.device("cpu"), capture=False)
    _, first_bad = runner.run_epoch(np.array_split(np.arange(12), 3), lambda *_, **__: None)
    assert int(first_bad) == 2


def test_the_static_engines_table_shows_the_run_and_the_popularity_baseline(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    code, out, err = run_main(monkeypatch, capsys, "train", "--model", "srgnn", "--dim", "8", "--epochs", "1",
                              "--max-train-batches", "3", "--engine", "static", "--out", str(tmp_path / "r"))
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith(("srgnn (epoch 1)", "pop (baseline)"))]
    assert [row.split(" (")[0] for row in rows] == ["srgnn", "pop"]  # the baseline is counted eagerly


def test_train_with_the_static_engine_learns(tmp_path) -> None:  # noqa: ANN001
    common = ("--model", "srgnn", "--epochs", "2", "--seed", "3", "--backend", "torch")
    static = train_run(tmp_path, "static", *common, "--engine", "static")
    eager = train_run(tmp_path, "eager", *common)
    assert static["test"]["HR@20"] > 50  # pop is ~20 on the synthetic data
    assert abs(static["test"]["HR@20"] - eager["test"]["HR@20"]) < 5
    assert static["epochs"][0]["train_loss"] == pytest.approx(eager["epochs"][0]["train_loss"], rel=0.02)


@pytest.mark.parametrize(("args", "message"), [
    (("--model", "lessr"), "--engine static cannot train lessr"),
    (("--model", "srgnn", "--backend", "dgl"), "use --backend torch"),
    (("--model", "srgnn", "--nproc", "2"), "--engine static trains in one process"),
])
def test_engine_refusals_are_one_line(monkeypatch, capsys, tmp_path, args, message) -> None:  # noqa: ANN001
    code, _, err = run_main(monkeypatch, capsys, "train", *args, "--engine", "static", "--out", str(tmp_path / "r"))
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_the_warm_up_step_of_a_capture_is_undone() -> None:
    """Capturing needs one real step first; undoing it in place (weights, fresh Adam state, bookkeeping)
    leaves the run exactly where a run without it is (the CPU part of `_capture`)."""
    from sbrzoo.engine.step import _restore, _snapshot

    examples = Examples.from_lists(random_prefixes(20, seed=3), np.arange(20) % NUM_ITEMS + 1)
    batches = [np.arange(8), np.arange(8, 16)]
    _, hp = settings_for("tagnnpp")
    weights = []
    for warm_up_first in (False, True):
        torch.manual_seed(0)
        network = build_model("tagnnpp", NUM_ITEMS).eval()
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
        runner = StaticEngine(network, optimizer, examples, NUM_ITEMS, 8, hp, network.agc_parameters(),
                              torch.device("cpu"), capture=False)
        if warm_up_first:
            saved = _snapshot(network, optimizer, (runner.total_loss, runner.steps, runner.first_bad_step))
            runner.indices.copy_(torch.arange(8, 16))
            runner.num_real.fill_(8)
            runner._step(runner.data.shape_for(batches[1], 8))
            assert int(runner.steps) == 1 and optimizer.state
            _restore(saved, optimizer)
        total, _ = runner.run_epoch(batches, lambda *_, **__: None)
        weights.append((float(total), [p.detach().clone() for p in network.parameters()]))
    assert weights[0][0] == weights[1][0]
    assert all(torch.equal(a, b) for a, b in zip(weights[0][1], weights[1][1]))
