"""An HTTP JSON service over a :class:`~sbrzoo.recommend.Recommender`: FastAPI on uvicorn (the ``serve``
extra: ``pip install -e ".[serve]"``).

Endpoints:

* ``GET /health`` -> ``{"status": "ok", "model", "epoch", "num_items", "device"}``
* ``POST /recommend`` with ``{"sessions": [[id, ...], ...]}`` (or ``{"session": [id, ...]}``), optional
  ``"k"`` (default 20) and ``"exclude_seen"`` (default false) -> ``{"results": [{"items", "scores",
  "unknown", "fallback"}, ...]}``, one result per session, in order. Item ids are raw ids, as for
  :meth:`Recommender.recommend`.

Every refusal is ``{"error": "one line"}``: ``400`` for a body that is not JSON, an unknown field or a
value out of :class:`Limits`, ``413`` for a body over the size limit, ``404`` / ``405`` for another path
or method, ``503`` when scoring takes longer than the timeout. Nothing else is served (no OpenAPI pages).
Requests that arrive together are scored together: one worker thread owns the model and scores every
request waiting (up to ``max_batch`` sessions) in one batch, after waiting ``batch_window`` seconds for
company; the event loop only parses and answers.

Example:
    >>> server = RecommendServer(recommender, "127.0.0.1", 8000)
    >>> server.serve_forever()  # until Ctrl-C (or server.shutdown() from another thread)
    $ curl -s localhost:8000/recommend -d '{"session": [214828987, 214826715], "k": 5}'
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any

from sbrzoo.errors import ConfigError
from sbrzoo.recommend import Recommendation, Recommender, is_item_id

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
except ImportError as missing:
    raise ConfigError(f'serving needs FastAPI and uvicorn ({missing.name} is not installed): '
                      'pip install -e ".[serve]"') from None

__all__ = ["Limits", "BadRequest", "RecommendServer", "create_app", "parse_request", "ENDPOINTS", "REQUEST_FIELDS"]

logger = logging.getLogger("sbrzoo.serve")
REQUEST_FIELDS = ("session", "sessions", "k", "exclude_seen")
ENDPOINTS = {"/health": "GET", "/recommend": "POST"}  # path -> its one method
_STOP = object()  # tells the scoring thread to end


@dataclass(frozen=True)
class Limits:
    """What one request may ask for.

    Attributes:
        max_body: Largest request body, in bytes.
        max_sessions: Sessions per request.
        max_items: Items per session.
        max_k: Largest ``k``.
        max_batch: Sessions scored in one batch across waiting requests.
        batch_window: Seconds the worker waits for more requests before scoring.
        timeout: Seconds a request waits for its scores before a 503.
    """

    max_body: int = 1 << 20
    max_sessions: int = 1000
    max_items: int = 1000
    max_k: int = 1000
    max_batch: int = 512
    batch_window: float = 0.002
    timeout: float = 60.0


class BadRequest(Exception):
    """A request the service refuses: status and a one-line message."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Job:
    sessions: list[list[Any]]
    k: int
    exclude_seen: bool
    future: Future = field(default_factory=Future)


