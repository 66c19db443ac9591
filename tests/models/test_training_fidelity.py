"""Training of every model does what its fidelity promises (issue 12 §6).

For every trainable model, the paper's and the released-code variants (``*_ref``) alike: gradients
are finite on a batch that holds the split's longest prefix (no padding slot in reference
fidelity), the optimizer's weight-decay groups are the released code's, and AGC clips exactly
when the model says it does (never in a ``*_ref`` variant: the released code never calls it).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from helpers import run_config
from torch import nn

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.examples import Examples
from sbrzoo.models import create_model, get_spec, list_models
from sbrzoo.trainer import Trainer, build_optimizer

NUM_ITEMS = 12
TRAINABLE = [name for name in list_models() if get_spec(name).composed]
# the first prefix is the split's longest (8 clicks, 6 distinct items): in reference fidelity it has
# no padding slot; the last is as long, with a single item (one graph node)
PREFIXES = [[3, 1, 4, 1, 5, 9, 2, 6], [5, 3, 5], [8, 9, 7, 9], [2], [11, 12, 10], [7, 7], [6, 6, 6, 6, 6, 6, 6, 6]]
TARGETS = [5, 8, 12, 1, 3, 7, 6]
EXAMPLES = Examples.from_lists(PREFIXES, TARGETS)


def _config(name: str, **overrides):  # noqa: ANN202 - RunConfig
    small = {"dim": 16, **({"heads": 2} if "heads" in get_spec(name).settings() else {})}
    return run_config(name, "tiny", valid_split="none", select_on="last", seed=3, max_train_batches=1,
                      eval_batch_size=64, **small, **overrides)


@pytest.mark.parametrize(("name", "backend"), [(name, backend) for name in TRAINABLE
                                               for backend in (("torch", "dgl") if get_spec(name).graph_kinds
                                                               else ("torch",))])  # no graph: no backend
def test_gradients_are_finite_on_a_batch_holding_the_longest_prefix(name: str, backend: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, NUM_ITEMS, _config(name).settings).train()
    batch = SessionCollator(EXAMPLES, NUM_ITEMS, get_spec(name).graph_kinds, backend)(range(len(EXAMPLES)))
    assert batch.extras["padding_slots"].tolist()[0] == 0  # the longest prefix has no padding slot
    loss = model.loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert "embedding.weight" in grads
    assert [n for n, g in grads.items() if not torch.isfinite(g).all()] == []


def _exempt_by_type(model: nn.Module) -> set[str]:
    """Names of the parameters LESSR's released code keeps free of weight decay, found by what they
    are (biases of any layer, GRU's ``bias_ih_l0`` / ``bias_hh_l0`` included; norm layers; PReLU),
    not by the name patterns the optimizer itself uses."""
    exempt = set()
    for module_name, module in model.named_modules():
        plain = isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.PReLU))
        for leaf, _ in module.named_parameters(recurse=False):
            if plain or leaf.startswith("bias"):
                exempt.add(f"{module_name}.{leaf}" if module_name else leaf)
    return exempt


@pytest.mark.parametrize("name", TRAINABLE)
def test_weight_decay_groups_are_the_released_codes(name: str) -> None:
    config = _config(name)
    model = create_model(name, NUM_ITEMS, config.settings)
    optimizer = build_optimizer(model, config)
    decay = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    names = dict(model.named_parameters())
    assert len(decay) == len(names)  # every parameter in exactly one group
    if config.training.optimizer == "adam":
        # the SR-GNN-family code: torch Adam with L2 on every parameter
        assert type(optimizer) is torch.optim.Adam
        assert {n: decay[id(p)] for n, p in names.items()} == dict.fromkeys(names, config.training.weight_decay)
        return
    # LESSR's code: AdamW, no decay on any name containing "bias", on norms or on PReLU
    assert type(optimizer) is torch.optim.AdamW
    exempt = _exempt_by_type(model)
    assert any("gru.bias_ih_l0" in n for n in exempt) and any("gru.bias_hh_l0" in n for n in exempt)
    expected = {n: 0.0 if n in exempt else config.training.weight_decay for n in names}
    assert {n: decay[id(p)] for n, p in names.items()} == expected


def test_agc_follows_the_fidelity() -> None:
    from sbrzoo.step import clipped_parameters

    def clips(name: str) -> bool:
        config = _config(name)
        model = create_model(name, NUM_ITEMS, config.settings)
        return clipped_parameters(model, get_spec(name), config.training) is not None

    assert clips("tagnnpp")
    assert not clips("tagnnpp_ref")  # the code builds it, never calls it
    assert not clips("tagnnpp_no_agc")
    assert not clips("srgnn")
    assert not any(get_spec(name).agc for name in list_models("*_ref"))


@pytest.mark.parametrize(("name", "exclude_items"), [*((name, True) for name in TRAINABLE), ("tagnnpp", False)])
def test_a_training_step_clips_as_the_fidelity_promises(name: str, exclude_items: bool, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import sbrzoo.step

    calls: list[list[torch.Tensor]] = []
    original = sbrzoo.step.adaptive_clip_

    def spy(parameters, *args, **kwargs):  # noqa: ANN001, ANN202
        parameters = list(parameters)
        calls.append(parameters)
        return original(parameters, *args, **kwargs)

    monkeypatch.setattr(sbrzoo.step, "adaptive_clip_", spy)
    config = _config(name, epochs=1, batch_size=len(EXAMPLES), agc_exclude_items=exclude_items)
    dataset = SessionDataset("tiny", NUM_ITEMS, EXAMPLES, None, EXAMPLES, "test", "none")
    trainer = Trainer(config, dataset, tmp_path)
    result = trainer.fit()
    assert math.isfinite(result.epochs[0]["train_loss"])
    assert [n for n, p in trainer.model.named_parameters() if not torch.isfinite(p).all()] == []
    promised = get_spec(name).agc
    assert len(calls) == (1 if promised else 0)
    if promised:  # every parameter but (by default) the item embedding, which is also the output layer
        expected = {id(p) for n, p in trainer.model.named_parameters()
                    if p is not trainer.model.embedding.weight or not exclude_items}
        assert expected and {id(p) for p in calls[0]} == expected


def test_learning_rates_of_epochs_0_to_8_under_both_schedules() -> None:
    """×0.1 every 3 epochs: from epoch 3 in the papers, from epoch 2 in the released code (its scheduler
    steps at the start of every epoch); NARM's preset keeps its lr."""
    from sbrzoo.trainer import learning_rate

    def rates(name: str) -> list[float]:
        config = run_config(name, "diginetica")
        return [round(learning_rate(config, epoch) / config.training.lr, 6) for epoch in range(9)]

    assert rates("srgnn") == [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01]
    assert rates("srgnn_ref") == [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]
    assert rates("narm") == [1] * 9


def test_lessr_leaves_out_the_smaller_last_batch_as_its_code_does(tmp_path: Path) -> None:
    """LESSR's DataLoader has ``drop_last=True`` (P15): 7 examples in batches of 3 train on 6; the
    SR-GNN family trains on all 7."""
    dataset = SessionDataset("tiny", NUM_ITEMS, EXAMPLES, None, EXAMPLES, "test", "none")
    trained = {}
    for name in ("lessr", "srgnn"):
        config = dataclasses.replace(_config(name, epochs=1, batch_size=3), max_train_batches=None)
        assert config.training.drop_last == (name == "lessr")
        trained[name] = Trainer(config, dataset, tmp_path / name).fit().epochs[0]["train_examples"]
    assert len(EXAMPLES) == 7 and trained == {"lessr": 6, "srgnn": 7}


def test_the_three_stopping_rules_count_the_epochs_of_their_code() -> None:
    """Validation HR@20 / MRR@20 over 6 epochs; the selection metric is HR@20."""
    from sbrzoo.errors import ConfigError
    from sbrzoo.trainer import stale_epochs

    history = [(50.0, 17.0), (49.0, 16.0), (51.0, 17.5), (50.5, 17.8), (51.0, 17.0), (50.0, 16.0)]
    records = [{"epoch": i + 1, "valid": {"HR@20": hr, "MRR@20": mrr}} for i, (hr, mrr) in enumerate(history)]

    def counts(rule: str) -> list[int]:
        stale, best, out = 0, -1.0, []
        for i, record in enumerate(records):
            improved = record["valid"]["HR@20"] > best
            best = max(best, record["valid"]["HR@20"])
            stale = stale_epochs(rule, stale, improved, records[:i], record, "valid")
            out.append(stale)
        return out

    assert counts("selected_metric") == [0, 1, 0, 1, 2, 3]  # epoch 5 only ties HR@20
    assert counts("any_metric") == [0, 1, 0, 0, 1, 2]  # epoch 4 raises MRR@20
    assert counts("never_reset") == [0, 1, 1, 1, 1, 2]  # epochs 2 and 6 reach neither best; a tie counts (5)
    assert run_config("srgnn_ref", "diginetica").training.stop_rule == "never_reset"
    assert run_config("srgnn", "diginetica").training.stop_rule == "selected_metric"
    with pytest.raises(ConfigError, match="stop_rule must be one of selected_metric, any_metric, never_reset"):
        run_config("srgnn", "diginetica", stop_rule="never")
