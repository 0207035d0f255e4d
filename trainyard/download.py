"""Resumable, verified file downloads: `<path>.part` grows with Range requests, is checked
against the expected sha256, and only then becomes `<path>`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

CHUNK = 1 << 20
Progress = Callable[[int, int], None]  # (bytes on disk, total bytes)


class ChecksumError(Exception):
    """The downloaded file's sha256 is not the expected one; the corrupt file was deleted."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(
            f"sha256 mismatch for {path}: expected {expected}, got {actual}; "
            "the corrupt file was deleted, download again to fetch it whole"
        )


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    sha256: str
    resumed_from: int  # bytes that were already on disk (0: a fresh download)


def part_path(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _sha256_of(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest


def _fetch(
    http: httpx.Client,
    url: str,
    part: Path,
    size: int,
    etag: str,
    on_progress: Progress | None,
) -> None:
    """Append the missing bytes of `url` to `part` (or rewrite it if the server sends all)."""
    offset = part.stat().st_size if part.exists() else 0
    if offset >= size:
        return
    headers = {"Range": f"bytes={offset}-", "If-Range": f'"{etag}"'} if offset else {}
    with http.stream("GET", url, headers=headers) as response:
        if response.status_code == 416:  # our partial file is longer than theirs: start over
            part.unlink()
            return
        if response.is_error:
            response.read()  # so that the caller can show the error body
            response.raise_for_status()
        whole = response.status_code == 200  # the server ignored the range: start over
        with open(part, "wb" if whole else "ab") as out:
            done = 0 if whole else offset
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, size)


def download(
    http: httpx.Client,
    url: str,
    path: Path,
    *,
    size: int,
    sha256: str,
    attempts: int = 5,
    on_progress: Progress | None = None,
) -> Downloaded:
    """Download `url` to `path`, resuming `<path>.part` if an earlier transfer was cut, and
    retrying a cut transfer from where it stopped. Raises ChecksumError on a sha256 mismatch."""
    path = Path(path)
    part = part_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    resumed_from = part.stat().st_size if part.exists() else 0
    for attempt in range(attempts):
        try:
            _fetch(http, url, part, size, sha256, on_progress)
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
        if part.exists() and part.stat().st_size >= size:
            break
    else:
        raise OSError(f"could not download {url} whole in {attempts} attempts")
    actual = _sha256_of(part).hexdigest()
    if actual != sha256:
        part.unlink()
        raise ChecksumError(path, sha256, actual)
    os.replace(part, path)
    return Downloaded(path, size, actual, resumed_from)
