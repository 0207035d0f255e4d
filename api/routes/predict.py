"""/v1/jobs/{id}/predict: run predict_step of a job's checkpoint."""

from __future__ import annotations

from fastapi import APIRouter

from api.db.checkpoints import best_checkpoint, get_checkpoint, latest_checkpoint
from api.db.models import Checkpoint, Job
from api.deps import (
    AuthDep,
    ModelCacheDep,
    RegistryDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    require_job,
)
from api.errors import AppError, ErrorCode
from api.services.predict import load_model, run_predict
from catalog.registry import UnknownComponentError
from trainyard.schemas.common import error_responses
from trainyard.schemas.predict import PredictRequest, PredictResponse

router = APIRouter(prefix="/v1/jobs", tags=["predict"])


@router.post(
    "/{job_id}/predict",
    response_model=PredictResponse,
    summary="Predict with a job's model",
    responses=error_responses(400, 401, 404, 409, 413, 422),
)
def predict(
    job_id: str,
    body: PredictRequest,
    session: SessionDep,
    principal: AuthDep,
    settings: SettingsDep,
    registry: RegistryDep,
    store: StoreDep,
    models: ModelCacheDep,
) -> PredictResponse:
    """Load the job's best, last or named checkpoint through the module's
    `load_from_checkpoint` (cached between calls), stack `inputs` into one float32 batch and
    return `predict_step`'s output as nested lists."""
    job = require_job(session, principal, job_id)
    if len(body.inputs) > settings.max_predict_batch:
        raise AppError(
            ErrorCode.validation_error,
            f"inputs: {len(body.inputs)} samples; at most {settings.max_predict_batch} per request",
        )
    checkpoint = _choose_checkpoint(session, job, body.checkpoint, principal.project_id)
    module_cls = _module_class(registry, job)
    model = models.get(
        (checkpoint.id, checkpoint.sha256), lambda: load_model(module_cls, store, checkpoint)
    )
    outputs = run_predict(model, body.inputs)
    return PredictResponse(job_id=job.id, checkpoint_id=checkpoint.id, outputs=outputs)


def _module_class(registry: RegistryDep, job: Job) -> type:
    name = job.spec["module"]["name"]
    try:
        return registry.get("module", name).cls
    except UnknownComponentError:
        raise AppError(
            ErrorCode.predict_failed, f"module {name!r} of job {job.id} is no longer registered"
        ) from None


def _choose_checkpoint(session: SessionDep, job: Job, which: str, project_id: str) -> Checkpoint:
    if which == "best":
        row = best_checkpoint(session, job.id)
    elif which == "last":
        row = latest_checkpoint(session, job.id)
    else:
        row = get_checkpoint(session, which, project_id)
        if row is None or row.job_id != job.id:
            raise AppError(
                ErrorCode.checkpoint_not_found, f"checkpoint: no checkpoint {which} in job {job.id}"
            )
    if row is None:
        raise AppError(
            ErrorCode.job_not_ready,
            f"job {job.id} ({job.status}) has no checkpoint yet; predict after it saves one",
        )
    return row
