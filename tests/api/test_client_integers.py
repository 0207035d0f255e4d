"""Every integer a client can send, fuzzed with hypothesis: never a 5xx, always a stable code.

The integer inputs are read from the app itself: every integer query value and header in the
OpenAPI schema, the Range header of downloads, every `cursor` (base64 JSON holding integers,
floats, strings and dates), the integer fields of a job spec (the spec's own and the built-in
components' parameters) and the dashboard's integer inputs. Each runs on SQLite and PostgreSQL
against real rows: a finished job with metrics, log lines and a checkpoint file.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.artifacts import get_artifact_store
from api.db.jobs import append_events
from api.db.models import EventType, Job, JobStatus
from api.db.session import session_scope
from api.main import create_app
from api.settings import Settings
from catalog.registry import get_registry
from tests.api.helpers import SPEC, add_checkpoint, add_metrics, move
from tests.conftest import ProjectToken

EXAMPLES = 100
OK_CODES = {
    400: "malformed_json",
    404: ("job_not_found", "checkpoint_not_found", "not_found"),
    409: "job_not_cancellable",
    413: "payload_too_large",
    416: "range_not_satisfiable",
    422: ("validation_error", "invalid_params", "unknown_component"),
}

# ---------------------------------------------------------------- values


def _digits(n: int, lead: str = "9") -> str:
    return lead * n


EDGE_TEXT = [
    "0", "-0", "+1", " 7 ", "\t8", "007", "", " ", "-", "+", "--1", "1-",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "18446744073709551616", "0" * 5000 + "1",
    "1e3", "1.0", "0x10", "1_000", "٣", "１２", "Infinity", "NaN", "null", "true",
]  # fmt: skip
INTEGER_TEXT = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.integers().map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(1, 6000).map(_digits),
    st.integers(1, 6000).map(lambda n: "-" + _digits(n, "1")),
    st.text(alphabet="0123456789+- .e", max_size=25),
)

# JSON fragments for cursors, written by hand so that numbers of any length can be in them.
_FRAGMENT = st.one_of(
    INTEGER_TEXT.filter(lambda t: t.strip().lstrip("-").isdigit() and t.strip() == t).map(
        lambda t: t.lstrip("+")
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: json.dumps(f)  # NaN / Infinity: accepted by Python's JSON parser
    ),
    st.text(max_size=30).map(json.dumps),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none()
    ).map(lambda d: json.dumps(d.isoformat())),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, None]).map(lambda tz: tz),
    ).map(lambda d: json.dumps(d.isoformat() + "+14:00" if d.tzinfo is None else d.isoformat())),
    st.sampled_from(["true", "null", "[]", "{}", "[[[[1]]]]", "1e999", "-1e999"]),
)


def _cursor(fragments: list[str]) -> str:
    raw = ("[" + ",".join(fragments) + "]").encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CURSORS = st.one_of(
    st.lists(_FRAGMENT, max_size=3).map(_cursor),
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
)

# ---------------------------------------------------------------- the app and its inputs


@dataclass(frozen=True)
class Target:
    """One integer input: where it goes in which request."""

    method: str
    path: str  # with {job_id} / {checkpoint_id} / {token_id} placeholders
    where: str  # query, header or body
    name: str  # the parameter, header, or dotted body field


@dataclass
class World:
    client: TestClient
    settings: Settings
    headers: dict[str, str]
    ids: dict[str, str]


def _integer_schema(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "integer":
        return True
    return any(_integer_schema(s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))


def api_integer_inputs(openapi: dict[str, Any]) -> list[Target]:
    """Every integer query value and header of every operation the API documents."""
    found = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] in ("query", "header") and _integer_schema(param["schema"]):
                    found.append(Target(method.upper(), path, param["in"], param["name"]))
    return found


# Inputs the schema does not list as integers: the Range header, the dashboard's routes.
EXTRA_TARGETS = [
    Target("GET", "/v1/checkpoints/{checkpoint_id}/download", "header", "Range"),
    Target("GET", "/ui/", "query", "limit"),
    Target("GET", "/ui/jobs/{job_id}/events", "query", "since"),
    Target("GET", "/ui/jobs/{job_id}/events", "header", "Last-Event-ID"),
]


def integer_fields(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every integer field of a JSON schema (list items as `.0`)."""
    if "$ref" in schema:
        return integer_fields(defs[schema["$ref"].rsplit("/", 1)[1]], defs, prefix)
    paths = [prefix] if prefix and _integer_schema(schema) else []
    for option in schema.get("anyOf", []) + schema.get("allOf", []):
        paths += [p for p in integer_fields(option, defs, prefix) if p != prefix]
    for name, sub in schema.get("properties", {}).items():
        paths += integer_fields(sub, defs, f"{prefix}.{name}" if prefix else name)
    if "items" in schema:
        paths += [p for p in integer_fields(schema["items"], defs, f"{prefix}.0") if p]
    return sorted(set(paths))


