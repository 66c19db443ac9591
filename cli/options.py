"""Options shared by `train` and `ablation`, and their conversion into a RunConfig."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from sbrzoo.config import BACKENDS, ENGINES, PLACE_FIELDS, RUN_DEFAULTS, SELECT_ON, VALID_SPLITS
from sbrzoo.models import FIDELITIES, list_models

DEFAULT_SEED = 1  # one default for train, ablation and reproduce (the reproduction's first seed)
MAX_SEED = 2**32 - 1  # numpy and torch take seeds up to this

_TRAINING_OPTIONS: dict[str, Callable[[Callable], Callable]] = {
    "dataset": click.option(
        "--dataset", default=None, help="Registered dataset (see `sbrzoo datasets`); default: synthetic."),
    "data_dir": click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Folder of SR-GNN pickles (all_train_seq.txt or train.txt, and test.txt)."),
    "epochs": click.option(
        "--epochs", type=click.IntRange(min=1), default=None,
        help="Training epochs (preset by default; see `sbrzoo train --dry-run`)."),
    "batch_size": click.option("--batch-size", type=click.IntRange(min=1), default=None),
    "lr": click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Learning rate."),
    "weight_decay": click.option("--weight-decay", type=click.FloatRange(min=0), default=None, help="L2 penalty."),
    "dim": click.option("--dim", type=click.IntRange(min=1), default=None, help="Embedding / hidden size."),
    "heads": click.option("--heads", type=click.IntRange(min=1), default=None, help="Transformer heads."),
    "dropout": click.option("--dropout", type=click.FloatRange(min=0, max=1, max_open=True), default=None),
    "num_layers": click.option("--num-layers", type=click.IntRange(min=1), default=None,
                               help="LESSR layers; GC-SAN self-attention blocks."),
    "patience": click.option(
        "--patience", type=click.IntRange(min=1), default=None, help="Early-stopping patience (epochs)."),
    "fidelity": click.option(
        "--fidelity", type=click.Choice(FIDELITIES), default=None,
        help="paper: the described model; reference: its variant that behaves as the released code "
             "(MODEL_ref, see `sbrzoo models '*_ref'`)."),
    "set": click.option(
        "--set", "set_", multiple=True, metavar="NAME=VALUE",
        help="Any setting of the model or its training (see `sbrzoo models MODEL --dataset D`); repeatable."),
    "valid_split": click.option(
        "--valid-split", type=click.Choice(VALID_SPLITS), default=RUN_DEFAULTS["valid_split"],
        show_default=True,
        help="last_sessions: the last sessions of training (leak-free); random: prefixes drawn at random "
             "as the reference scripts do (leaky). --valid-fraction sets the share."),
    "valid_fraction": click.option(
        "--valid-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=RUN_DEFAULTS["valid_fraction"], show_default=True),
    "select_on": click.option(
        "--select-on", type=click.Choice(SELECT_ON), default=RUN_DEFAULTS["select_on"], show_default=True,
        help="Which split picks the reported epoch; 'test' mimics the original papers (optimistic)."),
    "select_metric": click.option(
        "--select-metric", default=RUN_DEFAULTS["select_metric"], show_default=True,
        callback=lambda _, __, value: parse_metric(value),
        help="Metric that picks the epoch: HR@K, MRR@K or NDCG@K for K = 10 or 20 (any case)."),
    "track_test": click.option(
        "--track-test/--no-track-test", default=RUN_DEFAULTS["track_test"],
        help="Also evaluate the test set every epoch (to report the papers' best-test protocol)."),
    "device": click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto."),
    "deterministic": click.option(
        "--deterministic", is_flag=True,
        help="GPU: deterministic kernels where torch has them (slower); CPU runs repeat exactly anyway."),
    "engine": click.option(
        "--engine", type=click.Choice(ENGINES), default="eager", show_default=True,
        help="static: batches of a few padded shapes built on the device, each shape's whole step captured "
             "as a CUDA graph on a GPU (torch backend; the engine column of `sbrzoo models` says what it trains)."),
    "backend": click.option(
        "--backend", type=click.Choice(BACKENDS), default=None,
        help="Graph backend (default: dgl where it imports, else torch)."),
    "seed": click.option("--seed", type=click.IntRange(0, MAX_SEED), default=DEFAULT_SEED, show_default=True,
                         help="Seed of every random choice (0 .. 2^32-1)."),
    "num_workers": click.option(
        "--num-workers", type=click.IntRange(min=0), default=RUN_DEFAULTS["num_workers"], show_default=True,
        help="DataLoader worker processes."),
    "max_train_batches": click.option(
        "--max-train-batches", type=click.IntRange(min=1), default=None,
        help="Cut every epoch after this many batches (quick looks)."),
    "eval_batch_size": click.option(
        "--eval-batch-size", type=click.IntRange(min=1), default=RUN_DEFAULTS["eval_batch_size"], show_default=True),
}

def _read_config_file(ctx: click.Context, _: click.Parameter, path: Path | None) -> None:
    """``--config FILE.toml``: option values by name, as the command's defaults, so that the options
    given on the command line win (defaults < model preset < file < flags). Keys are the options'
    long names without dashes (``epochs = 5``, ``valid-split = "none"``, ``set = ["heads=4"]``).

    Raises:
        click.BadParameter: the file is not TOML, names an option the command does not have, or gives one
            a value of another type (:func:`_file_value`).
    """
    import tomllib

    if path is None:
        return
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise click.BadParameter(f"{path}: {error}") from None
    names = {opt.lstrip("-"): param.name for param in ctx.command.params for opt in param.opts
             if opt.startswith("--") and param.name != "config"}
    known = {key: names.get(key.replace("_", "-"), names.get(key)) for key in values}
    unknown = sorted(key for key, name in known.items() if name is None)
    if unknown:
        from sbrzoo.errors import unknown_name

        raise click.BadParameter(f"{path}: {unknown_name('option', unknown[0], sorted(names))}")
    params = {param.name: param for param in ctx.command.params}
    checked = {name: _file_value(path, key, values[key], params[name], ctx) for key, name in known.items() if name}
    ctx.default_map = {**(ctx.default_map or {}), **checked}


def _file_value(path: Path, key: str, value: Any, param: click.Parameter, ctx: click.Context) -> Any:  # noqa: ANN401
    """A ``--config`` file's value for ``param``, converted as the command line would be, but strictly:
    true/false only for flags, never for other options; integers, not ``2.5``, where an integer is
    expected; a list for repeatable options.

    Raises:
        click.BadParameter: naming the file, the key and the value.
    """
    import json

    where = f"{path}: {key} = {json.dumps(value, default=str)[:40]}"
    if getattr(param, "multiple", False):
        if not isinstance(value, list):
            raise click.BadParameter(f"{where}: expected a list such as [\"dim=8\"]")
        other = next((item for item in value if not isinstance(item, str)), None)
        if other is not None:
            raise click.BadParameter(f"{path}: {key} = {json.dumps(other, default=str)[:40]}: expected a string")
        return [_file_value(path, key, item, _single(param), ctx) for item in value]
    if getattr(param, "is_flag", False):
        if not isinstance(value, bool):
            raise click.BadParameter(f"{where}: expected true or false")
        return value
    kind, accepted = (("an integer", (int, str)) if isinstance(param.type, click.types.IntParamType)
                      else ("a number", (int, float, str)) if isinstance(param.type, click.types.FloatParamType)
                      else ("a string", (str, int)) if type(param.type) is click.types.StringParamType
                      else ("a string", (str,)))  # paths, choices
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise click.BadParameter(f"{where}: expected {kind}")
    try:
        return param.type.convert(value, param, ctx)
    except click.BadParameter as error:
        raise click.BadParameter(f"{where}: {error.message}") from None


def _single(param: click.Parameter) -> click.Parameter:
    """``param`` as one value of a repeatable option (to check a list's items one by one)."""
    import copy

    single = copy.copy(param)
    single.multiple = False
    return single


_CONFIG_FILE_OPTION = click.option(
    "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, is_eager=True,
    expose_value=False, callback=_read_config_file,
    help="TOML file of option values by their long names (epochs = 5, set = [\"heads=4\"]); "
         "options on the command line win.")

#: ``--jobs`` of the experiment matrices (``sbrzoo reproduce``, ``sbrzoo ablation``).
jobs_option = click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
    help="Runs trained at once, each in its own process (to pack several runs on one GPU).")



def loaded_run_options(*, placement: bool = True) -> Callable[[Callable], Callable]:
    """The options of the commands that load a finished run (evaluate, export, recommend, serve):
    ``--data-dir``, and with ``placement`` also ``--device`` and ``--backend``."""
    options = [click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                            help="Where the run's data is now, if it has moved since training.")]
    if placement:
        options += [
            click.option("--device", default=None,
                         help="cpu, cuda, cuda:N or auto (default: where it was trained, else the CPU)."),
            click.option("--backend", type=click.Choice(BACKENDS), default=None,
                         help="Override the graph backend."),
        ]

    def decorate(function: Callable) -> Callable:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


# Options that set one setting of the same name (a model's part setting or a training setting).
SETTING_OPTIONS = ("epochs", "batch_size", "lr", "weight_decay", "dim", "heads", "dropout", "num_layers", "patience")


def training_options(command: Callable | None = None, *, without: Sequence[str] = ()) -> Callable:
    """Decorate a click command with the shared training options, except those named in ``without``,
    and ``--config FILE.toml`` (:func:`_read_config_file`).

    Usable bare (``@training_options``) or called (``@training_options(without=("seed",))``).
    """
    unknown = set(without) - set(_TRAINING_OPTIONS)
    if unknown:
        raise ValueError(f"no training options named {sorted(unknown)}")

    def decorate(function: Callable) -> Callable:
        for name, option in reversed(_TRAINING_OPTIONS.items()):
            if name not in without:
                function = option(function)
        return _CONFIG_FILE_OPTION(function)

    return decorate if command is None else decorate(command)


