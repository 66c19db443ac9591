"""Where the time of a training step goes: a torch-profiler summary for one model.

The step is the trainer's (``sbrzoo.step.train_step``: loss, backward, AGC where the model uses it,
the optimizer ``build_optimizer`` makes), written out here only to time its phases apart.

    PYTHONPATH=. python benchmarks/profile_step.py --model tagnnpp --device cuda --data-dir DIR
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbrzoo.agc import adaptive_clip_  # noqa: E402
from sbrzoo.allocator import keep_freed_memory  # noqa: E402
from sbrzoo.config import RunConfig  # noqa: E402
from sbrzoo.data.collate import SessionCollator  # noqa: E402
from sbrzoo.data.loader import batch_indices  # noqa: E402
from sbrzoo.data.registry import load_dataset  # noqa: E402
from sbrzoo.models import create_model, get_spec  # noqa: E402
from sbrzoo.step import clipped_parameters  # noqa: E402
from sbrzoo.trainer import build_optimizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tagnnpp")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args()
    keep_freed_memory()  # as every sbrzoo command does
    device = torch.device(args.device)
    data_dir = Path(args.data_dir) if args.data_dir else None
    dataset = load_dataset(None if data_dir else "synthetic", data_dir=data_dir, valid_split="none")
    spec = get_spec(args.model)
    config = RunConfig.with_preset(args.model, "diginetica" if data_dir else "synthetic", device=str(device))
    hp = config.training
    model = create_model(args.model, dataset.num_items, config.settings).to(device)
    optimizer = build_optimizer(model, config)  # the trainer's: weight decay, AdamW groups, fused on CUDA
    collator = SessionCollator(dataset.train, dataset.num_items, spec.graph_kinds, "torch")
    batches = batch_indices(len(dataset.train), hp.batch_size, shuffle_seed=[0, 0])[: args.steps + 5]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    phases = {"collate": 0.0, "copy": 0.0, "forward+backward": 0.0, "AGC+optimizer": 0.0}
    agc_parameters = clipped_parameters(model, spec, hp)  # as the trainer does

    def step(indices, timed: bool) -> None:  # noqa: ANN001
        marks = [time.perf_counter()]
        batch = collator(indices)
        marks.append(time.perf_counter())
        batch = batch.to(device)
        sync()
        marks.append(time.perf_counter())
        loss = model.loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        sync()
        marks.append(time.perf_counter())
        if agc_parameters is not None:
            adaptive_clip_(agc_parameters, hp.agc_clipping, hp.agc_eps)
        optimizer.step()
        sync()
        marks.append(time.perf_counter())
        if timed:
            for name, start, end in zip(phases, marks, marks[1:]):
                phases[name] += end - start

    for indices in batches[:5]:
        step(indices, timed=False)
    for indices in batches[5:]:
        step(indices, timed=True)
    total = sum(phases.values())
    print(f"{args.model} on {device} (batch {hp.batch_size}), {args.steps} synchronised steps: "
          f"{1000 * total / args.steps:.2f} ms/step")
    for name, seconds in phases.items():
        print(f"  {name:18s} {1000 * seconds / args.steps:7.2f} ms  ({100 * seconds / total:4.1f}%)")
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profiler:
        for indices in batches[5:]:
            step(indices, timed=False)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(profiler.key_averages().table(sort_by=sort, row_limit=args.rows))


if __name__ == "__main__":
    main()
