"""Rich progress bars for long loops, shown only on an interactive terminal."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, SupportsFloat

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sbrzoo.console import console, is_quiet

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n, loss=None)``: moves a transient bar showing examples/s and the running loss.

    On a non-interactive console (CI, files) nothing is drawn; callers log one line per epoch.
    """
    if not console.is_terminal or is_quiet():
        yield lambda n, **_: None
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} ex/s"), TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total, rate="-", loss="")
        started, done = time.perf_counter(), 0

        def advance(count: int, loss: SupportsFloat | None = None) -> None:
            nonlocal done
            done += count
            fields: dict[str, Any] = {"rate": f"{done / max(time.perf_counter() - started, 1e-9):,.0f}"}
            if loss is not None:
                fields["loss"] = f"loss {float(loss):.4f}"
            progress.update(task, advance=count, **fields)

        yield advance
