"""Registered components."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ComponentPublic(BaseModel):
    name: str = Field(description="The name a job spec uses.")
    kind: Literal["module", "datamodule", "callback"] = Field(
        description="LightningModule, LightningDataModule or Callback."
    )
    description: str = Field(description="First paragraph of the class docstring.")
    params_schema: dict[str, Any] = Field(description="JSON Schema of the constructor params.")


class ComponentList(BaseModel):
    items: list[ComponentPublic] = Field(
        description="Modules, then datamodules, then callbacks, by name."
    )
