"""Encoder kernels: gated GNN step, EOPA, SGAT, Transformer block, readouts; forward and forward+backward."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import BACKENDS, DEVICE, DIMS, MODES, SIZES, make_batch, run_timed

from sbrzoo.nn.eopa import EOPAConv
from sbrzoo.nn.gated_gnn import GatedSessionGNN
from sbrzoo.nn.readout import LessrReadout, SoftAttentionReadout
from sbrzoo.nn.sgat import SGATConv
from sbrzoo.nn.state import SessionState, Widths
from sbrzoo.nn.transformer import TransformerBlock


def timed_layer(benchmark, sync, mode: str, forward: Callable[[], torch.Tensor], module: torch.nn.Module):  # noqa: ANN001, ANN201
    """Time ``forward`` (under no_grad) or forward + backward of its output's sum."""
    def fwd() -> torch.Tensor:
        with torch.no_grad():
            return forward()

    def fwd_bwd() -> torch.Tensor:
        module.zero_grad(set_to_none=True)
        out = forward()
        out.sum().backward()
        return out.detach()

    return run_timed(benchmark, fwd if mode == "fwd" else fwd_bwd, sync)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize(("batch_size", "profile"), SIZES)
def bench_gated_gnn(benchmark, sync, batch_size, profile, dim, backend, mode) -> None:  # noqa: ANN001
    batch = make_batch(batch_size, profile, ("session",), backend)
    graph = batch.graphs["session"]
    layer = GatedSessionGNN(Widths(dim, dim, dim)).to(DEVICE)
    feat = torch.randn(graph.num_nodes(), dim, device=DEVICE, requires_grad=mode != "fwd")
    benchmark.group = f"gated-gnn-{mode}"
    benchmark.extra_info.update(nodes=graph.num_nodes(), edges=graph.num_edges(), backend=backend)
    out = timed_layer(benchmark, sync, mode, lambda: layer.propagate(graph, feat), layer)
    assert out.shape == (graph.num_nodes(), dim)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize(("batch_size", "profile"), SIZES)
def bench_transformer_block(benchmark, sync, batch_size, profile, dim, mode) -> None:  # noqa: ANN001
    batch = make_batch(batch_size, profile, (), "torch")
    block = TransformerBlock(Widths(dim, dim, dim), heads=8 if dim % 8 == 0 else 2).to(DEVICE)
    seq = torch.randn(*batch.seq_nodes.shape, dim, device=DEVICE, requires_grad=mode != "fwd")
    benchmark.group = f"transformer-{mode}"
    benchmark.extra_info.update(positions=int(batch.lengths.sum()), padded=batch.seq_nodes.numel(), backend="torch")
    out = timed_layer(benchmark, sync, mode, lambda: block.encode(seq, batch.mask), block)
    assert out.shape == (*batch.seq_nodes.shape, dim)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize(("batch_size", "profile"), SIZES)
def bench_soft_attention_readout(benchmark, sync, batch_size, profile, dim, mode) -> None:  # noqa: ANN001
    batch = make_batch(batch_size, profile, (), "torch")
    readout = SoftAttentionReadout(Widths(dim, dim, dim), normalize=True).to(DEVICE)
    seq = torch.randn(*batch.seq_nodes.shape, dim, device=DEVICE, requires_grad=mode != "fwd")
    benchmark.group = f"soft-attention-readout-{mode}"
    benchmark.extra_info.update(positions=int(batch.lengths.sum()), backend="torch")
    out = timed_layer(benchmark, sync, mode, lambda: readout(batch, SessionState(None, seq, batch.mask)), readout)
    assert out.shape == (batch_size, dim)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layer_name", ["eopa", "sgat"])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize(("batch_size", "profile"), SIZES)
def bench_lessr_layer(benchmark, sync, batch_size, profile, dim, layer_name, backend, mode) -> None:  # noqa: ANN001
    kind = "eop" if layer_name == "eopa" else "shortcut"
    batch = make_batch(batch_size, profile, (kind,), backend)
    graph = batch.graphs[kind]
    layer = (EOPAConv if layer_name == "eopa" else SGATConv)(dim, dim).to(DEVICE)
    feat = torch.randn(graph.num_nodes(), dim, device=DEVICE, requires_grad=mode != "fwd")
    benchmark.group = f"{layer_name}-{mode}"
    benchmark.extra_info.update(nodes=graph.num_nodes(), edges=graph.num_edges(), backend=backend)
    out = timed_layer(benchmark, sync, mode, lambda: layer(graph, feat), layer)
    assert out.shape == (graph.num_nodes(), dim)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize(("batch_size", "profile"), SIZES)
def bench_lessr_readout(benchmark, sync, batch_size, profile, dim, backend, mode) -> None:  # noqa: ANN001
    batch = make_batch(batch_size, profile, ("eop",), backend)
    width = 4 * dim  # input of the readout after 3 layers
    readout = LessrReadout(Widths(dim, width, dim)).to(DEVICE)
    feat = torch.randn(len(batch.node_items), width, device=DEVICE, requires_grad=mode != "fwd")
    benchmark.group = f"lessr-readout-{mode}"
    benchmark.extra_info.update(nodes=len(batch.node_items), backend=backend)
    out = timed_layer(benchmark, sync, mode, lambda: readout(batch, SessionState(feat, None, batch.mask)), readout)
    assert out.shape == (batch_size, dim)
