"""`sbrzoo evaluate`: re-evaluate a finished run's selected weights."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("evaluate", short_help="Evaluate a run's best weights on its test (or validation) split.")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True)
@click.option("--device", default=None, help="Override the run's device (cpu, cuda, ...).")
@click.option("--backend", type=click.Choice(["dgl", "torch"]), default=None, help="Override the graph backend.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout.")
def evaluate_command(run_dir: Path, split: str, device: str | None, backend: str | None, as_json: bool) -> None:
    """Load RUN_DIR's config.json and best.pt, rebuild its data split, and report full-ranking metrics."""
    import dataclasses

    import torch

    from cli.options import resolve_device
    from sbrzoo.config import RunConfig
    from sbrzoo.console import console
    from sbrzoo.errors import DataError
    from sbrzoo.evaluator import evaluate
    from sbrzoo.experiment import load_run_dataset
    from sbrzoo.graph import resolve_backend
    from sbrzoo.loader import batch_indices, make_loader
    from sbrzoo.models import create_model, get_spec
    from sbrzoo.progress import progress_bar
    from sbrzoo.report import metrics_table

    config = RunConfig.load(run_dir / "config.json")
    config = dataclasses.replace(config, device=resolve_device(device or config.device),
                                 backend=resolve_backend(backend or config.backend))
    try:
        best = torch.load(run_dir / "best.pt", weights_only=True, map_location=config.device)
    except FileNotFoundError:
        raise DataError(f"{run_dir / 'best.pt'}: missing; the run has not finished an epoch") from None
    dataset = load_run_dataset(config)
    examples = dataset.test if split == "test" else dataset.valid
    if examples is None:
        raise DataError(f"{run_dir}: the run has no validation split")
    model = create_model(config.model, dataset.num_items, config.hp).to(config.device)
    model.load_state_dict(best["state_dict"])
    loader = make_loader(examples, dataset.num_items, get_spec(config.model).graph_kinds, config.backend,
                         batch_indices(len(examples), config.eval_batch_size))
    with progress_bar(f"eval {split}", len(examples)) as advance:
        report = evaluate(model, loader, device=config.device, progress=advance)
    console.print(metrics_table(f"{split} metrics (%), {dataset.name}, {report.num_examples:,} examples",
                                [(f"{config.model} (epoch {best['epoch']})", report.metrics)],
                                note=f"{report.seconds:.1f} s on {config.device}"))
    if as_json:
        click.echo(json.dumps(report.to_dict()))
