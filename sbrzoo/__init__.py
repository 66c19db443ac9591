"""sbrzoo: a DGL model zoo for session-based recommendation (SR-GNN, TAGNN, TAGNN++, LESSR)."""

from __future__ import annotations

import os

# DGL asks for a backend on first import; the zoo is PyTorch-only.
os.environ.setdefault("DGLBACKEND", "pytorch")

__version__ = "0.1.0"
__all__ = ["__version__", "load_run"]


def __getattr__(name: str):  # noqa: ANN202 - lazy, so that `import sbrzoo` stays light (no torch)
    if name == "load_run":  # a run folder as a Recommender (sbrzoo/recommend.py)
        from sbrzoo.recommend import load_recommender

        return load_recommender
    raise AttributeError(f"module 'sbrzoo' has no attribute {name!r}")
