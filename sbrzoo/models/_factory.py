"""Build a model from its registry name."""

from __future__ import annotations

from torch import nn

from sbrzoo.models._registry import get_spec
from sbrzoo.presets import Hyperparameters

__all__ = ["create_model"]


def create_model(name: str, num_items: int, hp: Hyperparameters) -> nn.Module:
    """Instantiate the registered composition ``name`` for a catalogue of ``num_items`` items.

    Example:
        >>> from sbrzoo.presets import resolve_hyperparameters
        >>> model = create_model("srgnn", 1000, resolve_hyperparameters("srgnn", "synthetic"))

    Raises:
        UnknownNameError: ``name`` is not registered.
    """
    spec = get_spec(name)
    if not spec.trainable:
        from sbrzoo.models.popularity import PopularityModel

        return PopularityModel(num_items)
    from sbrzoo.models.session_model import SessionModel

    return SessionModel(spec, num_items, hp)