def spec_integer_fields(openapi: dict[str, Any], settings: Settings) -> list[str]:
    defs = openapi["components"]["schemas"]
    fields = integer_fields(defs["JobCreate"], defs)
    registry = get_registry(settings)
    for kind in ("module", "datamodule"):
        for name in ("autoencoder", "mlp_classifier") if kind == "module" else ("synthetic",):
            schema = registry.get(kind, name).json_schema
            fields += [
                f"{kind}.params.{f}@{name}" for f in integer_fields(schema, schema.get("$defs", {}))
            ]
    return fields


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("pg_shared_url" if request.param == "postgresql" else "sqlite_url")
    )


@pytest.fixture
def world(settings: Settings, project_token: ProjectToken, database_url: str) -> Iterator[World]:
    settings = settings.model_copy(update={"job_create_rate_per_minute": 100_000})
    app = create_app(settings, dispatcher=[].append)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = project_token.headers
        job = client.post("/v1/jobs", json=SPEC, headers=headers).json()["id"]
        add_metrics(database_url, job, [("loss", "train", s, 1.0 / (s + 1)) for s in range(30)])
        checkpoint = add_checkpoint(database_url, get_artifact_store(settings), job, b"x" * 1000)
        with session_scope(database_url) as session:
            row = session.get_one(Job, job)
            lines = [
                (EventType.log, {"stream": "stdout", "line": f"l{i}", "at": 1.0}) for i in range(5)
            ]
            append_events(session, row, lines)
        move(database_url, job, JobStatus.running, JobStatus.succeeded)  # streams end
        login = client.post(
            "/ui/login", data={"token": project_token.token}, follow_redirects=False
        )
        assert login.status_code == 303, login.text
        yield World(client, settings, headers, {"job_id": job, "checkpoint_id": checkpoint})


def _send(
    world: World, target: Target, text: str, extra: dict[str, Any] | None = None
) -> httpx.Response | None:
    path = target.path.format(**world.ids, token_id="none")
    headers = dict(world.headers)
    params: dict[str, Any] = {}
    if target.where == "header":
        if not text.isprintable() or not text.isascii():
            return None  # no HTTP client can send it; nothing reaches the server
        headers[target.name] = text
    else:
        params[target.name] = text
    return world.client.request(target.method, path, params=params, headers=headers)


def assert_handled(response: httpx.Response | None, what: str) -> None:
    if response is None:
        return
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        codes = OK_CODES.get(response.status_code, ())
        assert response.json()["error_code"] in codes, f"{what}: {response.text[:300]}"


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run; the @example cases pin the known ones
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_the_fuzz_reaches_every_integer_input(world: World) -> None:
    """The lists below are derived from the app; a route that gains an integer is fuzzed."""
    targets = api_integer_inputs(world.client.app.openapi())  # type: ignore[attr-defined]
    names = {(t.path, t.name) for t in targets}
    assert {
        ("/v1/jobs/{job_id}/events", "since"),
        ("/v1/jobs/{job_id}/events", "tail"),
        ("/v1/jobs/{job_id}/events", "Last-Event-ID"),
        ("/v1/jobs/{job_id}/metrics", "step_min"),
        ("/v1/jobs/{job_id}/metrics", "step_max"),
        ("/v1/jobs/{job_id}/metrics", "max_points"),
        ("/v1/jobs", "limit"),
        ("/v1/jobs/{job_id}/logs", "limit"),
    } <= names


