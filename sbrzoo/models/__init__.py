"""Model registry (torch-free) and factory."""

from __future__ import annotations

from sbrzoo.models._registry import FIDELITIES, ModelSpec, get_spec, list_models, register

__all__ = ["ModelSpec", "FIDELITIES", "get_spec", "list_models", "register", "create_model"]


def __getattr__(name: str):  # noqa: ANN202 - lazy import keeps `import sbrzoo.models` torch-free
    if name == "create_model":
        from sbrzoo.models._factory import create_model

        return create_model
    raise AttributeError(name)
