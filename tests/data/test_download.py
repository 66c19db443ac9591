"""Verified downloads from a local HTTP mirror: good files, cache reuse, corruption, cut transfers."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sbrzoo.data.download import (
    CACHE_DIR_ENV,
    MIRROR_ENV,
    REGISTRY_FILE,
    DownloadRegistry,
    RemoteDataset,
    RemoteFile,
    default_cache_dir,
    download_dataset,
    fetch_file,
    load_registry,
    resolve_mirror,
)
from sbrzoo.data.sources import read_folder
from sbrzoo.errors import DataError, UnknownNameError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class _CutHandler(_QuietHandler):
    """Announces the real size plus 1000 bytes, sends half the file, then closes the connection."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data) + 1000))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True


@contextmanager
def _serve(directory: Path, handler: type[SimpleHTTPRequestHandler] = _QuietHandler) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (ephemeral port) in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture()
def mirror(shared_datasets: Path) -> Iterator[str]:
    """The real datasets folder served over HTTP."""
    with _serve(shared_datasets) as url:
        yield url


def _files(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (hidden ones included), relative."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_registry_matches_the_shared_readme(shared_datasets: Path) -> None:
    registry = load_registry()
    assert set(registry.datasets) == {"diginetica", "yoochoose1_64"}
    readme = (shared_datasets / "README.md").read_text()
    published = {path: digest for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)}
    for dataset in registry.datasets.values():
        for remote in dataset.files:
            assert published[remote.path] == remote.sha256
            assert (shared_datasets / remote.path).stat().st_size == remote.size
    assert registry.mirror.startswith("https://")


def test_download_verifies_and_reuses_the_cache(mirror: str, tmp_path: Path, shared_datasets: Path) -> None:
    cache = tmp_path / "cache"
    result = download_dataset("diginetica", cache_dir=cache, mirror=mirror, progress=False)
    assert result.folder == cache / "diginetica" and result.mirror == mirror
    assert [status for _, status in result.files] == ["downloaded", "downloaded"]
    assert _files(cache) == ["diginetica", "diginetica/all_train_seq.txt", "diginetica/test.txt"]
    for name in ("all_train_seq.txt", "test.txt"):
        assert (cache / "diginetica" / name).read_bytes() == (shared_datasets / "diginetica" / name).read_bytes()
    assert len(read_folder(result.folder).test) == 60_858  # what the loaders see
    again = download_dataset("diginetica", cache_dir=cache, mirror=mirror, progress=False)
    assert [status for _, status in again.files] == ["cached", "cached"]
    forced = download_dataset("diginetica", cache_dir=cache, mirror=mirror, force=True, progress=False)
    assert [status for _, status in forced.files] == ["downloaded", "downloaded"]


def test_a_damaged_cached_file_is_fetched_again(mirror: str, tmp_path: Path) -> None:
    download_dataset("diginetica", cache_dir=tmp_path, mirror=mirror, progress=False)
    (tmp_path / "diginetica" / "test.txt").write_bytes(b"damaged")
    result = download_dataset("diginetica", cache_dir=tmp_path, mirror=mirror, progress=False)
    assert [status for _, status in result.files] == ["cached", "downloaded"]
    digest = hashlib.sha256((tmp_path / "diginetica" / "test.txt").read_bytes()).hexdigest()
    assert digest == load_registry().datasets["diginetica"].files[1].sha256


