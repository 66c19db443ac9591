"""Figures as PNG files: matplotlib without a display, each file written whole or not at all."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from sbrzoo.data.pickles import atomic_write_bytes

__all__ = ["pyplot", "save_figure"]


def pyplot() -> Any:  # noqa: ANN401 - the matplotlib.pyplot module (lazy import)
    """``matplotlib.pyplot`` on the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: Path, dpi: int) -> None:  # noqa: ANN401 - a matplotlib Figure
    """Lay out ``figure``, write it to ``path`` as a PNG atomically, and close it."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    pyplot().close(figure)
    atomic_write_bytes(path, buffer.getvalue())
