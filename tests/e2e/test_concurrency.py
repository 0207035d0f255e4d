"""A burst of simultaneous requests is served, not stalled: more requests than pooled connections."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.conftest import Stack


def test_a_burst_of_100_concurrent_requests_all_answer(pg_stack: Stack) -> None:
    client = pg_stack.client()
    headers = dict(client.headers)

    def read_jobs(_: int) -> int:
        return httpx.get(f"{pg_stack.url}/v1/jobs", headers=headers, timeout=25).status_code

    with ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(read_jobs, range(100)))

    assert statuses == [200] * 100
