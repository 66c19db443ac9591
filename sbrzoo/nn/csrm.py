"""CSRM's parts (Wang et al., "A Collaborative Session-based Recommendation Approach with Parallel Memory
Modules", SIGIR 2019; released code github.com/wmeirui/CSRM_SIGIR2019; docs/MODELS.md §3.8.4).

An inner memory encoder (NARM's global and local GRU encoders) and an outer memory of the
representations of the ``m`` most recent training sessions, read with attention and fused by a gate. The
outer memory is state, not parameters: registered buffers, so that it is in ``state_dict()`` (checkpoints,
exact resume), written only in training mode (evaluation never stores validation or test sessions).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.nn.attention import AdditiveAttention
from sbrzoo.nn.state import SessionState, Widths, last_click

__all__ = ["TwinGRU", "CsrmReadout", "standardize"]


def standardize(x: Tensor, eps: float = 1e-10) -> Tensor:
    """Each row to zero mean and unit (population) variance over its features, as the released code does
    to the three session representations before the gate: ``(x - mean) / sqrt(var + eps)``."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


class TwinGRU(nn.Module):
    r"""CSRM's two encoders over the same (dropped-out) click embeddings: a global GRU and a local GRU,
    each of width ``h`` and from a zero state, laid side by side: ``clicks = [H^g ; H^l]``.

    Args:
        widths: ``widths.clicks`` is the input width (the embedding).
        hidden_size: ``h``; the clicks are ``2h`` wide afterwards.
        input_dropout: Dropout on the embeddings (the code keeps 0.75 of them).

    Shapes:
        state.clicks: (B, L, d) -> (B, L, 2h), zero past the prefix
    """

    def __init__(self, widths: Widths, *, hidden_size: int, input_dropout: float = 0.0) -> None:
        super().__init__()
        self.global_gru = nn.GRU(widths.clicks, hidden_size, batch_first=True)
        self.local_gru = nn.GRU(widths.clicks, hidden_size, batch_first=True)
        self.input_dropout = nn.Dropout(input_dropout)
        self.out_widths = widths.with_(clicks=2 * hidden_size)

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        inputs = self.input_dropout(state.clicks)
        global_, _ = self.global_gru(inputs)
        local, _ = self.local_gru(inputs)
        return state.with_(clicks=torch.cat([global_, local], dim=-1) * state.mask.unsqueeze(-1))


