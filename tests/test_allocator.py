"""sbrzoo.allocator: freed large blocks are reused, not page-faulted in again; the CLI turns it on."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sbrzoo import allocator

# Training steps of a full-catalogue output layer (scores of 512 x 43,097 items, 88 MB per tensor): prints
# whether the settings changed, the minor page faults of 30 steps after 5 steps of warm-up, and whether a block
# of that size now comes from the heap (brk) rather than from its own mmap. With glibc's defaults every such
# tensor is a fresh mmap that faults its ~21,500 pages in again at every step (~87,000 faults a step). With the
# setting the heap grows during the first steps (glibc's aligned allocations leave small remainders between
# freed blocks) and then serves them again, so a few steps of the 30 still fault: counted, not assumed away.
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
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
scores = torch.empty(512, 43_097)
heap = next(line for line in open("/proc/self/maps") if line.rstrip().endswith("[heap]"))
start, end = (int(address, 16) for address in heap.split()[0].split("-"))
print(changed, faults, start <= scores.data_ptr() < end)
"""


def _reallocate(opt_out: bool) -> tuple[bool, int, bool]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(allocator.OPT_OUT_ENV, None)
    if opt_out:
        env[allocator.OPT_OUT_ENV] = "1"
    done = subprocess.run([sys.executable, "-c", REALLOCATE], capture_output=True, text=True, timeout=120, env=env,
                          check=True)
    changed, faults, from_heap = done.stdout.split()
    return changed == "True", int(faults), from_heap == "True"


def _huge_pages_always() -> bool:
    """Transparent huge pages on every mapping: page faults then count 2 MiB pages, not 4 KiB ones."""
    try:
        return "[always]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
@pytest.mark.skipif(_huge_pages_always(), reason="transparent huge pages 'always': faults are not counted per page")
def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    kept_changed, kept_faults, kept_from_heap = _reallocate(opt_out=False)
    default_changed, default_faults, default_from_heap = _reallocate(opt_out=True)
    assert kept_changed and not default_changed
    assert kept_from_heap and not default_from_heap
    pages = 512 * 43_097 * 4 // resource.getpagesize()  # of one score-sized tensor: 21,548 at 4 KiB
    assert default_faults > 30 * 2 * pages  # two score-sized tensors faulted in afresh at every step
    # here 43,099-129,294 (0-6 tensors faulted in while the heap settles) against ~2,600,000
    assert kept_faults < default_faults / 5


def test_every_command_keeps_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import cli

    calls = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append(True) or True)
    result = CliRunner().invoke(cli, ["models"])
    assert result.exit_code == 0, result.output
    assert calls == [True]
