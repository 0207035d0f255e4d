"""The artifact store: checkpoint files under server-chosen keys, in a folder or any fsspec URL.

Keys are made by `checkpoint_key` (never from a path a client sent) and checked again on every
call, so nothing outside the store's root can be named. Writes go to a temporary key and are
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

CHUNK = 1 << 20
_KEY = re.compile(r"^[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")


class ArtifactKeyError(ValueError):
    """A key that could escape the store's root or is otherwise malformed."""


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ArtifactKeyError(f"invalid artifact key {key!r}")
    return key


def checkpoint_key(job_id: str, attempt: int, suffix: str = "ckpt") -> str:
    """A fresh, server-chosen key for one checkpoint file of `job_id`."""
    if not re.fullmatch(r"[0-9a-f]{1,32}", job_id):
        raise ArtifactKeyError(f"invalid job id {job_id!r}")
    return check_key(f"jobs/{job_id}/a{int(attempt)}/{uuid.uuid4().hex}.{suffix}")


class ArtifactStore:
    """Files under `root`: a local folder (the default) or an fsspec URL such as s3://bucket/p."""

    def __init__(self, root: str) -> None:
        self.root = root
        fs, path = fsspec.core.url_to_fs(root)
        self.fs: fsspec.AbstractFileSystem = fs
        self.base = path.rstrip("/")
        if self.is_local:
            Path(self.base).mkdir(parents=True, exist_ok=True)
            self.base = str(Path(self.base).resolve())

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def _path(self, key: str) -> str:
        return f"{self.base}/{check_key(key)}"

    def local_path(self, key: str) -> Path | None:
        """The file's path when the store is a local folder (torch.load can then mmap it)."""
        return Path(self._path(key)) if self.is_local else None

    def put_file(self, local_path: str | Path, key: str) -> tuple[int, str]:
        """Copy a local file to `key`; return its size in bytes and its sha256 (hex)."""
        with open(local_path, "rb") as src:
            return self.put_stream(src, key)

    def put_bytes(self, data: bytes, key: str) -> tuple[int, str]:
        import io

        return self.put_stream(io.BytesIO(data), key)

    def put_stream(self, src: IO[bytes], key: str) -> tuple[int, str]:
        target = self._path(key)
        partial = f"{target}.partial-{uuid.uuid4().hex}"
        parent = target.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        try:
            with self.fs.open(partial, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            self.fs.mv(partial, target)
        except BaseException:
            if self.fs.exists(partial):
                self.fs.rm(partial)
            raise
        return size, digest.hexdigest()

    def open(self, key: str) -> IO[bytes]:
        """A seekable binary file for reading. Raises FileNotFoundError when missing."""
        return self.fs.open(self._path(key), "rb")  # type: ignore[no-any-return]

    def size(self, key: str) -> int:
        return int(self.fs.size(self._path(key)))

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def delete(self, key: str) -> None:
        path = self._path(key)
        if self.fs.exists(path):
            self.fs.rm(path)

    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield bytes `start..end` inclusive (the whole file by default) in chunks."""
        with self.open(key) as f:
            f.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                chunk = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk


@lru_cache(maxsize=8)
def _store(root: str) -> ArtifactStore:
    return ArtifactStore(root)


def get_artifact_store(settings: Any) -> ArtifactStore:
    """The store of `settings.artifact_root` (one per root per process)."""
    return _store(str(settings.artifact_root))
