"""`sbrzoo export`: a trained model as a TorchScript or ONNX program over padded item ids."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import loaded_run_options


@click.command("export", short_help="Export a run's model to TorchScript or ONNX.")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["torchscript", "onnx"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The program file to write.")
@click.option("-k", "k", type=click.IntRange(min=1), default=20, show_default=True,
              help="Items the program returns per session.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Run the written program on test prefixes and compare its top-k with PyTorch's.")
@loaded_run_options(placement=False)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON on stdout.")
def export_command(run_dir: Path, fmt: str, out: Path, k: int, overwrite: bool, check: bool, data_dir: Path | None,
                   as_json: bool) -> None:
    """Write RUN_DIR's selected weights as one program: scores, item_ids = program(items).

    \b
    items     (B, L) int64: sbrzoo item ids 1..N of each session, oldest first, right-padded with 0
    scores    (B, k) float32: scores of the best items, best first
    item_ids  (B, k) int64: their sbrzoo ids (raw ids: the dataset's item_map.tsv)

    SR-GNN, TAGNN, TAGNN++ and its ablation rows, GC-SAN, GRU4Rec, NARM, STAMP, RepeatNet and CSRM
    export; LESSR, the released-code variants (*_ref) and the counting baselines do not (the error says
    why). The program is traced on the CPU through the torch graph backend whatever backend the run was
    trained on.
    """
    from sbrzoo.config import RunConfig
    from sbrzoo.console import say
    from sbrzoo.errors import DataError
    from sbrzoo.experiment import load_run
    from sbrzoo.export import check_exportable, check_program, export_run
    from sbrzoo.models import get_spec
    from sbrzoo.paths import refuse_to_replace
    from sbrzoo.report import show_json, show_table

    check_exportable(get_spec(RunConfig.load(run_dir / "config.json").model))  # before loading any data
    refuse_to_replace(out, overwrite)
    run = load_run(run_dir, device="cpu", backend="torch", data_dir=data_dir)
    info = export_run(run, fmt, out, k=k, overwrite=overwrite)
    record = info.to_dict()
    if check:
        try:
            record["check"] = check_program(run, out, fmt)
        except DataError as error:  # a program that ranks otherwise than the model is not left behind
            out.unlink(missing_ok=True)
            raise DataError(f"{error}; {out} removed") from None
        say(f"checked on {record['check']['sessions']:,} test prefixes: same top-{info.k} as PyTorch "
            f"(largest score difference {record['check']['max_score_difference']:.2g})",
            markup=False, highlight=False, soft_wrap=True)
    if as_json:
        show_json(record)
        return
    from sbrzoo.report import LiteralTable

    table = LiteralTable(title=f"{info.model} (epoch {info.epoch}) -> {info.path} ({info.format})",
                  caption=f"item ids -> raw ids: {info.item_map or 'none needed (the ids are the raw ids)'}")
    table.add_column("tensor", no_wrap=True)
    table.add_column("shape, type and meaning")
    for name, meaning in {**info.inputs, **info.outputs}.items():
        table.add_row(f"{'in' if name in info.inputs else 'out'}: {name}", meaning)
    show_table(table)
