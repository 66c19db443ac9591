"""The GPU engine check (issue: TAGNN++ epoch <= 20 s on one H200): parity, eager vs engine epoch times,
packed-run throughput and a kernel profile, in one bounded run that writes one JSON file.

Sections, each skipped when the time budget is spent (what ran is in the JSON's ``sections``):

1. ``parity``: for every model the engine trains, the static batch's loss and gradients against the
   eager batch's (device, float32), and 5 captured steps against 5 uncaptured ones (weights).
2. ``epochs``: per model, eager steps and engine steps after warm-up, projected to a full epoch
   (steps x step time + distinct shapes x capture time; the epochs after the first, until the learning
   rate changes, only replay); the GPU's own time per step from CUDA events.
3. ``full_epoch``: one whole TAGNN++ epoch with the engine, captures included.
4. ``packed``: K = 1, 2, 4, 8 processes training TAGNN++ with the engine at once; examples/s of all.
5. ``profile``: the 12 costliest kernels of TAGNN++'s static step (uncaptured), for missed targets.

Run on the GPU machine from the repository root (torch with CUDA, no DGL)::

    PYTHONPATH=. python benchmarks/gpu_engine.py --device cuda --data-dir .data/diginetica \\
        --budget 420 --out "$OUT/gpu_engine.json"

and on a CPU, to check the script itself (synthetic data, a few steps)::

    python benchmarks/gpu_engine.py --device cpu --steps 3 --warmup 2 --packed 1,2 --out /tmp/engine.json
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from the source tree

MODELS = ("srgnn", "tagnn", "tagnnpp", "lessr", "gcsan", "stamp", "narm", "gru4rec", "repeatnet")
PACKED_MODEL = "tagnnpp"


@functools.lru_cache(maxsize=1)
def _dataset(data_dir: str | None) -> Any:  # noqa: ANN401 - SessionDataset
    from sbrzoo.data.registry import load_dataset

    return load_dataset(None if data_dir else "synthetic", data_dir=Path(data_dir) if data_dir else None,
                        valid_split="none")


def _setup(name: str, args: argparse.Namespace, engine: bool) -> dict[str, Any]:
    """Dataset, model, optimizer and (with ``engine``) the static engine of ``name``'s preset."""
    import torch

    from sbrzoo.config import RunConfig
    from sbrzoo.engine.step import StaticEngine
    from sbrzoo.models import create_model, get_spec
    from sbrzoo.step import clipped_parameters
    from sbrzoo.trainer import build_optimizer

    torch.manual_seed(0)
    device = torch.device(args.device)
    dataset = _dataset(args.data_dir)
    spec = get_spec(name)
    config = RunConfig.with_preset(name, "diginetica" if args.data_dir else "synthetic", valid_split="none",
                                   select_on="last", device=str(device), engine="static" if engine else "eager")
    hp = config.training
    model = create_model(name, dataset.num_items, config.settings).to(device).train()
    optimizer = build_optimizer(model, config)
    agc = clipped_parameters(model, spec, hp)
    setup = {"dataset": dataset, "spec": spec, "hp": hp, "model": model, "optimizer": optimizer, "agc": agc,
             "device": device}
    if engine:
        setup["engine"] = StaticEngine(model, optimizer, dataset.train, dataset.num_items, hp.batch_size, hp, agc,
                                       device, capture=device.type == "cuda")
    return setup


def _sync(device: Any) -> None:  # noqa: ANN401 - torch.device
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(setup: dict[str, Any]) -> list:
    from sbrzoo.data.loader import batch_indices

    return batch_indices(len(setup["dataset"].train), setup["hp"].batch_size, shuffle_seed=[0, 0])


