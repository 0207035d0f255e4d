"""/v1/components: what a job spec may name, with parameter schemas."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AuthDep, RegistryDep
from trainyard.schemas.common import error_responses
from trainyard.schemas.components import ComponentList, ComponentPublic

router = APIRouter(prefix="/v1/components", tags=["components"])


@router.get(
    "", response_model=ComponentList, summary="List components", responses=error_responses(401)
)
def list_components(principal: AuthDep, registry: RegistryDep) -> ComponentList:
    """Every registered module and datamodule with the JSON Schema of its parameters."""
    return ComponentList(items=[ComponentPublic(**c.public()) for c in registry.all()])
