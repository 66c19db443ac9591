"""Edge-order preserving aggregation of LESSR (Chen & Wong, KDD 2020, https://doi.org/10.1145/3394486.3403170)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from sbrzoo.graph import ops

__all__ = ["EOPAConv"]


class EOPAConv(nn.Module):
    r"""Edge-order preserving aggregation (EOPA) over the LESSR EOP multigraph (docs/MODELS.md §3.5).

    From "Handling Information Loss of Graph Neural Networks for Session-based Recommendation"
    (Chen & Wong, KDD 2020).

    .. math::
        \hat X &= \mathrm{BN}(X), \quad \tilde X = \mathrm{Dropout}_p(\hat X) \\
        n_v &= \mathrm{GRU}(\tilde X_{u_1}, \dots, \tilde X_{u_q}) \text{ (last hidden state, } h_0 = 0),
              \quad u_1 \to v, \dots, u_q \to v \text{ in edge-id order}; \ n_v = 0 \text{ if } q = 0 \\
        h_v' &= \mathrm{PReLU}(W_{self} \hat X_v + W_{neigh} n_v)

    The mailbox of every node holds its in-neighbours in edge-id (= click) order; duplicates and
    self-loops of the multigraph are kept. The self term uses the batch-normalised features before
    dropout. ``W_self`` and ``W_neigh`` have no bias.

    Args:
        in_dim: Input node feature size ``D_k``.
        out_dim: Output node feature size ``d``.
        dropout: Feature dropout ``p`` applied to the messages.

    Shapes:
        graph: batched EOP multigraph with N nodes; feat: (N, in_dim) -> (N, out_dim)
    """

    def __init__(self, in_dim: int, out_dim: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.batch_norm = nn.BatchNorm1d(in_dim)
        self.feat_drop = nn.Dropout(dropout)
        self.gru = nn.GRU(in_dim, in_dim, batch_first=True)
        self.fc_self = nn.Linear(in_dim, out_dim, bias=False)
        self.fc_neigh = nn.Linear(in_dim, out_dim, bias=False)
        self.activation = nn.PReLU(out_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch defaults (docs/MODELS.md §3.6): Linear ``U(±1/sqrt(in_dim))``, GRU ``U(±1/sqrt(in_dim))``,
        BatchNorm ``γ = 1, β = 0`` with fresh running statistics, PReLU slope 0.25 per channel."""
        for module in (self.batch_norm, self.gru, self.fc_self, self.fc_neigh, self.activation):
            module.reset_parameters()

    def forward(self, graph: Any, feat: Tensor) -> Tensor:
        """Aggregate each node's in-neighbours in edge-id order.

        Args:
            graph: Batched EOP multigraph (DGL or :class:`~sbrzoo.graph.torch_graph.TorchGraph`).
            feat: Node features.

        Returns:
            The new node features; nodes without in-edges get ``PReLU(W_self X̂_v)``.

        Raises:
            ValueError: ``feat`` is not (N, in_dim).

        Shapes:
            feat: (N, in_dim) -> (N, out_dim)
        """
        if feat.dim() != 2 or feat.shape[1] != self.in_dim:
            raise ValueError(f"expected node features of shape (N, {self.in_dim}), got {tuple(feat.shape)}")
        normed = self.batch_norm(feat)
        neigh = ops.ordered_in_reduce(graph, self.feat_drop(normed), self._last_hidden)
        return self.activation(self.fc_self(normed) + self.fc_neigh(neigh))

    def _last_hidden(self, mailbox: Tensor, lengths: Tensor) -> Tensor:
        """Final GRU state over each right-padded mailbox row; the padding is never read.

        Shapes:
            mailbox: (M, D, in_dim); lengths: (M,) -> (M, in_dim)
        """
        lengths = lengths.cpu()
        if int(lengths.min()) == mailbox.shape[1]:  # no padding (every DGL degree bucket): skip the packing
            _, last = self.gru(mailbox)
        else:
            packed = pack_padded_sequence(mailbox, lengths, batch_first=True, enforce_sorted=False)
            _, last = self.gru(packed)
        return last[0]

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}"
