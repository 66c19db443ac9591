"""The resolved configuration of one run, saved as ``config.json`` and read back by ``--resume``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbrzoo.errors import ConfigError
from sbrzoo.presets import TRAINING_FIELDS, TrainingSettings

__all__ = ["RunConfig", "SELECT_ON", "VALID_SPLITS", "BACKENDS", "ENGINES", "PLACE_FIELDS", "RUN_DEFAULTS"]

# The choices of a run's fields, here (no torch import) for the CLI's options as for the code that runs them
SELECT_ON = ("valid", "test", "last")
VALID_SPLITS = ("last_sessions", "random", "none")  # sbrzoo.data.splits
BACKENDS = ("dgl", "torch")  # sbrzoo.graph.backends
ENGINES = ("eager", "static")  # the eager step on collated batches, or sbrzoo.engine.step's static-shape one
# Where and how a run executes, not what it computes: a run may be resumed on another machine, device or engine.
PLACE_FIELDS = ("data_dir", "device", "backend", "num_workers", "eval_batch_size", "deterministic", "engine")
# The protocol's defaults, the CLI's too: validation on the last 10% of training sessions, selected on HR@20.
RUN_DEFAULTS = {"valid_split": "last_sessions", "valid_fraction": 0.1, "select_on": "valid", "select_metric": "HR@20",
                "track_test": False, "num_workers": 0, "max_train_batches": None, "eval_batch_size": 500}


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to repeat a run.

    Attributes:
        model: Registered model name.
        dataset: Registered dataset name, or the folder's name when ``data_dir`` is given.
        data_dir: Folder of SR-GNN pickles overriding the registry's location.
        valid_split: ``"last_sessions"`` (default, leak-free), ``"random"`` (reference scripts) or ``"none"``.
        valid_fraction: Share of training sessions (or examples) held out.
        select_on: Epoch selection: ``"valid"`` (default), ``"test"`` (the original papers' protocol,
            labelled as such) or ``"last"``.
        select_metric: Metric that picks the epoch and drives early stopping.
        track_test: Also evaluate the test set after every epoch (to report the papers' protocol).
        seed: Seed of every random choice.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        backend: Graph backend, ``"dgl"`` or ``"torch"``.
        num_workers: DataLoader worker processes building batches.
        max_train_batches: Stop each epoch after this many batches (quick looks); None = full epoch.
        eval_batch_size: Batch size of evaluation.
        settings: The model's settings (``dim`` and its parts' own, see ``ModelSpec.settings``).
        training: How it is trained (batch size, epochs, optimiser, schedule, patience, AGC).
        deterministic: Ask torch for deterministic kernels (GPU; CPU runs repeat exactly anyway).
        engine: ``"eager"`` (default) or ``"static"``: static-shape batches built on the device, each
            shape's whole step captured as a CUDA graph on CUDA (:mod:`sbrzoo.engine.step`).
        overridden: The settings given explicitly, as ``"settings.<name>"`` / ``"training.<name>"``; the
            others are the preset's of the day the run was made (``()`` in configs saved before this was
            recorded). Experiment matrices keep a finished run made before its preset changed only where
            neither it nor the new call gave the setting (:func:`sbrzoo.matrix.plan_matrix`).
    """

    model: str
    dataset: str
    data_dir: str | None
    valid_split: str
    valid_fraction: float
    select_on: str
    select_metric: str
    track_test: bool
    seed: int
    device: str
    backend: str
    num_workers: int
    max_train_batches: int | None
    eval_batch_size: int
    settings: dict[str, Any]
    training: TrainingSettings
    deterministic: bool = False
    engine: str = "eager"
    overridden: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from sbrzoo.models import get_spec, list_models

        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.engine == "static":
            if not get_spec(self.model).static_shapes:
                static = [name for name in list_models() if get_spec(name).static_shapes]
                raise ConfigError(f"--engine static cannot train {self.model} (batch-wide state, LESSR's graphs or "
                                  f"value-dependent shapes); it trains {', '.join(static)}")
            if self.backend != "torch":
                raise ConfigError("--engine static builds torch graphs; use --backend torch")
        if self.select_on not in SELECT_ON:
            raise ConfigError(f"select_on must be one of {SELECT_ON}, got {self.select_on!r}")
        if self.select_on == "valid" and self.valid_split == "none":
            raise ConfigError("selecting on validation needs a validation split; use --valid-split last_sessions "
                              "or choose --select-on test|last")

    @classmethod
    def with_preset(cls, model: str, dataset: str, overrides: Mapping[str, Any] | None = None,
                    **fields: Any) -> RunConfig:  # noqa: ANN401 - any field's value
        """A run of ``model`` with its preset on ``dataset`` and ``overrides`` of its settings (as
        :func:`sbrzoo.presets.resolve_settings`); every field not in ``fields`` takes the value of a CPU
        run of the default protocol (validation on the last sessions, torch backend, eager, seed 0)."""
        from sbrzoo.models import get_spec
        from sbrzoo.presets import resolve_settings

        settings, training = resolve_settings(get_spec(model), dataset, overrides)
        given = sorted(f"{'settings' if name in settings else 'training'}.{name}"
                       for name, value in (overrides or {}).items() if value is not None)
        defaults = {**RUN_DEFAULTS, "data_dir": None, "seed": 0, "device": "cpu", "backend": "torch"}
        return cls(model=model, dataset=dataset, settings=settings, training=training, overridden=tuple(given),
                   **{**defaults, **fields})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The config of a ``config.json``, also one written before settings were split by part; every
        field, setting and training value checked for its type and range (a hand-edited ``"false"``
        string is not ``False``).

        Raises:
            ConfigError: naming the key that is missing, unknown, of the wrong type or out of range.
        """
        from sbrzoo.errors import UnknownNameError
        from sbrzoo.models import get_spec

        if not isinstance(data, dict):
            raise ConfigError(f"expected a JSON object, found {type(data).__name__}")
        try:
            if "hp" in data:
                data = _from_flat_hyperparameters(data)
            names = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(data) - names)
            missing = sorted(name for name in names - set(data) if name not in _ADDED_FIELDS)
            if unknown or missing:
                raise ConfigError("config does not match this version of sbrzoo: "
                                  + "; ".join([*(f"unknown key {k!r}" for k in unknown),
                                               *(f"missing key {k!r}" for k in missing)]))
            for name, kinds in _FIELD_TYPES.items():
                if name in data:
                    _check_type(name, data[name], kinds)
            overridden = data.get("overridden", [])
            if not isinstance(overridden, list) or not all(isinstance(key, str) for key in overridden):
                raise ConfigError(f"overridden: expected a list of setting names, got {json.dumps(overridden)[:40]}")
            spec = get_spec(data["model"])
            settings = _checked_values("settings", _with_renamed_settings(data), spec.settings())
            training = _checked_values("training", _with_added_training_keys(data["training"]),
                                       TrainingSettings().to_dict())
        except UnknownNameError as error:
            raise ConfigError(f"model: {error}") from None
        except (TypeError, KeyError, AttributeError) as error:
            raise ConfigError(f"config does not match this version of sbrzoo: {error}") from None
        from sbrzoo.metric_names import REPORTED
        from sbrzoo.presets import validate_values

        if data["select_metric"] not in REPORTED:
            raise ConfigError(f"select_metric: {data['select_metric']!r} is not one of {', '.join(REPORTED)}")
        training_settings = TrainingSettings(**training)
        validate_values(settings, training_settings)
        return cls(**{**data, "settings": settings, "training": training_settings, "overridden": tuple(overridden)})

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        """Read a saved ``config.json``; every error names the file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no config.json here; is this a run folder?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid JSON ({error})") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
        try:
            return cls.from_dict(data)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None


