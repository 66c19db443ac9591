"""The one top-level network of the zoo: embedding -> node encoder -> sequence encoder -> readout -> scorer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.models._registry import ModelSpec
from sbrzoo.nn.gated_graph import GatedGraphConv
from sbrzoo.nn.node_attention import NodeSelfAttention
from sbrzoo.nn.positional import PositionalEmbedding
from sbrzoo.nn.readout import SoftAttentionReadout
from sbrzoo.nn.target_attention import DotScorer, TargetAttentionScorer
from sbrzoo.nn.transformer import TransformerBlock
from sbrzoo.presets import Hyperparameters

__all__ = ["SessionModel"]


class SessionModel(nn.Module):
    """A session recommender assembled from the parts a :class:`ModelSpec` names.

    With ``hp.fidelity == "reference"`` the SR-GNN-family parts behave as the released code does
    (docs/MODELS.md §9.2): softmaxes over the split-wide padding, TAGNN++'s attention block over id-ordered
    nodes with the padding node, no positional embedding or feed-forward layer, uniform init of
    every parameter (LayerNorm included) and the code's unused linear layer.

    Args:
        spec: The composition.
        num_items: ``N``; the embedding has ``N + 1`` rows, row 0 is padding and never scored.
        hp: Hyper-parameters (width, heads, dropout, layers, ...).

    Shapes:
        forward: SessionBatch of B prefixes -> logits (B, N), column ``k`` scoring item ``k + 1``.
    """

    def __init__(self, spec: ModelSpec, num_items: int, hp: Hyperparameters) -> None:
        super().__init__()
        self.spec = spec
        self.num_items = num_items
        dim = hp.dim
        self.reference = hp.fidelity == "reference" and spec.graph_encoder != "lessr"
        self.embedding = nn.Embedding(num_items + 1, dim)
        self.max_norm = hp.embedding_max_norm
        self.graph_encoder: nn.Module | None = None
        readout_dim = dim
        if spec.graph_encoder == "gated":
            self.graph_encoder = GatedGraphConv(dim, steps=hp.gnn_steps, vestigial=self.reference)
        elif spec.graph_encoder == "lessr":
            from sbrzoo.nn.lessr import LessrEncoder

            self.graph_encoder = LessrEncoder(dim, hp.num_layers, dropout=hp.dropout)
            readout_dim = dim * (hp.num_layers + 1)
        self.positional = PositionalEmbedding(dim) if spec.positional and not self.reference else None
        self.transformer: nn.Module | None = None
        if spec.transformer:
            self.transformer = (
                NodeSelfAttention(dim, hp.heads, dropout=hp.dropout) if self.reference
                else TransformerBlock(dim, hp.heads, dropout=hp.dropout, ffn_mult=hp.ffn_mult, causal=hp.causal)
            )
        if spec.readout == "lessr":
            from sbrzoo.nn.lessr import LessrReadout

            self.readout = LessrReadout(dim, readout_dim, dropout=hp.dropout)
        else:
            self.readout = SoftAttentionReadout(dim, normalize=spec.attention_softmax, hybrid=hp.hybrid)
        self.scorer = TargetAttentionScorer(dim) if spec.scorer == "target_attention" else DotScorer()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """SR-GNN family: every weight ``U(-1/sqrt(d), 1/sqrt(d))`` as the reference codes do, except
        LayerNorm, which keeps gamma=1, beta=0 (docs/MODELS.md §3.6, P11) unless the fidelity is
        "reference". LESSR: PyTorch defaults."""
        if self.spec.graph_encoder == "lessr":
            return
        bound = self.embedding.embedding_dim**-0.5
        for module in self.modules():
            if isinstance(module, nn.LayerNorm) and not self.reference:
                continue
            for parameter in module.parameters(recurse=False):
                nn.init.uniform_(parameter, -bound, bound)

    def item_table(self) -> Tensor:
        """Embeddings of the candidate items ``1..N``, shape (N, d)."""
        return self.embedding.weight[1:]

    @torch.no_grad()
    def renormalize_embeddings(self) -> None:
        """LESSR's ``max_norm``: rows longer than ``max_norm`` are rescaled in place (P15).

        ``nn.Embedding(max_norm=...)`` does this row by row at every lookup, and LESSR looks up the
        whole catalogue for scoring, so renormalising every row once per forward gives the same
        numbers, vectorised.
        """
        weight = self.embedding.weight
        norms = weight.norm(dim=1, keepdim=True)
        weight.mul_(torch.where(norms > self.max_norm, self.max_norm / (norms + 1e-7), torch.ones_like(norms)))

    def encode(self, batch: SessionBatch) -> tuple[Tensor, Tensor, Tensor | None]:
        """Node states (N, D), click-sequence states (B, L, d) zero at padded clicks, and, in reference
        fidelity, the state of each session's padding node (B, d) (else None)."""
        node_state = self.embedding(batch.node_items)
        pad_state = None
        if self.reference:
            pad_state = self.embedding.weight[:1].expand(batch.batch_size, -1)
        if isinstance(self.graph_encoder, GatedGraphConv):
            node_state = self.graph_encoder(batch.graphs["session"], node_state)
            pad_state = None if pad_state is None else self.graph_encoder.isolated(pad_state)
        elif self.graph_encoder is not None:
            node_state = self.graph_encoder(batch, node_state)
        if isinstance(self.transformer, NodeSelfAttention):
            node_state, pad_state = self.transformer(
                node_state, batch.batch_num_nodes, pad_state, batch.extras["padding_slots"] > 0
            )
        mask = batch.mask
        # index_select: its backward is a plain index_add (advanced indexing sorts on CUDA)
        positions = batch.seq_nodes.clamp(min=0).flatten()
        seq_state = node_state.index_select(0, positions).view(*mask.shape, -1) * mask.unsqueeze(-1)
        if self.positional is not None:
            seq_state = self.positional(seq_state)
        if isinstance(self.transformer, TransformerBlock):
            seq_state = self.transformer(seq_state, mask)
        return node_state, seq_state, pad_state

    def forward(self, batch: SessionBatch) -> Tensor:
        if self.max_norm is not None:
            self.renormalize_embeddings()
        node_state, seq_state, pad_state = self.encode(batch)
        padding = {}
        if self.reference:
            padding = {"padding_slots": batch.extras["padding_slots"].to(seq_state.dtype)}
        readout_padding = {**padding, "padding_state": pad_state} if padding else {}
        session = self.readout(batch, node_state, seq_state, **readout_padding)
        return self.scorer(session, self.item_table(), seq_state=seq_state, mask=batch.mask, **padding)

    def loss(self, batch: SessionBatch) -> Tensor:
        """Mean softmax cross-entropy over the N real items (class = target - 1)."""
        return nn.functional.cross_entropy(self(batch), batch.targets - 1)

    def agc_parameters(self) -> list[nn.Parameter]:
        """Parameters AGC clips: all but the item embedding, which is also the output layer (docs/MODELS.md §4.4)."""
        return [p for name, p in self.named_parameters() if not name.startswith("embedding.")]
