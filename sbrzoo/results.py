"""The record of one run (``metrics.json``): written by the trainer, read by ``evaluate``,
``ablation`` and ``reproduce`` through this one schema."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVar

__all__ = ["EpochRecord", "RunRecord", "METRICS_FILE", "epoch_seconds"]

METRICS_FILE = "metrics.json"

_Record = TypeVar("_Record", bound="RunRecord")


class EpochRecord(TypedDict, total=False):
    """One epoch of a run (``"valid"`` / ``"test"`` only when that split was evaluated).

    Keys: ``epoch`` (1-based; 0 for a model fitted by counting), ``lr``, ``train_loss``,
    ``train_examples``, ``train_seconds``, ``train_examples_per_s``, ``valid`` and ``test``
    (metric -> percent), ``valid_seconds``, ``test_seconds``.
    """

    epoch: int
    lr: float
    train_loss: float
    train_examples: int
    train_seconds: float
    train_examples_per_s: float
    valid: dict[str, float]
    valid_seconds: float
    test: dict[str, float]
    test_seconds: float


def epoch_seconds(record: Mapping[str, Any]) -> float:
    """Wall time of one epoch record: its training plus its evaluations (missing or None count 0)."""
    return sum(float(record.get(key) or 0.0) for key in ("train_seconds", "valid_seconds", "test_seconds"))


@dataclass
class RunRecord:
    """What a run folder's ``metrics.json`` holds.

    Attributes:
        model, dataset: What was trained on what.
        epochs: One :class:`EpochRecord` per finished epoch.
        best_epoch: The selected epoch (None before the first).
        selected_on, select_metric: How it was selected (``"valid"`` / ``"test"`` / ``"last"``, ``"HR@20"``).
        test: Test metrics (percent) of the selected epoch, plus ``"seconds"``; empty until finished.
        test_ties: Test examples whose target shares its score with other items (None: a record
            written before ties were saved).
        test_pessimistic: The selected epoch's test metrics with ties counted against the target
            (equal to ``test``'s where no target ties; empty in records written before).
        environment: Where it ran (commit, versions, CPU, BLAS, threads, device).
        data: Fingerprint of its data (:mod:`sbrzoo.data.fingerprint`).
    """

    model: str
    dataset: str
    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    selected_on: str = "valid"
    select_metric: str = "HR@20"
    test: dict[str, float] = field(default_factory=dict)
    test_ties: int | None = None
    test_pessimistic: dict[str, float] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Whether the run has test metrics."""
        return bool(self.test)

    @property
    def best_test_over_epochs(self) -> dict[str, float]:
        """The original papers' protocol: the best test value of each metric over all epochs
        (only when the test set was tracked every epoch; else empty)."""
        tracked = [e["test"] for e in self.epochs if "test" in e]
        return {k: max(t[k] for t in tracked) for k in tracked[0]} if tracked else {}

    @property
    def seconds(self) -> float:
        """Wall time of the run: every epoch's training and evaluations, and the final test."""
        return sum(epoch_seconds(e) for e in self.epochs) + self.test.get("seconds", 0.0)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.best_test_over_epochs:
            data["best_test_over_epochs"] = self.best_test_over_epochs
        return data

    @classmethod
    def from_dict(cls: type[_Record], data: dict[str, Any]) -> _Record:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def load(cls: type[_Record], run_dir: Path) -> _Record | None:
        """The record in ``run_dir``, or None when it has none (yet) or it is unreadable."""
        try:
            return cls.from_dict(json.loads((Path(run_dir) / METRICS_FILE).read_text()))
        except (FileNotFoundError, ValueError, TypeError, AttributeError):  # ValueError: not JSON, not UTF-8
            return None
