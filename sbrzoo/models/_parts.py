"""Registry of model parts: the named building blocks a model composition is made of. Torch-free.

A part is a class (named by its import path, imported only when a model is built) of one kind,
with one call signature per kind:

| kind | call | role |
|---|---|---|
| ``input`` | ``(batch, embedding) -> SessionState`` | item embeddings of the nodes (and padding) |
| ``node_encoder`` | ``(batch, state) -> state`` | updates ``state.nodes`` (GNNs) |
| ``sequence_encoder`` | ``(batch, state) -> state`` | updates ``state.clicks`` (Transformer, GRU) |
| ``readout`` | ``(batch, state) -> (B, d)`` | one vector per session |
| ``scorer`` | ``(session, items, state) -> (B, N)`` | a score for every item |

Every part class is built as ``Class(widths, **fixed, **settings)`` (see :class:`PartSpec`);
encoders expose ``out_widths``, the :class:`~sbrzoo.nn.state.Widths` after them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sbrzoo.errors import ConfigError, unknown_name

__all__ = ["PART_KINDS", "PartSpec", "register_part", "get_part", "list_parts", "part_class"]

PART_KINDS = ("input", "node_encoder", "sequence_encoder", "readout", "scorer")
_PARTS: dict[tuple[str, str], PartSpec] = {}


@dataclass(frozen=True)
class PartSpec:
    """A registered part.

    Attributes:
        kind: One of :data:`PART_KINDS`.
        name: Registry name within its kind (``"gated_gnn"``).
        target: ``"module:Class"`` of the implementation.
        description: One line for ``sbrzoo models --parts``.
        graphs: Graph kinds the collator must build for it (``("session",)``).
        settings: Its own hyper-parameters and their defaults; a model's settings are the union
            over its parts (plus ``dim``), and every one can be overridden by name.
        fixed: Constructor arguments that make this variant (``{"normalize": True}``); not settings.
        static_shapes: The part runs on static-shape batches (:mod:`sbrzoo.engine.static_batch`): each
            session's result ignores the batch's padding rows and slots, and nothing reads a tensor's
            value on the host (so a GPU step can be captured). False for batch-wide state (CSRM's memory),
            batch norms over nodes and value-dependent shapes.
    """

    kind: str
    name: str
    target: str
    description: str
    graphs: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    static_shapes: bool = True


def register_part(spec: PartSpec) -> PartSpec:
    """Add ``spec`` to the registry and return it.

    Raises:
        ConfigError: unknown kind, a name taken within the kind, or a malformed target.
    """
    load_builtins()  # a name taken by a built-in part is refused, not replaced later
    if spec.kind not in PART_KINDS:
        raise ConfigError(f"part {spec.name!r}: kind must be one of {PART_KINDS}, got {spec.kind!r}")
    if (spec.kind, spec.name) in _PARTS:
        raise ConfigError(f"{spec.kind} {spec.name!r} is already registered")
    if spec.target.count(":") != 1:
        raise ConfigError(f"part {spec.name!r}: target must be 'module:Class', got {spec.target!r}")
    _PARTS[(spec.kind, spec.name)] = spec
    return spec


def load_builtins() -> None:
    """Register the zoo's own parts and models (``sbrzoo.models.families``) before any lookup or new
    registration; re-entrant, as families.py registers through the same functions while it loads."""
    import sbrzoo.models.families  # noqa: F401 - registers every part and model on import


def get_part(kind: str, name: str) -> PartSpec:
    """Look a part up by kind and name.

    Raises:
        UnknownNameError: no such part of that kind (with a did-you-mean suggestion).
    """
    load_builtins()
    try:
        return _PARTS[(kind, name)]
    except KeyError:
        raise unknown_name(kind.replace("_", " "), name, list_parts(kind), hint="sbrzoo models --parts") from None


def list_parts(kind: str | None = None) -> list[str]:
    """Names of the registered parts (of one kind), in registration order."""
    load_builtins()
    return [name for (k, name) in _PARTS if kind is None or k == kind]


def all_parts() -> list[PartSpec]:
    """Every registered part, in registration order."""
    load_builtins()
    return list(_PARTS.values())


def part_class(spec: PartSpec) -> type:
    """Import the implementation of ``spec`` (this is where torch gets imported)."""
    module, name = spec.target.split(":")
    return getattr(importlib.import_module(module), name)
