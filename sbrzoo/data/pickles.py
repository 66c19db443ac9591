"""Safe reading and atomic writing of SR-GNN-format pickles (lists, tuples and ints only).

Pickles can run code when loaded; :class:`RestrictedUnpickler` refuses every global, so a file that
names any callable (``os.system``, ``builtins.eval``, a class) fails before anything runs.
"""

from __future__ import annotations

import os
import pickle
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sbrzoo.errors import ConfigError, DataError, one_line

__all__ = ["RestrictedUnpickler", "load_pickle", "atomic_write_bytes", "current_umask",
           "missing_root"]


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
        raise DataError(f"{path}: not a safe SR-GNN pickle ({one_line(error)})") from None
    except RecursionError:
        raise DataError(f"{path}: corrupt pickle (nested too deeply)") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({one_line(error.strerror or error)})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError, MemoryError,
            OverflowError, struct.error) as error:
        detail = one_line(error)
        kind = type(error).__name__ + (f": {detail}" if detail else "")
        raise DataError(f"{path}: corrupt pickle ({kind})") from None


def current_umask() -> int:
    """The process's umask (read from ``/proc/self/status`` where possible, so nothing changes)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no read-only API elsewhere: set and restore at once
    os.umask(mask)
    return mask


@contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO]:
    """A file opened (``mode`` "wb" or "w") beside ``path`` and renamed onto it when the block ends
    without an error (removed when it raises, with any folder made for it), so readers never see half a
    file and a failed write leaves nothing behind.

    The file gets the mode an ordinary ``open(path, "w")`` would give (``0o666`` less the umask),
    not the private ``0o600`` of :func:`tempfile.mkstemp`.

    Raises:
        ConfigError: no file can be created there (a file where a folder should be, no permission).
    """
    path = Path(path)
    created = missing_root(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        _remove_made_folders(path.parent, created)
        blocking = next((folder for folder in path.parents if folder.exists()), None)
        reason = (f"{blocking} is a file, not a folder" if blocking is not None and not blocking.is_dir()
                  else one_line(error.strerror or error))
        raise ConfigError(f"{path}: cannot write ({reason})") from None
    text: dict[str, Any] = {"encoding": "utf-8", "newline": "\n"} if "b" not in mode else {}
    try:
        with os.fdopen(fd, mode, **text) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        _remove_made_folders(path.parent, created)
        raise


def _remove_made_folders(folder: Path, created: Path | None) -> None:
    """Remove ``folder`` and its parents up to ``created`` (the outermost one made), while empty."""
    if created is None:
        return
    for candidate in (folder, *folder.parents):
        try:
            candidate.rmdir()
        except OSError:  # gone already, or something else was put there meanwhile
            return
        if candidate == created:
            return


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as handle:
        handle.write(data)


def missing_root(folder: Path) -> Path | None:
    """The outermost missing folder on the way to ``folder`` (None: ``folder`` exists), i.e. what to
    delete to undo creating ``folder``."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing
