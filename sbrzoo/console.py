"""The one rich console of the zoo (stderr) and logging set-up."""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["console", "setup_logging", "say", "is_quiet"]

console = Console(stderr=True)
_quiet = False


def say(*objects: object, **options: Any) -> None:  # noqa: ANN401 - console.print's options
    """``console.print`` of an informational line (what runs where, what was written): silent with
    ``sbrzoo -q``, which keeps only warnings and results."""
    if not _quiet:
        console.print(*objects, **options)


def is_quiet() -> bool:
    """Whether ``sbrzoo -q`` asked for warnings and results only (no progress bars either)."""
    return _quiet


def setup_logging(verbosity: int = 0) -> None:
    """Send the ``sbrzoo`` logger to the console: -1 quiet (warnings), 0 info, 1+ debug."""
    global _quiet  # noqa: PLW0603 - the one switch of the process's console
    _quiet = verbosity < 0
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logger = logging.getLogger("sbrzoo")
    logger.handlers[:] = [RichHandler(console=console, show_path=False, show_time=False, markup=False)]
    logger.setLevel(level)
    logger.propagate = False
