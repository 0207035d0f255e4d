"""CheckpointSync: uploads the .ckpt files the trainer writes and keeps their rows current.

The trainer writes checkpoints into one local folder; after each save (flagged by
ServiceCallback.on_save_checkpoint) the next batch boundary calls `sync_files`, which uploads new
or rewritten files under server-chosen keys, refreshes their rows, flags files that top-k
removed as deleted, keeps `is_best` on the ModelCheckpoint's best file, and announces each new
row with a `checkpoint` event.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from api.artifacts import checkpoint_key, get_artifact_store
from api.db.checkpoints import (
    best_by_value,
    checkpoint_public,
    mark_best,
    mark_deleted,
    save_checkpoint_row,
)
from api.db.jobs import append_events, lock_job
from api.db.models import EventType
from api.db.session import session_scope
from api.settings import Settings
from worker.failures import InfraError, UnsafeCheckpointError
from worker.sync import JobSync

log = logging.getLogger(__name__)


@dataclass
class _Tracked:
    row_id: str
    key: str
    stamp: tuple[int, int]  # (mtime_ns, size): a rewritten file gets a new stamp
    step: int


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def read_meta(path: Path) -> dict[str, Any]:
    """Step, epoch and the monitored value stored in a checkpoint file (weights stay mapped).

    Read as predict and resume read it, with weights_only=True: a file that only loads
    unsafely is refused here, at its first save, rather than at its first use."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:
        refused = next((ln for ln in str(exc).splitlines() if "GLOBAL" in ln), str(exc)[:300])
        raise UnsafeCheckpointError(
            f"checkpoint {path.name} cannot be loaded with torch.load(weights_only=True), which "
            "is how the service loads checkpoints (predict, resume): the module's "
            "hyperparameters or a callback's state hold an object other than tensors, numbers, "
            "strings and plain containers. Leave such arguments out with "
            f"self.save_hyperparameters(ignore=[...]). torch: {refused.strip()}"
        ) from None
    stamp = ckpt.get("trainyard") or {}
    return {
        "step": int(ckpt.get("global_step", 0)),
        "epoch": int(ckpt.get("epoch", 0)),
        "monitor": stamp.get("monitor"),
        "monitor_value": stamp.get("monitor_value"),
    }


class CheckpointSync:
    def __init__(
        self,
        settings: Settings,
        job_id: str,
        attempt: int,
        dirpath: Path,
        sync: JobSync,
        monitor: str | None,
        mode: str = "min",
    ) -> None:
        self.settings, self.job_id, self.attempt = settings, job_id, attempt
        self.dirpath, self.sync, self.monitor, self.mode = dirpath, sync, monitor, mode
        self.store = get_artifact_store(settings)
        self.model_checkpoint: Any = None  # its best_model_path decides is_best
        self.pending = False
        self._tracked: dict[str, _Tracked] = {}
        self._best: str | None = None

    def _best_name(self) -> str | None:
        best = getattr(self.model_checkpoint, "best_model_path", None)
        return Path(best).name if best else None

    def has_step(self, name: str, step: int) -> bool:
        """Whether `name` was synced as written at `step` (so saving it again adds nothing)."""
        tracked = self._tracked.get(name)
        return tracked is not None and tracked.step == step

    def sync_files(self) -> None:
        """Upload what changed in the folder and bring the rows in line. Training-thread only.

        Raises InfraError: a failed upload or row write is the service's fault, not the user's.
        """
        self.pending = False
        try:
            self._sync_files()
        except UnsafeCheckpointError:
            raise  # the user's component, not the service
        except Exception as exc:
            raise InfraError(f"storing checkpoints failed: {exc!r}") from exc

    def _sync_files(self) -> None:
        files = {p.name: p for p in self.dirpath.glob("*.ckpt")} if self.dirpath.exists() else {}
        changed = {
            name: path
            for name, path in files.items()
            if name not in self._tracked or self._tracked[name].stamp != _stamp(path)
        }
        gone = [name for name in self._tracked if name not in files]
        best = self._best_name()
        if not changed and not gone and best == self._best:
            return
        uploads = {name: self._upload(path) for name, path in changed.items()}
        self.sync.flush()  # the metrics that led to this checkpoint are announced first
        stale = self._write_rows(uploads, gone, best)
        for key in stale:
            self.store.delete(key)

    def _upload(self, path: Path) -> dict[str, Any]:
        meta = read_meta(path)  # first: a file refused here is never uploaded
        key = checkpoint_key(self.job_id, self.attempt)
        size, sha256 = self.store.put_file(path, key)
        return {
            **meta,
            "job_id": self.job_id,
            "attempt": self.attempt,
            "storage_key": key,
            "kind": "last" if path.name.startswith("last") else "epoch",
            "size": size,
            "sha256": sha256,
            "_stamp": _stamp(path),
        }

    def _write_rows(
        self, uploads: dict[str, dict[str, Any]], gone: list[str], best: str | None
    ) -> list[str]:
        """One transaction for every row change; returns the artifact keys no row points to."""
        tracked = dict(self._tracked)  # replaced only once the transaction commits
        stale: list[str] = []
        with session_scope(self.settings.database_url) as session:
            job = lock_job(session, self.job_id)
            if job is None:
                return [u["storage_key"] for u in uploads.values()]
            rows = []
            for name, values in uploads.items():
                stamp = values.pop("_stamp")
                old = tracked.get(name)
                row = save_checkpoint_row(session, old.row_id if old else None, values)
                stale += [old.key] if old else []
                tracked[name] = _Tracked(row.id, row.storage_key, stamp, row.step)
                rows.append(row)
            mark_deleted(session, [tracked[name].row_id for name in gone])
            stale += [tracked.pop(name).key for name in gone]
            best_row = tracked.get(best) if best else None
            best_id = best_row.row_id if best_row else None
            if self.monitor and self.attempt > 1:  # an earlier attempt may hold the best
                best_id = best_by_value(session, self.job_id, self.monitor, self.mode) or best_id
            mark_best(session, self.job_id, best_id)
            events = [
                (EventType.checkpoint, checkpoint_public(r).model_dump(mode="json")) for r in rows
            ]
            append_events(session, job, events)
        self._tracked, self._best = tracked, best
        return stale
