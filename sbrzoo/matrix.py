"""The experiment matrix behind ``sbrzoo ablation`` and ``sbrzoo reproduce``: (model, seed) runs in
folders that resume, and one :class:`Cell` per model summarising its finished seeds.

A run lives in ``<folder>/<model>/seed-<n>`` (a :class:`~sbrzoo.trainer.Trainer` run folder, so it
checkpoints per epoch and resumes across calls); ``reproduce`` keeps one such folder per dataset.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sbrzoo.config import PLACE_FIELDS, RunConfig
from sbrzoo.errors import ConfigError, DataError
from sbrzoo.metric_names import PAPER_METRICS
from sbrzoo.models import get_spec
from sbrzoo.results import RunRecord

__all__ = ["Cell", "run_folder", "settings_differences", "check_same_settings", "plan_matrix", "train_runs",
           "run_matrix", "mean_and_std", "summarize_cell", "unfinished_runs", "preset_deviations", "runs_on_disk",
           "PAPER_METRICS"]

log = logging.getLogger(__name__)
# fields of a config that do not change what a run computes: where it runs, and which settings were asked for
_NOT_SETTINGS = (*PLACE_FIELDS, "overridden")


def run_folder(out_dir: Path, model: str, seed: int) -> Path:
    """Where the run of ``model`` with ``seed`` lives under ``out_dir``: ``<out_dir>/<model>/seed-<seed>``."""
    return Path(out_dir) / model / f"seed-{seed}"


def settings_differences(folder: Path, config: RunConfig) -> dict[str, tuple[Any, Any]]:
    """Every setting in which the run saved in ``folder`` differs from ``config``: ``key -> (there,
    now)``, where the run executes aside; none for a folder without a run."""
    if not (folder / "config.json").is_file():
        return {}
    there = _flatten(RunConfig.load(folder / "config.json").to_dict())  # defaults filled in
    now = _flatten(config.to_dict())
    return {key: (there.get(key), value) for key, value in now.items()
            if key not in _NOT_SETTINGS and there.get(key) != value}


def check_same_settings(folder: Path, config: RunConfig) -> None:
    """Refuse to reuse ``folder`` when the run saved there was made with settings other than ``config``'s.

    Raises:
        ConfigError: naming the folder and every differing setting.
    """
    differing = [f"{key}: {there!r} there, {now!r} now" for key, (there, now) in
                 settings_differences(folder, config).items()]
    if differing:
        raise ConfigError(f"{folder} holds a run with other settings ({'; '.join(differing)}); "
                          "choose another --out or remove the folder")


def _asking_the_preset(config: RunConfig) -> set[str]:
    """The (flattened) settings in which ``config`` takes its model's preset value on its dataset."""
    from sbrzoo.presets import resolve_settings

    settings, training = resolve_settings(get_spec(config.model), config.dataset)
    preset = _flatten({"settings": settings, "training": training.to_dict()})
    now = _flatten(config.to_dict())
    return {key for key, value in preset.items() if now.get(key) == value}


def _given_either_time(folder: Path, config: RunConfig) -> set[str]:
    """The settings given explicitly to the run saved in ``folder`` or to ``config``."""
    return set(config.overridden) | set(RunConfig.load(folder / "config.json").overridden)


def _flatten(config: dict[str, Any]) -> dict[str, Any]:
    nested = ("settings", "training")
    flat = {k: v for k, v in config.items() if k not in nested}
    return flat | {f"{group}.{k}": v for group in nested for k, v in config[group].items()}


def plan_matrix(configs: Mapping[str, RunConfig], seeds: Sequence[int], out_dir: Path) -> list[tuple[RunConfig, Path]]:
    """The (config, folder) runs of ``configs`` × ``seeds`` under ``out_dir`` still to train, every one
    checked before any trains.

    A run whose folder has test metrics is kept, unless it was trained on other data files than
    ``configs`` name now. One made with other settings stops everything (see
    :func:`check_same_settings`), unless it finished and differs only in settings that neither it
    nor the new config gave explicitly (:attr:`RunConfig.overridden`), each at the preset's value
    now: a preset that changed since the run, which the tables mark as the run's deviation from the
    preset (:func:`preset_deviations`; a log line says so). A run with a checkpoint but no test
    metrics is resumed from its last finished epoch.

    Raises:
        ConfigError: a run folder holds a run with other settings.
        DataError: a finished run was trained on other data, or the data of a run to train is missing.
        UnknownNameError: a config names an unknown dataset.
    """
    todo = []
    for seed in seeds:
        for model in configs:
            folder = run_folder(out_dir, model, seed)
            record = RunRecord.load(folder)
            config = dataclasses.replace(configs[model], seed=seed)
            if record is None or not record.finished:
                check_same_settings(folder, config)
                _data_files(config)  # found, before anything trains
                todo.append((config, folder))
                continue
            _check_same_data_files(folder, record, config)
            differing = settings_differences(folder, config)  # none without a config.json
            if differing and set(differing) <= _asking_the_preset(config) - _given_either_time(folder, config):
                log.info("%s seed %d already finished, kept: made before its preset changed (%s; the tables "
                         "mark it)", model, seed, "; ".join(f"{k}: {a!r} there, {b!r} now"
                                                           for k, (a, b) in differing.items()))
                continue
            check_same_settings(folder, config)
            log.info("%s seed %d already finished, skipped", model, seed)
    return todo


