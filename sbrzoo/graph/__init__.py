"""The graph seam: every graph operation an encoder uses, with a DGL and a plain-PyTorch backend.

Encoders call the functions of :mod:`sbrzoo.graph.ops`; they never import DGL. A batch's graphs are
either :class:`dgl.DGLGraph` (backend ``"dgl"``) or :class:`~sbrzoo.graph.torch_graph.TorchGraph`
(backend ``"torch"``), and each operation dispatches on the graph's type.
"""

from __future__ import annotations

from sbrzoo.graph.backends import BACKENDS, build_graph, dgl_available, resolve_backend

__all__ = ["BACKENDS", "build_graph", "dgl_available", "resolve_backend"]
