"""`sbrzoo.load_run(RUN).recommend(...)`: raw ids in and out, unknown items, empty sessions, batching."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from trained_runs import RAW_BASE, mapped_dataset, train_run

import sbrzoo
from sbrzoo.errors import ConfigError, DataError
from sbrzoo.experiment import evaluation_loader, load_run
from sbrzoo.recommend import ItemIds, Recommender


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    """Run folders by raw-id kind: ``int`` (Yoochoose-like), ``str`` (``sku-...``), ``none`` (no map)."""
    root = tmp_path_factory.mktemp("recommend")
    made = {}
    for raw in ("int", "str", "none"):
        folder, item_map = mapped_dataset(root / f"data-{raw}", raw=raw)
        made[raw] = train_run(root / f"run-{raw}", folder), item_map
    return made


def model_top(run_dir: Path, count: int, k: int = 20) -> tuple[list[list[int]], np.ndarray]:
    """The first ``count`` test prefixes (model ids) and the model's own top-``k`` ids for them."""
    run = load_run(run_dir, device="cpu")
    examples = run.dataset.test.subset(np.arange(count))
    with torch.no_grad():
        scores = torch.cat([run.model(b) for b in evaluation_loader(run.config, examples, run.dataset.num_items)])
    return [examples.prefix(i) for i in range(count)], (torch.topk(scores, k).indices + 1).numpy()


@pytest.mark.parametrize("raw", ["int", "str", "none"])
def test_raw_ids_round_trip_to_the_models_own_ranking(runs: dict, raw: str) -> None:
    run_dir, item_map = runs[raw]
    prefixes, expected = model_top(run_dir, 40)
    recommender = sbrzoo.load_run(run_dir, device="cpu")
    results = recommender.recommend([item_map[p].tolist() for p in prefixes], k=20)
    assert [r.items for r in results] == [item_map[row].tolist() for row in expected]
    assert all(len(r.scores) == 20 and r.scores == sorted(r.scores, reverse=True) for r in results)
    assert not any(r.fallback or r.unknown for r in results)
    if raw == "int":  # the CLI's strings name the same items as ints
        as_text = recommender.recommend([[str(i) for i in item_map[p]] for p in prefixes[:5]], k=20)
        assert [r.items for r in as_text] == [r.items for r in results[:5]]
        assert isinstance(results[0].items[0], int) and results[0].items[0] > RAW_BASE


def test_unknown_items_are_dropped_and_counted(runs: dict) -> None:
    run_dir, item_map = runs["int"]
    recommender = sbrzoo.load_run(run_dir)
    session = item_map[[3, 8, 5]].tolist()
    clean, noisy = recommender.recommend([session, [1, session[0], "nope", session[1], 99, session[2]]], k=10)
    assert noisy.unknown == 3 and not noisy.fallback and clean.unknown == 0
    assert noisy.items == clean.items and noisy.scores == pytest.approx(clean.scores)


def test_sessions_without_a_known_item_fall_back_to_popularity(runs: dict) -> None:
    run_dir, item_map = runs["str"]
    recommender = sbrzoo.load_run(run_dir)
    empty, unknown, known = recommender.recommend([[], ["sku-9999", "x", 5], [item_map[4]]], k=15)
    assert empty.fallback and unknown.fallback and not known.fallback
    assert (empty.unknown, unknown.unknown) == (0, 3)
    run = load_run(run_dir, device="cpu")
    train = run.dataset.train
    first_clicks = train.items[train.offsets[:-1][train.lengths == 1]]
    counts = np.bincount(np.concatenate([train.targets, first_clicks]), minlength=run.dataset.num_items + 1)[1:]
    assert empty.items == unknown.items == item_map[np.argsort(-counts, kind="stable")[:15] + 1].tolist()
    assert empty.scores == sorted(empty.scores, reverse=True) and empty.scores[0] == counts.max()


@pytest.mark.parametrize("model", ["srgnn", "srgnn_ref"])
def test_batching_equals_one_by_one(runs: dict, tmp_path: Path, model: str) -> None:
    run_dir, item_map = runs["none"]
    if model != "srgnn":  # the released-code variant pads to a split's longest prefix: not to the batch's
        run_dir = train_run(tmp_path / model, load_run(run_dir).dataset.files[0].parent, model)
    prefixes, _ = model_top(run_dir, 30)
    sessions = [item_map[p].tolist() for p in prefixes] + [[], [10**9]]
    batched = sbrzoo.load_run(run_dir, batch_size=7).recommend(sessions, k=20)
    alone = sbrzoo.load_run(run_dir, batch_size=1)
    for session, together in zip(sessions, batched, strict=True):
        [single] = alone.recommend([session], k=20)
        assert single.items == together.items and single.scores == pytest.approx(together.scores, abs=1e-5)


def test_exclude_seen_and_k(runs: dict) -> None:
    run_dir, item_map = runs["int"]
    recommender = sbrzoo.load_run(run_dir)
    [plain] = recommender.recommend([item_map[[1, 2, 3]].tolist()], k=recommender.num_items + 50)
    assert len(plain.items) == recommender.num_items  # k is capped at the catalogue
    seen = plain.items[:3]
    [excluded] = recommender.recommend([seen], k=20, exclude_seen=True)
    assert not set(seen) & set(excluded.items) and len(excluded.items) == 20
    # a session longer than the model reads (its position table): the clicks it does not read are excluded too
    recommender.max_clicks = 2
    read = item_map[[1, 2]].tolist()
    [short] = recommender.recommend([read], k=20)
    older = [item for item in short.items if item not in read][:2]  # what the model ranks first for `read`
    [long] = recommender.recommend([older + read], k=20)
    assert long.items == short.items  # the model reads the last two clicks only
    [long_excluded] = recommender.recommend([older + read], k=20, exclude_seen=True)
    assert not set(older + read) & set(long_excluded.items) and len(long_excluded.items) == 20


def test_bad_calls_are_one_line_errors(runs: dict) -> None:
    recommender = sbrzoo.load_run(runs["none"][0])
    for call, error, text in [
        (lambda: recommender.recommend([[1, 2]], k=0), ConfigError, "k must be a positive integer"),
        (lambda: recommender.recommend([1, 2]), ConfigError, "for one session pass [session]"),
        (lambda: recommender.recommend("12"), ConfigError, "list of sessions"),
        (lambda: recommender.recommend([[1, 2.5]]), DataError, "session 0: item 2.5 is not an item id"),
        (lambda: recommender.recommend([[None]]), DataError, "item None"),
    ]:
        with pytest.raises(error, match=None) as raised:
            call()
        assert text in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(ConfigError, match="not available|expected cpu"):
        sbrzoo.load_run(runs["none"][0], device="tpu")


def test_item_ids_keys() -> None:
    ints = ItemIds(3, np.array([0, 50, 60, 70]))
    assert ints.to_model([60, "70", "070", 80, " 50"]) == ([2, 3, 1], 2)
    assert ints.to_raw([3, 1]) == [70, 50]
    texts = ItemIds(2, np.array(["", "a", "7"]))
    assert texts.to_model(["a", 7, "b"]) == ([1, 2], 1)
    identity = ItemIds(5)
    assert identity.to_model([1, "5", 6, 0, "x"]) == ([1, 5], 3) and identity.to_raw([2]) == [2]
    huge = "1" * 5000  # past Python's 4,300-digit limit of int(str): no catalogue id, so unknown
    assert ints.to_model([huge, 60]) == ([2], 1) and identity.to_model([huge]) == ([], 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_gives_the_cpu_ranking(runs: dict) -> None:
    run_dir, item_map = runs["int"]
    prefixes, _ = model_top(run_dir, 30)
    sessions = [item_map[p].tolist() for p in prefixes]
    cpu = sbrzoo.load_run(run_dir, device="cpu").recommend(sessions)
    gpu = sbrzoo.load_run(run_dir, device="cuda").recommend(sessions)
    assert [r.items[:10] for r in gpu] == [r.items[:10] for r in cpu]


def test_import_sbrzoo_stays_light() -> None:
    code = "import sys, sbrzoo; assert 'torch' not in sys.modules; assert callable(sbrzoo.load_run)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_recommender_checks_its_batch_size(runs: dict) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        Recommender.from_run(load_run(runs["none"][0], device="cpu"), batch_size=0)


def test_the_readme_example_runs(runs: dict, capsys: pytest.CaptureFixture) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using a trained run", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert '"runs/tagnnpp-synthetic-*"' in code
    exec(code.replace('"runs/tagnnpp-synthetic-*"', repr(str(runs["none"][0]))), {})  # noqa: S102 - our README
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].endswith("] 0 False") and lines[1].endswith("] 1 False")
    assert lines[2].endswith("] 0 True")