def parse_seeds(_: click.Context | None, __: click.Parameter | None, value: str) -> list[int]:
    """Click callback: ``"1,2,3"`` -> ``[1, 2, 3]``; repeats dropped (one run folder per seed), each
    seed in ``--seed``'s range."""
    try:
        seeds = list(dict.fromkeys(int(s) for s in value.split(",") if s.strip()))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not seeds:
        raise click.BadParameter("give at least one seed")
    outside = [seed for seed in seeds if not 0 <= seed <= MAX_SEED]
    if outside:
        raise click.BadParameter(f"seed {outside[0]} is not in the range 0 to {MAX_SEED}")
    return seeds


def expand_models(patterns: str, option: str, fidelity: str | None = None) -> list[str]:
    """Comma-separated model names or fnmatch patterns -> registered names, in order, without repeats;
    with ``fidelity="reference"`` each one's released-code variant (``<model>_ref``), so that its runs,
    folders and table rows are named after the model that trained, never after the paper's."""
    names: list[str] = []
    if not patterns.strip(" ,"):
        raise click.BadParameter("name at least one model (see `sbrzoo models`)", param_hint=option)
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        matched = list_models(pattern)
        if not matched:
            raise click.BadParameter(f"{pattern!r} matches no model (see `sbrzoo models`)", param_hint=option)
        names += [m for m in (model_variant(name, fidelity).name for name in matched) if m not in names]
    return names


def parse_model(_: click.Context | None, __: click.Parameter | None, value: str) -> str:
    """Click callback: a registered model name, any case; unknown names get a did-you-mean error."""
    from sbrzoo.models import get_spec

    return get_spec(value).name


def parse_metric(value: str) -> str:
    """``"hr@20"`` -> ``"HR@20"``; anything but a reported metric is an error listing them."""
    from sbrzoo.metric_names import REPORTED as names

    for name in names:
        if value.strip().upper() == name:
            return name
    raise click.BadParameter(f"{value!r} is not a reported metric; choose one of {', '.join(names)}",
                             param_hint="--select-metric")


