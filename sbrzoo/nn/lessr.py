"""LESSR encoder and readout (Chen & Wong, KDD 2020, https://doi.org/10.1145/3394486.3403170)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.graph import ops
from sbrzoo.nn.eopa import EOPAConv
from sbrzoo.nn.sgat import SGATConv

__all__ = ["LessrEncoder", "LessrReadout"]


class LessrEncoder(nn.Module):
    r"""The densely connected EOPA/SGAT stack of LESSR (docs/MODELS.md §3.5).

    From "Handling Information Loss of Graph Neural Networks for Session-based Recommendation"
    (Chen & Wong, KDD 2020). Layer ``k`` reads width ``d(k+1)`` and writes ``d``; even layers are
    :class:`EOPAConv` on ``batch.graphs["eop"]``, odd layers :class:`SGATConv` on
    ``batch.graphs["shortcut"]``.

    .. math:: X^{(k+1)} = \big[\, \mathrm{Layer}_k(X^{(k)}) ;\ X^{(k)} \,\big], \quad X^{(0)} = E[\text{items}]

    Args:
        dim: Embedding size ``d``.
        num_layers: Number of layers ``K``.
        dropout: Feature dropout ``p`` of every layer.

    Shapes:
        batch: a :class:`SessionBatch` with N nodes; feat: (N, d) -> (N, d(K+1))
    """

    def __init__(self, dim: int, num_layers: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.dim = dim
        self.num_layers = num_layers
        self.layers = nn.ModuleList(
            (EOPAConv if k % 2 == 0 else SGATConv)(dim * (k + 1), dim, dropout=dropout) for k in range(num_layers)
        )

    @property
    def graph_kinds(self) -> tuple[str, ...]:
        """Graph kinds the collator must build: ``("eop",)`` for one layer, else ``("eop", "shortcut")``."""
        return ("eop",) if self.num_layers == 1 else ("eop", "shortcut")

    def reset_parameters(self) -> None:
        """PyTorch defaults for every layer (docs/MODELS.md §3.6)."""
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, batch: SessionBatch, feat: Tensor) -> Tensor:
        """Run the layers, each on its graph, concatenating ``[out ; X]`` after every layer.

        Args:
            batch: The batch; ``batch.graphs`` must hold every kind of :attr:`graph_kinds`.
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
        missing = [kind for kind in self.graph_kinds if kind not in batch.graphs]
        if missing:
            raise ValueError(f"the batch has no {missing} graph; collate with graph_kinds={self.graph_kinds}")
        for k, layer in enumerate(self.layers):
            graph = batch.graphs["eop" if k % 2 == 0 else "shortcut"]
            feat = torch.cat([layer(graph, feat), feat], dim=1)
        return feat

    def extra_repr(self) -> str:
        return f"{self.dim}, num_layers={self.num_layers}"


class LessrReadout(nn.Module):
    r"""LESSR's attention readout with the last node, followed by the session projection (docs/MODELS.md §3.5).

    From "Handling Information Loss of Graph Neural Networks for Session-based Recommendation"
    (Chen & Wong, KDD 2020). Attention runs over the unique nodes of each session, not its clicks.

    .. math::
        \tilde X &= \mathrm{Dropout}_p(\mathrm{BN}(X)), \quad
        \alpha_i = \operatorname{softmax}_{i \in g}
            \big(w_e^\top \sigma(W_u \tilde X_i + W_v \tilde X_\ell + b_v)\big) \\
        s_g &= \mathrm{PReLU}\Big(W_{out} \sum_{i \in g} \alpha_i \tilde X_i\Big), \quad
        z = W_{sr}\, \mathrm{Dropout}_p\big(\mathrm{BN}([X_\ell ; s_g])\big)

    ``ℓ`` is the node of the session's last click and ``X_ℓ`` its raw (not normalised) features.
    ``W_out`` is left out when ``in_dim == dim``. Only ``W_v`` has a bias.

    Args:
        dim: Embedding size ``d`` (attention width and output width).
        in_dim: Width ``D`` of the node features (``d(K+1)`` after a :class:`LessrEncoder`).
        dropout: Feature dropout ``p``.

    Shapes:
        batch: a :class:`SessionBatch` with B sessions and N nodes; node_state: (N, in_dim) -> (B, dim)
    """

    def __init__(self, dim: int, in_dim: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.dim = dim
        self.in_dim = in_dim
        self.batch_norm = nn.BatchNorm1d(in_dim)
        self.feat_drop = nn.Dropout(dropout)
        self.fc_u = nn.Linear(in_dim, dim, bias=False)
        self.fc_v = nn.Linear(in_dim, dim, bias=True)
        self.fc_e = nn.Linear(dim, 1, bias=False)
        self.fc_out = nn.Linear(in_dim, dim, bias=False) if in_dim != dim else None
        self.activation = nn.PReLU(dim)
        self.sr_norm = nn.BatchNorm1d(in_dim + dim)
        self.sr_drop = nn.Dropout(dropout)
        self.fc_sr = nn.Linear(in_dim + dim, dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch defaults (docs/MODELS.md §3.6): Linear ``U(±1/sqrt(fan_in))``, BatchNorm ``γ = 1, β = 0``
        with fresh running statistics, PReLU slope 0.25 per channel."""
        for module in (self.batch_norm, self.fc_u, self.fc_v, self.fc_e, self.fc_out, self.activation,
                       self.sr_norm, self.fc_sr):
            if module is not None:
                module.reset_parameters()

    def forward(self, batch: SessionBatch, node_state: Tensor, seq_state: Tensor | None = None) -> Tensor:
        """Pool each session's nodes with attention to its last node and project ``[X_ℓ ; s_g]``.

        Args:
            batch: The batch; its ``"eop"`` graph groups the nodes by session.
            node_state: Node states from the encoder.
            seq_state: Unused; part of the readout signature every model shares.

        Returns:
            One vector per session.

        Raises:
            ValueError: ``node_state`` is not (N, in_dim).

        Shapes:
            node_state: (N, in_dim) -> (B, dim)
        """
        if node_state.dim() != 2 or node_state.shape[1] != self.in_dim:
            raise ValueError(
                f"expected node states of shape (N, {self.in_dim}), got {tuple(node_state.shape)}"
            )
        graph = batch.graphs["eop"]
        feat = self.feat_drop(self.batch_norm(node_state))
        last = self.fc_v(feat[batch.last_node])
        logits = self.fc_e(torch.sigmoid(self.fc_u(feat) + ops.broadcast_nodes(graph, last)))
        alpha = ops.node_softmax(graph, logits)
        pooled = ops.node_sum(graph, alpha * feat)
        if self.fc_out is not None:
            pooled = self.fc_out(pooled)
        session = torch.cat([node_state[batch.last_node], self.activation(pooled)], dim=1)
        return self.fc_sr(self.sr_drop(self.sr_norm(session)))

    def extra_repr(self) -> str:
        return f"{self.dim}, in_dim={self.in_dim}"
