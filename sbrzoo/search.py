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

__all__ = ["grid_trials", "train_trial", "choose", "write_result", "DIVERGED_FILE"]

#: Written into a trial's folder when its training diverged: the trial is then done, and failed
DIVERGED_FILE = "diverged.txt"


def grid_trials(values: Mapping[str, Sequence[Any]], trials: int | None, seed: int) -> dict[str, dict[str, Any]]:
    """The trials of a grid: a name from the values (``"dim=16,lr=0.01"``, the folder of the trial, so
    that a trial keeps its folder when the grid grows) -> one value of every setting.

    Args:
        values: Setting name -> the values to try.
        trials: How many combinations to draw at random, without replacement, seeded by ``seed``
            (None, or at least their number: every combination, in the order of their product).
    """
    combinations = list(itertools.product(*values.values()))
    chosen: Sequence[int] = range(len(combinations))
    if trials is not None and trials < len(combinations):
        import numpy as np

        chosen = sorted(np.random.default_rng([seed]).choice(len(combinations), trials, replace=False).tolist())
    settings = [dict(zip(values, combinations[index], strict=True)) for index in chosen]
    return {",".join(f"{name}={value}" for name, value in setting.items()): setting for setting in settings}


def train_trial(config: Any, folder: Path, resume: bool, deadline: float | None) -> None:  # noqa: ANN401 - RunConfig
    """Train one trial (:func:`sbrzoo.experiment.train_cell`); one whose loss diverges is recorded as
    failed (:data:`DIVERGED_FILE`) instead of stopping the search, and is not trained again."""
    from sbrzoo.errors import TrainingDiverged
    from sbrzoo.experiment import train_cell

    if (folder / DIVERGED_FILE).is_file():
        return
    try:
        train_cell(config, folder, resume, deadline)
    except TrainingDiverged as error:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / DIVERGED_FILE).write_text(f"{error}\n", encoding="utf-8")


def choose(out_dir: Path, trials: Mapping[str, Mapping[str, Any]], seed: int, metric: str) -> dict[str, Any]:
    """Every trial's validation ``metric`` at its selected epoch, best first (diverged trials last, with
    their error), and the best one's test metrics (the only test figures the search reports).

    Returns:
        ``{"select_metric", "trials": [{"trial", "settings", "best_epoch", "valid", "diverged"}, ...],
        "best": {..., "test"}}``.

    Raises:
        DataError: a trial has no finished record (it was interrupted), or no trial has a finite score.
    """
    rows: list[dict[str, Any]] = []
    for trial, settings in trials.items():
        folder = run_folder(out_dir, trial, seed)
        row: dict[str, Any] = {"trial": trial, "settings": dict(settings), "best_epoch": None,
                               "valid": math.nan, "diverged": None}
        record = RunRecord.load(folder)
        if (folder / DIVERGED_FILE).is_file():
            row["diverged"] = (folder / DIVERGED_FILE).read_text(encoding="utf-8").strip()
        elif record is None or not record.finished:
            raise DataError(f"{folder}: the trial has not finished; repeat the command to resume it")
        else:
            selected = next(epoch for epoch in record.epochs if epoch["epoch"] == record.best_epoch)
            row |= {"best_epoch": record.best_epoch, "valid": selected["valid"][metric],
                    "test": {k: v for k, v in record.test.items() if k != "seconds"}}
        rows.append(row)
    rows.sort(key=lambda row: (-row["valid"] if math.isfinite(row["valid"]) else math.inf, row["trial"]))
    if not math.isfinite(rows[0]["valid"]):
        raise DataError(f"{out_dir}: no trial has a finite validation {metric} (diverged or NaN); nothing to choose")
    return {"select_metric": metric, "trials": [{k: v for k, v in row.items() if k != "test"} for row in rows],
            "best": rows[0]}


def write_result(path: Path, payload: Mapping[str, Any]) -> None:
    """``tune.json``, written whole or not at all."""
    from sbrzoo.run_record import write_json_atomic

    write_json_atomic(path, dict(payload))