def build_config(model: str, options: dict[str, Any]):  # noqa: ANN201 - RunConfig (lazy import)
    """Turn parsed options into a resolved :class:`~sbrzoo.config.RunConfig`."""
    from sbrzoo.config import RunConfig
    from sbrzoo.devices import resolve_device
    from sbrzoo.graph import resolve_backend

    data_dir: Path | None = options["data_dir"]
    dataset = options["dataset"] or (data_dir.resolve().name if data_dir else "synthetic")  # `.` has no name
    spec = model_variant(model, options["fidelity"])
    overrides = {k: options[k] for k in SETTING_OPTIONS} | parse_set_options(spec, options["set_"])
    config = RunConfig.with_preset(
        spec.name, dataset, overrides,
        data_dir=str(data_dir.resolve()) if data_dir else None,
        valid_split=options["valid_split"],
        valid_fraction=options["valid_fraction"],
        select_on=options["select_on"],
        select_metric=options["select_metric"],
        track_test=options["track_test"],
        seed=options["seed"],
        device=resolve_device(options["device"]),
        backend=resolve_backend(options["backend"] or ("torch" if options["engine"] == "static" else None)),
        num_workers=options["num_workers"],
        max_train_batches=options["max_train_batches"],
        eval_batch_size=options["eval_batch_size"],
        deterministic=options["deterministic"],
        engine=options["engine"],
    )
    check_parts_accept(spec.name, config.settings)
    _say_when_no_dataset_preset(dataset)
    return config


@functools.cache
def _say_when_no_dataset_preset(dataset: str) -> None:
    """Once per dataset name: say so when it is not a registered dataset, whose presets do not apply."""
    from sbrzoo.console import say
    from sbrzoo.data.registry import list_datasets

    if dataset not in {info.name for info in list_datasets()}:
        say(f"{dataset!r} is not a registered dataset (`sbrzoo datasets`): the models' general presets apply "
            "(`sbrzoo models MODEL` lists them); --dataset NAME picks a registered one's")


def model_variant(model: str, fidelity: str | None):  # noqa: ANN201 - ModelSpec
    """``model``'s spec, or with ``fidelity="reference"`` its released-code variant ``<model>_ref``."""
    from sbrzoo.errors import ConfigError
    from sbrzoo.models import get_spec, list_models

    spec = get_spec(model)
    if fidelity != "reference" or spec.fidelity == "reference":
        return spec
    if f"{spec.name}_ref" not in list_models():
        raise ConfigError(f"{spec.name} has no released-code variant (models with one: "
                          f"{', '.join(m.removesuffix('_ref') for m in list_models('*_ref'))})")
    return get_spec(f"{spec.name}_ref")


def parse_set_options(spec: Any, items: Sequence[str], option: str = "--set") -> dict[str, Any]:  # noqa: ANN401
    """``("heads=4", "causal=false")`` -> ``{"heads": 4, "causal": False}``, typed like the defaults of
    ``spec`` (a ModelSpec); errors name ``option``, where the items were given."""
    from sbrzoo.errors import ConfigError
    from sbrzoo.presets import TrainingSettings, parse_setting

    defaults = {**TrainingSettings().to_dict(), **spec.settings()}
    parsed = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ConfigError(f"{option} {item!r}: expected NAME=VALUE")
        if name not in defaults:  # named in the error that resolve_settings gives
            parsed[name] = text
            continue
        try:
            parsed[name] = parse_setting(text, defaults[name])
        except ConfigError as error:
            raise ConfigError(f"{option} {item!r}: {error}") from None
    return parsed


def check_parts_accept(model: str, settings: dict[str, Any]) -> None:
    """Build the model once on a two-item catalogue, so that settings a part rejects (e.g. heads that
    do not divide the width) fail now, in one line, not after the data has loaded.

    Raises:
        ConfigError: the part's own message.
    """
    from sbrzoo.errors import ConfigError
    from sbrzoo.models import create_model

    try:
        create_model(model, 2, settings)
    except (ValueError, TypeError, AssertionError) as error:
        raise ConfigError(f"{model}: {error}") from None


def given_options(context: click.Context, names: Sequence[str]) -> set[str]:
    """The options among ``names`` that the user set (command line or environment), not defaults."""
    from click.core import ParameterSource

    explicit = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {name for name in names if context.get_parameter_source(name) in explicit}


# What a resumed run may change: how long it goes on, and where it runs.
RESUMABLE_CHANGES = ("epochs", "patience", *PLACE_FIELDS)