def train_runs(todo: Sequence[tuple[RunConfig, Path]], train: Callable[[RunConfig, Path, bool, float | None], object],
               *, deadline: float | None = None, jobs: int = 1) -> None:
    """Train (or resume) every run of ``todo`` (from :func:`plan_matrix`); after ``deadline`` (a
    :func:`time.monotonic` time, the same clock in every process) none is started or resumed.

    Args:
        train: ``train(config, folder, resume, deadline)`` trains one run; with ``jobs > 1`` it runs in
            worker processes, so it must be a module-level function.
        jobs: Runs trained at once, each in its own process (packing several runs on one GPU).
    """
    if jobs == 1:
        for config, folder in todo:
            _train_before(train, config, folder, deadline)
    else:
        _train_in_processes(train, todo, deadline, jobs)


def run_matrix(
    configs: Mapping[str, RunConfig],
    seeds: Sequence[int],
    out_dir: Path,
    train: Callable[[RunConfig, Path, bool, float | None], object],
    *,
    deadline: float | None = None,
    jobs: int = 1,
) -> dict[tuple[str, int], RunRecord | None]:
    """Train every (name, seed) not yet finished in ``out_dir`` (:func:`plan_matrix`, then
    :func:`train_runs`), the run of ``configs[name]`` with that seed in ``run_folder(out_dir, name,
    seed)``; return every run's finished record (None for runs left unfinished at ``deadline``)."""
    train_runs(plan_matrix(configs, seeds, out_dir), train, deadline=deadline, jobs=jobs)
    results: dict[tuple[str, int], RunRecord | None] = {}
    for seed in seeds:
        for model in configs:
            record = RunRecord.load(run_folder(out_dir, model, seed))
            results[(model, seed)] = record if record is not None and record.finished else None
    return results


def _data_files(config: RunConfig) -> tuple[Path, ...]:
    """The data files ``config``'s run reads (none for generated data); raises as :func:`dataset_files`."""
    from sbrzoo.data.registry import dataset_files

    return dataset_files(config.dataset, data_dir=Path(config.data_dir) if config.data_dir else None)


def _check_same_data_files(folder: Path, record: RunRecord, config: RunConfig) -> None:
    """Refuse to keep the finished run in ``folder`` when the files ``config`` reads differ from those it
    was trained on (by name, size and sha256); nothing to compare when they are absent here.

    Raises:
        DataError: naming the folder and every difference.
    """
    from sbrzoo.data.fingerprint import compare_fingerprints, file_fingerprint

    saved = record.data.get("files") if record.data else None
    if not saved:  # generated data, or a run from before fingerprints
        return
    try:
        files = _data_files(config)
    except DataError:
        return
    differences = compare_fingerprints({"files": saved}, {"files": [file_fingerprint(path) for path in files]})
    if differences:
        raise DataError(f"{folder} holds a run trained on other data: {'; '.join(differences)}; "
                        "choose another --out or point --data-dir at the run's data")


def _train_in_processes(train: Callable[[RunConfig, Path, bool, float | None], object],
                        todo: Sequence[tuple[RunConfig, Path]], deadline: float | None, jobs: int) -> None:
    """``train`` every run of ``todo``, ``jobs`` at a time in spawned processes (CUDA cannot fork). The
    first run to fail cancels the runs the pool has not handed to its workers yet (up to ``jobs + 1``
    are queued there and still run); its error is raised once the others have ended (each keeps its
    checkpoint, so the next call resumes the unfinished)."""
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_train_before, train, config, folder, deadline) for config, folder in todo]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((future for future in futures if future in done and future.exception() is not None), None)
        if failed is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            failed.result()


def _train_before(train: Callable[[RunConfig, Path, bool, float | None], object], config: RunConfig,
                  folder: Path, deadline: float | None) -> None:
    """In a worker: ``train`` the run unless ``deadline`` has passed while it waited for its turn."""
    if deadline is None or time.monotonic() < deadline:
        train(config, folder, (folder / "last.pt").is_file(), deadline)


