"""`sbrzoo serve`: an HTTP JSON endpoint (FastAPI on uvicorn, the serve extra) that recommends with a trained run."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from cli.options import loaded_run_options


@click.command("serve", short_help="Serve a run's recommendations over HTTP (POST /recommend, GET /health).")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; there is no authentication).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: any free port.")
@click.option("--max-k", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--max-sessions", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Sessions per request.")
@click.option("--max-body-kb", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Largest request body, in KiB.")
@click.option("--batch-size", type=click.IntRange(min=1), default=512, show_default=True,
              help="Sessions of waiting requests scored in one batch.")
@click.option("--batch-window-ms", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="How long the scorer waits for more requests before scoring.")
@loaded_run_options()
def serve_command(run_dir: Path, host: str, port: int, max_k: int, max_sessions: int, max_body_kb: int,
                  batch_size: int, batch_window_ms: float, data_dir: Path | None, device: str | None,
                  backend: str | None) -> None:
    """Answer POST /recommend with RUN_DIR's recommendations until Ctrl-C.

    \b
    curl -s localhost:8000/health
    curl -s localhost:8000/recommend -d '{"session": [214828987, 214826715], "k": 5}'
    curl -s localhost:8000/recommend -d '{"sessions": [[1, 2], [3]], "k": 5, "exclude_seen": true}'

    The answer is {"results": [{"items", "scores", "unknown", "fallback"}, ...]}, item ids raw as for
    `sbrzoo recommend`; a bad request gets 400 (413: body too large) and {"error": "..."}. Needs the
    serve extra (FastAPI, uvicorn): pip install -e ".[serve]".
    """
    from sbrzoo.console import console
    from sbrzoo.errors import ConfigError
    from sbrzoo.recommend import load_recommender
    from sbrzoo.serve import Limits, RecommendServer  # without the serve extra: a one-line ConfigError

    recommender = load_recommender(run_dir, device=device, backend=backend, data_dir=data_dir, batch_size=batch_size)
    limits = Limits(max_body=max_body_kb * 1024, max_sessions=max_sessions, max_k=max_k, max_batch=batch_size,
                    batch_window=batch_window_ms / 1000)
    try:
        server = RecommendServer(recommender, host, port, limits)
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    console.print(f"serving {recommender.name} (epoch {recommender.epoch}, {recommender.num_items:,} items, "
                  f"{recommender.device}) on {server.url}: POST /recommend, GET /health; Ctrl-C stops",
                  markup=False, highlight=False, soft_wrap=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has stopped gracefully
        server.serve_forever()
    console.print("stopped", markup=False)
