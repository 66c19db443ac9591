"""`sbrzoo recommend`: one session as a table or JSON, and files of sessions streamed to JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import run_main
from trained_runs import RAW_BASE, mapped_dataset, train_run

from sbrzoo.recommend import Recommender, count_lines, load_recommender, recommend_file


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recommend-cli")
    folder, _ = mapped_dataset(root / "data", raw="int")
    return train_run(root / "run", folder)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Callable[..., Result]:
    """``sbrzoo ARGS`` through the real entry point (errors as one line, exit 1)."""

    def run(*args: object) -> Result:
        return Result(*run_main(monkeypatch, capsys, *args))

    return run


def raw(i: int) -> int:
    return RAW_BASE + 7 * i


def test_one_session_as_a_table_and_as_json(invoke: Callable[..., Result], run_dir: Path) -> None:
    session = f"{raw(3)},{raw(8)},12345"
    table = invoke("recommend", run_dir, "--session", session, "-k", "5")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0] == f"srgnn (epoch 1): top 5 for session [{session}]" and "1 unknown item dropped" in lines[-1]
    as_json = invoke("recommend", run_dir, "--session", session, "--session", "", "-k", "5", "--json")
    first, empty = json.loads(as_json.stdout)
    expected = load_recommender(run_dir).recommend([[raw(3), raw(8)]], k=5)[0]
    assert first["items"] == expected.items and first["unknown"] == 1 and not first["fallback"]
    assert [row.split()[1] for row in lines[3:8]] == [str(i) for i in expected.items]
    assert empty["fallback"] and empty["session"] == [] and len(empty["items"]) == 5
    odd = invoke("recommend", run_dir, "--session", "/x],[b]", "-k", "2")  # unknown items that look like markup
    assert odd.exit_code == 0, odd.output
    assert odd.stdout.splitlines()[0] == "srgnn (epoch 1): top 2 for session [/x],[b]]"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_a_file_is_streamed_in_order(invoke: Callable[..., Result], run_dir: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = [[raw(1 + i % 100), raw(1 + (3 * i) % 100)] for i in range(250)]
    lines = [json.dumps(s) if i % 2 else json.dumps({"items": s, "id": f"s{i}"}) for i, s in enumerate(sessions)]
    source = write_lines(tmp_path / "sessions.jsonl", lines[:100] + [""] + lines[100:])
    sizes: list[int] = []
    original = Recommender.recommend

    def counted(self, batch, **options):  # noqa: ANN001, ANN202
        sizes.append(len(batch))
        return original(self, batch, **options)

    monkeypatch.setattr(Recommender, "recommend", counted)
    result = invoke("recommend", run_dir, "--input", source, "--output", tmp_path / "out.jsonl", "-k", "7",
                    "--batch-size", "64", "--json")
    assert result.exit_code == 0, result.output
    assert sizes == [64, 64, 64, 58]  # batch by batch: memory does not grow with the file
    summary = json.loads(result.stdout)
    assert summary["sessions"] == 250 and summary["bad_lines"] == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    direct = load_recommender(run_dir).recommend(sessions, k=7)
    assert [r["items"] for r in out] == [d.items for d in direct]
    assert out[0]["id"] == "s0" and "id" not in out[1] and out[100]["line"] == 102  # the blank line counts
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_bad_line_stops_with_its_number_and_writes_nothing(invoke: Callable[..., Result], run_dir: Path,
                                                             tmp_path: Path) -> None:
    bad = {4: '{"items": [1, 2.5]}', 6: "not json", 8: '{"session": [1]}', 9: '"a string"', 10: "[[1]]",
           11: f"[{'1' * 5000}]"}  # an integer past Python's digit limit
    lines = [bad.get(n, json.dumps([raw(n)])) for n in range(1, 12)]
    source = write_lines(tmp_path / "in.jsonl", lines)
    target = tmp_path / "out.jsonl"
    stopped = invoke("recommend", run_dir, "--input", source, "--output", tmp_path / "new" / "out.jsonl")
    assert stopped.exit_code == 1
    assert stopped.stderr.strip() == (f"Error: {source}, line 4: item 2.5 is not an item id (expected an integer "
                                      "or a string); nothing written (skip such lines with --skip-bad)")
    assert list(tmp_path.iterdir()) == [source]  # no output, no temporary file, not the folder made for it
    skipped = invoke("recommend", run_dir, "--input", source, "--output", target, "--skip-bad", "--json")
    assert skipped.exit_code == 0, skipped.output
    assert json.loads(skipped.stdout)["first_bad_lines"] == [4, 6, 8, 9, 10, 11]
    warnings = {int(line.split(", line ")[1].split(":")[0]): line for line in skipped.stderr.splitlines()
                if line.startswith("warning: ")}
    assert sorted(warnings) == [4, 6, 8, 9, 10, 11]
    for number, reason in [(6, "not JSON"), (8, "unknown field 'session'"), (9, "found str"),
                           (10, "[1] is not an item id"), (11, "not JSON (an integer too long to read)")]:
        assert reason in warnings[number] and warnings[number].endswith("(skipped)")
    assert [json.loads(line)["line"] for line in target.read_text().splitlines()] == [1, 2, 3, 5, 7]
    done: list[int] = []  # the progress bar's steps add up to the file's lines, skipped and blank ones too
    write_lines(source, [*lines, "", "not json", ""])
    recommend_file(load_recommender(run_dir, batch_size=4), source, target, skip_bad=True, overwrite=True,
                   progress=done.append)
    assert done == [5, 9] and sum(done) == count_lines(source)  # a batch full at line 5, the rest at the end


def test_output_is_never_overwritten_unless_asked(invoke: Callable[..., Result], run_dir: Path,
                                                  tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", [json.dumps([raw(1)])])
    target = tmp_path / "out.jsonl"
    target.write_text("keep me\n")
    refused = invoke("recommend", run_dir, "--input", source, "--output", target)
    assert refused.exit_code == 1 and "already exists" in refused.stderr and target.read_text() == "keep me\n"
    replaced = invoke("recommend", run_dir, "--input", source, "--output", target, "--overwrite")
    assert replaced.exit_code == 0 and json.loads(target.read_text())["line"] == 1


@pytest.mark.parametrize(("args", "message"), [
    ((), "give either --session"),
    (("--session", "1", "--input", "IN"), "give either --session"),
    (("--input", "IN"), "--input needs --output"),
    (("--session", "1", "--skip-bad"), "--skip-bad goes with --input"),
    (("--session", "1", "-k", "0"), "0 is not in the range"),
])
def test_option_mistakes_are_one_line(invoke: Callable[..., Result], run_dir: Path, tmp_path: Path,
                                      args: tuple[str, ...], message: str) -> None:
    source = write_lines(tmp_path / "in.jsonl", ["[1]"])
    result = invoke("recommend", run_dir, *(str(source) if a == "IN" else a for a in args))
    assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
