"""`trainyard.Client`: every endpoint of the API, with typed results.

    from trainyard import Client
    with Client("http://127.0.0.1:8000", token) as client:
        job = client.submit({"module": {"name": "autoencoder"}, "datamodule": {"name": "digits"}})
        for event in client.stream_events(job.id):   # reconnects by itself, resumes by id
            print(event.type, event.data)
        client.download_checkpoint(job.id, "best.ckpt")

Errors from the server raise `TrainyardError(status, error_code, detail)`. The results are the
API's own pydantic models (trainyard.schemas), so they always match the server's documentation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from httpx_sse import ServerSentEvent, connect_sse
from pydantic import BaseModel

from trainyard.download import Downloaded, Progress, download
from trainyard.schemas.admin import ProjectList, ProjectPublic, TokenCreated, TokenList, TokenPublic
from trainyard.schemas.checkpoints import CheckpointList, CheckpointPublic
from trainyard.schemas.components import ComponentList, ComponentPublic
from trainyard.schemas.fleet import QueuedJob, QueueList, WorkerList, WorkerPublic
from trainyard.schemas.health import HealthPublic
from trainyard.schemas.jobs import JobDryRun, JobList, JobPublic, JobSummary
from trainyard.schemas.logs import LogLine, LogList
from trainyard.schemas.metric_history import MetricHistory
from trainyard.schemas.metrics import MetricList
from trainyard.schemas.predict import PredictResponse

Model = TypeVar("Model", bound=BaseModel)
DEFAULT_URL = "http://127.0.0.1:8000"


class TrainyardError(Exception):
    """The server answered with an error: `status` (HTTP), `error_code` (stable), `detail`."""

    def __init__(self, status: int, error_code: str, detail: str) -> None:
        self.status, self.error_code, self.detail = status, error_code, detail
        super().__init__(f"{status} {error_code}: {detail}")


@dataclass(frozen=True)
class Event:
    """One event of a job's stream: `id` increases within the job; `type` is status, metric,
    progress, checkpoint, log or end; `data` is the event's JSON object. With "queue" in
    `stream_events(types=...)`, also `queue` events (a waiting job's position and reason): they
    are not stored, and repeat the id of the event before them."""

    id: int
    type: str
    data: dict[str, Any]


def _error(response: httpx.Response) -> TrainyardError:
    try:
        body = response.json()
        code, detail = str(body["error_code"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        code = "http_error"
        detail = response.text[:500] or response.reason_phrase
    return TrainyardError(response.status_code, code, detail)


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class Client:
    """A sync client of one Trainyard server, authorised by one token."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.is_error:
            raise _error(response)
        return response

    def _get(self, model: type[Model], path: str, **params: Any) -> Model:
        response = self._request("GET", path, params=_params(**params))
        return model.model_validate(response.json())

    # ------------------------------------------------------------ service

    def health(self) -> HealthPublic:
        response = self.http.get("/health")  # 503 still carries the health body
        if response.status_code not in (200, 503):
            raise _error(response)
        return HealthPublic.model_validate(response.json())

    def components(self) -> list[ComponentPublic]:
        return self._get(ComponentList, "/v1/components").items

    # ------------------------------------------------------------ jobs

    def submit(
        self,
        spec: Mapping[str, Any] | BaseModel,
        *,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        """Submit a job spec (a dict as in POST /v1/jobs); returns the queued job."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self._request("POST", "/v1/jobs", json=_body(spec), headers=headers)
        return JobPublic.model_validate(response.json())

    def validate(self, spec: Mapping[str, Any] | BaseModel) -> JobDryRun:
        """The spec as the server would store it (`?dry_run=true`); nothing is stored."""
        response = self._request("POST", "/v1/jobs", json=_body(spec), params={"dry_run": "true"})
        return JobDryRun.model_validate(response.json())

    def jobs(
        self,
        *,
        status: Sequence[str] | None = None,
        tag: Sequence[str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobList:
        """One page of the project's jobs, newest first."""
        return self._get(JobList, "/v1/jobs", status=status, tag=tag, limit=limit, cursor=cursor)

    def iter_jobs(self, **filters: Any) -> Iterator[JobSummary]:
        """Every job (matching `status`/`tag`), newest first, page after page."""
        cursor = None
        while True:
            page = self.jobs(**filters, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def job(self, job_id: str) -> JobPublic:
        return self._get(JobPublic, f"/v1/jobs/{job_id}")

    def cancel(self, job_id: str) -> JobPublic:
        response = self._request("POST", f"/v1/jobs/{job_id}/cancel")
        return JobPublic.model_validate(response.json())

    # ------------------------------------------------------------ metrics and logs

    def metrics(self, job_id: str, **filters: Any) -> MetricList:
        """One page of raw points: name, stage, step_min, step_max, limit, cursor."""
        return self._get(MetricList, f"/v1/jobs/{job_id}/metrics", **filters)

    def metric_history(
        self, job_id: str, *, max_points: int = 1000, **filters: Any
    ) -> MetricHistory:
        """Each series downsampled to at most `max_points` buckets (min/max/mean/last)."""
        return self._get(
            MetricHistory, f"/v1/jobs/{job_id}/metrics", max_points=max_points, **filters
        )

    def export_metrics_csv(self, job_id: str, path: str | Path, **filters: Any) -> int:
        """Stream every raw point (matching the filters) into a CSV file; returns its bytes."""
        params = _params(format="csv", **filters)
        written = 0
        with self.http.stream("GET", f"/v1/jobs/{job_id}/metrics", params=params) as response:
            if response.is_error:
                response.read()
                raise _error(response)
            with open(path, "wb") as out:
                for chunk in response.iter_bytes():
                    written += out.write(chunk)
        return written

    def logs(self, job_id: str, *, limit: int = 1000, cursor: str | None = None) -> LogList:
        return self._get(LogList, f"/v1/jobs/{job_id}/logs", limit=limit, cursor=cursor)

    def iter_logs(self, job_id: str) -> Iterator[LogLine]:
        """Every stored log line of the job, oldest first."""
        cursor = None
        while True:
            page = self.logs(job_id, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # ------------------------------------------------------------ events

    def stream_events(
        self,
        job_id: str,
        last_event_id: int | None = None,
        *,
        types: Sequence[str] | None = None,
        tail: int | None = None,
        max_retries: int | None = None,
        read_timeout: float = 60.0,
        on_reconnect: Callable[[BaseException | None, float], None] | None = None,
    ) -> Iterator[Event]:
        """The job's events after `last_event_id` (all of them when None), until `end`.
        `tail=N` starts N events before the newest instead (a live view without the history).

        A dropped connection, a server restart or a 5xx is retried with backoff, resuming after
        the last event received, so the caller sees every event once, in order. `max_retries`
        consecutive failures (default: unlimited) raise. `on_reconnect(error, delay)` is told
        before each retry. A 4xx raises TrainyardError at once.
        """
        retry_ms = 1000  # until the server's `retry:` field says otherwise
        failures = 0
        while True:
            error: BaseException | None = None
            try:
                for sse in self._event_session(job_id, last_event_id, types, tail, read_timeout):
                    retry_ms = sse.retry if sse.retry is not None else retry_ms
                    if not sse.id or not sse.data:  # a bare `retry:` block carries no event
                        continue
                    if sse.event == "queue" and "queue" not in (types or ()):
                        continue  # not stored, no id of its own: only for who asks for it
                    event = Event(int(sse.id), sse.event, json.loads(sse.data))
                    last_event_id, failures = event.id, 0
                    yield event
                    if event.type == "end":
                        return
            except httpx.TransportError as exc:
                error = exc
            except TrainyardError as exc:
                if exc.status < 500:
                    raise
                error = exc
            failures += 1
            if max_retries is not None and failures > max_retries:
                raise ConnectionError(f"event stream of job {job_id} lost: {error}") from error
            delay = min(retry_ms / 1000 * 2 ** min(failures - 1, 4), 30.0)
            if on_reconnect is not None:
                on_reconnect(error, delay)
            time.sleep(delay)

    def _event_session(
        self,
        job_id: str,
        last_event_id: int | None,
        types: Sequence[str] | None,
        tail: int | None,
        read_timeout: float,
    ) -> Iterator[ServerSentEvent]:
        """One connection's messages (httpx-sse parses the stream); returns when the server
        closes it."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        tail = tail if last_event_id is None else None
        timeout = httpx.Timeout(10.0, read=read_timeout)  # keep-alives come every ~15 s
        with connect_sse(
            self.http,
            "GET",
            f"/v1/jobs/{job_id}/events",
            params=_params(types=list(types) if types else None, tail=tail),
            headers=headers,
            timeout=timeout,
        ) as source:
            if source.response.is_error:
                source.response.read()
                raise _error(source.response)
            yield from source.iter_sse()

    # ------------------------------------------------------------ checkpoints

    def checkpoints(self, job_id: str) -> list[CheckpointPublic]:
        return self._get(CheckpointList, f"/v1/jobs/{job_id}/checkpoints").items

    def checkpoint(self, job_id: str, which: str = "best") -> CheckpointPublic:
        """The job's "best" or "last" checkpoint, or the one with id `which`."""
        if which == "best":
            best = self.job(job_id).best_checkpoint
            if best is None:
                raise TrainyardError(404, "checkpoint_not_found", f"job {job_id} has none yet")
            return best
        items = self.checkpoints(job_id)
        if which == "last":
            items = sorted(items, key=lambda c: (c.step, c.created_at))[-1:]
        else:
            items = [c for c in items if c.id == which]
        if not items:
            raise TrainyardError(
                404, "checkpoint_not_found", f"job {job_id} has no checkpoint {which!r}"
            )
        return items[-1]

    def download_checkpoint(
        self,
        job_id: str,
        path: str | Path,
        *,
        checkpoint: str = "best",
        on_progress: Progress | None = None,
    ) -> Downloaded:
        """Download a checkpoint ("best", "last" or an id) to `path`. A `<path>.part` left by
        a cut transfer is resumed with a Range request; the result is checked against the
        checkpoint's sha256 (ChecksumError, and the corrupt file deleted, on a mismatch)."""
        row = self.checkpoint(job_id, checkpoint)
        try:
            return download(
                self.http,
                row.download_url,
                Path(path),
                size=row.size,
                sha256=row.sha256,
                on_progress=on_progress,
            )
        except httpx.HTTPStatusError as exc:
            raise _error(exc.response) from None

    # ------------------------------------------------------------ predict

    def predict(self, job_id: str, inputs: list[Any], checkpoint: str = "best") -> PredictResponse:
        response = self._request(
            "POST",
            f"/v1/jobs/{job_id}/predict",
            json={"inputs": inputs, "checkpoint": checkpoint},
        )
        return PredictResponse.model_validate(response.json())

    # ------------------------------------------------------------ admin (admin tokens)

    def create_project(self, name: str) -> ProjectPublic:
        response = self._request("POST", "/v1/projects", json={"name": name})
        return ProjectPublic.model_validate(response.json())

    def projects(self) -> list[ProjectPublic]:
        return self._get(ProjectList, "/v1/projects").items

    def create_token(self, project: str, name: str = "default", **fields: Any) -> TokenCreated:
        """A token of `project` (created when missing); its secret is in `.token`."""
        body = {"project": project, "name": name, **fields}
        response = self._request(
            "POST", "/v1/tokens", json=json.loads(json.dumps(body, default=str))
        )
        return TokenCreated.model_validate(response.json())

    def tokens(self, project: str | None = None) -> list[TokenPublic]:
        return self._get(TokenList, "/v1/tokens", project=project).items

    def revoke_token(self, token_id: str) -> TokenPublic:
        return TokenPublic.model_validate(self._request("DELETE", f"/v1/tokens/{token_id}").json())

    # ------------------------------------------------------------ the fleet

    def queue(self, pool: str | None = None, limit: int = 200) -> list[QueuedJob]:
        """Queued jobs in scheduling order with position and pending reason (your project's;
        every project's with an admin token)."""
        return self._get(QueueList, "/v1/queue", pool=pool, limit=limit).items

    def workers(self) -> list[WorkerPublic]:
        """Every registered worker with its GPUs and slots (admin)."""
        return self._get(WorkerList, "/v1/workers").items

    def set_quotas(self, project_id: str, **quotas: int | None) -> ProjectPublic:
        """Set (an int) or clear (None) `max_gpus`, `max_running_jobs`, `max_priority` (admin)."""
        response = self._request("PATCH", f"/v1/projects/{project_id}", json=quotas)
        return ProjectPublic.model_validate(response.json())


def _body(spec: Mapping[str, Any] | BaseModel) -> Any:
    if isinstance(spec, BaseModel):
        return spec.model_dump(mode="json", exclude_unset=True)
    return dict(spec)
