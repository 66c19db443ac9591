"""Registry of models: named compositions of registered parts. Torch-free, so listing models and
parsing the CLI stay fast."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sbrzoo.errors import ConfigError, unknown_name
from sbrzoo.models._parts import get_part, load_builtins

__all__ = ["ModelSpec", "COMPOSITION", "INITS", "FIDELITIES", "register", "get_spec", "list_models"]

_REGISTRY: dict[str, ModelSpec] = {}
COMPOSITION = "sbrzoo.models.session_model:SessionModel"
# How a composition's parameters start (docs/MODELS.md §3.6): "uniform": U(±1/sqrt(d)) except LayerNorm
# (SR-GNN family); "uniform_all": LayerNorm too (the released TAGNN++ code, P11); "default": PyTorch's (LESSR).
INITS = ("uniform", "uniform_all", "default")
FIDELITIES = ("paper", "reference")  # the described model, or a variant that behaves as the released code


@dataclass(frozen=True)
class ModelSpec:
    """A model: a composition of registered parts, or a model class of its own (counting baselines).

    Attributes:
        name: Registry name, lowercase ``[a-z0-9_]`` (``"tagnnpp_no_pe"``).
        label: Its name in tables (``"TAGNN++ - PE"``).
        description: One line for ``sbrzoo models``.
        preset: Key of its presets in :mod:`sbrzoo.presets` (shared by a family and its ablation rows).
        input: The ``input`` part: item embeddings of the nodes.
        node_encoders: ``node_encoder`` parts, applied in order to the node states.
        sequence_encoders: ``sequence_encoder`` parts, applied in order to the click states.
        readout: The ``readout`` part (session vector), None for a model class of its own.
        scorer: The ``scorer`` part.
        init: One of :data:`INITS`.
        agc: Trained with Adaptive Gradient Clipping.
        model_class: ``"module:Class"`` built as ``Class(num_items, **settings)``; compositions
            use :data:`COMPOSITION` (built as ``SessionModel(spec, num_items, settings)``).
        own_settings: Settings of a model class of its own, with defaults (compositions take theirs
            from their parts).
        fidelity: ``"paper"``, or ``"reference"`` for a variant that behaves as the released code.
        paper: Citation and link.
        reference: Published figures, dataset -> metric -> value (percent).
        reference_source: Where ``reference`` comes from when it is not the TAGNN++ paper's tables.
    """

    name: str
    label: str
    description: str
    preset: str
    input: str = "items"
    node_encoders: tuple[str, ...] = ()
    sequence_encoders: tuple[str, ...] = ()
    readout: str | None = None
    scorer: str = "dot"
    init: str = "uniform"
    agc: bool = False
    model_class: str = COMPOSITION
    own_settings: Mapping[str, Any] = field(default_factory=dict)
    fidelity: str = "paper"
    paper: str = ""
    reference: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    reference_source: str = ""

    @property
    def composed(self) -> bool:
        return self.model_class == COMPOSITION

    def part_names(self) -> list[tuple[str, str]]:
        """``(kind, name)`` of every part, in the order data flows through them."""
        if not self.composed:
            return []
        return [("input", self.input), *(("node_encoder", n) for n in self.node_encoders),
                *(("sequence_encoder", n) for n in self.sequence_encoders), ("readout", self.readout or ""),
                ("scorer", self.scorer)]

    @property
    def graph_kinds(self) -> tuple[str, ...]:
        """Graphs the collator must build for this model: those its parts declare, in order."""
        kinds: dict[str, None] = {}
        for kind, name in self.part_names():
            kinds |= dict.fromkeys(get_part(kind, name).graphs)
        return tuple(kinds)

    @property
    def static_shapes(self) -> bool:
        """Whether the static-shape engine can train it (``sbrzoo train --engine static``): a composition
        of parts that all declare ``static_shapes`` and need no graph but the session graph."""
        from sbrzoo.engine.static_batch import STATIC_GRAPH_KINDS

        parts = [get_part(kind, name) for kind, name in self.part_names()]
        return self.composed and all(p.static_shapes and set(p.graphs) <= set(STATIC_GRAPH_KINDS) for p in parts)

    def settings(self) -> dict[str, Any]:
        """Every setting of the model with its default: the union of its parts' settings."""
        settings = dict(self.own_settings)
        for kind, name in self.part_names():
            settings |= get_part(kind, name).settings
        return settings

    def parts(self) -> list[str]:
        """The composition in reading order, for listings."""
        names = [name for _, name in self.part_names()] or [self.model_class.rpartition(":")[2]]
        return [*names, *(["agc"] if self.agc else [])]


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry and return it.

    Raises:
        ConfigError: the name is taken or not lowercase ``[a-z0-9_]``; the init or fidelity is unknown; two
            parts declare one setting with different defaults.
        UnknownNameError: a part name is not registered for its kind.
    """
    load_builtins()  # a name taken by a built-in model is refused, not replaced later
    if spec.name in _REGISTRY:
        raise ConfigError(f"model {spec.name!r} is already registered")
    if not re.fullmatch(r"[a-z0-9_]+", spec.name):
        raise ConfigError(f"model name {spec.name!r} must be lowercase letters, digits and '_'")
    if spec.init not in INITS:
        raise ConfigError(f"model {spec.name!r}: init must be one of {INITS}, got {spec.init!r}")
    if spec.fidelity not in FIDELITIES:
        raise ConfigError(f"model {spec.name!r}: fidelity must be one of {FIDELITIES}, got {spec.fidelity!r}")
    if spec.composed and spec.readout is None:
        raise ConfigError(f"model {spec.name!r}: a composition needs a readout")
    seen: dict[str, tuple[str, Any]] = {}
    for kind, name in spec.part_names():
        for setting, default in get_part(kind, name).settings.items():  # refuses unknown parts
            if setting in seen and seen[setting][1] != default:
                raise ConfigError(f"model {spec.name!r}: parts {seen[setting][0]!r} and {name!r} give setting "
                                  f"{setting!r} different defaults ({seen[setting][1]!r}, {default!r})")
            seen[setting] = (name, default)
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """Look a model up by name, case-insensitively.

    Raises:
        UnknownNameError: no such model (with a did-you-mean suggestion).
    """
    load_builtins()
    try:
        return _REGISTRY[name.lower()]  # names are lowercase; "TAGNN" finds "tagnn"
    except KeyError:
        raise unknown_name("model", name, _REGISTRY, hint="sbrzoo models") from None


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching the fnmatch ``pattern``, in registration order."""
    load_builtins()
    return [name for name in _REGISTRY if fnmatch.fnmatch(name, pattern)]
