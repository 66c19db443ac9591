"""sbrzoo: a DGL model zoo for session-based recommendation.

Public API (imported lazily, so that ``import sbrzoo`` loads no torch):

- :func:`list_models`, :func:`get_spec`, :func:`create_model`: the registered models and their parts;
- :func:`load_dataset`: a registered dataset with its validation split;
- :class:`RunConfig`, :class:`Trainer`: a run's settings (a model's preset, then overrides) and its training;
- :func:`evaluate`: full-ranking metrics of a model over batches;
- :func:`load_run`: a finished run folder as a recommender (``recommend``, ``recommend_batch``).
"""

from __future__ import annotations

import os

# DGL asks for a backend on first import; the zoo is PyTorch-only.
os.environ.setdefault("DGLBACKEND", "pytorch")

__version__ = "0.1.0"

# public name -> (module, attribute)
_PUBLIC = {
    "list_models": ("sbrzoo.models", "list_models"),
    "get_spec": ("sbrzoo.models", "get_spec"),
    "create_model": ("sbrzoo.models", "create_model"),
    "load_dataset": ("sbrzoo.data.registry", "load_dataset"),
    "RunConfig": ("sbrzoo.config", "RunConfig"),
    "Trainer": ("sbrzoo.trainer", "Trainer"),
    "evaluate": ("sbrzoo.evaluator", "evaluate"),
    "load_run": ("sbrzoo.recommend", "load_recommender"),
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):  # noqa: ANN202 - lazy, so that `import sbrzoo` stays light (no torch)
    if name in _PUBLIC:
        import importlib

        module, attribute = _PUBLIC[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'sbrzoo' has no attribute {name!r}")
