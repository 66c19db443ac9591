"""`sbrzoo models`: the registered compositions, their parts and (with --dataset) their presets."""

from __future__ import annotations

import click


@click.command("models", short_help="List registered models and their parts.")
@click.argument("pattern", default="*")
@click.option("--dataset", default=None,
              help="Also show the hyper-parameter preset of each listed model on this dataset.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
def models_command(pattern: str, dataset: str | None, as_json: bool) -> None:
    """List every registered model matching PATTERN (fnmatch, e.g. 'tagnnpp*') with the parts it is built from."""
    from rich.table import Table

    from sbrzoo.errors import ConfigError
    from sbrzoo.models import get_spec, list_models
    from sbrzoo.presets import preset_for
    from sbrzoo.report import show_json, show_table

    specs = [get_spec(name) for name in list_models(pattern)]
    if not specs:
        raise ConfigError(f"no model matches {pattern!r}; `sbrzoo models` lists them all")
    presets = {spec.name: preset_for(spec.family, dataset).to_dict() for spec in specs} if dataset else {}
    if as_json:
        show_json([{"name": s.name, "family": s.family, "parts": s.parts(), "graphs": list(s.graph_kinds),
                    "description": s.description, **({"preset": presets[s.name]} if dataset else {})} for s in specs])
        return
    table = Table(title="sbrzoo models")
    for column in ("name", "parts", "graphs", "description"):
        table.add_column(column, no_wrap=column != "description")
    for spec in specs:
        table.add_row(spec.name, " > ".join(spec.parts()), ", ".join(spec.graph_kinds) or "-", spec.description)
    show_table(table)
    if dataset:
        hp = Table(title=f"presets on {dataset} (override any with the train option of the same name)")
        hp.add_column("setting", no_wrap=True)
        for spec in specs:
            hp.add_column(spec.name, justify="right", no_wrap=True)
        for field in next(iter(presets.values())):
            hp.add_row(field, *(str(presets[spec.name][field]) for spec in specs))
        show_table(hp)
