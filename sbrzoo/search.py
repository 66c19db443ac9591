"""A search over settings (``sbrzoo tune``): the trials of a grid, and the choice among the finished
ones on their validation scores alone. Torch-free."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sbrzoo.errors import DataError
from sbrzoo.matrix import run_folder
from sbrzoo.results import RunRecord

__all__ = ["grid_trials", "choose", "write_result"]


def grid_trials(values: Mapping[str, Sequence[Any]], trials: int | None, seed: int) -> dict[str, dict[str, Any]]:
    """The trials of a grid: ``"trial-<i>"`` -> one value of every setting, ``i`` the combination's
    index in the product of ``values`` (in the order given), so that the same grid names the same
    folders again.

    Args:
        values: Setting name -> the values to try.
        trials: How many combinations to draw at random, without replacement, seeded by ``seed``
            (None, or at least their number: every combination).
    """
    combinations = list(itertools.product(*values.values()))
    width = len(str(len(combinations) - 1))
    chosen: Sequence[int] = range(len(combinations))
    if trials is not None and trials < len(combinations):
        import numpy as np

        chosen = sorted(np.random.default_rng([seed]).choice(len(combinations), trials, replace=False).tolist())
    return {f"trial-{index:0{width}d}": dict(zip(values, combinations[index], strict=True)) for index in chosen}


def choose(out_dir: Path, trials: Mapping[str, Mapping[str, Any]], seed: int, metric: str) -> dict[str, Any]:
    """Every finished trial's validation ``metric`` at its selected epoch, best first, and the best
    one's test metrics (the only test figures the search reports).

    Returns:
        ``{"select_metric", "trials": [{"trial", "settings", "best_epoch", "valid"}, ...], "best": {...,
        "test"}}``.

    Raises:
        DataError: a trial has no finished record (it failed or was interrupted).
    """
    rows: list[dict[str, Any]] = []
    for trial, settings in trials.items():
        folder = run_folder(out_dir, trial, seed)
        record = RunRecord.load(folder)
        if record is None or not record.finished:
            raise DataError(f"{folder}: the trial has not finished; repeat the command to resume it")
        selected = next(epoch for epoch in record.epochs if epoch["epoch"] == record.best_epoch)
        rows.append({"trial": trial, "settings": dict(settings), "best_epoch": record.best_epoch,
                     "valid": selected["valid"][metric], "test": {k: v for k, v in record.test.items()
                                                                 if k != "seconds"}})
    rows.sort(key=lambda row: (-row["valid"] if math.isfinite(row["valid"]) else math.inf, row["trial"]))
    best = rows[0]
    return {"select_metric": metric, "trials": [{k: v for k, v in row.items() if k != "test"} for row in rows],
            "best": best}


def write_result(path: Path, payload: Mapping[str, Any]) -> None:
    """``tune.json``, written whole or not at all."""
    from sbrzoo.run_record import write_json_atomic

    write_json_atomic(path, dict(payload))
