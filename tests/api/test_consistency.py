"""The embedded mode answers exactly as production: the same input gets the same status and
the same stored result on SQLite and on PostgreSQL (names, tags, expiries, limits)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.db import migrate
from api.db.metrics import insert_metrics
from api.db.session import session_scope
from api.main import create_app
from api.settings import Settings
from tests.api.helpers import SPEC, submit
from tests.conftest import ProjectToken, _admin, drop_pg_database, issue_token, pg_url_for


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("pg_shared_url" if request.param == "postgresql" else "sqlite_url")
    )


UNPRINTABLE = {
    "NUL": "a\u0000b",
    "escape sequence": "x\u001b]0;owned\u0007",
    "clear screen": "\u001b[2J",
    "DEL": "a\u007f",
    "C1 control": "a\u009b",
    "right-to-left override": "txt.\u202eexe",
    "line separator": "a\u2028b",
}


@pytest.mark.parametrize("value", UNPRINTABLE.values(), ids=UNPRINTABLE.keys())
@pytest.mark.parametrize(
    "field",
    [
        ("name",),
        ("module", "name"),
        ("early_stopping", "monitor"),
        ("checkpoint", "monitor"),
    ],
    ids=".".join,
)
def test_a_control_character_in_a_spec_string_is_a_422_naming_the_field(
    client: TestClient,
    auth: dict[str, str],
    count_rows: Callable[[str], int],
    field: tuple[str, ...],
    value: str,
) -> None:
    spec = _with(field, value)
    answer = client.post("/v1/jobs", json=spec, headers=auth)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error_code"] == "validation_error"
    assert body["errors"][0]["field"] == ".".join(field)
    assert "control character U+" in body["detail"]
    assert count_rows("jobs") == 0


def test_printable_unicode_names_are_stored_as_given(
    client: TestClient, auth: dict[str, str]
) -> None:
    name = "café — 学習 😀 [bold]x[/bold]"
    job = submit(client, auth, name=name)
    assert client.get(f"/v1/jobs/{job['id']}", headers=auth).json()["name"] == name


def test_a_monitor_longer_than_its_column_is_a_422_on_both_databases(
    client: TestClient, auth: dict[str, str]
) -> None:
    # checkpoints.monitor is VARCHAR(200): PostgreSQL would refuse the row mid-job, SQLite
    # would keep it.
    for section in ("checkpoint", "early_stopping"):
        answer = client.post("/v1/jobs", json=_with((section, "monitor"), "m" * 201), headers=auth)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == f"{section}.monitor"
    submit(client, auth, checkpoint={"monitor": "m" * 200})


def test_tag_filters_are_case_sensitive_on_both_databases(
    client: TestClient, auth: dict[str, str]
) -> None:
    upper = submit(client, auth, tags=["Digits"])["id"]
    lower = submit(client, auth, tags=["digits", "a_b"])["id"]

    def listed(*tags: str) -> list[str]:
        items = client.get("/v1/jobs", params={"tag": list(tags)}, headers=auth).json()["items"]
        return [job["id"] for job in items]

    assert listed("Digits") == [upper]
    assert listed("digits") == [lower]
    assert listed("DIGITS") == []
    assert listed("axb") == []  # '_' is a character, not a wildcard
    assert listed("digit") == []  # whole tags only
    assert listed("digits", "a_b") == [lower]


@pytest.fixture
def admin(make_token: Callable[..., ProjectToken]) -> dict[str, str]:
    return make_token("ops", is_admin=True).headers


@pytest.mark.parametrize(
    "expires_at", ["2000-01-01T00:00:00Z", "past", "2027-01-01T00:00:00"], ids=str
)
def test_a_token_that_would_never_work_is_a_422(
    client: TestClient, admin: dict[str, str], count_rows: Callable[[str], int], expires_at: str
) -> None:
    if expires_at == "past":
        expires_at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    before = count_rows("tokens")
    answer = client.post(
        "/v1/tokens", json={"project": "team", "expires_at": expires_at}, headers=admin
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error_code"] == "validation_error"
    assert answer.json()["detail"].startswith("expires_at:")
    assert count_rows("tokens") == before


def test_an_expiry_with_an_offset_lasts_exactly_as_long_on_both_databases(
    client: TestClient, admin: dict[str, str]
) -> None:
    # Five hours ahead of UTC: the token expires one minute from now, whatever the database.
    moment = datetime.now(UTC) + timedelta(minutes=1)
    local = moment.astimezone(_plus_five_hours()).isoformat()
    created = client.post(
        "/v1/tokens", json={"project": "team", "expires_at": local}, headers=admin
    )
    assert created.status_code == 201, created.text
    expires = datetime.fromisoformat(created.json()["expires_at"])
    assert abs((expires - moment).total_seconds()) < 1
    listed = client.get("/v1/tokens", params={"project": "team"}, headers=admin).json()["items"]
    assert abs((datetime.fromisoformat(listed[0]["expires_at"]) - moment).total_seconds()) < 1


def test_a_chunked_body_over_the_limit_is_413_payload_too_large(
    settings: Settings, project_token: ProjectToken, count_rows: Callable[[str], int]
) -> None:
    small = settings.model_copy(update={"max_request_bytes": 1000})

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 100
        yield b'"}'

    with TestClient(create_app(small, dispatcher=lambda job_id: None)) as client:
        headers = {**project_token.headers, "Content-Type": "application/json"}
        answer = client.post("/v1/jobs", content=chunks(), headers=headers)
        assert answer.status_code == 413, answer.text
        assert answer.json()["error_code"] == "payload_too_large"
        assert "1000 bytes" in answer.json()["detail"]
        huge = client.post(
            "/v1/jobs", content=b"{}", headers={**headers, "Content-Length": "9" * 1000}
        )
        assert huge.status_code == 413
    assert count_rows("jobs") == 0


def _with(field: tuple[str, ...], value: str) -> dict[str, Any]:
    spec: dict[str, Any] = {**SPEC, "early_stopping": {"monitor": "val_loss"}}
    if field[0] in ("module", "early_stopping", "checkpoint"):
        spec[field[0]] = {**spec.get(field[0], {}), field[1]: value}
    else:
        spec[field[0]] = value
    return spec


def _plus_five_hours() -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=5))


@pytest.fixture
def en_us_pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database whose text sorts as en-US does (ICU), as a production
    database initialised with LANG=en_US.UTF-8 would; the test server's own are C.UTF-8."""

    name = f"t_en_{uuid.uuid4().hex[:12]}"
    _admin(
        f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
        "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    )
    url = pg_url_for(name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.mark.parametrize("collated", ["postgresql en-US", "sqlite"])
def test_metric_series_come_in_the_same_order_whatever_the_collation(
    collated: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:

    fixture = "en_us_pg_url" if collated.startswith("postgresql") else "sqlite_url"
    url = str(request.getfixturevalue(fixture))
    here = Settings(
        database_url=url,
        artifact_root=str(tmp_path / "artifacts"),
        broker_folder=tmp_path / "broker",
        component_modules=[],
    )
    headers = issue_token(url, "p").headers
    names = ["b_loss", "Z", "a_loss", "B_loss", "_x"]
    with TestClient(create_app(here, dispatcher=lambda job_id: None)) as client:
        job_id = submit(client, headers)["id"]
        point = {"job_id": job_id, "stage": "train", "step": 0, "epoch": 0, "value": 1.0}
        with session_scope(url) as session:
            insert_metrics(session, [{**point, "name": name} for name in names])
        history = client.get(
            f"/v1/jobs/{job_id}/metrics", params={"max_points": 10}, headers=headers
        )
    assert history.status_code == 200, history.text
    assert [s["name"] for s in history.json()["series"]] == sorted(names)  # code point order


def test_a_name_search_ignores_case_beyond_ascii_on_both_databases(
    client: TestClient, auth: dict[str, str]
) -> None:
    accented = submit(client, auth, name="ÉCOLE d'ÉTÉ")["id"]
    submit(client, auth, name="ecole plain")

    def found(text: str) -> list[str]:
        items = client.get("/v1/jobs", params={"search": text}, headers=auth).json()["items"]
        return [job["id"] for job in items]

    assert found("école") == [accented]  # SQLite's own lower() would not fold É
    assert found("d'été") == [accented]
    assert len(found("COLE")) == 2