def mean_and_std(runs: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample standard deviation of every metric but ``seconds``; no standard deviation
    (an empty dict) for one run, which has no spread to show."""
    keys = [k for k in runs[0] if k != "seconds"]
    mean = {k: statistics.fmean(r[k] for r in runs) for k in keys}
    std = {k: statistics.stdev(r[k] for r in runs) for k in keys} if len(runs) > 1 else {}
    return mean, std


@dataclass(frozen=True)
class Cell:
    """One model on one dataset, over the seeds finished so far.

    Attributes:
        mean, std: Test metrics (%) of the selected epoch, over ``seeds`` (``std`` empty for one seed).
        best_test: Mean over seeds of the best test value of each metric over all epochs: what
            the original papers' protocol (selection on the test set) would report. Optimistic.
        paper: The paper's figures for this cell (HR@20 = P@20, MRR@20).
        selected_epochs, epochs_run: Per finished seed.
        seconds: Mean wall time of one finished run (training, evaluations, final test).
        pending: One line per planned seed that has not finished (``"seed 2: 4 epochs done"``).
        deviations: Every setting in which the finished runs differ from the model's preset
            (``"patience 3 (preset 10)"``, ``"max_train_batches 2000"``), so that a shortened run
            never passes for a full one.
    """

    dataset: str
    model: str
    seeds: tuple[int, ...]
    mean: dict[str, float]
    std: dict[str, float]
    best_test: dict[str, float]
    paper: dict[str, float]
    selected_epochs: tuple[int | None, ...]
    epochs_run: tuple[int, ...]
    seconds: float
    device: str
    git_commit: str
    pending: tuple[str, ...]
    deviations: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return get_spec(self.model).label

    def mean_std(self, metric: str) -> str:
        """``"51.20 ± 0.31"`` over two or more seeds, else ``"51.20"`` (percent, two decimals)."""
        value = f"{self.mean[metric]:.2f}"
        return f"{value} ± {self.std[metric]:.2f}" if metric in self.std else value

    def difference(self, metric: str) -> float | None:
        """Ours minus the paper's, in points (None without a paper figure)."""
        return self.mean[metric] - self.paper[metric] if metric in self.paper else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = self.label
        data["difference"] = {m: self.difference(m) for m in PAPER_METRICS if m in self.paper}
        return data


def summarize_cell(model_dir: Path, dataset: str, model: str, seeds: Sequence[int]) -> Cell | None:
    """The cell of ``model`` on ``dataset`` from its run folders ``model_dir/seed-<n>``; None when
    no seed has finished."""
    folders = {seed: Path(model_dir) / f"seed-{seed}" for seed in seeds}
    records = {seed: RunRecord.load(folder) for seed, folder in folders.items()}
    finished = {seed: r for seed, r in records.items() if r is not None and r.finished}
    if not finished:
        return None
    runs = list(finished.values())
    mean, std = mean_and_std([run.test for run in runs])
    tracked = [run.best_test_over_epochs for run in runs if run.best_test_over_epochs]
    environment = runs[-1].environment
    return Cell(
        dataset=dataset,
        model=model,
        seeds=tuple(finished),
        mean=mean,
        std=std,
        best_test=mean_and_std(tracked)[0] if tracked else {},
        paper=dict(get_spec(model).reference.get(dataset, {})),
        selected_epochs=tuple(run.best_epoch for run in runs),
        epochs_run=tuple(len(run.epochs) for run in runs),
        seconds=statistics.fmean(run.seconds for run in runs),
        device=environment.get("device_name") or environment.get("device", "?"),
        git_commit=environment.get("git_commit") or "?",
        pending=tuple(unfinished_runs(model_dir, seeds)),
        deviations=tuple(dict.fromkeys(d for seed in finished for d in preset_deviations(folders[seed]))),
    )


def unfinished_runs(model_dir: Path, seeds: Sequence[int]) -> list[str]:
    """``"seed 2: 4 epochs done"`` for every seed in ``model_dir`` without test metrics."""
    lines = []
    for seed in seeds:
        record = RunRecord.load(Path(model_dir) / f"seed-{seed}")
        if record is None or not record.finished:
            lines.append(f"seed {seed}: {len(record.epochs) if record else 0} epochs done")
    return lines


def preset_deviations(folder: Path) -> list[str]:
    """The settings of the run in ``folder`` that differ from its model's preset on its dataset
    (model and training settings, and a cut of the epochs by ``max_train_batches``)."""
    from sbrzoo.presets import resolve_settings

    config = RunConfig.load(folder / "config.json")
    settings, training = resolve_settings(get_spec(config.model), config.dataset)
    preset = settings | training.to_dict()
    chosen = config.settings | config.training.to_dict()
    deviations = [f"{name} {value} (preset {preset[name]})" for name, value in chosen.items() if value != preset[name]]
    if config.max_train_batches is not None:
        deviations.append(f"max_train_batches {config.max_train_batches}")
    return deviations


def runs_on_disk(runs_dir: Path) -> dict[str, dict[str, list[int]]]:
    """``{dataset: {model: [seeds]}}`` of every run folder under ``runs_dir``
    (``<dataset>/<model>/seed-<n>`` holding a ``config.json``), models in registry order."""
    from sbrzoo.models import list_models

    order = {name: index for index, name in enumerate(list_models())}
    found: dict[str, dict[str, list[int]]] = {}
    for config in sorted(Path(runs_dir).glob("*/*/seed-*/config.json")):
        seed_dir = config.parent
        model, dataset = seed_dir.parent.name, seed_dir.parent.parent.name
        seed = seed_dir.name.removeprefix("seed-")
        if model in order and seed.isdigit():
            found.setdefault(dataset, {}).setdefault(model, []).append(int(seed))
    return {dataset: {m: sorted(models[m]) for m in sorted(models, key=order.__getitem__)}
            for dataset, models in found.items()}
