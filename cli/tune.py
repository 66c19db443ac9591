"""`sbrzoo tune`: a search over settings, chosen on the validation split, the test split shown once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.options import SETTING_OPTIONS, build_config, jobs_option, model_variant, parse_set_options, training_options


@click.command("tune", short_help="Search settings on the validation split; test metrics of the choice only.")
@click.option("--model", required=True, help="Registered model (see `sbrzoo models`).")
@click.option("--grid", "grid", multiple=True, required=True, metavar="NAME=V1,V2,...",
              help="Values to try of one model or training setting (as --set takes them); repeatable: "
                   "the trials are the combinations.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Trials drawn at random (seeded by --seed) from the combinations; default: every one.")
@training_options
@jobs_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: runs/tune-<model>-<dataset>); finished trials in it are not retrained.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout instead of a table.")
def tune_command(*, model: str, grid: tuple[str, ...], trials: int | None, jobs: int, out: Path | None,
                 as_json: bool, **options: Any) -> None:
    """Train MODEL once per combination of the --grid values (or --trials of them) and choose the one
    with the best validation score (--select-metric at each trial's selected epoch). The test split
    chooses nothing: the table shows validation scores, and only the chosen setting's test metrics
    (so --select-on must stay valid, --valid-split must not be none, and --track-test is refused).
    Repeating the command resumes unfinished trials and keeps finished ones."""
    from cli.options import check_out_folder
    from sbrzoo.errors import ConfigError
    from sbrzoo.matrix import run_matrix
    from sbrzoo.report import LiteralTable, metrics_table, show_json, show_table
    from sbrzoo.search import choose, grid_trials, train_trial, write_result

    if options["select_on"] != "valid" or options["valid_split"] == "none" or options["track_test"]:
        raise ConfigError("sbrzoo tune chooses on the validation split and never looks at the test split while "
                          "it does: keep --select-on valid, a --valid-split other than none and --no-track-test")
    spec = model_variant(model, options["fidelity"])
    values = {name: [parse_set_options(spec, [f"{name}={text}"], "--grid")[name] for text in texts]
              for name, texts in _parse_grid(grid).items()}
    repeated = [name for name, tried in values.items() if len(set(map(repr, tried))) < len(tried)]
    if repeated:
        raise ConfigError(f"--grid {repeated[0]}: two of its values are the same value ({values[repeated[0]]})")
    given = set(parse_set_options(spec, options["set_"])) | {k for k in SETTING_OPTIONS if options[k] is not None}
    clash = sorted(set(values) & given)
    if clash:
        raise ConfigError(f"{', '.join(clash)}: given to --grid and as an option (--set or its own) at once")
    chosen_trials = grid_trials(values, trials, options["seed"])
    configs = {name: build_config(spec.name, {**options, "set_": (*options["set_"],
                                                                     *(f"{k}={v}" for k, v in setting.items()))})
               for name, setting in chosen_trials.items()}
    if spec.composed and any(config.training.epochs == 0 for config in configs.values()):
        raise ConfigError("epochs 0 trains nothing: a trial of a model that learns needs at least one epoch")
    dataset = next(iter(configs.values())).dataset
    out_dir = out or Path("runs") / f"tune-{spec.name}-{dataset}"
    check_out_folder(out_dir)

    run_matrix(configs, [options["seed"]], out_dir, train_trial, jobs=jobs)
    result = choose(out_dir, chosen_trials, options["seed"], options["select_metric"])
    write_result(out_dir / "tune.json", {"model": spec.name, "dataset": dataset, "grid": values, **result})
    if as_json:
        show_json({"model": spec.name, "dataset": dataset, "out": str(out_dir), **result})
        return
    metric = options["select_metric"]
    table = LiteralTable(title=f"{spec.name} on {dataset}: validation {metric} of every trial, best first",
                         caption=f"saved in {out_dir / 'tune.json'}; each trial's run in "
                                 f"{out_dir}/NAME=VALUE,.../seed-{options['seed']}")
    for column in (*values, "selected epoch", f"valid {metric}"):
        table.add_column(column, justify="right")
    for row in result["trials"]:
        table.add_row(*(str(row["settings"][name]) for name in values),
                      "–" if row["best_epoch"] is None else str(row["best_epoch"]),
                      "diverged" if row["diverged"] else f"{row['valid']:.2f}")
    show_table(table)
    best = result["best"]
    show_table(metrics_table(f"Test metrics (%) of the chosen trial, {best['trial']}",
                             [(f"{spec.name} (epoch {best['best_epoch']})", best["test"])],
                             note="the only test figures of the search"))


def _parse_grid(items: tuple[str, ...]) -> dict[str, list[str]]:
    """``("lr=1e-3,1e-2", "dim=64")`` -> ``{"lr": ["1e-3", "1e-2"], "dim": ["64"]}``.

    Raises:
        ConfigError: an item is not NAME=V1,V2,..., a name repeats, or a value repeats within a name.
    """
    from sbrzoo.errors import ConfigError

    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        texts = [value.strip() for value in text.split(",") if value.strip()]
        if not sep or not name or not texts:
            raise ConfigError(f"--grid {item!r}: expected NAME=V1,V2,...")
        if name in grid:
            raise ConfigError(f"--grid {item!r}: {name} is given twice")
        grid[name] = texts
    return grid
