"""Root of the ``sbrzoo`` command line: one group, one command per file, one exit path for errors."""

from __future__ import annotations

import os
import sys

import click

from cli.ablation import ablation_command
from cli.curves import curves_command
from cli.data import data_group
from cli.datasets import datasets_command
from cli.evaluate import evaluate_command
from cli.export import export_command
from cli.models import models_command
from cli.recommend import recommend_command
from cli.reproduce import reproduce_command
from cli.serve import serve_command
from cli.train import train_command
from cli.tune import tune_command

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and results.")
@click.version_option(package_name="sbrzoo")
def cli(verbose: int, quiet: bool) -> None:
    """sbrzoo: session-based recommendation models (SR-GNN, TAGNN, TAGNN++, LESSR, ...) on one data layer.

    Results (tables, JSON) go to stdout; logs and progress to stderr.
    """
    from sbrzoo import allocator
    from sbrzoo.console import setup_logging

    setup_logging(-1 if quiet else verbose)
    allocator.keep_freed_memory()  # faster CPU training and evaluation (sbrzoo/allocator.py, docs/RESULTS.md)


cli.add_command(datasets_command)
cli.add_command(train_command)
cli.add_command(evaluate_command)
cli.add_command(models_command)
cli.add_command(ablation_command)
cli.add_command(tune_command)
cli.add_command(reproduce_command)
cli.add_command(data_group)
cli.add_command(recommend_command)
cli.add_command(export_command)
cli.add_command(serve_command)
cli.add_command(curves_command)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit 1; bugs keep their traceback."""
    from sbrzoo.errors import SbrzooError

    try:
        cli.main(standalone_mode=False, prog_name="sbrzoo")
    except click.exceptions.Abort:  # Ctrl-C outside training (click turns KeyboardInterrupt into Abort)
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as error:  # `sbrzoo`, `sbrzoo data`: the help, not an error
        click.echo(error.ctx.get_help())
        sys.exit(0)
    except click.UsageError as error:  # one line, exit 1, like every other user error
        command = error.ctx.command_path if error.ctx is not None else _command_path(sys.argv[1:])
        click.echo(f"Error: {error.format_message()} (see: {command} --help)", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except SbrzooError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception:
        if os.environ.get("SBRZOO_DEBUG"):
            raise
        from sbrzoo.console import console

        console.print_exception(show_locals=False, suppress=[click])
        sys.exit(2)


def _command_path(args: list[str]) -> str:
    """``sbrzoo train`` for ``-q train --model``: the (sub)commands named on the command line, for an
    error click raised without its context."""
    path: list[str] = ["sbrzoo"]
    command: click.Command | None = cli
    for arg in (a for a in args if not a.startswith("-")):
        command = command.commands.get(arg) if isinstance(command, click.Group) else None
        if command is None:
            break
        path.append(arg)
    return " ".join(path)


if __name__ == "__main__":  # python -m cli.main, as the sbrzoo script
    main()