@HYPOTHESIS
@given(data=st.data(), text=INTEGER_TEXT)
@example(data=None, text="9" * 5000)
@example(data=None, text="-" + "1" * 5000)
@example(data=None, text="9223372036854775808")
def test_integer_query_values_and_headers(world: World, data: Any, text: str) -> None:
    targets = api_integer_inputs(world.client.app.openapi()) + EXTRA_TARGETS  # type: ignore[attr-defined]
    chosen = [data.draw(st.sampled_from(targets))] if data is not None else targets
    for target in chosen:
        value = f"bytes={text}-" if target.name == "Range" else text
        assert_handled(_send(world, target, value), f"{target} = {text[:60]!r}")
        if target.name == "Range":  # the end, and a suffix, too
            for shape in (f"bytes=0-{text}", f"bytes=-{text}"):
                assert_handled(_send(world, target, shape), f"{target} = {shape[:60]!r}")


CURSOR_ROUTES = [
    "/v1/jobs",
    "/v1/jobs/{job_id}/logs",
    "/v1/jobs/{job_id}/metrics",
    "/v1/jobs/{job_id}/metrics?format=csv",
    "/v1/jobs/{job_id}/metrics?format=csv&limit=5",
    "/ui/",
]


@HYPOTHESIS
@given(cursor=CURSORS)
@example(cursor=_cursor(["9" * 5000]))
@example(cursor=_cursor(["1180591620717411303424", "1"]))
@example(cursor=_cursor(["-1180591620717411303424", "1"]))
@example(cursor=_cursor(['"0001-01-01T00:00:00+14:00"', '"x"']))
@example(cursor=_cursor(['"9999-12-31T23:59:59-14:00"', '"x"']))
def test_cursors(world: World, cursor: str) -> None:
    for route in CURSOR_ROUTES:
        path, _, query = route.format(**world.ids).partition("?")
        params = dict(p.split("=") for p in query.split("&") if p) | {"cursor": cursor}
        response = world.client.get(path, params=params, headers=world.headers)
        assert_handled(response, f"{route} cursor={cursor[:80]!r}")


def _with_field(field: str, number: str) -> str:
    """SPEC as JSON text with `field` (dotted; `@component` picks the component; a last `.0`
    is a one-item list) set to `number` written as is, so it can have any number of digits."""
    body: dict[str, Any] = json.loads(json.dumps(SPEC))
    field, _, component = field.partition("@")
    if component:
        body[field.split(".")[0]] = {"name": component, "params": {}}
    keys = field.split(".")
    value: Any = "__NUMBER__"
    if keys[-1].isdigit():
        keys, value = keys[:-1], [value]
    node = body
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return json.dumps(body).replace('"__NUMBER__"', number)


@HYPOTHESIS
@given(data=st.data(), number=INTEGER_TEXT.filter(lambda t: t.strip().lstrip("-").isdigit()))
@example(data=None, number="9" * 5000)
@example(data=None, number=str(2**63))
def test_integer_fields_of_a_job_spec(world: World, data: Any, number: str) -> None:
    fields = spec_integer_fields(world.client.app.openapi(), world.settings)  # type: ignore[attr-defined]
    chosen = [data.draw(st.sampled_from(fields))] if data is not None else fields
    for field in chosen:
        body = _with_field(field, number.strip().lstrip("+"))
        for query in ("?dry_run=true", ""):
            response = world.client.post(
                f"/v1/jobs{query}",
                content=body,
                headers={**world.headers, "Content-Type": "application/json"},
            )
            assert_handled(response, f"{field} = {number[:60]!r}")
