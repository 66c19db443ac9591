"""CI smoke step: every pytest-benchmark kernel and the benchmark scripts run once on the CPU (small
sizes, timing off), so none can rot: only their real-data cases may skip, where the data is absent."""

from __future__ import annotations

import os
import subprocess
import sys

from sbrzoo.paths import PROJECT_ROOT, data_root


def test_every_benchmark_runs_once() -> None:
    env = {**os.environ, "SBRZOO_BENCH_QUICK": "1", "SBRZOO_BENCH_DEVICE": "cpu"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "--benchmark-disable", "benchmarks"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    present = (data_root() / "diginetica").is_dir()
    assert " passed" in result.stdout and all("no Diginetica under" in line and not present for line in skips), skips


def test_the_benchmark_scripts_run_on_the_cpu(tmp_path) -> None:  # noqa: ANN001
    """The scripts of benchmarks/ that no kernel test runs: device parity (CPU against CPU), epoch
    throughput, the step profile; each must finish and print its figures."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for args, expected in (
        (["device_parity.py", "--device", "cpu", "--num-items", "200"], "csrm "),
        (["epoch_throughput.py", "--models", "srgnn,narm", "--train-batches", "2", "--eval-examples", "200"],
         "train_examples_per_s"),
        (["profile_step.py", "--model", "tagnnpp", "--steps", "2", "--rows", "3"], "ms/step"),
    ):
        result = subprocess.run([sys.executable, f"benchmarks/{args[0]}", *args[1:]], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0 and expected in result.stdout, args[0] + result.stderr[-2000:]


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
