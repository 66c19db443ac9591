"""Build a model from its registry name and its settings."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from torch import nn

from sbrzoo.models._registry import get_spec

__all__ = ["create_model"]


def create_model(name: str, num_items: int, settings: Mapping[str, Any]) -> nn.Module:
    """Instantiate the registered model ``name`` for a catalogue of ``num_items`` items.

    A composition is assembled from its parts (:class:`~sbrzoo.models.session_model.SessionModel`);
    a model class of its own (the counting baselines) is built as ``Class(num_items, **settings)``.

    Example:
        >>> from sbrzoo.models import get_spec
        >>> from sbrzoo.presets import resolve_settings
        >>> settings, _ = resolve_settings(get_spec("srgnn"), "synthetic")
        >>> model = create_model("srgnn", 1000, settings)

    Raises:
        UnknownNameError: ``name`` is not registered.
    """
    spec = get_spec(name)
    if spec.composed:
        from sbrzoo.models.session_model import SessionModel

        return SessionModel(spec, num_items, settings)
    module, class_name = spec.model_class.split(":")
    return getattr(importlib.import_module(module), class_name)(num_items, **settings)
