"""`sbrzoo recommend`: the top items for sessions of raw item ids, from a trained run."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import loaded_run_options


@click.command("recommend", short_help="Recommend items for sessions (raw item ids) with a trained run.")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--session", "sessions", multiple=True, metavar="ID,ID,...",
              help="One session's raw item ids, oldest first, comma-separated; repeatable.")
@click.option("--input", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help='JSON Lines file, one session a line: [id, ...] or {"items": [id, ...], "id": ...}.')
@click.option("--output", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where --input's recommendations go (JSON Lines, one line per session, written whole "
                   "or not at all).")
@click.option("-k", "k", type=click.IntRange(min=1), default=20, show_default=True, help="Items per session.")
@click.option("--exclude-seen", is_flag=True, help="Never recommend an item of the session itself.")
@click.option("--skip-bad", is_flag=True, help="Skip malformed lines of --input (reported) instead of stopping.")
@click.option("--overwrite", is_flag=True, help="Replace --output if it exists.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Sessions scored at once.")
@loaded_run_options()
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON on stdout: the recommendations (--session) or a summary (--input).")
def recommend_command(run_dir: Path, sessions: tuple[str, ...], source: Path | None, target: Path | None, k: int,
                      exclude_seen: bool, skip_bad: bool, overwrite: bool, batch_size: int, data_dir: Path | None,
                      device: str | None, backend: str | None, as_json: bool) -> None:
    """Rank items for new sessions with RUN_DIR's selected weights.

    Item ids are the raw ids of the dataset's log (mapped through its item_map.tsv; a dataset without
    one uses its ids as they are). Unknown items are dropped and counted; a session without any known
    item gets the most popular training items, flagged as a fallback.

    \b
    sbrzoo recommend runs/srgnn --session 214828987,214826715 -k 10
    sbrzoo recommend runs/srgnn --input sessions.jsonl --output recs.jsonl
    """
    from sbrzoo.console import console, say
    from sbrzoo.errors import ConfigError
    from sbrzoo.paths import refuse_to_replace
    from sbrzoo.recommend import count_lines, load_recommender, recommend_file
    from sbrzoo.report import show_json

    if bool(sessions) == (source is not None):
        raise ConfigError("give either --session (repeatable) or --input FILE --output FILE")
    if source is not None and target is None:
        raise ConfigError("--input needs --output FILE (the recommendations, JSON Lines)")
    if source is None and (target is not None or skip_bad):
        raise ConfigError(f"{'--output' if target is not None else '--skip-bad'} goes with --input")
    if target is not None:  # before loading anything
        refuse_to_replace(target, overwrite)
    recommender = load_recommender(run_dir, device=device, backend=backend, data_dir=data_dir, batch_size=batch_size)
    if source is not None:
        assert target is not None  # --input without --output was refused above
        from rich.markup import escape

        from sbrzoo.progress import progress_bar

        def warn(text: str) -> None:
            console.print(f"[yellow]warning[/]: {escape(text)}", soft_wrap=True)

        with progress_bar("recommend", count_lines(source)) as advance:
            summary = recommend_file(recommender, source, target, k=k, exclude_seen=exclude_seen, skip_bad=skip_bad,
                                     overwrite=overwrite, progress=advance, warn=warn)
        say(f"{summary.sessions:,} sessions -> {target} in {summary.seconds:.1f} s; bad lines skipped: "
            f"{summary.bad_lines:,}; unknown items dropped: {summary.unknown_items:,}; popularity "
            f"fallbacks: {summary.fallbacks:,}", markup=False, highlight=False, soft_wrap=True)
        if as_json:
            show_json({"input": str(source), "output": str(target), **summary.to_dict()})
        return
    parsed = [[item.strip() for item in text.split(",") if item.strip()] for text in sessions]
    results = recommender.recommend(parsed, k=k, exclude_seen=exclude_seen)
    if as_json:
        show_json([{"session": items, **result.to_dict()} for items, result in zip(parsed, results, strict=True)])
        return
    from sbrzoo.report import show_table

    for items, result in zip(parsed, results, strict=True):
        show_table(_table(recommender, items, result))


def _table(recommender, items: list[str], result):  # noqa: ANN001, ANN202 - Recommender, Recommendation -> Table
    from sbrzoo.report import LiteralTable

    notes = []
    if result.unknown:
        notes.append(f"{result.unknown} unknown item{'s' * (result.unknown > 1)} dropped")
    if result.fallback:
        notes.append("no known item: the most popular training items (score = training clicks)")
    shown = ",".join(items) if len(items) <= 8 else ",".join(items[:3]) + f",... ({len(items)} items)"
    table = LiteralTable(title=f"{recommender.name} (epoch {recommender.epoch}): top {len(result.items)} for session "
                        f"[{shown}]", caption="; ".join(notes) or None)
    table.add_column("rank", justify="right")
    table.add_column("item", no_wrap=True)
    table.add_column("score", justify="right")
    for rank, (item, score) in enumerate(zip(result.items, result.scores, strict=True), start=1):
        table.add_row(str(rank), str(item), f"{score:.4f}" if not result.fallback else f"{score:,.0f}")
    return table
