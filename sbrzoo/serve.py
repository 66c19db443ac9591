"""A small HTTP JSON service over a :class:`~sbrzoo.recommend.Recommender` (standard library only).

Endpoints:

* ``GET /health`` -> ``{"status": "ok", "model", "epoch", "num_items", "device"}``
* ``POST /recommend`` with ``{"sessions": [[id, ...], ...]}`` (or ``{"session": [id, ...]}``), optional
  ``"k"`` (default 20) and ``"exclude_seen"`` (default false) -> ``{"results": [{"items", "scores",
  "unknown", "fallback"}, ...]}``, one result per session, in order. Item ids are raw ids, as for
  :meth:`Recommender.recommend`.

A bad request gets ``400`` (``413`` when too large, ``404``/``405`` for another path or method) and
``{"error": "one line"}``. Requests that arrive together are scored together: one worker thread owns
the model and scores every request waiting (up to ``max_batch`` sessions) in one batch, after waiting
``batch_window`` seconds for company.

Example:
    >>> server = make_server(recommender, "127.0.0.1", 8000)
    >>> server.serve_forever()
    $ curl -s localhost:8000/recommend -d '{"session": [214828987, 214826715], "k": 5}'
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sbrzoo.recommend import Recommendation, Recommender

__all__ = ["Limits", "RecommendServer", "make_server", "REQUEST_FIELDS"]

logger = logging.getLogger("sbrzoo.serve")
REQUEST_FIELDS = ("session", "sessions", "k", "exclude_seen")
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


class _Batcher:
    """The one thread that runs the model: takes every waiting job (up to ``max_batch`` sessions) and
    scores them in one :meth:`Recommender.recommend` call per ``exclude_seen`` value, with the largest
    ``k`` asked (each job keeps its own first ``k``)."""

    def __init__(self, recommender: Recommender, limits: Limits) -> None:
        self.recommender = recommender
        self.limits = limits
        self.jobs: queue.Queue[Any] = queue.Queue()  # jobs, then _STOP
        self.thread = threading.Thread(target=self._run, name="sbrzoo-scorer", daemon=True)
        self.thread.start()

    def submit(self, job: _Job) -> list[Recommendation]:
        self.jobs.put(job)
        return job.future.result(timeout=self.limits.timeout)

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
            for exclude_seen in (False, True):
                self._score([j for j in batch if j.exclude_seen == exclude_seen], exclude_seen)

    def _score(self, jobs: list[_Job], exclude_seen: bool) -> None:
        if not jobs:
            return
        try:
            results = self.recommender.recommend([s for j in jobs for s in j.sessions], k=max(j.k for j in jobs),
                                                 exclude_seen=exclude_seen)
        except Exception as error:  # noqa: BLE001 - handed to the waiting requests
            for job in jobs:
                job.future.set_exception(error)
            return
        start = 0
        for job in jobs:
            mine = results[start:start + len(job.sessions)]
            start += len(job.sessions)
            job.future.set_result([replace(r, items=r.items[:job.k], scores=r.scores[:job.k]) for r in mine])


class RecommendServer(ThreadingHTTPServer):
    """The HTTP server: one thread per connection, one scoring thread (see the module docstring)."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog (socketserver's 5 resets bursts of concurrent clients)

    def __init__(self, address: tuple[str, int], recommender: Recommender, limits: Limits | None = None) -> None:
        self.recommender = recommender
        self.limits = limits or Limits()
        self.batcher = _Batcher(recommender, self.limits)
        super().__init__(address, _Handler)

    def server_close(self) -> None:
        super().server_close()
        self.batcher.close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def health(self) -> dict[str, Any]:
        r = self.recommender
        return {"status": "ok", "model": r.name, "epoch": r.epoch, "num_items": r.num_items, "device": r.device}

    def parse(self, body: bytes) -> _Job:
        """A ``POST /recommend`` body as a job. Raises: BadRequest: why, in one line."""
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
            raise BadRequest(f"the body is not JSON ({reason})") from None
        if not isinstance(request, dict):
            raise BadRequest('the body must be a JSON object such as {"session": [1, 2], "k": 20}')
        unknown = sorted(set(request) - set(REQUEST_FIELDS))
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}; a request holds {', '.join(REQUEST_FIELDS)}")
        if ("session" in request) == ("sessions" in request):
            raise BadRequest('give either "session": [id, ...] or "sessions": [[id, ...], ...]')
        sessions = [request["session"]] if "session" in request else request["sessions"]
        limits = self.limits
        if not isinstance(sessions, list) or len(sessions) > limits.max_sessions:
            raise BadRequest(f'"sessions" must be a list of at most {limits.max_sessions} sessions')
        for index, session in enumerate(sessions):
            where = "session" if "session" in request else f"sessions[{index}]"
            if not isinstance(session, list) or len(session) > limits.max_items:
                raise BadRequest(f"{where} must be a list of at most {limits.max_items} item ids")
            for item in session:
                if isinstance(item, bool) or not isinstance(item, int | str):
                    raise BadRequest(f"{where}: {json.dumps(item)[:40]} is not an item id (an integer or a string)")
        k = request.get("k", 20)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limits.max_k:
            raise BadRequest(f'"k" must be an integer from 1 to {limits.max_k}')
        exclude_seen = request.get("exclude_seen", False)
        if not isinstance(exclude_seen, bool):
            raise BadRequest('"exclude_seen" must be true or false')
        return _Job(sessions, k, exclude_seen)


