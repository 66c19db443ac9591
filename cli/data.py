"""`sbrzoo data`: prepare the SR-GNN benchmarks from raw click logs, or download prepared files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["data_group"]

_COLUMNS = {  # stats.json key -> column title
    "train_sessions": "train\nsessions",
    "train_examples": "train\nexamples",
    "test_sessions": "test\nsessions",
    "test_examples": "test\nexamples",
    "clicks": "clicks",
    "items": "items",
    "mean_length": "length",
}


@click.group("data", short_help="Prepare or download the benchmark datasets.")
def data_group() -> None:
    """Prepare the SR-GNN benchmarks from raw click logs, or download the prepared pickles."""


@data_group.command("prepare", short_help="Run the SR-GNN preprocessing on a raw click log.")
@click.argument("dataset", type=click.Choice(["diginetica", "yoochoose"]))
@click.option("--raw", "raw_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="train-item-views.csv (Diginetica) or yoochoose-clicks.dat (Yoochoose).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Diginetica: the dataset folder; Yoochoose: the parent of yoochoose1_64/ and yoochoose1_4/.")
@click.option("--fraction", "fractions", type=click.IntRange(min=2), multiple=True,
              help="Yoochoose: write the most recent 1/K of the training examples (repeatable; default 64 and 4).")
@click.option("--items-counted-on", type=click.Choice(["all", "train"]), default="all", show_default=True,
              help="all: rare items are counted over the whole log before the date split, as SR-GNN's script "
                   "does (so the test days decide which items stay; the published files); train: over the "
                   "training period only (leak-free; files that differ from the published ones).")
@click.option("--overwrite", is_flag=True, help="Replace dataset folders that already exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON on stdout instead of the table.")
def prepare_command(*, dataset: str, raw_file: Path, out_dir: Path, fractions: tuple[int, ...],
                    items_counted_on: str, overwrite: bool, as_json: bool) -> None:
    """Prepare DATASET (diginetica or yoochoose) from its raw click log, as SR-GNN's preprocess.py does.

    Writes all_train_seq.txt, train.txt, test.txt, stats.json, item_map.tsv (sbrzoo id -> raw
    item id) and session_times.npy (date of each training session); a folder appears only when
    complete. The full Yoochoose log (33 million clicks) takes a minute or two and a few GB.
    """
    from contextlib import nullcontext

    from rich.markup import escape

    from cli.options import check_out_folder
    from sbrzoo.console import console, is_quiet, say
    from sbrzoo.data.prepare import prepare
    from sbrzoo.report import show_json, show_table

    check_out_folder(out_dir)  # before the raw log is read
    status = f"Preparing {escape(dataset)} from {escape(str(raw_file))} ..."
    with nullcontext() if is_quiet() else console.status(status):
        result = prepare(dataset, raw_file, out_dir, fractions=fractions or None, overwrite=overwrite,
                         items_counted_on=items_counted_on)
    first = result.outputs[0]
    say(f"Next: sbrzoo train --model srgnn --dataset {first.name} --data-dir {first.folder}",
        markup=False, highlight=False, soft_wrap=True)  # a path never wraps
    if as_json:
        show_json({output.name: output.stats for output in result.outputs})
    else:
        show_table(_stats_table(result))  # stdout; never cuts a number


@data_group.command("download", short_help="Download and verify prepared benchmark files.")
@click.argument("name")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache folder (default: $SBRZOO_CACHE_DIR, else ~/.cache/sbrzoo/datasets).")
@click.option("--mirror", default=None,
              help="Base URL laid out as <mirror>/<name>/<file> (default: $SBRZOO_MIRROR, else the registry's).")
@click.option("--force", is_flag=True, help="Download again even the files already verified in the cache.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Seconds to wait for the server.")
def download_command(*, name: str, cache_dir: Path | None, mirror: str | None, force: bool, timeout: float) -> None:
    """Download the prepared files of NAME (diginetica, yoochoose1_64) and check their sha256.

    Prints the dataset folder on stdout. A file whose checksum differs is deleted and the command
    fails; an interrupted download leaves nothing in the cache.
    """
    from cli.options import check_out_folder
    from sbrzoo.console import say
    from sbrzoo.data.download import download_dataset
    from sbrzoo.report import LiteralTable

    if cache_dir is not None:
        check_out_folder(cache_dir, "--cache-dir")
    result = download_dataset(name, cache_dir=cache_dir, mirror=mirror, force=force, timeout=timeout)
    table = LiteralTable(title=f"{result.name} from {result.mirror}")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    table.add_column("sha256")
    for path, status in result.files:
        table.add_row(str(path), f"{path.stat().st_size:,}", f"verified ({status})")
    say(table)  # the result on stdout is the folder (for DIR=$(sbrzoo data download NAME))
    say(f"Next: sbrzoo train --model srgnn --dataset {result.name}{_data_dir_option(result)}",
        markup=False, highlight=False, soft_wrap=True)  # a path never wraps
    click.echo(str(result.folder))


def _data_dir_option(result: Any) -> str:  # noqa: ANN401 - DownloadResult
    """`` --data-dir FOLDER`` when ``--dataset NAME`` alone would not find the download (a custom
    --cache-dir, or another copy under $SBRZOO_DATA_DIR that takes precedence), else ""."""
    from sbrzoo.data.registry import find_dataset_folder, get_dataset_info
    from sbrzoo.errors import UnknownNameError

    try:
        found = find_dataset_folder(get_dataset_info(result.name))
    except UnknownNameError:
        found = None
    same = found is not None and found.resolve() == result.folder.resolve()
    return "" if same else f" --data-dir {result.folder}"


def _stats_table(result: Any) -> Any:  # noqa: ANN401 - PrepareResult -> rich Table, imported lazily
    """One row per dataset folder written; the preprocessing funnel and the folders as caption."""
    from rich import box

    from sbrzoo.report import LiteralTable

    first = result.outputs[0].stats
    funnel = first["funnel"]
    steps = (f"raw {funnel['raw']['clicks']:,} -> {funnel['without_short_sessions']['clicks']:,} "
             f"without 1-click sessions -> {funnel['without_rare_items']['clicks']:,} without rare items "
             f"-> train {funnel['train']['clicks']:,} + test {funnel['test']['clicks']:,}")
    folders = "; ".join(f"{output.name}: {output.folder}" for output in result.outputs)
    table = LiteralTable(title=f"Prepared from {result.raw_file.name} in {result.seconds:.1f} s",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  caption=f"clicks: {steps}; split at {first['split_date']} (test: last "
                          f"{first['test_days']} day(s)); length = clicks per train session. {folders}")
    rows = [[output.name, *(f"{output.stats[key]:,}" if isinstance(output.stats[key], int)
                            else f"{output.stats[key]:.2f}" for key in _COLUMNS)]
            for output in result.outputs]
    titles = ["dataset", *_COLUMNS.values()]
    widths = [max(*map(len, title.split("\n")), *(len(row[j]) for row in rows)) for j, title in enumerate(titles)]
    table.min_width = sum(widths) + 2 * (len(widths) - 1)  # one space of padding each side
    for j, title in enumerate(titles):
        table.add_column(title, justify="right" if j else "left", no_wrap=True, min_width=widths[j])
    for row in rows:
        table.add_row(*row)
    return table
