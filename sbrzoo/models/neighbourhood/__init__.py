"""Non-neural session-based baselines, fitted by counting and scored in batches (issue 16).

``spop``, ``itemknn`` and ``sr`` score from the prefix itself (:mod:`.item_based`); ``sknn``,
``vsknn``, ``stan`` and ``vstan`` from the most similar training sessions (:mod:`.session_knn`). Their settings
per dataset and the sources: :mod:`.presets` (torch-free; so is this package's import).
"""

from __future__ import annotations

__all__ = ["ItemKNN", "SKNN", "STAN", "SequentialRules", "SessionPop", "VSKNN", "VSTAN"]

_HOMES = {"SessionPop": "item_based", "ItemKNN": "item_based", "SequentialRules": "item_based",
          "SKNN": "session_knn", "VSKNN": "session_knn", "STAN": "session_knn", "VSTAN": "session_knn"}


def __getattr__(name: str):  # noqa: ANN202 - lazy, so that reading the presets imports no torch
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(name)
