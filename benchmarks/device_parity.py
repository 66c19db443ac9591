"""Every registered model gives the same scores and gradients on the CPU and on an accelerator.

Run where a GPU exists (PyTorch backend, no DGL needed)::

    PYTHONPATH=. python benchmarks/device_parity.py --device cuda
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbrzoo.data.collate import SessionCollator  # noqa: E402
from sbrzoo.data.examples import Examples  # noqa: E402
from sbrzoo.models import create_model, get_spec, list_models  # noqa: E402
from sbrzoo.presets import resolve_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--num-items", type=int, default=5000)
    args = parser.parse_args()
    torch.backends.cudnn.allow_tf32 = False  # cuDNN's GRU (LESSR) would otherwise round to TF32
    torch.backends.cuda.matmul.allow_tf32 = False
    rng = np.random.default_rng(0)
    prefixes = [rng.integers(1, args.num_items + 1, size=rng.integers(1, 30)).tolist() for _ in range(64)]
    examples = Examples.from_lists(prefixes, rng.integers(1, args.num_items + 1, size=64).tolist())
    failures = 0
    for name in list_models():
        spec = get_spec(name)
        if not spec.composed:
            continue
        torch.manual_seed(0)
        # train mode with every dropout off: deterministic, and cuDNN's GRU only runs backward in train mode
        no_dropout = {key: 0.0 for key in spec.settings() if key.endswith("dropout")}
        settings, _ = resolve_settings(spec, "diginetica", no_dropout)
        model = create_model(name, args.num_items, settings).train()
        initial = {key: value.clone() for key, value in model.state_dict().items()}  # CSRM writes its memory
        batch = SessionCollator(examples, args.num_items, spec.graph_kinds, "torch")(range(64))
        results = []
        for device in ("cpu", args.device):
            model.load_state_dict(initial)
            model.to(device).zero_grad()
            logits = model(batch.to(device))
            torch.nn.functional.cross_entropy(logits, batch.targets.to(device) - 1).backward()
            # the released-code variants' vestigial layers get no gradient, on either device
            grads = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                               for p in model.parameters()]).cpu()
            results.append((logits.detach().cpu(), grads))
        score_gap = (results[0][0] - results[1][0]).abs().max().item()
        grad_gap = (results[0][1] - results[1][1]).abs().max().item()
        ok = score_gap < 1e-3 and grad_gap < 1e-3
        failures += not ok
        verdict = "ok" if ok else "MISMATCH"
        print(f"{name:24s} max |score diff| {score_gap:.2e}  max |grad diff| {grad_gap:.2e}  {verdict}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