def time_eager(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Eager steps (collated on the host, as the trainer does) after warm-up, projected to an epoch."""
    from sbrzoo.data.loader import make_loader, prefetch_in_thread
    from sbrzoo.step import train_step

    setup = _setup(name, args, engine=False)
    device, batches = setup["device"], _batches(setup)
    chosen = batches[: args.warmup + args.steps]
    loader = make_loader(setup["dataset"].train, setup["dataset"].num_items, setup["spec"].graph_kinds, "torch",
                         chosen, pin_memory=device.type == "cuda")
    if device.type == "cuda":
        loader = prefetch_in_thread(loader)
    started = None
    for step, batch in enumerate(loader):
        if step == args.warmup:
            _sync(device)
            started = time.perf_counter()
        train_step(setup["model"], batch.to(device, non_blocking=True), setup["optimizer"], setup["hp"], setup["agc"])
    _sync(device)
    step_s = (time.perf_counter() - started) / args.steps
    return {"eager_step_ms": round(1e3 * step_s, 3), "eager_epoch_s": round(step_s * len(batches), 1),
            "steps_per_epoch": len(batches), "batch_size": setup["hp"].batch_size}


def time_engine(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Engine steps after a warm-up that captures the shapes it meets, projected to an epoch that
    captures every shape of the epoch once (and to one that only replays)."""
    import torch

    setup = _setup(name, args, engine=True)
    device, engine, batches = setup["device"], setup["engine"], _batches(setup)
    shapes = {engine.data.shape_for(b, engine.batch_size) for b in batches}
    quiet = lambda *_, **__: None  # noqa: E731
    _sync(device)
    started = time.perf_counter()
    engine.run_epoch(batches[: args.warmup], quiet)
    _sync(device)
    warm_s, warm_captures = time.perf_counter() - started, len(engine.graphs)
    timed = batches[args.warmup: args.warmup + args.steps]
    events = [torch.cuda.Event(enable_timing=True) for _ in range(2)] if device.type == "cuda" else None
    before = len(engine.graphs)
    started = time.perf_counter()
    if events:
        events[0].record()
    engine.run_epoch(timed, quiet)
    if events:
        events[1].record()
    _sync(device)
    seconds = time.perf_counter() - started
    step_s = seconds / len(timed)
    capture_s = max(warm_s - args.warmup * step_s, 0.0) / max(warm_captures, 1)
    result = {"engine_step_ms": round(1e3 * step_s, 3), "shapes_per_epoch": len(shapes),
              "captures_in_warmup": warm_captures, "captures_while_timed": len(engine.graphs) - before,
              "capture_s_each": round(capture_s, 3),
              # an epoch that captures every shape (the first, and the first after each lr change), and one that
              # only replays
              "engine_epoch_s": round(step_s * len(batches) + capture_s * len(shapes), 1),
              "engine_epoch_s_replays_only": round(step_s * len(batches), 1)}
    if events:
        result["engine_gpu_ms_per_step"] = round(events[0].elapsed_time(events[1]) / len(timed), 3)
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def full_epoch(args: argparse.Namespace) -> dict[str, Any]:
    """One whole TAGNN++ epoch with the engine, from a fresh model (captures included)."""
    setup = _setup("tagnnpp", args, engine=True)
    batches = _batches(setup)
    _sync(setup["device"])
    started = time.perf_counter()
    total, _ = setup["engine"].run_epoch(batches, lambda *_, **__: None)
    loss = float(total) / len(batches)
    return {"model": "tagnnpp", "seconds": round(time.perf_counter() - started, 1), "steps": len(batches),
            "shapes": len(setup["engine"].graphs), "mean_loss": round(loss, 4)}


def parity(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The static batch's loss and gradients against the eager batch's (model in eval mode: no dropout),
    and the weights after 5 captured steps against 5 uncaptured static steps."""
    import numpy as np
    import torch

    from sbrzoo.data.collate import SessionCollator
    from sbrzoo.engine.static_batch import build_static_batch
    from sbrzoo.engine.step import StaticEngine

    setup = _setup(name, args, engine=True)
    model, engine, dataset = setup["model"].eval(), setup["engine"], setup["dataset"]
    chosen = _batches(setup)[0]
    eager = SessionCollator(dataset.train, dataset.num_items, setup["spec"].graph_kinds, "torch")(chosen)
    indices = torch.zeros(engine.batch_size, dtype=torch.long, device=engine.device)
    indices[: len(chosen)] = torch.as_tensor(chosen, device=engine.device)
    static = build_static_batch(engine.data, indices, torch.tensor(len(chosen), device=engine.device),
                                engine.data.shape_for(chosen, engine.batch_size))
    grads = []
    for batch in (eager.to(engine.device), static):
        model.zero_grad(set_to_none=True)
        loss = model.loss(batch)
        loss.backward()
        grads.append((float(loss), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    worst = max(float((a - b).abs().max() / b.abs().max().clamp(min=1e-12)) for a, b in zip(grads[0][1], grads[1][1]))
    result = {"loss_eager": grads[0][0], "loss_static": grads[1][0], "grad_max_rel_diff": worst}
    if engine.capture:
        start = [p.detach().clone() for p in model.parameters()]
        steps = [np.asarray(b) for b in _batches(setup)[1:6]]
        after = []
        for capture in (False, True):
            with torch.no_grad():
                for p, s in zip(model.parameters(), start):
                    p.copy_(s)
            setup["optimizer"].state.clear()
            runner = StaticEngine(model, setup["optimizer"], dataset.train, dataset.num_items, engine.batch_size,
                                  setup["hp"], setup["agc"], engine.device, capture=capture)
            runner.run_epoch(steps, lambda *_, **__: None)
            after.append([p.detach().clone() for p in model.parameters()])
        result["captured_weights_max_abs_diff"] = max(float((a - b).abs().max()) for a, b in zip(*after))
    return result


def profile(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The costliest kernels of 10 uncaptured TAGNN++ static steps."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    setup = _setup("tagnnpp", args, engine=True)
    engine, batches = setup["engine"], _batches(setup)
    engine.capture = False
    engine.run_epoch(batches[:5], lambda *_, **__: None)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if setup["device"].type == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        engine.run_epoch(batches[5:15], lambda *_, **__: None)
        _sync(setup["device"])
    key = "self_device_time_total" if setup["device"].type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0.0), reverse=True)[:12]
    return [{"name": e.key, "calls": e.count, "ms_per_step": round(getattr(e, key, 0.0) / 1e3 / 10, 4)}
            for e in events]


def _packed_worker(args: argparse.Namespace, barrier: Any, queue: Any) -> None:  # noqa: ANN401
    setup = _setup(PACKED_MODEL, args, engine=True)
    engine, batches = setup["engine"], _batches(setup)
    engine.run_epoch(batches[: args.warmup], lambda *_, **__: None)
    timed = batches[args.warmup: args.warmup + args.steps]
    _sync(setup["device"])
    barrier.wait()
    started = time.perf_counter()
    engine.run_epoch(timed, lambda *_, **__: None)
    _sync(setup["device"])
    queue.put({"examples": sum(len(b) for b in timed), "started": started, "ended": time.perf_counter()})


def packed(k: int, args: argparse.Namespace) -> dict[str, Any]:
    """K processes training at once; throughput = all their examples / (last end - first start)."""
    context = mp.get_context("spawn")
    barrier, queue = context.Barrier(k), context.Queue()
    workers = [context.Process(target=_packed_worker, args=(args, barrier, queue)) for _ in range(k)]
    for worker in workers:
        worker.start()
    reports = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    wall = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    return {"k": k, "examples_per_s": round(sum(r["examples"] for r in reports) / wall, 1), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data-dir", default=None, help="SR-GNN pickle folder (default: the synthetic dataset)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--warmup", type=int, default=200, help="engine steps before timing (captures shapes)")
    parser.add_argument("--steps", type=int, default=200, help="timed steps")
    parser.add_argument("--packed", default="1,2,4,8", help="process counts for the packed-run section")
    parser.add_argument("--no-full-epoch", dest="full_epoch", action="store_false", help="skip section 3")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds; later sections are skipped after")
    parser.add_argument("--out", required=True, help="JSON output file")
    args = parser.parse_args()

    import torch

    from sbrzoo.models import get_spec

    deadline = time.monotonic() + args.budget
    report: dict[str, Any] = {"device": args.device, "torch": torch.__version__, "data_dir": args.data_dir,
                              "warmup": args.warmup, "steps": args.steps, "sections": {}}
    if args.device.startswith("cuda"):
        report["device_name"] = torch.cuda.get_device_name(args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def section(name: str, function: Any) -> Any:  # noqa: ANN401
        if time.monotonic() > deadline:
            report["sections"][name] = "skipped: budget spent"
            return None
        started = time.monotonic()
        try:
            value = function()
            report["sections"][name] = f"{time.monotonic() - started:.1f} s"
        except Exception as error:  # noqa: BLE001 - recorded, the next section still runs
            value = None
            report["sections"][name] = f"error: {type(error).__name__}: {error}"
        print(f"{name}: {report['sections'][name]}", file=sys.stderr, flush=True)
        out.write_text(json.dumps(report, indent=2) + "\n")  # what has run so far survives a kill
        return value

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    static = [n for n in names if get_spec(n).static_shapes]
    report["parity"] = {n: section(f"parity {n}", lambda n=n: parity(n, args)) for n in static}
    report["epochs"] = {}
    for name in names:
        row = section(f"eager {name}", lambda n=name: time_eager(n, args)) or {}
        if name in static:
            row |= section(f"engine {name}", lambda n=name: time_engine(n, args)) or {}
        if "eager_epoch_s" in row and "engine_epoch_s" in row:
            row["speedup"] = round(row["eager_epoch_s"] / row["engine_epoch_s"], 2)
        report["epochs"][name] = row
    report["packed"] = [section(f"packed {k}", lambda k=k: packed(k, args)) for k in map(int, args.packed.split(","))]
    base = next((p for p in report["packed"] if p and p["k"] == 1), None)
    for row in filter(None, report["packed"]):
        row["vs_one_run"] = round(row["examples_per_s"] / base["examples_per_s"], 2) if base else None
    report["profile"] = section("profile", lambda: profile(args))
    projected = report["epochs"].get("tagnnpp", {}).get("engine_epoch_s", 0.0)
    if args.full_epoch and time.monotonic() + 1.5 * projected > deadline:
        report["sections"]["full_epoch"] = f"skipped: the projected {projected} s do not fit the budget left"
    report["full_epoch"] = section("full_epoch", lambda: full_epoch(args)) \
        if args.full_epoch and "full_epoch" not in report["sections"] else None
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["epochs"], indent=1))


if __name__ == "__main__":
    main()
