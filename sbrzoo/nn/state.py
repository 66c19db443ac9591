"""What the parts of a session model hand to each other: widths at build time, states at run time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypedDict

import torch
from torch import Tensor

if TYPE_CHECKING:
    from typing import Unpack

__all__ = ["Widths", "SessionState", "last_click"]


def last_click(clicks: Tensor, lengths: Tensor) -> Tensor:
    """The state of each session's last click: ``clicks[b, lengths[b] - 1]``, (B, L, D) -> (B, D)."""
    return clicks[torch.arange(clicks.shape[0], device=clicks.device), lengths - 1]


@dataclass(frozen=True)
class Widths:
    """Feature sizes between parts, known when a model is assembled.

    Attributes:
        dim: ``d``, the item-embedding width; the readout's output width (scored against items).
        nodes: Width of the node states (``d(K+1)`` after LESSR's K layers).
        clicks: Width of the click-sequence states (NARM's GRU hidden size).
    """

    dim: int
    nodes: int
    clicks: int

    def with_(self, **changes: int) -> Widths:
        return replace(self, **changes)


@dataclass(frozen=True)
class SessionState:
    """The encoded batch, as it passes from the input through the encoders to readout and scorer.

    Attributes:
        nodes: (N, D) state of every graph node (the unique items of each prefix).
        clicks: (B, L, d') state of every click, zero past the prefix; None until the node states
            are laid out along the click sequence (after the node encoders).
        mask: (B, L) True at real clicks.
        padding: (B, d) state of the split-wide padding node of the released SR-GNN-family code
            (reference-fidelity parts only), else None.
        padding_slots: (B,) float: padded positions the released code adds to each prefix (the split's
            longest prefix minus this one), else None.
        click_items: (B, L) item id of every click, 0 past the prefix (``batch.seq_items``), for parts that
            act on the session's own items (RepeatNet's repeat decoder); set by every input part.
        click_index: (T,) flat (B x L) positions of the clicks, session after session, padded to a fixed
            T (``batch.extras["click_index"]`` of a static-shape batch), or None: the positions ``mask`` selects.
    """

    nodes: Tensor
    clicks: Tensor | None
    mask: Tensor
    padding: Tensor | None = None
    padding_slots: Tensor | None = None
    click_items: Tensor | None = None
    click_index: Tensor | None = None

    def with_(self, **changes: Unpack[_StateChanges]) -> SessionState:
        return replace(self, **changes)


class _StateChanges(TypedDict, total=False):
    """The fields :meth:`SessionState.with_` may replace, with their types."""

    nodes: Tensor
    clicks: Tensor | None
    mask: Tensor
    padding: Tensor | None
    padding_slots: Tensor | None
    click_items: Tensor | None
    click_index: Tensor | None
