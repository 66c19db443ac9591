"""`sbrzoo curves`: a run's per-epoch table and its training curves."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("curves", short_help="Print a run's per-epoch table; --out draws loss and HR@20/MRR@20 by epoch.")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the curves into this PNG (training loss; validation HR@20 and MRR@20).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-epoch rows as JSON on stdout instead of a table.")
def curves_command(run_dir: Path, out: Path | None, overwrite: bool, as_json: bool) -> None:
    """Read RUN_DIR/metrics.json: one row per finished epoch (learning rate, training loss, validation
    HR@20 and MRR@20, seconds), the selected epoch starred.
    """
    from sbrzoo.console import say
    from sbrzoo.curves import curves_table, load_curves, plot_curves
    from sbrzoo.paths import refuse_to_replace
    from sbrzoo.report import show_json, show_table

    if out is not None:
        refuse_to_replace(out, overwrite)
    curves = load_curves(run_dir)
    if out is not None:
        plot_curves(curves, out, overwrite=overwrite)
        say(f"curves -> {out}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        show_json({"run": str(run_dir), "model": curves.model, "dataset": curves.dataset,
                   "best_epoch": curves.best_epoch, "epochs": curves.rows()})
        return
    show_table(curves_table(curves))
