"""sbrzoo: a DGL model zoo for session-based recommendation (SR-GNN, TAGNN, TAGNN++, LESSR)."""

from __future__ import annotations

import os

# DGL asks for a backend on first import; the zoo is PyTorch-only.
os.environ.setdefault("DGLBACKEND", "pytorch")

__version__ = "0.1.0"
__all__ = ["__version__"]
