"""Validation splits of the training data (docs/MODELS.md §1.4).

* ``"last_sessions"`` (default, leak-free): the last ``fraction`` of the training **sessions** in
  time order become validation; train and validation are the prefix augmentations of the two
  parts, so no prefix of a validation session is trained on (the LESSR protocol,
  ``int(num_sessions·fraction)`` sessions).
* ``"random"`` (the SR-GNN / TAGNN / TAGNN++ scripts): the prefix **examples** are shuffled with a
  seeded RNG; the first ``round(n·(1 − fraction))`` train, the rest validate. Prefixes of one
  session land on both sides, so validation scores are optimistic (leaky); kept to reproduce the
  references.
* ``"none"``: every training example trains; no validation set.

Every split is deterministic: ``"last_sessions"`` uses no randomness, ``"random"`` draws from
``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import numpy as np

from sbrzoo.config import VALID_SPLITS
from sbrzoo.data.examples import Examples
from sbrzoo.data.sources import SESSIONS_FILE, Sessions
from sbrzoo.errors import ConfigError, DataError, unknown_name

__all__ = ["VALID_SPLITS", "check_split", "held_out_sessions", "split_last_sessions", "split_random",
           "validation_split"]



def check_split(method: str, fraction: float) -> None:
    """Check a split's settings before any data are read.

    Raises:
        UnknownNameError: unknown ``method``.
        ConfigError: ``fraction`` outside (0, 1) for a split that holds data out.
    """
    if method not in VALID_SPLITS:
        raise unknown_name("validation split", method, VALID_SPLITS)
    if method != "none" and not 0.0 < fraction < 1.0:
        raise ConfigError(f"valid_fraction must be in (0, 1), got {fraction}")


def held_out_sessions(num_sessions: int, fraction: float) -> int:
    """How many of ``num_sessions`` (at least 2) sessions :func:`split_last_sessions` holds out:
    ``int(num_sessions·fraction)``, at least one, leaving at least one."""
    return min(max(int(num_sessions * fraction), 1), num_sessions - 1)


def split_last_sessions(sessions: Sessions, fraction: float = 0.1) -> tuple[Examples, Examples]:
    """Hold out the last ``int(len(sessions)·fraction)`` whole sessions (at least one).

    Args:
        sessions: Training sessions in time order, S of them.
        fraction: Share of sessions held out, in (0, 1).

    Returns:
        ``(train, valid)``: prefix augmentations of the first and the last sessions.

    Raises:
        DataError: fewer than two sessions, so both parts cannot be non-empty.
    """
    num_sessions = len(sessions)
    if num_sessions < 2:
        raise DataError(f"cannot hold out whole sessions from {num_sessions} training session(s); "
                        "use valid_split='random' or 'none' (--valid-split)")
    cut = num_sessions - held_out_sessions(num_sessions, fraction)
    return sessions.slice(0, cut).augment(), sessions.slice(cut, num_sessions).augment()


def split_random(
    examples: Examples, fraction: float = 0.1, *, seed: int = 0
) -> tuple[Examples, Examples]:
    """The reference scripts' split: shuffle the n examples; the first ``round(n·(1 − f))`` train.

    Args:
        examples: Training prefix examples.
        fraction: Share of examples held out, in (0, 1).
        seed: Seed of ``np.random.default_rng`` drawing the permutation.

    Returns:
        ``(train, valid)``, each in shuffled order (as the references keep them).
    """
    order = np.random.default_rng(seed).permutation(len(examples))
    num_train = int(np.round(len(examples) * (1.0 - fraction)))
    return examples.subset(order[:num_train]), examples.subset(order[num_train:])


def validation_split(
    train: Sessions | Examples,
    method: str = "last_sessions",
    *,
    fraction: float = 0.1,
    seed: int = 0,
) -> tuple[Examples, Examples | None]:
    """Split the training data into train and validation examples.

    Args:
        train: Training sessions (time order), or prefix examples when the sessions are unknown.
        method: ``"last_sessions"``, ``"random"`` or ``"none"`` (see the module docstring).
        fraction: Share held out, in (0, 1); ignored by ``"none"``.
        seed: Seed of the ``"random"`` split.

    Returns:
        ``(train, valid)``; ``valid`` is None for ``"none"``.

    Raises:
        UnknownNameError: unknown ``method``.
        ConfigError: ``fraction`` outside (0, 1).
        DataError: ``"last_sessions"`` asked of prefix examples whose sessions are unknown; no
            training example at all; or the split leaves no training or no validation example.
    """
    check_split(method, fraction)
    total = train.num_examples if isinstance(train, Sessions) else len(train)
    if total == 0:
        raise DataError("no training examples (every training session has fewer than 2 clicks)"
                        if isinstance(train, Sessions) and len(train) else "no training examples")
    if method == "last_sessions":
        if not isinstance(train, Sessions):
            raise DataError(f"valid_split='last_sessions' needs whole training sessions "
                            f"({SESSIONS_FILE}, or a train.txt laid out session by session); "
                            "use valid_split='random' or 'none'")
        parts = split_last_sessions(train, fraction)
    else:
        examples = train.augment() if isinstance(train, Sessions) else train
        if method == "none":
            return examples, None
        parts = split_random(examples, fraction, seed=seed)
    for part, kept, fix in ((parts[0], "training", "lower"), (parts[1], "validation", "raise")):
        if not len(part):
            raise DataError(f"valid_fraction {fraction:g} (--valid-fraction) of a {method} split "
                            f"leaves no {kept} example of {total:,}; {fix} it, or train without validation "
                            "(--valid-split none with --select-on test or last)")
    return parts
