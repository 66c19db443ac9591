"""LESSR's node encoder (Chen & Wong, KDD 2020, https://doi.org/10.1145/3394486.3403170); its readout
is :class:`sbrzoo.nn.readout.LessrReadout`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.eopa import EOPAConv
from sbrzoo.nn.sgat import SGATConv
from sbrzoo.nn.state import SessionState, Widths

__all__ = ["LessrEncoder"]


class LessrEncoder(nn.Module):
    r"""The densely connected EOPA/SGAT stack of LESSR (docs/MODELS.md §3.5).

    From "Handling Information Loss of Graph Neural Networks for Session-based Recommendation"
    (Chen & Wong, KDD 2020). Layer ``k`` reads width ``d(k+1)`` and writes ``d``; even layers are
    :class:`EOPAConv` on ``batch.graphs["eop"]``, odd layers :class:`SGATConv` on
    ``batch.graphs["shortcut"]``.

    .. math:: X^{(k+1)} = \big[\, \mathrm{Layer}_k(X^{(k)}) ;\ X^{(k)} \,\big], \quad X^{(0)} = E[\text{items}]

    As a node encoder it widens ``state.nodes`` from ``d`` to ``d(K+1)``.

    Args:
        widths: ``widths.nodes`` is the embedding size ``d``.
        num_layers: Number of layers ``K``.
        dropout: Feature dropout ``p`` of every layer.

    Shapes:
        encode: batch with N nodes, feat (N, d) -> (N, d(K+1))
    """

    def __init__(self, widths: Widths, *, num_layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        dim = widths.nodes
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.dim = dim
        self.num_layers = num_layers
        self.layers = nn.ModuleList(
            (EOPAConv if k % 2 == 0 else SGATConv)(dim * (k + 1), dim, dropout=dropout) for k in range(num_layers)
        )
        self.out_widths = widths.with_(nodes=dim * (num_layers + 1))

    def reset_parameters(self) -> None:
        """PyTorch defaults for every layer (docs/MODELS.md §3.6)."""
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        return state.with_(nodes=self.encode(batch, state.nodes))

    def encode(self, batch: SessionBatch, feat: Tensor) -> Tensor:
        """Run the layers, each on its graph, concatenating ``[out ; X]`` after every layer.

        Args:
            batch: The batch; ``batch.graphs`` must hold ``"eop"`` (and ``"shortcut"`` past one layer).
            feat: Node embeddings.

        Returns:
            The node states, the newest layer's output first and ``feat`` last.

        Raises:
            ValueError: ``feat`` is not (N, d) or a graph kind is missing from the batch.

        Shapes:
            feat: (N, d) -> (N, d(K+1))
        """
        if feat.dim() != 2 or feat.shape[1] != self.dim:
            raise ValueError(f"expected node features of shape (N, {self.dim}), got {tuple(feat.shape)}")
        needed = ("eop",) if self.num_layers == 1 else ("eop", "shortcut")
        missing = [kind for kind in needed if kind not in batch.graphs]
        if missing:
            raise ValueError(f"the batch has no {missing} graph; collate with graph_kinds={needed}")
        for k, layer in enumerate(self.layers):
            graph = batch.graphs["eop" if k % 2 == 0 else "shortcut"]
            feat = torch.cat([layer(graph, feat), feat], dim=1)
        return feat

    def extra_repr(self) -> str:
        return f"{self.dim}, num_layers={self.num_layers}"