class _Handler(BaseHTTPRequestHandler):
    server: RecommendServer
    protocol_version = "HTTP/1.1"
    server_version = "sbrzoo"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] == "/health":
            self._send(HTTPStatus.OK, self.server.health())
        elif self.path.split("?")[0] == "/recommend":
            self._refuse(BadRequest("use POST for /recommend", HTTPStatus.METHOD_NOT_ALLOWED), allow="POST")
        else:
            self._refuse(BadRequest(f"no such endpoint {self.path[:80]!r} (GET /health, POST /recommend)",
                                    HTTPStatus.NOT_FOUND))

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/recommend":
            self._drain()
            status = HTTPStatus.METHOD_NOT_ALLOWED if self.path.split("?")[0] == "/health" else HTTPStatus.NOT_FOUND
            self._refuse(BadRequest(f"POST {self.path[:80]!r}: only POST /recommend (and GET /health)", status),
                         allow="GET" if status == HTTPStatus.METHOD_NOT_ALLOWED else None)
            return
        try:
            job = self.server.parse(self._body())
            results = self.server.batcher.submit(job)
        except BadRequest as error:
            self._refuse(error)
            return
        except TimeoutError:
            self._refuse(BadRequest("scoring timed out; try again", HTTPStatus.SERVICE_UNAVAILABLE))
            return
        except Exception as error:  # noqa: BLE001 - a one-line 500, the server stays up
            logger.exception("scoring failed")
            self._refuse(BadRequest(f"scoring failed: {type(error).__name__}: {error}",
                                    HTTPStatus.INTERNAL_SERVER_ERROR))
            return
        self._send(HTTPStatus.OK, {"results": [r.to_dict() for r in results]})

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise BadRequest("a POST needs a Content-Length header", HTTPStatus.LENGTH_REQUIRED)
        if int(length) > self.server.limits.max_body:
            self.close_connection = True  # the body is not read
            raise BadRequest(f"the body has {int(length):,} bytes; the limit is {self.server.limits.max_body:,}",
                             HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return self.rfile.read(int(length))

    def _drain(self) -> None:
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= self.server.limits.max_body:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _refuse(self, error: BadRequest, allow: str | None = None) -> None:
        self._send(error.status, {"error": str(error)}, allow=allow)

    def _send(self, status: HTTPStatus, payload: dict[str, Any], allow: str | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if allow:
            self.send_header("Allow", allow)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401 - http.server's signature
        logger.debug("%s %s", self.address_string(), format % args)


def make_server(recommender: Recommender, host: str = "127.0.0.1", port: int = 8000,
                limits: Limits | None = None) -> RecommendServer:
    """A bound server (port 0: any free port, see ``server.url``); call ``serve_forever()``, then
    ``shutdown()`` from another thread and ``server_close()``."""
    return RecommendServer((host, port), recommender, limits)
