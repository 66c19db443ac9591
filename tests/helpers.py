"""Helpers shared by the graph and layer tests."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.graph import ops


def collate(prefixes: Sequence[Sequence[int]], kinds: Sequence[str], backend: str = "torch",
            num_items: int = 10) -> SessionBatch:
    """One batch of every prefix (targets 1), with the graphs of ``kinds``."""
    examples = Examples.from_lists(prefixes, [1] * len(prefixes))
    return SessionCollator(examples, num_items, kinds, backend)(range(len(prefixes)))


def edge_list(graph) -> list[tuple[int, int]]:  # noqa: ANN001 - DGL or torch graph
    """``(src, dst)`` of every edge, in edge-id order."""
    src, dst = ops.edge_endpoints(graph)
    return list(zip(src.tolist(), dst.tolist()))


def random_prefixes(num_sessions: int, seed: int) -> list[list[int]]:
    """Sessions of 1..20 clicks over 9 items: many repeats, high in-degrees, mixed mailbox lengths."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 21, (num_sessions,), generator=gen).tolist()
    return [torch.randint(1, 10, (n,), generator=gen).tolist() for n in lengths]


def settings_for(model: str, dataset: str = "synthetic", **overrides: object) -> tuple[dict, object]:
    """``(model settings, TrainingSettings)`` of ``model``'s preset on ``dataset`` with ``overrides``."""
    from sbrzoo.models import get_spec
    from sbrzoo.presets import resolve_settings

    return resolve_settings(get_spec(model), dataset, overrides)


def build_model(model: str, num_items: int, dataset: str = "synthetic", **overrides: object) -> torch.nn.Module:
    """The registered ``model`` with its preset settings on ``dataset`` (and ``overrides``)."""
    from sbrzoo.models import create_model

    return create_model(model, num_items, settings_for(model, dataset, **overrides)[0])


def run_config(model: str, dataset: str = "synthetic", **fields: object):  # noqa: ANN201 - RunConfig
    """A CPU run config of ``model`` with its preset; ``fields`` set RunConfig fields or settings."""
    from sbrzoo.config import RunConfig

    names = set(RunConfig.__dataclass_fields__)
    overrides = {k: v for k, v in fields.items() if k not in names}
    return RunConfig.with_preset(model, dataset, overrides,
                                 **{"eval_batch_size": 1000, **{k: v for k, v in fields.items() if k in names}})


def train_run(tmp_path, name: str, *args: str) -> dict:  # noqa: ANN001 - a pytest tmp_path
    """``sbrzoo train ARGS --out tmp_path/name --json``; returns the run's metrics.json."""
    import json

    from click.testing import CliRunner

    from cli.main import cli

    out = tmp_path / name
    result = CliRunner().invoke(cli, ["train", *args, "--out", str(out), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads((out / "metrics.json").read_text())


def naive_gru(gru: torch.nn.GRU, inputs: torch.Tensor) -> torch.Tensor:
    """The GRU equations one click at a time from a zero state: (n, in) -> (n, h)."""
    h = inputs.new_zeros(gru.hidden_size)
    states = []
    for x in inputs:
        x_r, x_z, x_n = (gru.weight_ih_l0 @ x + gru.bias_ih_l0).chunk(3)
        h_r, h_z, h_n = (gru.weight_hh_l0 @ h + gru.bias_hh_l0).chunk(3)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        h = (1 - z) * torch.tanh(x_n + r * h_n) + z * h
        states.append(h)
    return torch.stack(states)


def assert_same_scores_and_gradients(model: torch.nn.Module, logits: torch.Tensor, naive: torch.Tensor,
                                     targets: torch.Tensor) -> None:
    """``logits`` (the model's) equal ``naive`` (a per-session implementation), and so do the gradients of
    the cross-entropy of each with respect to every parameter."""
    loss = torch.nn.functional.cross_entropy
    grads = torch.autograd.grad(loss(logits, targets - 1), model.parameters())
    naive_grads = torch.autograd.grad(loss(naive, targets - 1), model.parameters())
    torch.testing.assert_close(logits, naive, atol=1e-5, rtol=1e-5)
    for (name, _), got, expected in zip(model.named_parameters(), grads, naive_grads, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-4, msg=name)


def run_main(monkeypatch, capsys, *args: object) -> tuple[int, str, str]:  # noqa: ANN001 - pytest fixtures
    """``sbrzoo ARGS`` in this process, through the real entry point: (exit code, stdout, stderr)."""
    import sys

    from cli.main import main

    monkeypatch.setattr(sys, "argv", ["sbrzoo", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def interrupted_and_resumed(tmp_path, monkeypatch, *args: str) -> tuple[dict, dict]:  # noqa: ANN001 - pytest fixtures
    """``sbrzoo train ARGS`` whole into ``tmp_path/whole``, and into ``tmp_path/cut`` interrupted (Ctrl-C)
    in its second epoch, then continued with ``--resume``: (the whole run's, the resumed run's metrics.json)."""
    import json

    from click.testing import CliRunner

    from cli.main import cli
    from sbrzoo.trainer import Trainer

    whole = train_run(tmp_path, "whole", *args)
    original = Trainer._train_epoch

    def crash_in_second_epoch(self, epoch, optimizer):  # noqa: ANN001, ANN202
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch, optimizer)

    monkeypatch.setattr(Trainer, "_train_epoch", crash_in_second_epoch)
    cut = CliRunner().invoke(cli, ["train", *args, "--out", str(tmp_path / "cut")])
    assert cut.exit_code != 0
    assert f"sbrzoo train --resume {tmp_path / 'cut'}" in str(cut.exception)
    monkeypatch.setattr(Trainer, "_train_epoch", original)
    assert len(json.loads((tmp_path / "cut" / "metrics.json").read_text())["epochs"]) == 1
    result = CliRunner().invoke(cli, ["train", "--resume", str(tmp_path / "cut")], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return whole, json.loads((tmp_path / "cut" / "metrics.json").read_text())