# Fields added after configs were saved without them (their defaults are what those runs had)
_ADDED_FIELDS = ("deterministic", "engine", "overridden")
# The JSON types of the fields of a config.json (None: null allowed)
_FIELD_TYPES: dict[str, tuple[type | None, ...]] = {
    "model": (str,), "dataset": (str,), "data_dir": (str, None), "valid_split": (str,), "valid_fraction": (float,),
    "select_on": (str,), "select_metric": (str,), "track_test": (bool,), "seed": (int,), "device": (str,),
    "backend": (str,), "num_workers": (int,), "max_train_batches": (int, None), "eval_batch_size": (int,),
    "deterministic": (bool,), "engine": (str,),
}


def _check_type(key: str, value: Any, kinds: tuple[type | None, ...]) -> None:  # noqa: ANN401 - a JSON value
    """A JSON value of one of ``kinds``: bools are not ints, ints are floats (``1`` for ``1.0``)."""
    if value is None and None in kinds:
        return
    for kind in (k for k in kinds if k is not None):
        if kind is bool and isinstance(value, bool):
            return
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return
        if kind is str and isinstance(value, str):
            return
    names = " or ".join("null" if k is None else {bool: "true/false", int: "an integer", float: "a number",
                                                   str: "a string"}[k] for k in kinds)
    raise ConfigError(f"{key}: expected {names}, got {json.dumps(value)[:40]}")


