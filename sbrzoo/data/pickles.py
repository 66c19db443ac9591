"""Safe reading and atomic writing of SR-GNN-format pickles (lists, tuples and ints only).

Pickles can run code when loaded; :class:`RestrictedUnpickler` refuses every global, so a file that
names any callable (``os.system``, ``builtins.eval``, a class) fails before anything runs.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from sbrzoo.errors import DataError

__all__ = ["RestrictedUnpickler", "load_pickle", "write_pickle_atomic", "atomic_write_bytes", "missing_root"]


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only built-in containers and scalars; any global is refused."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: ANN401 - pickle protocol
        raise pickle.UnpicklingError(f"refused to load global {module}.{name}")


def load_pickle(path: Path) -> Any:  # noqa: ANN401 - content is validated by the caller
    """Load a pickle with :class:`RestrictedUnpickler`.

    Raises:
        DataError: the file is missing, unreadable, truncated, or names a global (possible code).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with path.open("rb") as handle:
            return RestrictedUnpickler(handle).load()
    except pickle.UnpicklingError as error:
        raise DataError(f"{path}: not a safe SR-GNN pickle ({error})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError, MemoryError) as error:
        raise DataError(f"{path}: corrupt pickle ({type(error).__name__}: {error})") from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_pickle_atomic(path: Path, obj: Any) -> None:  # noqa: ANN401 - lists/tuples of ints
    """Pickle ``obj`` to ``path`` atomically (protocol 4)."""
    atomic_write_bytes(path, pickle.dumps(obj, protocol=4))


def missing_root(folder: Path) -> Path | None:
    """The outermost missing folder on the way to ``folder`` (None: ``folder`` exists), i.e. what to
    delete to undo creating ``folder``."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing
