"""Downloading the prepared SR-GNN benchmark files, verified against their sha256 checksums.

The registry (``datasets/registry.json`` in the project) lists, per dataset, the files with their
size and sha256. A file is fetched from ``<mirror>/<dataset>/<file>`` with urllib into a
temporary file in its final folder, hashed while it streams, and renamed into place only when
the size and the checksum match. A dataset is all or nothing: when one of its files fails, the
files this call added are removed again, so the cache never holds half a dataset.

Where things go:

* cache: ``--cache-dir``, else ``$SBRZOO_CACHE_DIR``, else ``~/.cache/sbrzoo/datasets``; a
  dataset lands in ``<cache>/<name>/`` (pass it as ``--data-dir``, or the cache as
  ``$SBRZOO_DATA_DIR``).
* mirror: ``--mirror``, else ``$SBRZOO_MIRROR``, else the registry's default. No official public
  host of these exact pickles exists (the SR-GNN authors' Drive links are dead), so the default
  is the project's to-be-published location; a team points ``SBRZOO_MIRROR`` at its own copy (an
  ``http(s)://`` or ``file://`` URL laid out as ``<mirror>/<dataset>/<file>``).

Example:
    >>> result = download_dataset("diginetica", mirror="file:///data/sbr-mirror")
    >>> result.folder
    PosixPath('/home/me/.cache/sbrzoo/datasets/diginetica')
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import json
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbrzoo.data.pickles import missing_root
from sbrzoo.errors import DataError, UnknownNameError, one_line
from sbrzoo.paths import PROJECT_ROOT

__all__ = [
    "REGISTRY_FILE",
    "CACHE_DIR_ENV",
    "MIRROR_ENV",
    "RemoteFile",
    "RemoteDataset",
    "DownloadRegistry",
    "DownloadResult",
    "load_registry",
    "default_cache_dir",
    "resolve_mirror",
    "download_dataset",
    "fetch_file",
    "sha256_of",
]

logger = logging.getLogger(__name__)

REGISTRY_FILE = PROJECT_ROOT / "datasets" / "registry.json"
CACHE_DIR_ENV = "SBRZOO_CACHE_DIR"
MIRROR_ENV = "SBRZOO_MIRROR"
_BLOCK = 1 << 16
_SCHEMES = ("http", "https", "file")

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class RemoteFile:
    """One file of the registry.

    Attributes:
        path: Path relative to the mirror and to the cache (``"diginetica/test.txt"``).
        size: Size in bytes.
        sha256: Hex sha256 of the content.
    """

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RemoteDataset:
    """A downloadable dataset: its name (also its folder) and files."""

    name: str
    description: str
    files: tuple[RemoteFile, ...]


@dataclass(frozen=True)
class DownloadRegistry:
    """The content of ``registry.json``: default mirror and datasets by name."""

    mirror: str
    datasets: dict[str, RemoteDataset]


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_dataset` did.

    Attributes:
        name: The dataset.
        folder: ``<cache>/<name>``, holding every file of the dataset, verified.
        mirror: The base URL used.
        files: ``(path in the cache, "downloaded" | "cached")`` per file.
    """

    name: str
    folder: Path
    mirror: str
    files: list[tuple[Path, str]]


def load_registry(path: Path | None = None) -> DownloadRegistry:
    """Read and check the download registry (default: ``datasets/registry.json``).

    Raises:
        DataError: the file is missing or malformed.
    """
    path = Path(path) if path is not None else REGISTRY_FILE
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        datasets = {}
        for name, entry in content["datasets"].items():
            files = tuple(RemoteFile(str(f["path"]), int(f["size"]), str(f["sha256"]).lower())
                          for f in entry["files"])
            for remote in files:
                _check_entry(remote, name)
            datasets[name] = RemoteDataset(name, str(entry.get("description", "")), files)
        return DownloadRegistry(str(content["mirror"]), datasets)
    except FileNotFoundError:
        raise DataError(f"{path}: download registry not found") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(f"{path}: malformed download registry ({type(error).__name__}: {error})") from None


