"""Training curves of a run from its ``metrics.json``: the per-epoch table and a PNG of the training loss
and the validation HR@20 / MRR@20 by epoch, the selected epoch marked; and, with ``--tensorboard``, the
same epochs as TensorBoard event files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from sbrzoo.errors import ConfigError, DataError
from sbrzoo.paths import refuse_to_replace
from sbrzoo.results import METRICS_FILE, RunRecord, epoch_seconds

__all__ = ["RunCurves", "load_curves", "curves_table", "plot_curves", "write_epochs_csv", "CURVE_METRICS",
           "EPOCHS_FILE", "CURVES_FILE", "TENSORBOARD_DIR", "TensorBoardLog", "check_tensorboard"]

CURVE_METRICS = ("HR@20", "MRR@20")
EPOCHS_FILE, CURVES_FILE = "epochs.csv", "curves.png"  # what every run folder gets beside metrics.json
TENSORBOARD_DIR = "tensorboard"  # the event files of `sbrzoo train --tensorboard`, in the run folder


class RunCurves(RunRecord):
    """The epochs of one run (its :class:`~sbrzoo.results.RunRecord`), as rows and curves."""

    @property
    def split(self) -> str | None:
        """The split whose metrics are drawn: validation, else the tracked test split, else none."""
        for split in ("valid", "test"):
            if any(isinstance(e.get(split), dict) for e in self.epochs):
                return split
        return None

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per epoch: epoch, lr, train_loss, <split> HR@20 and MRR@20 (percent), seconds."""
        rows = []
        for record in self.epochs:
            row = {"epoch": record.get("epoch"), "lr": record.get("lr"), "train_loss": record.get("train_loss")}
            for split in ("valid", "test"):
                metrics = record.get(split)
                if isinstance(metrics, dict):
                    row |= {f"{split} {m}": metrics.get(m) for m in CURVE_METRICS}
            row["seconds"] = epoch_seconds(record)
            rows.append(row)
        return rows


def write_epochs_csv(curves: RunCurves, path: Path) -> None:
    """``path``: one row per epoch (epoch, lr, train_loss, validation / tracked test HR@20 and MRR@20,
    seconds), written atomically."""
    import csv

    from sbrzoo.data.pickles import atomic_write_bytes

    rows = curves.rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(dict.fromkeys(key for row in rows for key in row)) or ["epoch"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(Path(path), buffer.getvalue().encode())


def load_curves(run_dir: Path) -> RunCurves:
    """Read ``run_dir/metrics.json`` (as data: JSON only).

    Raises:
        ConfigError: no run folder there. DataError: the file is not the trainer's JSON.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no metrics.json (not a run folder of `sbrzoo train`, or no epoch "
                          "finished yet)")
    curves = RunCurves.load(run_dir)
    if curves is None or not isinstance(curves.epochs, list) or not all(isinstance(e, dict) for e in curves.epochs):
        raise DataError(f"{path}: not the trainer's record (readable JSON with an \"epochs\" list of records)")
    return curves


def curves_table(curves: RunCurves):  # noqa: ANN201 - rich Table
    """The per-epoch table, the selected epoch starred."""
    from sbrzoo.report import LiteralTable

    rows = curves.rows()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    selected = curves.best_epoch is not None  # epoch 0: a counting model's statistics
    note = f"* selected epoch ({curves.select_metric} on {curves.selected_on})" if selected else None
    table = LiteralTable(title=f"{curves.model} on {curves.dataset}: {len(rows)} epochs (metrics in %)", caption=note)
    for column in columns:
        table.add_column(column, justify="left" if column == "epoch" else "right", no_wrap=True)
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if column == "epoch":
                cells.append(f"{value}{' *' if value == curves.best_epoch else ''}")
            elif value is None:
                cells.append("-")
            elif column == "lr":
                cells.append(f"{value:.3g}")
            elif column == "train_loss":
                cells.append(f"{value:.4f}")
            elif column == "seconds":
                cells.append(f"{value:.1f}")
            else:
                cells.append(f"{value:.2f}")
        table.add_row(*cells)
    return table


def plot_curves(curves: RunCurves, path: Path, *, overwrite: bool = False) -> Path:
    """Draw the training loss and the validation (else tracked test) HR@20 and MRR@20 by epoch into a
    PNG at ``path``, the selected epoch marked; written atomically.

    Raises:
        ConfigError: ``path`` exists without ``overwrite``. DataError: no finished epoch.
    """
    from sbrzoo.figures import pyplot, save_figure

    path = Path(path)
    refuse_to_replace(path, overwrite)
    if not curves.epochs:
        raise DataError("no finished epoch to draw")
    rows, split = curves.rows(), curves.split
    epochs = [row["epoch"] for row in rows]
    figure, axes = pyplot().subplots(1, 2 if split else 1, figsize=(10 if split else 5, 3.6), squeeze=False)
    loss_axis = axes[0][0]
    loss_axis.plot(epochs, [row["train_loss"] for row in rows], marker="o", color="tab:red")
    loss_axis.set(title="training loss", xlabel="epoch", ylabel="loss")
    if split:
        axis = axes[0][1]
        for metric, colour in zip(CURVE_METRICS, ("tab:blue", "tab:green"), strict=True):
            axis.plot(epochs, [row.get(f"{split} {metric}") for row in rows], marker="o", color=colour,
                      label=metric)
        axis.set(title=f"{'validation' if split == 'valid' else 'test'} metrics", xlabel="epoch", ylabel="%")
        axis.legend()
    for axis in axes[0]:
        if curves.best_epoch is not None:
            axis.axvline(curves.best_epoch, color="grey", linestyle="--", linewidth=1, label="selected")
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(f"{curves.model} on {curves.dataset}" + (f" (selected epoch {curves.best_epoch})"
                                                               if curves.best_epoch is not None else ""))
    save_figure(figure, path, dpi=110)
    return path


def check_tensorboard() -> None:
    """Raises: ConfigError: the ``tensorboard`` package (which ``torch.utils.tensorboard`` writes with) is
    missing, with how to install it."""
    try:
        import torch.utils.tensorboard  # noqa: F401 - raises ImportError without the tensorboard package
    except ImportError:
        raise ConfigError('--tensorboard needs the tensorboard package: pip install -e ".[tensorboard]"') from None


class TensorBoardLog:
    """A run's epochs as TensorBoard scalars in ``folder`` (``tensorboard --logdir RUN/tensorboard``), one
    point per epoch at step = epoch: ``train/loss``, ``train/lr``, ``valid/<metric>`` and, when tracked,
    ``test/<metric>`` for every reported metric (percent), and at the end ``selected_test/<metric>``,
    the test metrics of the selected epoch at its step.

    A resumed run's first write repeats the epochs before it from ``metrics.json``, in a new event file
    whose ``purge_step`` hides what an interrupted writer left from that epoch on, so every epoch shows
    once.

    Args:
        folder: Where the event files go (made when first written).

    Raises:
        ConfigError: the tensorboard package is missing (see :func:`check_tensorboard`).
    """

    def __init__(self, folder: Path) -> None:
        check_tensorboard()
        self.folder = Path(folder)
        self._writer: Any = None
        self._last_epoch: int | None = None  # the last epoch written

    def write(self, curves: RunCurves, *, final: bool = False) -> None:
        """Add the epochs of ``curves`` not written yet (and, with ``final``, the selected epoch's test
        metrics, then close the files); flushed to disk before it returns."""
        new = [e for e in curves.epochs if self._last_epoch is None or e.get("epoch", 0) > self._last_epoch]
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            first = new[0].get("epoch", 0) if new else 0
            self._writer = SummaryWriter(str(self.folder), purge_step=first)
        for record in new:
            step = record.get("epoch", 0)
            for name, key in (("train/loss", "train_loss"), ("train/lr", "lr")):
                if record.get(key) is not None:
                    self._writer.add_scalar(name, record.get(key), step)
            for split in ("valid", "test"):
                metrics = record.get(split)
                for metric, value in (metrics.items() if isinstance(metrics, dict) else ()):
                    self._writer.add_scalar(f"{split}/{metric}", value, step)
            self._last_epoch = step
        if final and isinstance(curves.test, dict) and curves.best_epoch is not None:
            for metric, value in curves.test.items():
                if metric != "seconds":
                    self._writer.add_scalar(f"selected_test/{metric}", value, curves.best_epoch)
        self._writer.flush()
        if final:
            self._writer.close()