def resume_config(run_dir: Path, options: dict[str, Any], given: set[str]):  # noqa: ANN201 - RunConfig
    """The saved config of ``run_dir`` with the options the user gave applied where a resumed run
    may change them (:data:`RESUMABLE_CHANGES`); returns ``(config, ["epochs 2 -> 4", ...])``.

    Raises:
        ConfigError: another given option differs from the run's setting (each one listed), or the run's
        device is absent here and ``--device`` was not given.
    """
    import dataclasses

    from sbrzoo.config import RunConfig
    from sbrzoo.devices import resolve_device
    from sbrzoo.errors import ConfigError
    from sbrzoo.presets import TRAINING_FIELDS

    config = RunConfig.load(run_dir / "config.json")
    if "device" not in given:
        try:
            resolve_device(config.device)
        except ConfigError as error:
            raise ConfigError(f"{run_dir}: the run trained on {config.device} ({error}); resume it with "
                              "--device cpu or another device") from None
    if given & {"fidelity", "set_"}:
        raise ConfigError(f"{run_dir}: --resume continues a run with its own settings; --fidelity and --set "
                          "cannot change them. Start a new run with --out instead")
    wanted = {name: _normalised(name, options[name]) for name in given}
    recorded = {**config.settings, **config.training.to_dict(), **config.to_dict()}
    saved = {name: recorded.get(name) for name in wanted}
    differing = {name: value for name, value in wanted.items() if value != saved[name]}
    refused = [f"--{name.replace('_', '-')} {value} (the run has {saved[name]})"
               for name, value in differing.items() if name not in RESUMABLE_CHANGES]
    if refused:
        raise ConfigError(f"{run_dir}: --resume continues a run with its own settings; these options differ: "
                          f"{', '.join(refused)}. Start a new run with --out instead")
    changes = [f"{name} {saved[name]} -> {value}" for name, value in differing.items()]
    training = {name: value for name, value in differing.items() if name in TRAINING_FIELDS}
    run = {name: value for name, value in differing.items() if name not in TRAINING_FIELDS}
    overridden = tuple(sorted({*config.overridden, *(f"training.{name}" for name in training)}))
    return dataclasses.replace(config, training=dataclasses.replace(config.training, **training), overridden=overridden,
                               **run), changes


def _normalised(name: str, value: Any) -> Any:  # noqa: ANN401 - an option's value
    """An option's value as the config stores it."""
    if name == "device":
        from sbrzoo.devices import resolve_device

        return resolve_device(value)
    if name == "data_dir" and value is not None:
        return str(Path(value).resolve())
    return value


def check_out_folder(out_dir: Path, option: str = "--out") -> None:
    """Refuse an output folder (``option``) that cannot be made: on a file or below one, or in a
    folder this user cannot write.

    Raises:
        ConfigError: naming the file or folder in the way.
    """
    import os

    from sbrzoo.errors import ConfigError

    for parent in [out_dir, *out_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {out_dir}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(f"{option} {out_dir}: {parent} is not writable")
            return


def check_run_folder(out_dir: Path, *, overwrite: bool) -> None:
    """Refuse ``--out`` below a file, on a file, or on a folder holding files unless ``overwrite``.

    Raises:
        ConfigError: naming the folder and what to do.
    """
    from sbrzoo.errors import ConfigError

    check_out_folder(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        held = ", ".join(sorted(p.name for p in out_dir.iterdir())[:5])
        raise ConfigError(f"--out {out_dir} already holds files ({held}); choose another folder, continue "
                          f"the run with --resume {out_dir}, or replace it with --overwrite")


def settings_table(config: Any, *, title: str):  # noqa: ANN001, ANN201 - RunConfig -> rich Table
    """Every setting of a run config, one per line (``settings.NAME`` of the model, ``training.NAME``)."""
    from sbrzoo.report import LiteralTable

    table = LiteralTable(title=title)
    table.add_column("setting", no_wrap=True)
    table.add_column("value", no_wrap=True)
    settings = {k: v for k, v in config.to_dict().items() if k not in ("settings", "training")}
    settings |= {f"settings.{k}": v for k, v in config.settings.items()}
    settings |= {f"training.{k}": v for k, v in config.training.to_dict().items()}
    for name, value in settings.items():
        table.add_row(name, str(value))
    return table
