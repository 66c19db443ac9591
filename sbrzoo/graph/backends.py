"""Backend selection and batched-graph construction from edge lists."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from sbrzoo.config import BACKENDS
from sbrzoo.errors import ConfigError, unknown_name

__all__ = ["BACKENDS", "dgl_available", "resolve_backend", "build_graph"]



@functools.cache
def dgl_available() -> bool:
    """Whether DGL imports in this environment (PyPI's DGL needs torch <= 2.2.1)."""
    try:
        import dgl  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not usable here"
        return False
    return True


def resolve_backend(name: str | None) -> str:
    """Return the backend to use: ``name`` if given, else ``"dgl"`` where it imports, else ``"torch"``.

    Raises:
        UnknownNameError: ``name`` is not a backend.
        ConfigError: ``name`` is ``"dgl"`` but DGL cannot be imported.
    """
    if name is None:
        return "dgl" if dgl_available() else "torch"
    if name not in BACKENDS:
        raise unknown_name("graph backend", name, BACKENDS)
    if name == "dgl" and not dgl_available():
        raise ConfigError("graph backend 'dgl' requested but DGL does not import here; use --backend torch")
    return name


def build_graph(
    backend: str,
    src: Tensor,
    dst: Tensor,
    batch_num_nodes: Tensor,
    batch_num_edges: Tensor,
    edata: Mapping[str, Tensor] | None = None,
) -> Any:
    """Build one batched graph of ``B`` disjoint session graphs.

    Nodes and edges must already be numbered globally and grouped by session (graph ``b`` owns the
    ``batch_num_nodes[b]`` nodes and ``batch_num_edges[b]`` edges after those of graphs ``< b``);
    edge order is kept, so edge ids can encode time.

    Args:
        backend: ``"dgl"`` or ``"torch"``.
        src, dst: (E,) int64 global node ids.
        batch_num_nodes, batch_num_edges: (B,) int64.
        edata: per-edge tensors with leading dimension E.

    Returns:
        A :class:`dgl.DGLGraph` or a :class:`~sbrzoo.graph.torch_graph.TorchGraph`.
    """
    num_nodes = int(batch_num_nodes.sum())
    if backend == "dgl":
        import dgl

        graph = dgl.graph((src, dst), num_nodes=num_nodes, idtype=torch.int64)
        graph.set_batch_num_nodes(batch_num_nodes)
        graph.set_batch_num_edges(batch_num_edges)
    elif backend == "torch":
        from sbrzoo.graph.torch_graph import TorchGraph

        graph = TorchGraph(src, dst, batch_num_nodes, batch_num_edges, num_nodes=num_nodes)
    else:
        raise unknown_name("graph backend", backend, BACKENDS)
    for key, value in (edata or {}).items():
        graph.edata[key] = value
    return graph
