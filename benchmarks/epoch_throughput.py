"""Training and evaluation throughput of every registered model, on CPU or GPU.

Runs each model in its own process (so peak memory is that model's), times a fixed number of
training batches after warm-up at the model's preset batch size, times evaluation, and projects a
full epoch and a full test evaluation. Prints a table and writes JSON.

Examples::

    # this machine, real Diginetica (falls back to the synthetic dataset when the folder is absent)
    python benchmarks/epoch_throughput.py --data-dir ../shared/datasets/diginetica --out results/throughput-cpu.json
    # a GPU machine with torch + CUDA and no DGL, from the source tree
    PYTHONPATH=. python benchmarks/epoch_throughput.py --device cuda --backend torch --data-dir DIR --full-eval
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from the source tree


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Time one model; runs in a child process."""
    import torch

    from sbrzoo.allocator import keep_freed_memory
    from sbrzoo.config import RunConfig
    from sbrzoo.data.loader import batch_indices, make_loader, prefetch_in_thread
    from sbrzoo.data.registry import load_dataset
    from sbrzoo.evaluator import evaluate
    from sbrzoo.graph import resolve_backend
    from sbrzoo.models import create_model, get_spec
    from sbrzoo.step import clipped_parameters, train_step
    from sbrzoo.trainer import build_optimizer

    keep_freed_memory()  # as the CLI does; SBRZOO_RETURN_FREED_MEMORY=1 measures without
    torch.manual_seed(0)
    device = torch.device(args.device)
    data_dir = Path(args.data_dir) if args.data_dir and Path(args.data_dir).is_dir() else None
    dataset = load_dataset(None if data_dir else "synthetic", data_dir=data_dir, valid_split="none")
    preset_dataset = "diginetica" if data_dir else "synthetic"
    spec = get_spec(name)
    backend = resolve_backend(args.backend)
    config = RunConfig.with_preset(name, preset_dataset, {"batch_size": args.batch_size}, valid_split="none",
                                   select_on="last", device=str(device), backend=backend,
                                   num_workers=args.num_workers, eval_batch_size=args.eval_batch_size)
    hp = config.training
    model = create_model(name, dataset.num_items, config.settings).to(device)
    pin = device.type == "cuda"
    result: dict[str, Any] = {"model": name, "batch_size": hp.batch_size, "backend": backend, "device": str(device),
                              "dataset": dataset.name, "train_examples_total": len(dataset.train),
                              "test_examples_total": len(dataset.test)}
    if device.type == "cuda":
        result["device_name"] = torch.cuda.get_device_name(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    model.fit_statistics(dataset.train)
    if any(p.requires_grad for p in model.parameters()):
        optimizer = build_optimizer(model, config)
        agc_parameters = clipped_parameters(model, spec, hp)  # as the trainer does
        batches = batch_indices(len(dataset.train), hp.batch_size, shuffle_seed=[0, 0])
        batches = batches[: args.warmup + args.train_batches]
        model.train()
        timed_examples, started = 0, None
        loader = make_loader(dataset.train, dataset.num_items, spec.graph_kinds, backend, batches,
                             num_workers=args.num_workers, pin_memory=pin)
        if pin and args.num_workers == 0:
            loader = prefetch_in_thread(loader)  # as the trainer does on a GPU
        for step, batch in enumerate(loader):
            if step == args.warmup:
                sync()
                started = time.perf_counter()
            train_step(model, batch.to(device, non_blocking=True), optimizer, hp, agc_parameters)
            if step >= args.warmup:
                timed_examples += batch.batch_size
        sync()
        seconds = time.perf_counter() - started
        rate = timed_examples / seconds
        result.update(train_examples_per_s=round(rate, 1), train_s_per_batch=round(seconds / args.train_batches, 5),
                      epoch_s_projected=round(len(dataset.train) / rate, 1))

    test = dataset.test if args.full_eval else dataset.test.subset(range(min(args.eval_examples, len(dataset.test))))
    loader = make_loader(test, dataset.num_items, spec.graph_kinds, backend,
                         batch_indices(len(test), args.eval_batch_size), num_workers=args.num_workers, pin_memory=pin)
    evaluate(model, make_loader(test, dataset.num_items, spec.graph_kinds, backend,
                                batch_indices(min(len(test), args.eval_batch_size), args.eval_batch_size)),
             device=device)  # warm-up
    report = evaluate(model, loader, device=device)
    result.update(eval_examples=len(test), eval_s=round(report.seconds, 3),
                  eval_examples_per_s=round(len(test) / report.seconds, 1),
                  test_eval_s_projected=round(len(dataset.test) * report.seconds / len(test), 2))
    if args.full_eval:
        result["test_metrics"] = report.metrics
    if device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _child(name: str, args: argparse.Namespace, queue: mp.Queue) -> None:
    try:
        queue.put(measure(name, args))
    except Exception as error:  # noqa: BLE001 - reported in the table instead of killing the sweep
        queue.put({"model": name, "error": f"{type(error).__name__}: {error}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="*", help="fnmatch pattern or comma-separated names")
    parser.add_argument("--data-dir", default=None, help="SR-GNN pickle folder (default: synthetic data)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default=None, choices=["dgl", "torch"])
    parser.add_argument("--batch-size", type=int, default=None, help="override the presets' batch size")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-batches", type=int, default=20)
    parser.add_argument("--eval-examples", type=int, default=5000)
    parser.add_argument("--eval-batch-size", type=int, default=500)
    parser.add_argument("--full-eval", action="store_true", help="evaluate the whole test set")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON output file")
    args = parser.parse_args()

    from sbrzoo.models import list_models

    names = [n for pattern in args.models.split(",") for n in list_models(pattern.strip())]
    context = mp.get_context("spawn")
    rows = []
    for name in names:
        queue = context.Queue()
        process = context.Process(target=_child, args=(name, args, queue))
        process.start()
        row = queue.get()
        process.join()
        rows.append(row)
        print(json.dumps(row), flush=True)
    header = ("model", "batch_size", "train_examples_per_s", "epoch_s_projected", "eval_examples_per_s",
              "test_eval_s_projected", "peak_gpu_mb", "peak_rss_mb", "error")
    print("\n" + " | ".join(header))
    for row in rows:
        print(" | ".join(str(row.get(column, "-")) for column in header))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
