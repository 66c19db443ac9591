"""`sbrzoo ablation`: train the rows of the paper's Table II over seeds and tabulate them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.options import DEFAULT_SEED, build_config, expand_models, jobs_option, parse_seeds, training_options
from sbrzoo.models.families import TABLE_II_MODELS


@click.command("ablation", short_help="Train the Table II rows (TAGNN++ minus one part) and tabulate them.")
@click.option("--rows", default=",".join(TABLE_II_MODELS), show_default=True,
              help="Comma-separated model names or fnmatch patterns (e.g. 'tagnnpp_no_*,tagnn').")
@click.option("--seeds", default=str(DEFAULT_SEED), show_default=True, callback=parse_seeds,
              help="Comma-separated seeds, e.g. 1,2,3.")
@training_options(without=("seed",))
@jobs_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: runs/ablation-<dataset>); finished rows in it are not retrained.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON on stdout instead.")
def ablation_command(*, rows: str, seeds: list[int], out: Path | None, jobs: int, as_json: bool,
                     **options: Any) -> None:
    """Train every row on the same data split with every seed, then print the table as in the
    paper's Table II (mean ± std over seeds) and save ablation.json, ablation.csv and ablation.png."""
    from cli.options import check_out_folder
    from sbrzoo.ablation import write_outputs
    from sbrzoo.experiment import train_cell
    from sbrzoo.matrix import PAPER_METRICS, run_matrix, summarize_cell
    from sbrzoo.report import LiteralTable, show_json, show_table

    names = expand_models(rows, "--rows", options["fidelity"])
    base = {name: build_config(name, {**options, "seed": seeds[0]}) for name in names}
    dataset_name = base[names[0]].dataset
    out_dir = out or Path("runs") / f"ablation-{dataset_name}"
    check_out_folder(out_dir)

    run_matrix(base, seeds, out_dir, train_cell, jobs=jobs)
    summaries = [cell for name in names if (cell := summarize_cell(out_dir / name, dataset_name, name, seeds))]
    extra = {"seeds": seeds, "config": base[names[0]].to_dict()}
    write_outputs(summaries, out_dir, dataset_name, extra=extra)
    if as_json:
        show_json({"dataset": dataset_name, **extra, "out": str(out_dir), "rows": [s.to_dict() for s in summaries]})
        return
    seed_list = ", ".join(map(str, seeds))
    table = LiteralTable(title=f"Ablation on {dataset_name} (test %, mean ± std over seeds {seed_list})",
                         caption=f"epoch selected on {base[names[0]].select_on}; saved in {out_dir}")
    table.add_column("Architecture", style="bold")
    for metric in PAPER_METRICS:
        table.add_column(metric, justify="right")
        table.add_column(f"paper {metric}", justify="right", style="dim")
    for s in summaries:
        cells = []
        for metric in PAPER_METRICS:
            cells.append(s.mean_std(metric))
            cells.append(f"{s.paper[metric]:.2f}" if metric in s.paper else "-")
        table.add_row(s.label, *cells)
    show_table(table)
