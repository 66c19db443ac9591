"""LESSR encoder and readout: widths, parameter counts, gradients, backend parity (docs/MODELS.md §3.5)."""

from __future__ import annotations

import pytest
import torch
from helpers import collate, random_prefixes

from sbrzoo.nn.eopa import EOPAConv
from sbrzoo.nn.lessr import LessrEncoder
from sbrzoo.nn.readout import LessrReadout
from sbrzoo.nn.sgat import SGATConv
from sbrzoo.nn.state import SessionState, Widths

PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1, 3, 8], [6, 6, 6, 6], [9, 1], [7, 3, 5, 3]]


def make_batch(backend: str, prefixes: list[list[int]] = PREFIXES, kinds=("eop", "shortcut")):
    return collate(prefixes, kinds, backend)


def make_parts(
    dim: int = 8, num_layers: int = 4, seed: int = 0, dropout: float = 0.2
) -> tuple[LessrEncoder, LessrReadout]:
    torch.manual_seed(seed)
    encoder = LessrEncoder(Widths(dim, dim, dim), num_layers=num_layers, dropout=dropout)
    return encoder, LessrReadout(encoder.out_widths, dropout=dropout)


def pool(readout: LessrReadout, batch, nodes: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    """The readout of node states ``nodes`` (N, D)."""
    return readout(batch, SessionState(nodes=nodes, clicks=None, mask=batch.mask))


@pytest.mark.parametrize(("num_layers", "count"), [(4, 112_032), (3, 95_168)])
def test_parameter_count(num_layers: int, count: int) -> None:
    encoder, readout = make_parts(32, num_layers)
    assert sum(p.numel() for m in (encoder, readout) for p in m.parameters()) == count


def test_parameter_count_by_part() -> None:
    """d = 32, K = 4 (docs/MODELS.md §3.5): EOPA 2D + 3D(2D) + 3D + 2dD + d, SGAT 2D + 3dD + 2d, readout."""
    encoder, readout = make_parts(32, 4)

    def eopa(width: int) -> int:
        return 2 * width + 6 * width * width + 6 * width + 2 * 32 * width + 32

    def sgat(width: int) -> int:
        return 2 * width + 3 * 32 * width + 32 + 32 + 32

    counts = [sum(p.numel() for p in layer.parameters()) for layer in encoder.layers]
    assert counts == [eopa(32), sgat(64), eopa(96), sgat(128)]
    # BN 2*160, W_u, W_v (+ b_v), w_e, W_out, PReLU, BN 2*192, W_sr
    assert sum(p.numel() for p in readout.parameters()) == (
        320 + 3 * 32 * 160 + 32 + 32 + 32 + 384 + 32 * 192
    )


def test_one_layer_needs_only_the_eop_graph() -> None:
    encoder, readout = make_parts(8, 1)
    batch = make_batch("torch", kinds=("eop",))
    out = pool(readout, batch, encoder.encode(batch, torch.randn(len(batch.node_items), 8)))
    assert out.shape == (len(PREFIXES), 8) and torch.isfinite(out).all()


def test_layers_alternate_and_widen() -> None:
    encoder, _ = make_parts(8, 4)
    assert [type(layer) for layer in encoder.layers] == [EOPAConv, SGATConv, EOPAConv, SGATConv]
    assert [layer.in_dim for layer in encoder.layers] == [8, 16, 24, 32]
    batch = make_batch("torch")
    feat = torch.randn(len(batch.node_items), 8)
    out = encoder.eval().encode(batch, feat)
    assert out.shape == (len(batch.node_items), 40)
    torch.testing.assert_close(out[:, -8:], feat)  # [out ; X]: the input stays last


def test_readout_matches_per_session_loop() -> None:
    _, readout = make_parts(8, 2)
    readout.eval()
    batch = make_batch("torch")
    state = torch.randn(len(batch.node_items), 24)
    x = readout.batch_norm(state)
    rows, offset = [], 0
    for count, last in zip(batch.batch_num_nodes.tolist(), batch.last_node.tolist()):
        nodes = x[offset:offset + count]
        e = readout.fc_e(torch.sigmoid(readout.fc_u(nodes) + readout.fc_v(x[last]))).squeeze(-1)
        pooled = readout.fc_out((torch.softmax(e, 0)[:, None] * nodes).sum(0))
        rows.append(torch.cat([state[last], readout.activation(pooled[None])[0]]))
        offset += count
    expected = readout.fc_sr(readout.sr_norm(torch.stack(rows)))
    torch.testing.assert_close(pool(readout, batch, state), expected, atol=1e-6, rtol=1e-5)


def test_gradient_reaches_every_parameter() -> None:
    encoder, readout = make_parts()
    batch = make_batch("torch")
    feat = torch.randn(len(batch.node_items), 8)
    pool(readout, batch, encoder.encode(batch, feat)).square().sum().backward()
    named = [*encoder.named_parameters(prefix="encoder"), *readout.named_parameters(prefix="readout")]
    missing = [name for name, p in named if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize(
    ("prefixes", "train"),
    [(PREFIXES, False), (PREFIXES + random_prefixes(40, seed=5), False),
     (PREFIXES + random_prefixes(40, seed=5), True), ([[3], [7], [1], [3]], False)],
    ids=["mixed", "random", "random_train", "no_edges"],
)
def test_backends_agree_on_outputs_and_gradients(prefixes: list[list[int]], train: bool) -> None:
    """Eval mode with dropout, or training mode (batch statistics) with dropout 0: no random draws."""
    encoder, readout = make_parts(dropout=0.0 if train else 0.2)
    encoder.train(train), readout.train(train)
    feat = torch.randn(len(make_batch("torch", prefixes).node_items), 8)
    results = []
    for backend in ("dgl", "torch"):
        encoder.zero_grad(), readout.zero_grad()
        batch = make_batch(backend, prefixes)
        x = feat.clone().requires_grad_()
        out = pool(readout, batch, encoder.encode(batch, x))
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = [p.grad for m in (encoder, readout) for p in m.parameters()]
        results.append((out.detach(), x.grad, [None if g is None else g.clone() for g in grads]))
    (out_d, x_d, g_d), (out_t, x_t, g_t) = results
    assert out_d.shape == (len(prefixes), 8) and torch.isfinite(out_d).all()
    torch.testing.assert_close(out_d, out_t, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x_d, x_t, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_d, g_t):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_reset_parameters_gives_pytorch_defaults() -> None:
    encoder, readout = make_parts(8, 3)
    with torch.no_grad():
        for p in [*encoder.parameters(), *readout.parameters()]:
            p.fill_(7.0)
    encoder.reset_parameters(), readout.reset_parameters()
    for module in [*encoder.modules(), *readout.modules()]:
        if isinstance(module, torch.nn.PReLU):
            assert torch.all(module.weight == 0.25)
        elif isinstance(module, torch.nn.BatchNorm1d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
        elif isinstance(module, torch.nn.Linear):
            assert module.weight.abs().max() <= module.in_features**-0.5


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="num_layers"):
        LessrEncoder(Widths(8, 8, 8), num_layers=0)
    with pytest.raises(ValueError, match="shortcut"):
        batch = make_batch("torch", kinds=("eop",))
        LessrEncoder(Widths(8, 8, 8), num_layers=2).encode(batch, torch.zeros(len(batch.node_items), 8))


def test_rejects_wrong_widths() -> None:
    encoder, readout = make_parts(8, 2)
    batch = make_batch("torch")
    with pytest.raises(ValueError, match="expected node features"):
        encoder.encode(batch, torch.zeros(len(batch.node_items), 9))
    with pytest.raises(ValueError, match="expected node states"):
        pool(readout, batch, torch.zeros(len(batch.node_items), 8))
