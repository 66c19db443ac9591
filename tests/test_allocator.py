"""sbrzoo.allocator: freed large blocks are reused, not page-faulted in again; the CLI turns it on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sbrzoo import allocator

# Training steps of a full-catalogue output layer (scores of 512 x 43,097 items, 88 MB per tensor): prints
# whether the settings changed and the minor page faults of five steps after ten steps of warm-up. With glibc's
# defaults every such tensor is a fresh mmap that faults its ~21,500 pages in again at every step.
REALLOCATE = """
import resource, torch
from sbrzoo.allocator import keep_freed_memory
changed = keep_freed_memory()
torch.set_num_threads(1)
session = torch.randn(512, 100, requires_grad=True)
items = torch.randn(43_097, 100, requires_grad=True)
targets = torch.randint(0, 43_097, (512,))
def step():
    torch.nn.functional.cross_entropy(session @ items.T, targets).backward()
for _ in range(10):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(changed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _reallocate(opt_out: bool) -> tuple[bool, int]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(allocator.OPT_OUT_ENV, None)
    if opt_out:
        env[allocator.OPT_OUT_ENV] = "1"
    done = subprocess.run([sys.executable, "-c", REALLOCATE], capture_output=True, text=True, timeout=120, env=env,
                          check=True)
    changed, faults = done.stdout.split()
    return changed == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    kept_changed, kept_faults = _reallocate(opt_out=False)
    default_changed, default_faults = _reallocate(opt_out=True)
    assert kept_changed and not default_changed
    assert default_faults > 5 * 21_000  # the scores faulted in afresh at every step: what the setting avoids
    assert kept_faults < default_faults / 10


def test_every_command_keeps_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import cli

    calls = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append(True) or True)
    result = CliRunner().invoke(cli, ["models"])
    assert result.exit_code == 0, result.output
    assert calls == [True]