def test_environment_sets_cache_and_mirror(mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    monkeypatch.setenv(MIRROR_ENV, mirror + "/")
    assert default_cache_dir() == tmp_path / "env-cache" and resolve_mirror() == mirror
    result = download_dataset("yoochoose1_64", progress=False)
    assert result.folder == tmp_path / "env-cache" / "yoochoose1_64"
    assert len(read_folder(result.folder).test) == 55_898


def test_default_cache_is_under_the_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "sbrzoo" / "datasets"
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert resolve_mirror() == load_registry().mirror.rstrip("/")


def test_corrupted_file_is_refused_and_nothing_stays(shared_datasets: Path, tmp_path: Path) -> None:
    served = tmp_path / "mirror" / "diginetica"
    served.mkdir(parents=True)
    shutil.copy(shared_datasets / "diginetica" / "all_train_seq.txt", served)
    data = bytearray((shared_datasets / "diginetica" / "test.txt").read_bytes())
    data[1000] ^= 0xFF  # one flipped byte, same size
    (served / "test.txt").write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with _serve(tmp_path / "mirror") as url, pytest.raises(DataError) as error:
        download_dataset("diginetica", cache_dir=cache, mirror=url, progress=False)
    message = str(error.value)
    assert "diginetica/test.txt" in message and "sha256" in message and "deleted" in message
    assert _files(cache) == []  # the verified first file is removed too: no half dataset
    assert not cache.exists()


def test_interrupted_transfer_leaves_nothing(shared_datasets: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with _serve(shared_datasets, _CutHandler) as url, pytest.raises(DataError, match="interrupted") as error:
        download_dataset("diginetica", cache_dir=cache, mirror=url, progress=False, timeout=10)
    assert "all_train_seq.txt" in str(error.value)
    assert _files(cache) == []


def test_interrupted_refetch_keeps_the_good_cached_file(shared_datasets: Path, tmp_path: Path) -> None:
    with _serve(shared_datasets) as url:
        download_dataset("diginetica", cache_dir=tmp_path, mirror=url, progress=False)
    before = _files(tmp_path)
    with _serve(shared_datasets, _CutHandler) as url, pytest.raises(DataError, match="interrupted"):
        download_dataset("diginetica", cache_dir=tmp_path, mirror=url, force=True, progress=False, timeout=10)
    assert _files(tmp_path) == before
    assert len(read_folder(tmp_path / "diginetica").test) == 60_858


def test_missing_file_on_the_mirror(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with _serve(tmp_path / "empty") as url, pytest.raises(DataError, match="HTTP 404"):
        download_dataset("diginetica", cache_dir=tmp_path / "cache", mirror=url, progress=False)
    assert not (tmp_path / "cache").exists()


def test_file_urls_and_bad_mirrors(shared_datasets: Path, tmp_path: Path) -> None:
    result = download_dataset("diginetica", cache_dir=tmp_path, mirror=shared_datasets.as_uri(), progress=False)
    assert [status for _, status in result.files] == ["downloaded", "downloaded"]
    with pytest.raises(DataError, match="http://, https:// or file://"):
        resolve_mirror("ftp://example.org/data")
    with pytest.raises(DataError, match="cannot download"):
        fetch_file((tmp_path / "nope.txt").as_uri(), tmp_path / "x.txt", size=1, sha256="0" * 64)
    assert not (tmp_path / "x.txt").exists()


def test_unknown_and_not_downloadable_names(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="sbrzoo data prepare yoochoose"):
        download_dataset("yoochoose1_4", cache_dir=tmp_path, mirror="http://127.0.0.1:9")
    with pytest.raises(UnknownNameError, match="did you mean 'diginetica'"):
        download_dataset("diginetic", cache_dir=tmp_path, mirror="http://127.0.0.1:9")


def test_fetch_checks_the_size_even_without_content_length(tmp_path: Path) -> None:
    source = tmp_path / "blob.bin"
    source.write_bytes(b"x" * 10)
    digest = hashlib.sha256(b"x" * 10).hexdigest()
    with pytest.raises(DataError, match="registry expects 11"):
        fetch_file(source.as_uri(), tmp_path / "out" / "blob.bin", size=11, sha256=digest)
    fetch_file(source.as_uri(), tmp_path / "out" / "blob.bin", size=10, sha256=digest)
    assert _files(tmp_path / "out") == ["blob.bin"]


@pytest.mark.parametrize(("content", "problem"), [
    ("{", "malformed"),
    (json.dumps({"mirror": "x", "datasets": {"a": {"files": [{"path": "../a/x", "size": 1, "sha256": "0" * 64}]}}}),
     "must be a/<file>"),
    (json.dumps({"mirror": "x", "datasets": {"a": {"files": [{"path": "a/x", "size": 1, "sha256": "abc"}]}}}),
     "64 hex digits"),
    (json.dumps({"datasets": {}}), "malformed"),
])
def test_malformed_registry(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "registry.json"
    path.write_text(content)
    with pytest.raises(DataError, match=problem):
        load_registry(path)
    with pytest.raises(DataError, match="not found"):
        load_registry(tmp_path / "missing.json")


def test_custom_registry(tmp_path: Path) -> None:
    (tmp_path / "mirror" / "tiny").mkdir(parents=True)
    (tmp_path / "mirror" / "tiny" / "a.bin").write_bytes(b"abc")
    remote = RemoteFile("tiny/a.bin", 3, hashlib.sha256(b"abc").hexdigest())
    registry = DownloadRegistry("https://unused.invalid", {"tiny": RemoteDataset("tiny", "", (remote,))})
    with _serve(tmp_path / "mirror") as url:
        result = download_dataset("tiny", cache_dir=tmp_path / "cache", mirror=url, registry=registry,
                                  progress=False)
    assert (result.folder / "a.bin").read_bytes() == b"abc"
    assert REGISTRY_FILE.name == "registry.json" and REGISTRY_FILE.parent.name == "datasets"


@pytest.mark.parametrize("failure", ["corrupt", "cut"])
def test_failures_without_real_data(tmp_path: Path, failure: str) -> None:
    """The corrupted-file and cut-transfer guarantees on made-up files (runs without ../shared)."""
    served = tmp_path / "mirror" / "tiny"
    served.mkdir(parents=True)
    blobs = {"a.bin": b"a" * 5000, "b.bin": b"b" * 5000}
    for name, blob in blobs.items():
        (served / name).write_bytes(blob)
    files = tuple(RemoteFile(f"tiny/{name}", len(blob), hashlib.sha256(blob).hexdigest())
                  for name, blob in blobs.items())
    registry = DownloadRegistry("https://unused.invalid", {"tiny": RemoteDataset("tiny", "", files)})
    if failure == "corrupt":
        (served / "b.bin").write_bytes(b"c" * 5000)
    handler = _CutHandler if failure == "cut" else _QuietHandler
    with _serve(tmp_path / "mirror", handler) as url, pytest.raises(DataError) as error:
        download_dataset("tiny", cache_dir=tmp_path / "cache", mirror=url, registry=registry, progress=False,
                         timeout=10)
    assert ("sha256" if failure == "corrupt" else "interrupted") in str(error.value)
    assert not (tmp_path / "cache").exists()
