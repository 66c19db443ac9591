"""The one top-level network of the zoo: embedding -> input -> node encoders -> click sequence ->
sequence encoders -> readout -> scorer, each part looked up by name in the part registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.examples import Examples
from sbrzoo.models._parts import get_part, part_class
from sbrzoo.models._registry import ModelSpec
from sbrzoo.nn.state import SessionState, Widths

__all__ = ["SessionModel"]


class SessionModel(nn.Module):
    r"""A session recommender assembled from the parts a :class:`ModelSpec` names.

    .. math::
        X^{(0)} = \mathrm{input}(E), \quad X = \mathrm{node}_k \circ \dots \circ \mathrm{node}_1(X^{(0)}),
        \quad S = \mathrm{seq}_m \circ \dots \circ \mathrm{seq}_1(X[\text{clicks}]), \quad
        z = \mathrm{scorer}(\mathrm{readout}(X, S), E_{1..N})

    Args:
        spec: The composition.
        num_items: ``N``; the embedding has ``N + 1`` rows, row 0 is padding and never scored.
        settings: The model's settings (see :meth:`ModelSpec.settings`): ``dim`` and each part's own.

    Shapes:
        forward: SessionBatch of B prefixes -> logits (B, N), column ``k`` scoring item ``k + 1``.
    """

    def __init__(self, spec: ModelSpec, num_items: int, settings: Mapping[str, Any]) -> None:
        super().__init__()
        self.spec = spec
        self.num_items = num_items
        dim = settings["dim"]
        self.embedding = nn.Embedding(num_items + 1, dim)
        widths = Widths(dim=dim, nodes=dim, clicks=dim)
        self.input = _build("input", spec.input, widths, settings)
        self.node_encoders = nn.ModuleList()
        for name in spec.node_encoders:
            self.node_encoders.append(_build("node_encoder", name, widths, settings))
            widths = self.node_encoders[-1].out_widths
        widths = widths.with_(clicks=widths.nodes)  # the click sequence takes its nodes' states
        self.sequence_encoders = nn.ModuleList()
        for name in spec.sequence_encoders:
            self.sequence_encoders.append(_build("sequence_encoder", name, widths, settings))
            widths = self.sequence_encoders[-1].out_widths
        self.readout = _build("readout", spec.readout, widths, settings)
        self.scorer = _build("scorer", spec.scorer, widths, settings)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``spec.init`` (docs/MODELS.md §3.6, P11): "uniform" sets every weight ``U(-1/sqrt(d), 1/sqrt(d))``
        as the SR-GNN-family codes do, except LayerNorm (gamma=1, beta=0); "uniform_all" LayerNorm
        too, as the released TAGNN++ code does; "default" keeps PyTorch's (LESSR)."""
        if self.spec.init == "default":
            return
        bound = self.embedding.embedding_dim**-0.5
        for module in self.modules():
            if isinstance(module, nn.LayerNorm) and self.spec.init == "uniform":
                continue
            for parameter in module.parameters(recurse=False):
                nn.init.uniform_(parameter, -bound, bound)

    def item_table(self) -> Tensor:
        """Embeddings of the candidate items ``1..N``, shape (N, d)."""
        return self.embedding.weight[1:]

    def encode(self, batch: SessionBatch) -> SessionState:
        """The state after every encoder: node states, and click states zero at padded clicks."""
        state = self.input(batch, self.embedding)
        for encoder in self.node_encoders:
            state = encoder(batch, state)
        # index_select: its backward is a plain index_add (advanced indexing sorts on CUDA)
        mask = state.mask
        positions = batch.seq_nodes.clamp(min=0).flatten()
        clicks = state.nodes.index_select(0, positions).view(*mask.shape, -1) * mask.unsqueeze(-1)
        state = state.with_(clicks=clicks)
        for encoder in self.sequence_encoders:
            state = encoder(batch, state)
        return state

    def forward(self, batch: SessionBatch) -> Tensor:
        state = self.encode(batch)
        return self.scorer(self.readout(batch, state), self.item_table(), state)

    def loss(self, batch: SessionBatch) -> Tensor:
        """Mean softmax cross-entropy over the N real items (class = target - 1). A scorer that returns
        log-probabilities (``returns_log_probabilities = True``: RepeatNet's mixture, docs/MODELS.md §3.8.3)
        is trained on their mean negative log-likelihood instead; either way the evaluator ranks by the output.
        A static-shape batch averages with the weights ``extras["example_weight"]`` (0 on padding rows)."""
        assert batch.targets is not None  # a training batch: its examples' next items
        scores = self(batch)
        loss = nn.functional.nll_loss if getattr(self.scorer, "returns_log_probabilities", False) \
            else nn.functional.cross_entropy
        weight = batch.extras.get("example_weight")
        if weight is None:
            return loss(scores, batch.targets - 1)
        weight = weight.to(scores.dtype)
        return (loss(scores, batch.targets - 1, reduction="none") * weight).sum() / weight.sum()

    def fit_statistics(self, train: Examples) -> None:
        """Nothing to count: a composition learns by gradient steps only."""

    def agc_parameters(self, exclude_items: bool = True) -> list[nn.Parameter]:
        """Parameters AGC clips: all, or (``exclude_items``) all but the item embedding, which is also the
        output layer (docs/MODELS.md §4.4)."""
        return [p for name, p in self.named_parameters() if not (exclude_items and name.startswith("embedding."))]


def _build(kind: str, name: str | None, widths: Widths, settings: Mapping[str, Any]) -> nn.Module:
    """The registered part ``name`` of ``kind``, given its own settings (``dim`` is in ``widths``)."""
    part = get_part(kind, name or "")
    own = {key: settings[key] for key in part.settings if key != "dim"}
    return part_class(part)(widths, **part.fixed, **own)