def parse_request(body: bytes, limits: Limits) -> _Job:
    """A ``POST /recommend`` body as a job for the scorer.

    Raises:
        BadRequest: why, in one line (status 400).
    """
    if not body.strip():
        raise BadRequest('the body is empty; send a JSON object such as {"session": [1, 2], "k": 20}')
    try:
        request = json.loads(body.decode("utf-8"))
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, or an integer past Python's digit limit
        reason = (error.msg if isinstance(error, json.JSONDecodeError)
                  else "not UTF-8" if isinstance(error, UnicodeDecodeError) else "an integer too long to read")
        raise BadRequest(f"the body is not JSON ({reason})") from None
    if not isinstance(request, dict):
        raise BadRequest('the body must be a JSON object such as {"session": [1, 2], "k": 20}')
    unknown = sorted(set(request) - set(REQUEST_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; a request holds {', '.join(REQUEST_FIELDS)}")
    if ("session" in request) == ("sessions" in request):
        raise BadRequest('give either "session": [id, ...] or "sessions": [[id, ...], ...]')
    sessions = [request["session"]] if "session" in request else request["sessions"]
    if not isinstance(sessions, list) or len(sessions) > limits.max_sessions:
        raise BadRequest(f'"sessions" must be a list of at most {limits.max_sessions} sessions')
    for index, session in enumerate(sessions):
        where = "session" if "session" in request else f"sessions[{index}]"
        if not isinstance(session, list) or len(session) > limits.max_items:
            raise BadRequest(f"{where} must be a list of at most {limits.max_items} item ids")
        for item in session:
            if not is_item_id(item):
                raise BadRequest(f"{where}: {json.dumps(item)[:40]} is not an item id (an integer or a string)")
    k = request.get("k", 20)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limits.max_k:
        raise BadRequest(f'"k" must be an integer from 1 to {limits.max_k}')
    exclude_seen = request.get("exclude_seen", False)
    if not isinstance(exclude_seen, bool):
        raise BadRequest('"exclude_seen" must be true or false')
    return _Job(sessions, k, exclude_seen)


class _Batcher:
    """The one thread that runs the model: takes every waiting job (up to ``max_batch`` sessions) and
    scores them in one :meth:`Recommender.recommend` call per ``exclude_seen`` value, with the largest
    ``k`` asked (each job keeps its own first ``k``). A job whose request gave up (its future cancelled)
    is not scored."""

    def __init__(self, recommender: Recommender, limits: Limits) -> None:
        self.recommender = recommender
        self.limits = limits
        self.jobs: queue.Queue[Any] = queue.Queue()  # jobs, then _STOP
        self.thread = threading.Thread(target=self._run, name="sbrzoo-scorer", daemon=True)
        self.thread.start()

    async def submit(self, job: _Job) -> list[Recommendation]:
        """Queue ``job`` and wait for its results. Raises: TimeoutError: after ``limits.timeout``."""
        self.jobs.put(job)
        return await asyncio.wait_for(asyncio.wrap_future(job.future), self.limits.timeout)

    def close(self) -> None:
        self.jobs.put(_STOP)
        self.thread.join(timeout=10)

    def _run(self) -> None:
        held: Any = None
        while True:
            job = held if held is not None else self.jobs.get()
            held = None
            if job is _STOP:
                return
            batch, size = [job], len(job.sessions)
            deadline = time.monotonic() + self.limits.batch_window
            while size < self.limits.max_batch:
                try:
                    more = self.jobs.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
                if more is _STOP or size + len(more.sessions) > self.limits.max_batch:
                    held = more  # scored next round (the stop signal: after this batch)
                    break
                batch.append(more)
                size += len(more.sessions)
            live = [j for j in batch if j.future.set_running_or_notify_cancel()]
            for exclude_seen in (False, True):
                self._score([j for j in live if j.exclude_seen == exclude_seen], exclude_seen)

    def _score(self, jobs: list[_Job], exclude_seen: bool) -> None:
        if not jobs:
            return
        try:
            results = self.recommender.recommend([s for j in jobs for s in j.sessions], k=max(j.k for j in jobs),
                                                 exclude_seen=exclude_seen)
        except Exception as error:  # noqa: BLE001 - handed to the waiting request
            if len(jobs) > 1:  # one request must not fail the others batched with it: each again, alone
                for job in jobs:
                    self._score([job], exclude_seen)
            else:
                jobs[0].future.set_exception(error)
            return
        start = 0
        for job in jobs:
            mine = results[start:start + len(job.sessions)]
            start += len(job.sessions)
            job.future.set_result([replace(r, items=r.items[:job.k], scores=r.scores[:job.k]) for r in mine])


async def _read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it is known to exceed ``limit`` bytes: from its
    Content-Length before reading anything, else while it streams in (chunked)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise BadRequest(f"the body has {int(length):,} bytes; the limit is {limit:,}",
                         HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(f"the body has over {limit:,} bytes; the limit is {limit:,}",
                             HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    return bytes(body)


def _refusal(error: BadRequest, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=error.status, headers=headers)


def create_app(recommender: Recommender, limits: Limits | None = None) -> FastAPI:
    """The ASGI application (see the module docstring); its scoring thread runs from the app's startup
    to its shutdown (uvicorn's lifespan, or ``with fastapi.testclient.TestClient(app)``)."""
    limits = limits or Limits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.batcher = _Batcher(recommender, limits)
        try:
            yield
        finally:
            app.state.batcher.close()

    app = FastAPI(title="sbrzoo", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, error: BadRequest) -> JSONResponse:
        return _refusal(error)

    @app.exception_handler(HTTPException)
    async def wrong_route(request: Request, error: HTTPException) -> JSONResponse:
        path = request.url.path
        if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED and path in ENDPOINTS:
            refused = BadRequest(f"use {ENDPOINTS[path]} for {path}", HTTPStatus.METHOD_NOT_ALLOWED)
        elif error.status_code == HTTPStatus.NOT_FOUND:
            refused = BadRequest(f"no such endpoint {request.method} {path[:80]!r} (GET /health, POST /recommend)",
                                 HTTPStatus.NOT_FOUND)
        else:
            refused = BadRequest(str(error.detail), HTTPStatus(error.status_code))
        return _refusal(refused, error.headers)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        r = recommender
        return {"status": "ok", "model": r.name, "epoch": r.epoch, "num_items": r.num_items, "device": r.device}

    @app.post("/recommend")
    async def recommend(request: Request) -> JSONResponse:
        job = parse_request(await _read_body(request, limits.max_body), limits)
        try:
            results = await request.app.state.batcher.submit(job)
        except asyncio.TimeoutError:
            return _refusal(BadRequest("scoring timed out; try again", HTTPStatus.SERVICE_UNAVAILABLE))
        except Exception as error:  # noqa: BLE001 - a one-line 500, the server stays up
            logger.exception("scoring failed")
            return _refusal(BadRequest(f"scoring failed: {type(error).__name__}: {error}",
                                       HTTPStatus.INTERNAL_SERVER_ERROR))
        return JSONResponse({"results": [r.to_dict() for r in results]})

    return app


class RecommendServer:
    """uvicorn serving :func:`create_app` on a socket bound (and listening) when constructed, so that a
    busy port fails at once and port 0 picks a free one (see :attr:`url`).

    Args:
        recommender: What answers ``/recommend``.
        host, port: Where to listen (``0.0.0.0``: every interface; there is no authentication).
        limits: What one request may ask for.

    Raises:
        OSError: the address cannot be resolved or bound.
    """

    backlog = 1024  # connections waiting to be accepted (bursts of concurrent clients)

    def __init__(self, recommender: Recommender, host: str = "127.0.0.1", port: int = 8000,
                 limits: Limits | None = None) -> None:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        self.socket = socket.socket(family, kind, proto)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(self.backlog)
        except OSError:
            self.socket.close()
            raise
        self.limits = limits or Limits()
        config = uvicorn.Config(create_app(recommender, self.limits), log_config=None, log_level="warning",
                                access_log=False, backlog=self.backlog, timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port."""
        host, port = self.socket.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Answer requests until :meth:`shutdown` (or, in the main thread, Ctrl-C: uvicorn stops
        gracefully, then KeyboardInterrupt is raised here). Closes the socket when it returns."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def shutdown(self) -> None:
        """Ask :meth:`serve_forever` to stop (from another thread); it finishes the requests under way."""
        self.server.should_exit = True

    @contextmanager
    def running(self, timeout: float = 30.0) -> Iterator[RecommendServer]:
        """Serve in a background thread for the ``with`` block (tests, benchmarks); waits until the
        server has started, and for it to stop at the end.

        Raises:
            RuntimeError: it did not start within ``timeout`` seconds.
        """
        url = self.url
        thread = threading.Thread(target=self.serve_forever, name="sbrzoo-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.shutdown()
                raise RuntimeError(f"the server on {url} did not start")
            time.sleep(0.01)
        try:
            yield self
        finally:
            self.shutdown()
            thread.join(timeout=timeout)
