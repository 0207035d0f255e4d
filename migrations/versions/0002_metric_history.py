"""Metric history at scale: per-block rollups kept by a trigger, and a per-series index.

`metric_rollups` holds, for every (job, name, stage) series and each of four block widths
(16, 256, 4096, 65536 steps), the count, min, max, sum, first/last step and last value of the
points in each block. A trigger on `metrics` keeps it current on every insert (a statement-level
trigger on PostgreSQL, so a batch of rows costs one upsert per touched block), and this revision
backfills it from the points already stored. `GET /v1/jobs/{id}/metrics?max_points=N` then
aggregates at most ~16*N rollup rows, whatever the length of the run.

`ix_metrics_series` (job_id, name, step, id) serves the raw export of one series in step order.

Revision ID: 0002_metric_history
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_metric_history"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with api/db/metric_history.py LEVEL_WIDTHS.
LEVELS = ((1, 16), (2, 256), (3, 4096), (4, 65536))
LEVELS_SQL = " UNION ALL ".join(f"SELECT {lvl} AS level, {w} AS width" for lvl, w in LEVELS)
COLUMNS = (
    "job_id, name, stage, level, block, n, vmin, vmax, vsum, step_first, step_last, last_value"
)

PG_FUNCTION = f"""
CREATE FUNCTION metric_rollups_ingest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_rollups AS r ({COLUMNS})
    SELECT m.job_id, m.name, m.stage, l.level, m.step / l.width, count(*), min(m.value),
           max(m.value), sum(m.value), min(m.step), max(m.step),
           (array_agg(m.value ORDER BY m.step DESC))[1]
    FROM new_rows m CROSS JOIN ({LEVELS_SQL}) l
    GROUP BY m.job_id, m.name, m.stage, l.level, m.step / l.width
    ON CONFLICT (job_id, name, stage, level, block) DO UPDATE SET
        n = r.n + excluded.n,
        vmin = least(r.vmin, excluded.vmin),
        vmax = greatest(r.vmax, excluded.vmax),
        vsum = r.vsum + excluded.vsum,
        step_first = least(r.step_first, excluded.step_first),
        step_last = greatest(r.step_last, excluded.step_last),
        last_value = CASE WHEN excluded.step_last >= r.step_last
                          THEN excluded.last_value ELSE r.last_value END;
    RETURN NULL;
END $$;
"""

PG_TRIGGER = """
CREATE TRIGGER metrics_rollup AFTER INSERT ON metrics
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metric_rollups_ingest();
"""

# SQLite has no statement triggers with transition tables: one upsert per level per row.
# (The WHERE true tells SQLite's parser that ON CONFLICT belongs to the INSERT.)
SQLITE_TRIGGER = f"""
CREATE TRIGGER metrics_rollup AFTER INSERT ON metrics BEGIN
    INSERT INTO metric_rollups ({COLUMNS})
    SELECT NEW.job_id, NEW.name, NEW.stage, l.level, NEW.step / l.width, 1, NEW.value,
           NEW.value, NEW.value, NEW.step, NEW.step, NEW.value
    FROM ({LEVELS_SQL}) l WHERE true
    ON CONFLICT (job_id, name, stage, level, block) DO UPDATE SET
        n = n + excluded.n,
        vmin = min(vmin, excluded.vmin),
        vmax = max(vmax, excluded.vmax),
        vsum = vsum + excluded.vsum,
        step_first = min(step_first, excluded.step_first),
        step_last = max(step_last, excluded.step_last),
        last_value = CASE WHEN excluded.step_last >= step_last
                          THEN excluded.last_value ELSE last_value END;
END;
"""

BACKFILL = f"""
INSERT INTO metric_rollups ({COLUMNS})
SELECT m.job_id, m.name, m.stage, l.level, m.step / l.width, count(*), min(m.value),
       max(m.value), sum(m.value), min(m.step), max(m.step), NULL
FROM metrics m CROSS JOIN ({LEVELS_SQL}) l
GROUP BY m.job_id, m.name, m.stage, l.level, m.step / l.width
"""

BACKFILL_LAST = """
UPDATE metric_rollups SET last_value = (
    SELECT m.value FROM metrics m
    WHERE m.job_id = metric_rollups.job_id AND m.name = metric_rollups.name
      AND m.stage = metric_rollups.stage AND m.step = metric_rollups.step_last
)
"""


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("vmin", sa.Float(), nullable=False),
        sa.Column("vmax", sa.Float(), nullable=False),
        sa.Column("vsum", sa.Float(), nullable=False),
        sa.Column("step_first", sa.BigInteger(), nullable=False),
        sa.Column("step_last", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "name", "stage", "level", "block"),
    )
    op.create_index("ix_metrics_series", "metrics", ["job_id", "name", "step", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)
    op.execute(BACKFILL)
    op.execute(BACKFILL_LAST)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS metrics_rollup ON metrics")
        op.execute("DROP FUNCTION IF EXISTS metric_rollups_ingest()")
    else:
        op.execute("DROP TRIGGER IF EXISTS metrics_rollup")
    op.drop_index("ix_metrics_series", table_name="metrics")
    op.drop_table("metric_rollups")
