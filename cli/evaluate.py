"""`sbrzoo evaluate`: re-evaluate a finished run's selected weights."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import loaded_run_options


@click.command("evaluate", short_help="Evaluate a run's best weights on its test (or validation) split.")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True)
@click.option("--targets", type=click.Choice(["every-click", "last-click"]), default="every-click", show_default=True,
              help="every-click: every prefix of every session (the papers' protocol); last-click: only the "
                   "last click of each session, so that long sessions weigh no more than short ones.")
@loaded_run_options()
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout instead of a table.")
def evaluate_command(run_dir: Path, split: str, targets: str, data_dir: Path | None, device: str | None,
                     backend: str | None, as_json: bool) -> None:
    """Load RUN_DIR's config.json and best.pt, rebuild its data split, and report full-ranking metrics."""
    from sbrzoo.errors import DataError
    from sbrzoo.evaluator import evaluate
    from sbrzoo.experiment import evaluation_loader, load_run
    from sbrzoo.progress import progress_bar
    from sbrzoo.report import metrics_table, show_json, show_table, tie_rows
    from sbrzoo.run_record import evaluation_record

    run = load_run(run_dir, device=device, backend=backend, data_dir=data_dir)
    examples = run.dataset.test if split == "test" else run.dataset.valid
    if examples is None:
        raise DataError(f"{run_dir}: the run has no validation split")
    if targets == "last-click":
        last_clicks = examples.last_clicks()
        if last_clicks is None:
            raise DataError(f"{run_dir}: the {split} examples are not each session's prefixes, longest first "
                            "(SR-GNN's order), so the last click of each session is unknown")
        examples, split = last_clicks, f"{split} (last click of each session)"
    loader = evaluation_loader(run.config, examples, run.dataset.num_items)
    with progress_bar(f"eval {split}", len(examples)) as advance:
        report = evaluate(run.model, loader, device=run.config.device, progress=advance)
    report.warn_if_ties_matter(f"{run_dir} on the {split} split")
    if as_json:
        show_json(evaluation_record(run_dir, run.config, split, run.epoch, report))
        return
    show_table(metrics_table(f"{split} metrics (%), {run.dataset.name}, {report.num_examples:,} examples",
                             tie_rows(f"{run.config.model} (epoch {run.epoch})", report.metrics, report.pessimistic),
                             note=f"{report.seconds:.1f} s on {run.config.device}"))
