"""User-facing errors. The CLI turns every :class:`SbrzooError` into a one-line message and exit 1."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["SbrzooError", "ConfigError", "DataError", "UnknownNameError", "TrainingDiverged", "Interrupted",
           "unknown_name", "one_line"]


def one_line(error: object, limit: int = 200) -> str:
    """``str(error)`` on one line (runs of whitespace, newlines included, become one space), cut to
    ``limit`` characters, for quoting a library's message inside a :class:`DataError`."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SbrzooError(Exception):
    """Base class of every error a user can cause; its message says what to fix.

    Attributes:
        exit_code: The process's exit status when the CLI reports it (1; 130 for an interrupt).
    """

    exit_code = 1


class ConfigError(SbrzooError):
    """A configuration value or option is invalid."""


class DataError(SbrzooError):
    """A dataset file is missing, malformed or unsafe; the message names the file and the problem."""


class UnknownNameError(SbrzooError):
    """A registry lookup (model, dataset, backend, part) failed."""


class TrainingDiverged(SbrzooError):
    """The training loss became nan or infinite; the last good checkpoint is kept."""


class Interrupted(SbrzooError):
    """The user pressed Ctrl-C; the message says how to continue."""

    exit_code = 130


def unknown_name(kind: str, name: str, choices: Iterable[str], hint: str = "") -> UnknownNameError:
    """Build an :class:`UnknownNameError` with a "did you mean" suggestion.

    Args:
        kind: What was looked up, e.g. ``"model"``.
        name: The name the user gave.
        choices: The valid names.
        hint: Command that lists the valid names, appended to the message.
    """
    choices = sorted(choices)
    by_lower = {choice.lower(): choice for choice in choices}
    close = [by_lower[c] for c in difflib.get_close_matches(name.lower(), list(by_lower), n=1)]
    message = f"unknown {kind} {name!r}"
    message += f"; did you mean {close[0]!r}?" if close else f"; choose one of: {', '.join(choices)}"
    if hint:
        message += f" (see: {hint})"
    return UnknownNameError(message)
