"""Device names (``cpu``, ``cuda``, ``cuda:N``, ``auto``) checked against this machine."""

from __future__ import annotations

import logging
import re

import torch

from sbrzoo.errors import ConfigError

__all__ = ["resolve_device", "recorded_device_or_cpu"]

logger = logging.getLogger(__name__)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` where available, else ``cpu``; ``cpu``, ``cuda`` and ``cuda:N`` as given.

    Raises:
        ConfigError: not one of those names, or a CUDA device this machine does not have (one line).
    """
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    found = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", name)
    if found is None or (found.group(1) == "cpu" and found.group(2)):
        raise ConfigError(f"device {name!r}: expected cpu, cuda, cuda:N or auto")
    if found.group(1) == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}: CUDA is not available on this machine")
        if int(found.group(2) or 0) >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return name


def recorded_device_or_cpu(name: str) -> str:
    """The device a run recorded, or ``cpu`` (logged) when this machine lacks it: a run trained on a
    GPU elsewhere still loads for evaluation, recommendation and export."""
    try:
        return resolve_device(name)
    except ConfigError as error:
        logger.warning("%s; running on the CPU instead", error)
        return "cpu"
