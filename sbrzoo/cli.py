"""``python -m sbrzoo.cli``: the ``sbrzoo`` command as a module, for launchers that start one
(``torchrun --nproc-per-node 2 -m sbrzoo.cli train ...``, docs/DISTRIBUTED.md)."""

from __future__ import annotations

from cli.main import main

if __name__ == "__main__":
    main()