def _checked_values(group: str, values: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:  # noqa: ANN401
    """``values`` (a config's ``settings`` or ``training``) with exactly the keys of ``defaults``, each of
    its default's type (floats as floats)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{group}: expected an object, got {json.dumps(values)[:40]}")
    unknown, missing = sorted(set(values) - set(defaults)), sorted(set(defaults) - set(values))
    if unknown or missing:
        raise ConfigError(f"{group}: " + "; ".join([*(f"unknown key {k!r}" for k in unknown),
                                                     *(f"missing key {k!r}" for k in missing)]))
    checked = {}
    for key, default in defaults.items():
        kind = bool if isinstance(default, bool) else int if isinstance(default, int) else \
            float if isinstance(default, float) else str
        _check_type(f"{group}.{key}", values[key], (kind,))
        checked[key] = float(values[key]) if kind is float else values[key]
    return checked


# Training settings added after configs were saved without them, with the value those runs trained with
_ADDED_TRAINING_KEYS = {"agc_exclude_items": True, "drop_last": False, "stop_rule": "selected_metric"}


def _with_added_training_keys(training: Any) -> Any:  # noqa: ANN401 - checked by _checked_values
    """A saved ``training`` object with the settings added since, at the value it was trained with."""
    return {**_ADDED_TRAINING_KEYS, **training} if isinstance(training, dict) else training


def _with_renamed_settings(data: dict[str, Any]) -> Any:  # noqa: ANN401 - checked by _checked_values
    """A saved config's ``settings`` with the settings renamed since under today's names: STAN's and
    V-STAN's ``train_span_days`` as the ``sessions_per_day`` it was fitted with
    (:func:`~sbrzoo.models.neighbourhood.presets.sessions_per_day_of_span`)."""
    settings, span = data["settings"], None
    if isinstance(settings, dict):
        span = settings.get("train_span_days")
    if not isinstance(span, int | float) or isinstance(span, bool) or span <= 0:
        return settings  # nothing to rename, or a value that _checked_values refuses by name
    from sbrzoo.models.neighbourhood.presets import sessions_per_day_of_span

    rate = sessions_per_day_of_span(str(data["dataset"]), span, str(data["valid_split"]),
                                    float(data["valid_fraction"]))
    return {k: v for k, v in settings.items() if k != "train_span_days"} | {"sessions_per_day": rate}


_RENAMED = {"embedding_max_norm": "max_norm"}


def _from_flat_hyperparameters(data: dict[str, Any]) -> dict[str, Any]:
    """A config saved with one flat ``hp`` dict (sbrzoo 0.1, before the parts registry): model
    settings are the ones the model has, training settings the rest; ``fidelity: reference`` was
    a flag and is now the ``<model>_ref`` variant."""
    from sbrzoo.models import get_spec

    hp = {_RENAMED.get(k, k): v for k, v in data["hp"].items()}
    reference = hp.pop("fidelity", "paper") == "reference"
    model = f"{data['model']}_ref" if reference and data["model"] != "lessr" else data["model"]
    settings = {k: hp.get(k, default) for k, default in get_spec(model).settings().items()}  # new ones: defaults
    training = (TrainingSettings().to_dict() | {k: hp[k] for k in TRAINING_FIELDS if k in hp}
                | ({"lr_step_offset": 1} if reference else {}))
    rest = {k: v for k, v in data.items() if k != "hp"}
    return {**rest, "model": model, "settings": settings, "training": training}
