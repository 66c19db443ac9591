"""`sbrzoo models`: the registered compositions, their parts and (with --dataset) their settings."""

from __future__ import annotations

import click


@click.command("models", short_help="List registered models and their parts.")
@click.argument("pattern", default="*")
@click.option("--dataset", default=None,
              help="Also show every setting of each listed model, resolved for this dataset's preset.")
@click.option("--parts", "show_parts", is_flag=True, help="List the registered parts instead of the models.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
def models_command(pattern: str, dataset: str | None, show_parts: bool, as_json: bool) -> None:
    """List every registered model matching PATTERN (fnmatch, e.g. 'tagnnpp*') with the parts it is built from."""
    from sbrzoo.errors import ConfigError
    from sbrzoo.models import get_spec, list_models
    from sbrzoo.presets import resolve_settings
    from sbrzoo.report import LiteralTable, show_json, show_table

    if show_parts:
        _show_parts(as_json)
        return
    specs = [get_spec(name) for name in list_models(pattern)]
    if not specs:
        raise ConfigError(f"no model matches {pattern!r}; `sbrzoo models` lists them all")
    resolved = {}
    if dataset:
        from sbrzoo.data.registry import get_dataset_info

        dataset = get_dataset_info(dataset).name  # a misspelt name: did-you-mean, not the base defaults
        for spec in specs:
            settings, training = resolve_settings(spec, dataset)
            resolved[spec.name] = {**settings, **{f"training.{k}": v for k, v in training.to_dict().items()}}
    if as_json:
        show_json([{"name": s.name, "label": s.label, "parts": s.parts(), "graphs": list(s.graph_kinds),
                    "fidelity": s.fidelity, "static_engine": s.static_shapes, "description": s.description,
                    **({"settings": resolved[s.name]} if dataset else {})} for s in specs])
        return
    table = LiteralTable(title="sbrzoo models")
    for column in ("name", "parts", "graphs", "engine", "description"):
        table.add_column(column, no_wrap=column != "description")
    for spec in specs:
        engines = "eager, static" if spec.static_shapes else "eager"
        table.add_row(spec.name, " > ".join(spec.parts()), ", ".join(spec.graph_kinds) or "-", engines,
                      spec.description)
    show_table(table)
    if dataset:
        names = list(dict.fromkeys(key for values in resolved.values() for key in values))
        settings_table = LiteralTable(
            title=f"settings on {dataset} (override with --set NAME=VALUE or the option of that name)")
        settings_table.add_column("setting", no_wrap=True)
        for spec in specs:
            settings_table.add_column(spec.name, justify="right", no_wrap=True)
        for name in names:
            settings_table.add_row(name, *(str(resolved[spec.name].get(name, "-")) for spec in specs))
        show_table(settings_table)


def _show_parts(as_json: bool) -> None:
    from sbrzoo.models import list_models
    from sbrzoo.models._parts import all_parts
    from sbrzoo.report import LiteralTable, show_json, show_table

    list_models()  # registers the parts
    parts = all_parts()
    if as_json:
        show_json([{"kind": p.kind, "name": p.name, "target": p.target, "graphs": list(p.graphs),
                    "settings": dict(p.settings), "fixed": dict(p.fixed), "static_shapes": p.static_shapes,
                    "description": p.description} for p in parts])
        return
    table = LiteralTable(title="sbrzoo parts")
    for column in ("kind", "name", "settings", "graphs", "description"):
        table.add_column(column, no_wrap=column != "description")
    for part in parts:
        settings = ", ".join(f"{k}={v}" for k, v in part.settings.items()) or "-"
        table.add_row(part.kind, part.name, settings, ", ".join(part.graphs) or "-", part.description)
    show_table(table)
