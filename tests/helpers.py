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
    settings, training = settings_for(model, dataset, **overrides)
    base = {"model": model, "dataset": dataset, "data_dir": None, "valid_split": "last_sessions",
            "valid_fraction": 0.1, "select_on": "valid", "select_metric": "HR@20", "track_test": False, "seed": 0,
            "device": "cpu", "backend": "torch", "num_workers": 0, "max_train_batches": None,
            "eval_batch_size": 1000, "settings": settings, "training": training}
    return RunConfig(**{**base, **{k: v for k, v in fields.items() if k in names}})
