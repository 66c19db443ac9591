"""CI smoke step: every benchmark runs once (small sizes, timing off), so none can rot."""

from __future__ import annotations

import os
import subprocess
import sys

from sbrzoo.paths import PROJECT_ROOT


def test_every_benchmark_runs_once() -> None:
    env = {**os.environ, "SBRZOO_BENCH_QUICK": "1", "SBRZOO_BENCH_DEVICE": "cpu"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--benchmark-disable", "benchmarks"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


def test_the_gpu_engine_script_runs_on_the_cpu(tmp_path) -> None:  # noqa: ANN001
    """benchmarks/gpu_engine.py is the one command of the GPU check: on the CPU, every section it runs
    reports figures and none fails, so the script is ready when a GPU is lent."""
    import json

    out = tmp_path / "engine.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/gpu_engine.py", "--device", "cpu", "--models", "srgnn,lessr", "--warmup", "2",
         "--steps", "2", "--packed", "1,2", "--no-full-epoch", "--out", str(out)],
        cwd=PROJECT_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert not [s for s in report["sections"].values() if not s.endswith(" s")], report["sections"]
    assert report["parity"]["srgnn"]["grad_max_rel_diff"] < 1e-5
    assert report["epochs"]["srgnn"]["engine_step_ms"] > 0 and "engine_step_ms" not in report["epochs"]["lessr"]
    assert [p["k"] for p in report["packed"]] == [1, 2] and report["profile"]
