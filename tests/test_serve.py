"""`sbrzoo serve` (FastAPI on uvicorn): GET /health and POST /recommend on 127.0.0.1 (an ephemeral port),
its answers equal to the Python API's, concurrent requests scored together, every bad request a 4xx with
a one-line error, and without the serve extra a one-line error. Every socket has a timeout, so a hung
server fails the test instead of blocking it."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason='serving needs the serve extra: pip install -e ".[serve]"')
pytest.importorskip("uvicorn", reason='serving needs the serve extra: pip install -e ".[serve]"')

from helpers import run_main  # noqa: E402 - after the skips
from trained_runs import mapped_dataset, train_run  # noqa: E402

from sbrzoo.recommend import Recommender, load_recommender  # noqa: E402
from sbrzoo.serve import BadRequest, Limits, RecommendServer, parse_request  # noqa: E402

TIMEOUT = 30
LIMITS = Limits(max_body=4096, max_sessions=50, max_items=100, max_k=100, batch_window=0.05)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    folder, _ = mapped_dataset(root / "data", raw="str")
    return train_run(root / "run", folder)


@pytest.fixture(scope="module")
def recommender(run_dir: Path) -> Recommender:
    return load_recommender(run_dir, device="cpu")


@pytest.fixture(scope="module")
def server(recommender: Recommender) -> Iterator[RecommendServer]:
    with RecommendServer(recommender, "127.0.0.1", 0, LIMITS).running(timeout=TIMEOUT) as running:
        yield running


def call(server: RecommendServer, method: str, path: str, body: Any = None, *,  # noqa: ANN401 - JSON or bytes
         connection: http.client.HTTPConnection | None = None) -> tuple[int, dict]:
    own = connection is None
    connection = connection or http.client.HTTPConnection(*server.address, timeout=TIMEOUT)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        if own:
            connection.close()


def raw_request(server: RecommendServer, request: bytes) -> tuple[int, dict]:
    """Send ``request`` as it is (headers and body) and read the answer, for what http.client cannot send."""
    with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
        raw.sendall(request)
        response = http.client.HTTPResponse(raw)
        response.begin()
        return response.status, json.loads(response.read())


def test_health(server: RecommendServer, recommender: Recommender) -> None:
    assert call(server, "GET", "/health") == (200, {"status": "ok", "model": "srgnn", "epoch": 1,
                                                     "num_items": recommender.num_items, "device": "cpu"})


def test_recommend_answers_as_the_python_api(server: RecommendServer, recommender: Recommender) -> None:
    sessions = [["sku-0003", "sku-0010"], ["sku-0042", "nope"], [], [7]]
    status, answer = call(server, "POST", "/recommend", {"sessions": sessions, "k": 8})
    assert status == 200
    assert answer["results"] == [r.to_dict() for r in recommender.recommend(sessions, k=8)]
    assert answer["results"][1]["unknown"] == 1 and answer["results"][2]["fallback"]
    status, one = call(server, "POST", "/recommend", {"session": sessions[0], "exclude_seen": True})
    assert status == 200 and len(one["results"][0]["items"]) == 20
    assert not set(sessions[0]) & set(one["results"][0]["items"])


def test_concurrent_requests_are_scored_together(server: RecommendServer, recommender: Recommender,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = [[f"sku-{1 + i:04d}", f"sku-{1 + 3 * i:04d}"] for i in range(24)]
    expected = [r.to_dict() for r in recommender.recommend(sessions, k=5 + len(sessions))]
    calls: list[int] = []
    original = recommender.recommend
    monkeypatch.setattr(recommender, "recommend", lambda batch, **kw: calls.append(len(batch)) or original(batch, **kw))
    start = threading.Barrier(len(sessions))
    answers: dict[int, tuple[int, dict]] = {}

    def client(index: int) -> None:
        start.wait(timeout=TIMEOUT)
        answers[index] = call(server, "POST", "/recommend", {"session": sessions[index], "k": 5 + index})

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert len(answers) == len(sessions)
    for index, (status, answer) in answers.items():  # each request keeps its own k
        want = expected[index]
        assert status == 200 and answer["results"][0]["items"] == want["items"][:5 + index]
    assert sum(calls) == len(sessions) and len(calls) < len(sessions)


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{not json", 400, "the body is not JSON"),
    (b"\xff\xfe", 400, "not UTF-8"),
    (b"", 400, "the body is empty"),
    ([1, 2], 400, "must be a JSON object"),
    ({"session": [1], "kk": 3}, 400, "unknown field 'kk'"),
    ({"session": [1], "sessions": [[1]]}, 400, "give either"),
    ({"k": 3}, 400, "give either"),
    ({"session": [1], "k": 0}, 400, '"k" must be an integer from 1 to 100'),
    ({"session": [1], "k": 101}, 400, '"k" must be an integer from 1 to 100'),
    ({"session": [1], "k": "5"}, 400, '"k" must be an integer'),
    ({"session": [1], "k": True}, 400, '"k" must be an integer'),
    ({"session": [1], "exclude_seen": "yes"}, 400, '"exclude_seen" must be true or false'),
    ({"session": "sku-0001"}, 400, "session must be a list"),
    ({"sessions": [[1], 2]}, 400, "sessions[1] must be a list"),
    ({"sessions": [[1, 2.5]]}, 400, "sessions[0]: 2.5 is not an item id"),
    ({"session": [None]}, 400, "null is not an item id"),
    ({"sessions": [[1]] * 51}, 400, "at most 50 sessions"),
    ({"session": [1] * 101}, 400, "at most 100 item ids"),
    ({"session": ["x" * 5000]}, 413, "the body has 5,017 bytes; the limit is 4,096"),
])
def test_bad_requests_get_a_clear_4xx(server: RecommendServer, body: Any, status: int,  # noqa: ANN401
                                      message: str) -> None:
    got, answer = call(server, "POST", "/recommend", body)
    assert got == status and message in answer["error"] and "\n" not in answer["error"]
    assert set(answer) == {"error"}
    assert call(server, "GET", "/health")[0] == 200  # still up


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(server: RecommendServer) -> None:
    chunk = b'{"session": ["' + b"x" * 3000
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (chunk, b"y" * 3000 + b'"]}')) + b"0\r\n\r\n"
    status, answer = raw_request(server, b"POST /recommend HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                         b"Content-Type: application/json\r\n\r\n" + body)
    assert (status, answer) == (413, {"error": "the body has over 4,096 bytes; the limit is 4,096"})
    small = b'{"session": ["sku-0001"], "k": 2}'
    status, answer = raw_request(server, b"POST /recommend HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                         b"\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(small), small))
    assert status == 200 and len(answer["results"][0]["items"]) == 2


def test_an_integer_too_long_for_python_is_a_400() -> None:
    with pytest.raises(BadRequest, match="the body is not JSON") as error:
        parse_request(b'{"session": [' + b"1" * 5000 + b"]}", Limits())
    assert error.value.status == 400 and "\n" not in str(error.value)


def test_a_request_that_fails_scoring_fails_alone(recommender: Recommender, monkeypatch: pytest.MonkeyPatch) -> None:
    original = recommender.recommend
    calls: list[int] = []

    def poisoned(sessions: list, **kw: Any) -> list:  # noqa: ANN401 - fails on one item
        calls.append(len(sessions))
        if any("poison" in session for session in sessions):
            raise RuntimeError("cannot score poison")
        return original(sessions, **kw)

    monkeypatch.setattr(recommender, "recommend", poisoned)
    patient = RecommendServer(recommender, "127.0.0.1", 0, Limits(batch_window=2.0))  # both requests in one batch
    answers: dict[str, tuple[int, dict]] = {}
    start = threading.Barrier(2)

    def client(item: str) -> None:
        start.wait(timeout=TIMEOUT)
        answers[item] = call(patient, "POST", "/recommend", {"session": [item], "k": 3})

    with patient.running(timeout=TIMEOUT):
        threads = [threading.Thread(target=client, args=(item,)) for item in ("sku-0001", "poison")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
    assert calls[0] == 2  # scored together first
    assert answers["poison"] == (500, {"error": "scoring failed: RuntimeError: cannot score poison"})
    status, answer = answers["sku-0001"]
    assert status == 200 and answer["results"][0]["items"] == original([["sku-0001"]], k=3)[0].items


def test_wrong_paths_and_methods(server: RecommendServer) -> None:
    assert call(server, "GET", "/nope") == (404, {"error": "no such endpoint GET '/nope' (GET /health, "
                                                           "POST /recommend)"})
    assert call(server, "POST", "/nope", {"session": [1]})[0] == 404
    assert call(server, "GET", "/docs")[0] == 404  # no OpenAPI pages
    assert call(server, "GET", "/recommend") == (405, {"error": "use POST for /recommend"})
    assert call(server, "POST", "/health", {}) == (405, {"error": "use GET for /health"})
    connection = http.client.HTTPConnection(*server.address, timeout=TIMEOUT)
    try:
        connection.request("DELETE", "/recommend")
        response = connection.getresponse()
        assert response.status == 405 and response.getheader("Allow") == "POST"
        assert json.loads(response.read()) == {"error": "use POST for /recommend"}
    finally:
        connection.close()
    status, answer = raw_request(server, b"POST /recommend HTTP/1.1\r\nHost: x\r\n\r\n")  # no body at all
    assert status == 400 and answer["error"].startswith("the body is empty")


def test_one_connection_serves_many_requests(server: RecommendServer) -> None:
    connection = http.client.HTTPConnection(*server.address, timeout=TIMEOUT)
    try:
        for k in (1, 2, 3):
            status, answer = call(server, "POST", "/recommend", {"session": ["sku-0001"], "k": k},
                                  connection=connection)
            assert status == 200 and len(answer["results"][0]["items"]) == k
        assert call(server, "POST", "/recommend", b"{", connection=connection)[0] == 400
        assert call(server, "GET", "/health", connection=connection)[0] == 200
    finally:
        connection.close()


def test_scoring_errors_and_timeouts_are_one_line_5xx(server: RecommendServer, recommender: Recommender,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(sessions: list, **_: Any) -> list:  # noqa: ANN401
        raise RuntimeError("out of memory")

    monkeypatch.setattr(recommender, "recommend", broken)
    assert call(server, "POST", "/recommend", {"session": [1]}) == (
        500, {"error": "scoring failed: RuntimeError: out of memory"})
    original = type(recommender).recommend.__get__(recommender)
    scored: list[list] = []
    started, release = threading.Event(), threading.Event()

    def stuck(sessions: list, **kw: Any) -> list:  # noqa: ANN401 - scores once released
        scored.append(sessions)
        started.set()
        release.wait(TIMEOUT)
        return original(sessions, **kw)

    monkeypatch.setattr(recommender, "recommend", stuck)
    impatient = RecommendServer(recommender, "127.0.0.1", 0, Limits(timeout=1.0, batch_window=0))
    with impatient.running(timeout=TIMEOUT):
        timed_out = (503, {"error": "scoring timed out; try again"})
        assert call(impatient, "POST", "/recommend", {"session": ["sku-0001"]}) == timed_out
        assert started.is_set()
        assert call(impatient, "POST", "/recommend", {"session": ["sku-0002"]}) == timed_out  # waited in vain
        monkeypatch.setattr(recommender, "recommend", original)
        release.set()
        status, answer = call(impatient, "POST", "/recommend", {"session": ["sku-0003"], "k": 3})
        assert status == 200 and len(answer["results"][0]["items"]) == 3
    assert scored == [[["sku-0001"]]]  # the request that gave up before its turn was never scored


def test_cli_refuses_a_busy_port(server: RecommendServer, run_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture) -> None:
    host, port = server.address
    code, _, stderr = run_main(monkeypatch, capsys, "serve", run_dir, "--host", host, "--port", port)
    assert code == 1 and stderr.startswith(f"Error: cannot listen on {host}:{port} (") and stderr.count("\n") == 1


def test_cli_without_the_serve_extra_says_how_to_install_it(run_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    monkeypatch.delitem(sys.modules, "sbrzoo.serve")
    code, stdout, stderr = run_main(monkeypatch, capsys, "serve", run_dir, "--port", 0)
    assert code == 1 and stdout == ""
    assert stderr == ('Error: serving needs FastAPI and uvicorn (fastapi is not installed): '
                      'pip install -e ".[serve]"\n')
