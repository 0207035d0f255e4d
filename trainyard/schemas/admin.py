"""Projects and tokens (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from trainyard.schemas.common import UtcDatetime

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\- ]+$")]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Unique project name.")


class ProjectPublic(BaseModel):
    id: str = Field(description="Project id.")
    name: str = Field(description="Project name.")
    created_at: UtcDatetime = Field(description="Creation time.")
    max_gpus: int | None = Field(None, description="GPU quota; null: no limit.")
    max_running_jobs: int | None = Field(None, description="Running-job quota; null: no limit.")
    max_priority: int | None = Field(None, description="Highest priority allowed; null: no cap.")


class ProjectList(BaseModel):
    items: list[ProjectPublic] = Field(description="All projects, oldest first.")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: Name = Field(description="Name of the project; created when missing.")
    name: Name = Field("default", description="A label for the token.")
    is_admin: bool = Field(False, description="Whether it may manage projects and tokens.")
    expires_at: datetime | None = Field(None, description="Expiry time (timezone-aware).")


class TokenPublic(BaseModel):
    id: str = Field(description="Token id (not the secret).")
    project_id: str = Field(description="The project it acts in.")
    name: str = Field(description="Label.")
    is_admin: bool = Field(description="Admin rights.")
    created_at: UtcDatetime = Field(description="Creation time.")
    expires_at: UtcDatetime | None = Field(description="Expiry time, if any.")
    revoked_at: UtcDatetime | None = Field(description="Revocation time, if revoked.")


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; only its hash is stored.")


class TokenList(BaseModel):
    items: list[TokenPublic] = Field(description="Tokens, oldest first.")
