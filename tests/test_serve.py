"""`sbrzoo serve`: GET /health and POST /recommend on 127.0.0.1 (an ephemeral port), its answers equal to
the Python API's, concurrent requests scored together, and every bad request a 4xx with a one-line error.
Every socket has a timeout, so a hung server fails the test instead of blocking it."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trained_runs import mapped_dataset, train_run

from sbrzoo.recommend import Recommender, load_recommender
from sbrzoo.serve import Limits, RecommendServer, make_server

TIMEOUT = 30


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    folder, _ = mapped_dataset(root / "data", raw="str")
    return train_run(root / "run", folder)


@pytest.fixture(scope="module")
def served(run_dir: Path) -> Iterator[tuple[RecommendServer, Recommender]]:
    recommender = load_recommender(run_dir, device="cpu")
    server = make_server(recommender, "127.0.0.1", 0, Limits(max_body=4096, max_sessions=50, max_items=100,
                                                             max_k=100, batch_window=0.05))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, recommender
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()


def call(server: RecommendServer, method: str, path: str, body: Any = None, *,  # noqa: ANN401 - JSON or bytes
         connection: http.client.HTTPConnection | None = None) -> tuple[int, dict]:
    own = connection is None
    connection = connection or http.client.HTTPConnection(*server.server_address[:2], timeout=TIMEOUT)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        if own:
            connection.close()


def test_health(served: tuple[RecommendServer, Recommender]) -> None:
    server, recommender = served
    assert call(server, "GET", "/health") == (200, {"status": "ok", "model": "srgnn", "epoch": 1,
                                                     "num_items": recommender.num_items, "device": "cpu"})


def test_recommend_answers_as_the_python_api(served: tuple[RecommendServer, Recommender]) -> None:
    server, recommender = served
    sessions = [["sku-0003", "sku-0010"], ["sku-0042", "nope"], [], [7]]
    status, answer = call(server, "POST", "/recommend", {"sessions": sessions, "k": 8})
    assert status == 200
    assert answer["results"] == [r.to_dict() for r in recommender.recommend(sessions, k=8)]
    assert answer["results"][1]["unknown"] == 1 and answer["results"][2]["fallback"]
    status, one = call(server, "POST", "/recommend", {"session": sessions[0], "exclude_seen": True})
    assert status == 200 and len(one["results"][0]["items"]) == 20
    assert not set(sessions[0]) & set(one["results"][0]["items"])


def test_concurrent_requests_are_scored_together(served: tuple[RecommendServer, Recommender],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    server, recommender = served
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
    ({"session": ["x" * 5000]}, 413, "the limit is 4,096"),
])
def test_bad_requests_get_a_clear_4xx(served: tuple[RecommendServer, Recommender], body: Any, status: int,  # noqa: ANN401
                                      message: str) -> None:
    server, _ = served
    got, answer = call(server, "POST", "/recommend", body)
    assert got == status and message in answer["error"] and "\n" not in answer["error"]
    assert call(server, "GET", "/health")[0] == 200  # still up


def test_wrong_paths_and_methods(served: tuple[RecommendServer, Recommender]) -> None:
    server, _ = served
    assert call(server, "GET", "/nope")[0] == 404
    assert call(server, "POST", "/nope", {"session": [1]})[0] == 404
    assert call(server, "GET", "/recommend") == (405, {"error": "use POST for /recommend"})
    assert call(server, "POST", "/health", {})[0] == 405
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:  # a POST without Content-Length
        raw.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(200).startswith(b"HTTP/1.1 411")


def test_one_connection_serves_many_requests(served: tuple[RecommendServer, Recommender]) -> None:
    server, _ = served
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=TIMEOUT)
    try:
        for k in (1, 2, 3):
            status, answer = call(server, "POST", "/recommend", {"session": ["sku-0001"], "k": k},
                                  connection=connection)
            assert status == 200 and len(answer["results"][0]["items"]) == k
        assert call(server, "POST", "/recommend", b"{", connection=connection)[0] == 400
        assert call(server, "GET", "/health", connection=connection)[0] == 200
    finally:
        connection.close()


def test_cli_refuses_a_busy_port(served: tuple[RecommendServer, Recommender], run_dir: Path,
                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import sys

    from cli.main import main

    server, _ = served
    host, port = server.server_address[:2]
    monkeypatch.setattr(sys, "argv", ["sbrzoo", "serve", str(run_dir), "--host", host, "--port", str(port)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    assert capsys.readouterr().err.startswith(f"Error: cannot listen on {host}:{port} (")
