"""Turn a submitted JobCreate into the resolved JobSpec the worker runs, or a 422 naming the field."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from api.errors import AppError, ErrorCode
from api.services.spec_callbacks import resolve_callbacks
from api.settings import Settings
from catalog.compat import mismatches
from catalog.registry import InvalidParamsError, Kind, Registry, UnknownComponentError
from trainyard.schemas.jobs import ComponentRef, JobCreate, JobSpec


def request_hash(body: JobCreate) -> str:
    """Identical requests (same values, any key order or omitted defaults) hash the same."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _resolve_component(
    registry: Registry, kind: Kind, ref: ComponentRef, field: str | None = None
) -> dict[str, Any]:
    field = field or kind  # where the entry sits in the spec: "module", "callbacks.2"
    try:
        component = registry.get(kind, ref.name)
    except UnknownComponentError as exc:
        raise AppError(
            ErrorCode.unknown_component,
            f"{field}.name: {exc}",
            errors=[{"field": f"{field}.name", "message": str(exc)}],
        ) from None
    try:
        params = component.validate(ref.params)
    except InvalidParamsError as exc:
        errors = [
            {"field": f"{field}.params.{e['field']}".rstrip("."), "message": e["message"]}
            for e in exc.errors
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise AppError(ErrorCode.invalid_params, detail, errors=errors) from None
    return {"name": ref.name, "params": params}


def _check_pair(registry: Registry, module: dict[str, Any], datamodule: dict[str, Any]) -> None:
    """Parameters valid on each side that would still fail together at the first batch: an
    input width that is not the datamodule's, fewer classes than its labels (catalog.compat)."""
    found = mismatches(
        registry.get("module", module["name"]).cls,
        module["params"],
        registry.get("datamodule", datamodule["name"]).cls,
        datamodule["params"],
    )
    errors = [{"field": f"module.params.{e['field']}", "message": e["message"]} for e in found]
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise AppError(ErrorCode.invalid_params, detail, errors=errors)


def _check_bounds(body: JobCreate, settings: Settings) -> None:
    limits = {
        "max_epochs": (body.trainer.max_epochs, settings.max_epochs_limit, "MAX_EPOCHS_LIMIT"),
        "max_steps": (body.trainer.max_steps, settings.max_steps_limit, "MAX_STEPS_LIMIT"),
    }
    for option, (value, limit, setting) in limits.items():
        if value is not None and value > limit:
            message = f"at most {limit} on this server (setting {setting})"
            raise AppError(
                ErrorCode.validation_error,
                f"trainer.{option}: {message}",
                errors=[{"field": f"trainer.{option}", "message": message}],
            )


def _field_error(field: str, message: str) -> AppError:
    return AppError(
        ErrorCode.validation_error,
        f"{field}: {message}",
        errors=[{"field": field, "message": message}],
    )


def _check_resources(body: JobCreate, settings: Settings) -> None:
    """What the fields cannot say alone: a GPU accelerator needs GPUs, the memory limit is
    at most the server's."""
    resources = body.resources
    if body.trainer.accelerator in ("gpu", "cuda") and resources.gpus == 0:
        raise _field_error(
            "resources.gpus",
            f"trainer.accelerator is {body.trainer.accelerator!r} but the job asks for no GPU; "
            "set resources.gpus to 1 or more (or use accelerator 'auto' or 'cpu')",
        )
    limit = settings.job_memory_limit_mb
    if resources.memory_mb is not None and limit is not None and resources.memory_mb > limit:
        raise _field_error(
            "resources.memory_mb",
            f"at most {limit} on this server (setting JOB_MEMORY_LIMIT_MB)",
        )


def resolve_spec(body: JobCreate, registry: Registry, settings: Settings) -> dict[str, Any]:
    """Validate names, params and bounds; return the spec to store (a JobSpec as JSON).

    Component params are complete with their defaults; unset trainer options are omitted so
    the trainer's own defaults apply.
    """
    module = _resolve_component(registry, "module", body.module)
    datamodule = _resolve_component(registry, "datamodule", body.datamodule)
    _check_pair(registry, module, datamodule)
    callbacks = resolve_callbacks(body, registry, _resolve_component)
    _check_bounds(body, settings)
    _check_resources(body, settings)
    data = body.model_dump()
    data.update(
        module=module,
        datamodule=datamodule,
        callbacks=callbacks,
        trainer=body.trainer.model_dump(exclude_none=True),
        max_retries=(
            settings.default_max_retries if body.max_retries is None else body.max_retries
        ),
    )
    spec = JobSpec.model_validate(data, strict=False).model_dump(mode="json")
    spec["trainer"] = {k: v for k, v in spec["trainer"].items() if v is not None}
    return spec
