"""The GPU fleet: jobs ask for resources and have a priority, workers own slots, projects quotas.

- jobs: `priority`, `pool`, `gpus`, `labels` (from the spec), `queued_at` (when it entered the queue),
  `placement` ({worker, gpus}) and `placed_at`; `ix_jobs_queue` serves the queue in scheduling
  order. Existing rows get priority 0, pool 'default', their spec's GPU count (0) and
  `queued_at` = `created_at`.
- workers: one row per `trainyard worker` process with its inventory and heartbeat.
- worker_slots: one row per GPU or CPU slot of a worker and the job that holds it.
- projects: `max_gpus`, `max_running_jobs`, `max_priority` (NULL: no limit).

Revision ID: 0004_fleet
Revises: 0003_ui_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_fleet"
down_revision: str | Sequence[str] | None = "0003_ui_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("max_gpus", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_running_jobs", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_priority", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("pool", sa.String(length=64), nullable=False, server_default="default")
        )
        batch.add_column(sa.Column("gpus", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("placement", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE jobs SET queued_at = created_at")
    # The defaults only filled the existing rows; the application always sets these.
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("priority", server_default=None)
        batch.alter_column("pool", server_default=None)
        batch.alter_column("gpus", server_default=None)
        batch.alter_column("labels", server_default=None)
    op.create_index(
        "ix_jobs_queue", "jobs", ["status", "pool", "priority", "created_at"], unique=False
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("inventory", sa.JSON(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("cpu_slots", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("gpu_stats", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workers_pool", "workers", ["pool"], unique=False)
    op.create_table(
        "worker_slots",
        sa.Column("worker_id", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("worker_id", "slot"),
    )
    op.create_index("ix_worker_slots_job_id", "worker_slots", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_worker_slots_job_id", table_name="worker_slots")
    op.drop_table("worker_slots")
    op.drop_index("ix_workers_pool", table_name="workers")
    op.drop_table("workers")
    op.drop_index("ix_jobs_queue", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        for column in ("placed_at", "placement", "queued_at", "labels", "gpus", "pool", "priority"):
            batch.drop_column(column)
    with op.batch_alter_table("projects") as batch:
        for column in ("max_priority", "max_running_jobs", "max_gpus"):
            batch.drop_column(column)