def default_cache_dir() -> Path:
    """``$SBRZOO_CACHE_DIR``, else ``~/.cache/sbrzoo/datasets``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "sbrzoo" / "datasets"


def resolve_mirror(mirror: str | None = None, registry: DownloadRegistry | None = None) -> str:
    """The base URL: ``mirror``, else ``$SBRZOO_MIRROR``, else the registry's default.

    Raises:
        DataError: the URL is not ``http(s)://`` or ``file://``.
    """
    url = mirror or os.environ.get(MIRROR_ENV) or (registry or load_registry()).mirror
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in _SCHEMES:
        raise DataError(f"mirror {url!r}: expected an http://, https:// or file:// URL "
                        f"(--mirror or ${MIRROR_ENV})")
    return url.rstrip("/")


def download_dataset(
    name: str,
    *,
    cache_dir: Path | None = None,
    mirror: str | None = None,
    force: bool = False,
    timeout: float = 60.0,
    progress: bool = True,
    registry: DownloadRegistry | None = None,
) -> DownloadResult:
    """Download every file of a dataset into the cache and verify it.

    Files already in the cache with the right checksum are kept (unless ``force``); a cached
    file with a wrong checksum is fetched again.

    Args:
        name: A dataset of the registry (``diginetica``, ``yoochoose1_64``).
        cache_dir: Cache folder (default: :func:`default_cache_dir`).
        mirror: Base URL (default: :func:`resolve_mirror`).
        force: Download even the files already verified in the cache.
        timeout: Seconds to wait for the server at each step.
        progress: Show a rich progress bar when the console is a terminal.
        registry: The registry (default: :func:`load_registry`).

    Returns:
        The dataset folder and what happened to each file.

    Raises:
        UnknownNameError: ``name`` is not in the registry.
        DataError: the mirror cannot be reached or lacks a file, a transfer is cut short, or a
            checksum differs; the files this call added are removed.
    """
    registry = registry or load_registry()
    if name not in registry.datasets:
        raise _not_downloadable(name, registry)
    dataset = registry.datasets[name]
    base = resolve_mirror(mirror, registry)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = cache / name
    results: list[tuple[Path, str]] = []
    added: list[Path] = []
    created = missing_root(folder)
    try:
        with _progress_bar(progress) as start_bar:
            for remote in dataset.files:
                destination = cache / remote.path
                if not force and destination.is_file() and sha256_of(destination) == remote.sha256:
                    logger.info("%s: already in the cache, verified", destination)
                    results.append((destination, "cached"))
                    continue
                existed = destination.exists()
                url = f"{base}/{urllib.parse.quote(remote.path)}"
                fetch_file(url, destination, size=remote.size, sha256=remote.sha256, timeout=timeout,
                           on_bytes=start_bar(remote.path, remote.size))
                if not existed:
                    added.append(destination)
                results.append((destination, "downloaded"))
    except BaseException as error:
        for path in added:
            path.unlink(missing_ok=True)
        if created is not None:
            _remove_empty_tree(created)
        if isinstance(error, OSError):  # the cache folder: a file in the way, no permission, a full disk
            raise DataError(f"{folder}: cannot write the downloaded files ({one_line(error.strerror or error)})"
                            ) from None
        raise
    return DownloadResult(name, folder, base, results)


def fetch_file(
    url: str,
    destination: Path,
    *,
    size: int | None,
    sha256: str,
    timeout: float = 60.0,
    on_bytes: ProgressCallback | None = None,
) -> None:
    """Fetch ``url`` into ``destination`` through a temporary file, verified before the rename.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        destination: Final path; its folder is created.
        size: Expected size in bytes (None: only the server's ``Content-Length`` is checked).
        sha256: Expected hex digest.
        timeout: Seconds to wait for the server at each step.
        on_bytes: Called with the number of bytes of every block received.

    Raises:
        DataError: unreachable URL or HTTP error, transfer cut short, wrong size or checksum. The
            temporary file is removed (also on interruption); ``destination`` is untouched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part",
                                         dir=destination.parent)
    try:
        digest, received, announced = hashlib.sha256(), 0, None
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
                    length = response.headers.get("Content-Length")
                    announced = int(length) if length and length.isdigit() else None
                    for block in iter(lambda: response.read(_BLOCK), b""):
                        out.write(block)
                        digest.update(block)
                        received += len(block)
                        if on_bytes is not None:
                            on_bytes(len(block))
            except urllib.error.HTTPError as error:
                raise DataError(f"{url}: HTTP {error.code} {error.reason} (is the mirror right? "
                                f"--mirror or ${MIRROR_ENV})") from None
            except urllib.error.URLError as error:
                raise DataError(f"{url}: cannot download ({error.reason}); check the mirror "
                                f"(--mirror or ${MIRROR_ENV}) and the network") from None
            except (OSError, http.client.HTTPException) as error:  # reset, timeout, IncompleteRead
                raise DataError(f"{url}: transfer interrupted after {received:,} bytes "
                                f"({type(error).__name__}: {error}); nothing was kept") from None
            out.flush()
            os.fsync(out.fileno())
        expected = announced if announced is not None else size
        if expected is not None and received != expected:
            raise DataError(f"{url}: transfer interrupted after {received:,} of {expected:,} bytes; "
                            "nothing was kept")
        if size is not None and received != size:
            raise DataError(f"{url}: {received:,} bytes where the registry expects {size:,}; the "
                            "download was deleted (wrong file on the mirror?)")
        if digest.hexdigest() != sha256.lower():
            raise DataError(f"{url}: sha256 {digest.hexdigest()} differs from the registry's "
                            f"{sha256.lower()}; the download was deleted (corrupt or wrong file on "
                            "the mirror?)")
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _not_downloadable(name: str, registry: DownloadRegistry) -> UnknownNameError:
    """The error for a name outside the registry, pointing to ``sbrzoo data prepare`` when useful."""
    message = f"{name!r} cannot be downloaded (downloadable: {', '.join(sorted(registry.datasets))})"
    close = difflib.get_close_matches(name, list(registry.datasets), n=1)
    if name.startswith("yoochoose"):
        message += ("; make it from the raw log: sbrzoo data prepare yoochoose --raw "
                    "yoochoose-clicks.dat --out DIR")
    elif close:
        message += f"; did you mean {close[0]!r}?"
    return UnknownNameError(message)


def _check_entry(remote: RemoteFile, name: str) -> None:
    """Reject registry paths that could escape the cache and malformed digests."""
    parts = Path(remote.path).parts
    if Path(remote.path).is_absolute() or ".." in parts or not parts or parts[0] != name:
        raise ValueError(f"file path {remote.path!r} of {name!r} must be {name}/<file>")
    if len(remote.sha256) != 64 or any(c not in "0123456789abcdef" for c in remote.sha256):
        raise ValueError(f"sha256 of {remote.path!r} is not 64 hex digits")


def _remove_empty_tree(root: Path) -> None:
    """Remove ``root`` and its sub-folders when they hold no file."""
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    if not any(root.iterdir()):
        root.rmdir()


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[str, int], ProgressCallback]]:
    """A rich transfer bar on the shared console (only on a terminal).

    Yields:
        ``start(description, total) -> advance(bytes)``: adds one bar per file.
    """
    from sbrzoo.console import console

    if not (enabled and console.is_terminal):
        yield lambda description, total: _ignore
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        def start(description: str, total: int) -> ProgressCallback:
            task = bar.add_task(description, total=total)
            return lambda count: bar.advance(task, count)

        yield start


def _ignore(count: int) -> None:
    """A progress callback that does nothing."""
