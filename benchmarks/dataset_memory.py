"""Memory of a Yoochoose-1/4-sized prepared folder (docs/RESULTS.md, "Memory of a 5.9 M-example dataset").

``make``: write a synthetic prepared folder the way ``sbrzoo data prepare`` writes one (pickle protocol 3:
``all_train_seq.txt``, ``train.txt`` in SR-GNN's prefix layout, ``test.txt``): sessions resampled with
replacement from a real folder's training sessions (as distinct lists, which pickle does not share) until
they give ``--prefixes`` training prefixes (default 5,917,745, the real 1/4 count); its ``test.txt`` is
copied. ``load``: what a training process does before its first step, for ``/usr/bin/time -v``: load the
folder, draw the epoch's batch list, collate rank 0-of-2's slices of the first 50 batches.

    python benchmarks/dataset_memory.py make ../shared/datasets/yoochoose1_64 /tmp/yoo4
    /usr/bin/time -v python benchmarks/dataset_memory.py load /tmp/yoo4 --valid-split last_sessions
"""

from __future__ import annotations

import argparse
import gc
import pickle
import shutil
import time
from pathlib import Path

import numpy as np

from sbrzoo.data.pickles import load_pickle


def make(source: Path, out: Path, prefixes: int, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sessions = load_pickle(source / "all_train_seq.txt")  # restricted: lists and ints only
    lengths = np.array([len(s) for s in sessions])
    rng = np.random.default_rng(seed)
    picked, total = [], 0
    while total < prefixes:
        draw = rng.integers(0, len(sessions), 200_000)
        gains = np.cumsum(lengths[draw] - 1)
        cut = min(int(np.searchsorted(gains, prefixes - total)) + 1, len(draw))
        picked.append(draw[:cut])
        total += int(gains[cut - 1])
    gc.disable()  # millions of small lists: the collector would rescan them all
    train = [list(sessions[i]) for i in np.concatenate(picked)]
    inputs, targets = [], []
    for session in train:  # SR-GNN's layout: each session's prefixes, longest first
        for i in range(1, len(session)):
            targets.append(session[-i])
            inputs.append(session[:-i])
    gc.enable()
    with (out / "all_train_seq.txt").open("wb") as handle:
        pickle.dump(train, handle, protocol=3)
    with (out / "train.txt").open("wb") as handle:
        pickle.dump((inputs, targets), handle, protocol=3)
    shutil.copy(source / "test.txt", out / "test.txt")
    print(f"{out}: {len(train):,} sessions, {len(inputs):,} training prefixes")


def load(folder: Path, valid_split: str, batch_size: int) -> None:
    from sbrzoo.data.loader import batch_indices, make_loader
    from sbrzoo.data.registry import load_dataset
    from sbrzoo.distributed import shard_batches

    started = time.perf_counter()
    dataset = load_dataset(data_dir=folder, valid_split=valid_split)
    loaded = time.perf_counter()
    batches = batch_indices(len(dataset.train), batch_size, shuffle_seed=[1, 0])
    mine, _ = shard_batches(batches[:50], 0, 2)
    for _ in make_loader(dataset.train, dataset.num_items, ("session",), "dgl", mine):
        pass
    valid = len(dataset.valid) if dataset.valid is not None else 0
    print(f"{len(dataset.train):,} train / {valid:,} valid / {len(dataset.test):,} test, {dataset.num_items:,} items; "
          f"{len(batches):,} batches; load {loaded - started:.1f} s, batches and 50 slices "
          f"{time.perf_counter() - loaded:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    maker = commands.add_parser("make")
    maker.add_argument("source", type=Path)
    maker.add_argument("out", type=Path)
    maker.add_argument("--prefixes", type=int, default=5_917_745)
    maker.add_argument("--seed", type=int, default=4)
    loader = commands.add_parser("load")
    loader.add_argument("folder", type=Path)
    loader.add_argument("--valid-split", default="last_sessions", choices=["last_sessions", "random", "none"])
    loader.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    if args.command == "make":
        make(args.source, args.out, args.prefixes, args.seed)
    else:
        load(args.folder, args.valid_split, args.batch_size)


if __name__ == "__main__":
    main()
