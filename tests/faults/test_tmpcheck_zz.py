"""Redis restarts empty while jobs wait in it: the outbox reconciler re-sends them, each runs once.

The test starts a redis-server of its own (no persistence), so a restart loses every message.
"""

from __future__ import annotations

from pathlib import Path

from tests.faults.conftest import (
    RedisServer,
    fault_settings,
    start_stack,
    submit,
    wait_job,
)
from tests.service_doubles import tiny_spec


def test_jobs_queued_when_redis_restarts_each_run_exactly_once(
    pg_url: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    stack = start_stack(fault_settings(pg_url, redis_server.url, tmp_path).model_copy(update={"recovery_interval_s": 0}), tmp_path)
    try:
        stack.ensure_workers(1)
        client = stack.client()
        # One slow job keeps the only worker busy, so the others wait in Redis.
        busy = submit(client, tiny_spec(max_epochs=1, module_params={"sleep_s": 1.5}))
        wait_job(client, busy["id"], stack, until=lambda job: job["status"] == "running")
        waiting = [submit(client, tiny_spec(max_epochs=1)) for _ in range(3)]

        redis_server.stop()  # every waiting message is gone with it
        while_down = submit(client, tiny_spec(max_epochs=1))  # stored, sent once Redis is back
        redis_server.start()

        for job in [busy, *waiting, while_down]:
            done = wait_job(client, job["id"], stack, timeout=25)
            assert done["status"] == "succeeded", stack.logs()
            starts = [t for t in done["transitions"] if t["to_status"] == "running"]
            assert (done["attempt"], len(done["attempts"]), len(starts)) == (1, 1, 1)
    finally:
        stack.close()
