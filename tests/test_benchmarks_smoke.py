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
