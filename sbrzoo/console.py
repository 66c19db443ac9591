"""The one rich console of the zoo (stderr) and logging set-up."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["console", "setup_logging"]

console = Console(stderr=True)


def setup_logging(verbosity: int = 0) -> None:
    """Send the ``sbrzoo`` logger to the console: -1 quiet (warnings), 0 info, 1+ debug."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logger = logging.getLogger("sbrzoo")
    logger.handlers[:] = [RichHandler(console=console, show_path=False, show_time=False, markup=False)]
    logger.setLevel(level)
    logger.propagate = False
