"""Registry of model compositions. Torch-free, so listing models and parsing the CLI stay fast."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

from sbrzoo.errors import ConfigError, unknown_name

__all__ = ["ModelSpec", "register", "get_spec", "list_models"]

_REGISTRY: dict[str, ModelSpec] = {}


@dataclass(frozen=True)
class ModelSpec:
    """A model as a named composition of parts.

    Attributes:
        name: Registry name, lowercase with family prefix (``"tagnnpp_no_pe"``).
        family: Model family; also selects the hyper-parameter preset.
        description: One line for ``sbrzoo models``.
        graph_encoder: Node encoder over the session graphs: ``"gated"`` (SR-GNN cell),
            ``"lessr"`` (EOPA/SGAT stack) or None (item embeddings pass through).
        positional: Add a learned positional embedding to the click sequence.
        transformer: Run a Transformer block over the click sequence.
        readout: ``"soft_attention"`` (SR-GNN/TAGNN), ``"lessr"`` or ``"none"`` (popularity).
        attention_softmax: Normalise the soft-attention readout with a softmax (TAGNN) or not (SR-GNN).
        scorer: ``"dot"`` or ``"target_attention"`` (TAGNN's candidate-conditioned scores).
        agc: Adaptive Gradient Clipping during training.
        trainable: False for non-neural baselines (popularity), which are fitted by counting.
        paper: Citation and link.
        reference: Published figures, dataset -> metric -> value (percent).
    """

    name: str
    family: str
    description: str
    graph_encoder: str | None = "gated"
    positional: bool = False
    transformer: bool = False
    readout: str = "soft_attention"
    attention_softmax: bool = False
    scorer: str = "dot"
    agc: bool = False
    trainable: bool = True
    paper: str = ""
    reference: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def graph_kinds(self) -> tuple[str, ...]:
        """Graphs the collator must build for this model."""
        return {"gated": ("session",), "lessr": ("eop", "shortcut")}.get(self.graph_encoder or "", ())

    def parts(self) -> list[str]:
        """The composition in reading order, for listings."""
        if not self.trainable:
            return ["train-click-counts"]
        parts = ["embedding"]
        if self.graph_encoder:
            parts.append({"gated": "gated-gnn", "lessr": "eopa/sgat"}[self.graph_encoder])
        parts += [part for part, used in (("pe", self.positional), ("transformer", self.transformer)) if used]
        if self.readout == "soft_attention":
            parts.append("softmax-attn" if self.attention_softmax else "soft-attn")
        else:
            parts.append(f"{self.readout}-readout")
        parts.append("target-attn" if self.scorer == "target_attention" else self.scorer)
        if self.agc:
            parts.append("agc")
        return parts


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry and return it.

    Raises:
        ConfigError: the name is taken or not lowercase ``[a-z0-9_]``.
    """
    if spec.name in _REGISTRY:
        raise ConfigError(f"model {spec.name!r} is already registered")
    if not spec.name.replace("_", "").isalnum() or spec.name != spec.name.lower():
        raise ConfigError(f"model name {spec.name!r} must be lowercase letters, digits and '_'")
    if spec.positional and not spec.transformer:
        raise ConfigError(f"model {spec.name!r}: the positional embedding feeds the Transformer block; enable both")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """Look a model up by name, case-insensitively.

    Raises:
        UnknownNameError: no such model (with a did-you-mean suggestion).
    """
    _load_families()
    try:
        return _REGISTRY[name.lower()]  # names are lowercase; "TAGNN" finds "tagnn"
    except KeyError:
        raise unknown_name("model", name, _REGISTRY, hint="sbrzoo models") from None


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching the fnmatch ``pattern``, in registration order."""
    _load_families()
    return [name for name in _REGISTRY if fnmatch.fnmatch(name, pattern)]


def _load_families() -> None:
    import sbrzoo.models.families  # noqa: F401 - registers every family on import
