"""Data-parallel training (sbrzoo.distributed): 2 gloo processes on CPU train as one process does.

One spawn of two ranks trains SR-GNN, TAGNN++ (with AGC) and LESSR (BatchNorm) for two epochs of
four steps (global batch 37: slices of 18 and 19, then a last batch of 1 that both ranks take
whole); the parent trains the same configs in one process and compares the weights (≤ 1e-6) and
the sharded evaluation of the same weights (exactly equal metrics, ranks and ties).

Both sides compute in float64: what is compared is the algorithm (which examples, which weights,
which reductions), not float32 rounding, which Adam's first steps (about lr * sign(g)) amplify to
~1e-5 on TAGNN++ (docs/DISTRIBUTED.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_config

from sbrzoo.data.dataset import SessionDataset

WORLD = 2
# (model, settings): dropout 0 so that both runs draw nothing at random during training.
CASES = [("srgnn", {}), ("tagnnpp", {"dropout": 0.0}), ("lessr", {"dropout": 0.0, "drop_last": False})]
# 3 batches of 37, then one of 1 (srgnn, tagnnpp) or 5 (lessr: its BatchNorm cannot train one session alone;
# its preset drops that last batch, kept here for the unequal slices)
TRAIN = {"srgnn": 112, "tagnnpp": 112, "lessr": 116}
VALID, TEST = 130, 333


def _dataset(name: str) -> SessionDataset:
    from sbrzoo.data.registry import load_dataset

    full = load_dataset("synthetic", valid_split="none")
    return SessionDataset("tiny-synthetic", full.num_items, full.train.subset(np.arange(TRAIN[name])),
                          full.test.subset(np.arange(VALID)), full.test.subset(np.arange(VALID, VALID + TEST)),
                          "test", "last_sessions")


def _config(name: str, settings: dict):  # noqa: ANN202 - RunConfig
    return run_config(name, dim=16, batch_size=37, epochs=2, eval_batch_size=64, seed=3, **settings)


def _worker(rank: int, store: str, out: str) -> None:
    """One rank: train every case, keep its own replica's final weights, the training examples it
    collated and the sharded test evaluation."""
    from sbrzoo import distributed
    from sbrzoo.data.collate import SessionCollator

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    context = distributed.init(init_method=f"file://{store}", rank=rank, world_size=WORLD)
    collate, collated = SessionCollator.__call__, []

    def spy(self: SessionCollator, indices: np.ndarray):  # noqa: ANN202 - a SessionBatch
        if self.examples is dataset.train:
            collated.append(np.asarray(indices).tolist())
        return collate(self, indices)

    class Recording(distributed.DistributedTrainer):
        def _save_last(self, *args: object) -> None:  # every rank, after every epoch: its own replica
            self.own = {k: v.clone() for k, v in self.model.state_dict().items()}
            super()._save_last(*args)

    SessionCollator.__call__ = spy
    for name, settings in CASES:
        dataset = _dataset(name)
        collated.clear()
        trainer = Recording(_config(name, settings), dataset, Path(out) / name / f"rank{rank}", context)
        trainer.fit()
        replica = {k: v.clone() for k, v in trainer.model.state_dict().items()}  # best.pt's weights, from rank 0
        report = trainer.evaluate(dataset.test, "test")
        torch.save({"replica": replica, "own": trainer.own, "collated": list(collated), "metrics": report.metrics,
                    "ranks": report.ranks, "pessimistic_ranks": report.pessimistic_ranks,
                    "examples": report.num_examples, "written": sorted(os.listdir(trainer.out_dir))
                    if trainer.out_dir.is_dir() else []},
                   Path(out) / name / f"rank{rank}.pt")
    distributed.exit_job()



@pytest.fixture
def float64() -> Iterator[None]:
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("distributed")
    for name, _ in CASES:
        (out / name).mkdir()
    torch.multiprocessing.spawn(_worker, args=(str(out / "store"), str(out)), nprocs=WORLD, join=True)
    return out


@pytest.mark.parametrize(("name", "settings"), CASES, ids=[name for name, _ in CASES])
@pytest.mark.usefixtures("float64", "one_thread")
def test_two_ranks_train_and_evaluate_as_one_process(name: str, settings: dict, two_ranks: Path,
                                                     tmp_path: Path) -> None:
    from sbrzoo.trainer import Trainer

    dataset = _dataset(name)
    single = Trainer(_config(name, settings), dataset, tmp_path)
    single_result = single.fit()
    folder = two_ranks / name / "rank0"
    ranks = [torch.load(two_ranks / name / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]

    # rank 0 alone wrote the run folder, with the files of a one-process run
    assert ranks[0]["written"] == sorted(os.listdir(tmp_path))
    assert ranks[1]["written"] == []
    record = json.loads((folder / "metrics.json").read_text())
    assert record["environment"]["distributed"] == {"world_size": WORLD, "backend": "gloo"}
    assert [e["train_examples"] for e in record["epochs"]] == [TRAIN[name]] * 2
    assert record["epochs"][-1]["train_loss"] == pytest.approx(single_result.epochs[-1]["train_loss"], rel=1e-5)

    # after 8 steps (2 epochs of 4), the weights equal those of one process
    last = torch.load(folder / "last.pt", weights_only=True)["model"]
    expected = torch.load(tmp_path / "last.pt", weights_only=True)["model"]
    assert last.keys() == expected.keys()
    worst = max(float((last[k].double() - expected[k].double()).abs().max()) for k in expected)
    assert worst <= 1e-6, f"largest weight difference {worst:.3g}"
    assert all(torch.equal(last[k], saved["own"][k]) for saved in ranks for k in expected)  # identical replicas

    # each rank collated only its slice of every batch (the batch of 1 both ranks take whole)
    from sbrzoo.data.loader import batch_indices
    from sbrzoo.distributed import shard

    for epoch in range(2):
        batches = batch_indices(TRAIN[name], 37, shuffle_seed=[3, epoch])
        for rank in range(WORLD):
            mine = ranks[rank]["collated"][epoch * len(batches): (epoch + 1) * len(batches)]
            assert mine == [shard(batch, rank, WORLD)[0].tolist() for batch in batches]

    # the sharded evaluation of these weights is the one-process evaluation, to the last bit
    single.model.load_state_dict(ranks[0]["replica"])
    report = single.evaluate(dataset.test, "test")
    for saved in ranks:
        assert saved["metrics"] == report.metrics
        assert torch.equal(saved["ranks"], report.ranks)
        assert torch.equal(saved["pessimistic_ranks"], report.pessimistic_ranks)
        assert saved["examples"] == TEST
    np.testing.assert_array_equal(np.load(folder / "test_ranks.npy"), np.load(tmp_path / "test_ranks.npy"))


def test_slices_cover_every_batch_once_with_weights_that_average_to_the_batch_mean() -> None:
    from sbrzoo.distributed import shard_batches

    batches = [np.arange(0, 37), np.arange(37, 40), np.arange(40, 41)]
    for world in (1, 2, 3, 4):
        slices = [shard_batches(batches, rank, world) for rank in range(world)]
        for index, batch in enumerate(batches):
            parts = [s[0][index] for s in slices]
            weights = [s[1][index] for s in slices]
            if len(batch) >= world:  # disjoint slices, sizes within one, weights n_r * world / n
                np.testing.assert_array_equal(np.concatenate(parts), batch)
                assert max(map(len, parts)) - min(map(len, parts)) <= 1
                # DDP's average of weighted slice means gives every example the weight 1 / n
                assert [w / (world * len(p)) for w, p in zip(weights, parts)] == pytest.approx([1 / len(batch)] * world)
            else:  # too small to split: every rank takes it whole, weight 1
                assert all(np.array_equal(p, batch) for p in parts) and weights == [1.0] * world


def test_a_failing_rank_stops_every_rank_with_one_message(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import torch.distributed as dist\n"
        "from sbrzoo import distributed\n"
        "from sbrzoo.errors import DataError\n"
        "with distributed.worker() as context:\n"
        "    dist.barrier()\n"
        "    if context.rank == 1:\n"
        "        raise DataError('the shard is unreadable')\n"
        "    dist.barrier()  # rank 0 loses its peer here\n"
    )
    code = ("import sys\nfrom sbrzoo.distributed import launch\nfrom sbrzoo.errors import SbrzooError\n"
            f"try:\n    launch(2, [{str(script)!r}])\n"
            "except SbrzooError as error:\n    sys.exit(f'Error: {error}')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == ["Error: rank 1 of 2: the shard is unreadable; all 2 processes were stopped"], done.stderr


@pytest.mark.usefixtures("one_thread")
def test_train_nproc_2_runs_and_resumes_like_one_process(tmp_path: Path) -> None:
    """`sbrzoo train --nproc 2`, then `--resume` for a second epoch: the weights are those of one process
    training both epochs (float32 here: within 1e-5)."""
    from sbrzoo.config import RunConfig
    from sbrzoo.experiment import load_run_dataset
    from sbrzoo.trainer import Trainer

    out = tmp_path / "run"
    options = ["--model", "srgnn", "--dim", "16", "--max-train-batches", "4", "--eval-batch-size", "2000",
               "--device", "cpu", "--backend", "torch", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for extra in (["--epochs", "1", "--out", str(out)], ["--epochs", "2", "--resume", str(out)]):
        done = subprocess.run([sys.executable, "-m", "sbrzoo.cli", "-q", "train", "--nproc", "2", *options, *extra],
                              capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["metrics"]["HR@20"] >= 0
    record = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]
    assert record["environment"]["distributed"]["world_size"] == 2
    config = RunConfig.load(out / "config.json")
    Trainer(config, load_run_dataset(config), tmp_path / "one").fit()
    two = torch.load(out / "last.pt", weights_only=True)["model"]
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["model"]
    assert max(float((two[k] - one[k]).abs().max()) for k in one) <= 1e-5


def test_ranks_evaluated_apart_merge_in_batch_order_with_their_ties() -> None:
    from sbrzoo.distributed import _merge_reports
    from sbrzoo.metrics import metrics_from_ranks

    # batches of 2, 2, 1: rank 0 evaluated batches 0 and 2, rank 1 batch 1; the target of the third
    # example ties (optimistic 3, pessimistic 25)
    gathered = [(torch.tensor([1, 2, 30]), torch.tensor([1, 2, 30])), (torch.tensor([3, 4]), torch.tensor([25, 4]))]
    report = _merge_reports(gathered, [2, 2, 1], torch.device("cpu"), started=0.0)
    assert report.ranks.tolist() == [1, 2, 3, 4, 30]
    assert report.pessimistic_ranks.tolist() == [1, 2, 25, 4, 30]
    assert report.ties == 1 and report.metrics == metrics_from_ranks(report.ranks)
    assert report.pessimistic == metrics_from_ranks(report.pessimistic_ranks) != report.metrics
