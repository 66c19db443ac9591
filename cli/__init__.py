"""The `sbrzoo` command line (click): one module per command, assembled by `cli/main.py`."""