class CsrmReadout(nn.Module):
    r"""Inner memory encoder, outer memory read and write, gate and bilinear decoder.

    .. math::
        c_g &= h^g_\ell, \qquad c_l = \textstyle\sum_j \alpha_j h^l_j, \quad
            \alpha = \mathrm{softmax}_j\, v^\top \sigma(A_1 h^l_\ell + A_2 h^l_j) \\
        m &= \textstyle\sum_k \beta_k M_k, \quad \beta = \mathrm{softmax}_k \cos(c_l, M_k)
            \quad (\text{over the filled slots, or their } k \text{ most similar; } m = c_l
            \text{ while the memory is empty}) \\
        f &= \sigma(w_l^\top \hat c_l + w_o^\top \hat m + w_g^\top \hat c_g), \quad
            c = f\,[\hat c_l ; \hat c_g] + (1 - f)\,[\hat m ; \hat m], \qquad s = B\,\mathrm{Dropout}(c)

    ``x̂`` is ``x`` standardised over its features (:func:`standardize`). With the dot scorer the logits
    are ``s · E_i = E_i^T B c``. After the read, in training mode only, the batch's ``c_l`` (detached) are
    written to the memory ``M`` (``m × h``) first in first out: it holds the ``m`` most recent training
    sessions. ``memory_filled`` and ``memory_next`` (buffers) are the number of filled slots and the next
    slot to write.

    Args:
        widths: ``widths.clicks`` is ``2h`` (from :class:`TwinGRU`), ``widths.dim`` is ``d``.
        memory_size: ``m``, sessions kept in the outer memory.
        memory_neighbours: ``k``: read only the ``k`` filled slots most similar to the query (the released
            code keeps 10,000 sessions and reads 512); 0 reads every filled slot.
        readout_dropout: Dropout on ``c`` before the decoder (the code keeps 0.5).

    Shapes:
        state.clicks: (B, L, 2h) -> (B, d)
    """

    memory: Tensor  # buffers (registered in __init__, replaced by write)
    memory_filled: Tensor
    memory_next: Tensor

    def __init__(self, widths: Widths, *, memory_size: int = 512, memory_neighbours: int = 0,
                 readout_dropout: float = 0.0) -> None:
        super().__init__()
        if widths.clicks % 2:
            raise ValueError(f"CSRM's readout takes [global; local] GRU states, got an odd width {widths.clicks}")
        hidden = widths.clicks // 2
        self.hidden = hidden
        self.neighbours = memory_neighbours if 0 < memory_neighbours < memory_size else 0
        self.attention = AdditiveAttention(hidden)  # A_1 on the last local state, A_2 on every one, v
        self.gate_local = nn.Linear(hidden, 1, bias=False)  # w_l
        self.gate_memory = nn.Linear(hidden, 1, bias=False)  # w_o
        self.gate_global = nn.Linear(hidden, 1, bias=False)  # w_g
        self.dropout = nn.Dropout(readout_dropout)
        self.decoder = nn.Linear(2 * hidden, widths.dim, bias=False)  # B
        self.register_buffer("memory", torch.zeros(memory_size, hidden))
        self.register_buffer("memory_filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("memory_next", torch.zeros((), dtype=torch.long))

    def forward(self, batch: SessionBatch, state: SessionState) -> Tensor:
        clicks, mask = state.clicks, state.mask
        assert clicks is not None  # laid out by SessionModel.encode, before the sequence encoders
        global_states, local_states = clicks[..., : self.hidden], clicks[..., self.hidden:]
        global_ = last_click(global_states, batch.lengths)
        last_local = last_click(local_states, batch.lengths)
        alpha = torch.softmax(self.attention(last_local, local_states).masked_fill(~mask, float("-inf")), dim=1)
        local = (alpha.unsqueeze(-1) * local_states).sum(dim=1)
        read = self.read(local)
        if self.training:
            self.write(local.detach())
        local_, global_, read = standardize(local), standardize(global_), standardize(read)
        gate = torch.sigmoid(self.gate_local(local_) + self.gate_memory(read) + self.gate_global(global_))
        fused = gate * torch.cat([local_, global_], dim=1) + (1 - gate) * torch.cat([read, read], dim=1)
        return self.decoder(self.dropout(fused))

    def read(self, query: Tensor) -> Tensor:
        """Attention of each ``query`` over the filled memory slots by cosine similarity, (B, h) -> (B, h).

        The query itself while the memory is empty.
        """
        memory = self.memory
        filled = torch.arange(memory.shape[0], device=memory.device) < self.memory_filled
        cosine = (query @ memory.T) / (query.norm(dim=1, keepdim=True) * memory.norm(dim=1) + 1e-8)
        # a finite fill: an empty memory gives uniform weights over zeros (no nan), replaced by the query below
        cosine = cosine.masked_fill(~filled, -1e9)
        if self.neighbours:  # the k most similar slots (unfilled ones, at -1e9, get no weight)
            top, slots = cosine.topk(self.neighbours, dim=1)
            weights = torch.softmax(top, dim=1)
            read = (weights.unsqueeze(-1) * memory[slots]).sum(dim=1)
        else:
            read = torch.softmax(cosine, dim=1) @ memory
        return torch.where(self.memory_filled > 0, read, query)

    @torch.no_grad()
    def write(self, sessions: Tensor) -> None:
        """Store ``sessions`` (B, h) first in first out, the last ``m`` of them if ``B > m``. The buffers are
        replaced, not changed in place: the read of this step still needs the old memory for its gradient."""
        size = self.memory.shape[0]
        sessions = sessions[-size:]
        count = sessions.shape[0]
        slots = (self.memory_next + torch.arange(count, device=sessions.device)) % size
        self.memory = self.memory.index_copy(0, slots, sessions.to(self.memory.dtype))
        self.memory_next = (self.memory_next + count) % size
        self.memory_filled = torch.clamp(self.memory_filled + count, max=size)

    def extra_repr(self) -> str:
        return f"hidden={self.hidden}, memory_size={self.memory.shape[0]}, memory_neighbours={self.neighbours}"
