"""Numbers in a job spec that would pass and then fail in the worker are a 422 at submit.

Non-finite floats (1e309 parses as infinity; NaN) anywhere in a spec, integers no tensor holds,
and sizes, counts and rates out of all proportion: each answers 422 naming the field, and
nothing is stored. The float fields and the bounded fields are read from the schemas, so a
field added later is covered (or this test says it has no bound).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from catalog.registry import get_registry
from trainyard.schemas.jobs import JobCreate

BASE: dict[str, Any] = {
    "module": {"name": "autoencoder", "params": {}},
    "datamodule": {"name": "synthetic", "params": {}},
    "trainer": {"max_epochs": 1},
}
BUILTIN = {
    "module": ("autoencoder", "mlp_classifier"),
    "datamodule": ("digits", "mnist", "synthetic"),
}
NON_FINITE = ["1e309", "-1e309", "NaN", "Infinity", "-Infinity"]


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("pg_shared_url" if request.param == "postgresql" else "sqlite_url")
    )


def _number_schema(schema: dict[str, Any], kind: str) -> bool:
    options = [schema, *schema.get("anyOf", [])]
    return any(option.get("type") == kind for option in options)


def fields_of(
    schema: dict[str, Any], defs: dict[str, Any], kind: str, prefix: str = ""
) -> list[str]:
    """Dotted paths of every `kind` ("number" or "integer") field of a JSON schema."""
    if "$ref" in schema:
        return fields_of(defs[schema["$ref"].rsplit("/", 1)[1]], defs, kind, prefix)
    found = [prefix] if prefix and _number_schema(schema, kind) else []
    for option in schema.get("anyOf", []):
        found += [f for f in fields_of(option, defs, kind, prefix) if f != prefix]
    for name, sub in schema.get("properties", {}).items():
        found += fields_of(sub, defs, kind, f"{prefix}.{name}" if prefix else name)
    if "items" in schema:
        found += fields_of(schema["items"], defs, kind, f"{prefix}.0")
    return sorted(set(found))


def _spec_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    schema = JobCreate.model_json_schema()
    return schema, schema.get("$defs", {})


def float_fields() -> list[str]:
    """Every float field of a spec: JobCreate's and the built-in components' parameters."""
    found = fields_of(*_spec_schema(), "number")
    registry = get_registry()
    for kind, names in BUILTIN.items():
        for name in names:
            schema = registry.get(kind, name).json_schema  # type: ignore[arg-type]
            found += [f"{kind}.params.{f}@{name}" for f in fields_of(schema, {}, "number")]
    return found


def spec_text(field: str, number: str) -> str:
    """BASE as JSON with the dotted `field` (`@name`: of that component) set to `number` as is."""
    body: dict[str, Any] = json.loads(json.dumps(BASE))
    field, _, component = field.partition("@")
    if component:
        body[field.split(".")[0]] = {"name": component, "params": {}}
    if component == "mnist":
        body["datamodule"]["params"]["dataset"] = "mnist"
    *parents, leaf = field.split(".")
    node = body
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = "__N__"
    return json.dumps(body).replace('"__N__"', number)


@pytest.fixture
def post(client: TestClient, auth: dict[str, str]) -> Callable[[str], Any]:
    def send(text: str) -> Any:
        headers = {**auth, "Content-Type": "application/json"}
        return client.post("/v1/jobs", content=text, headers=headers)

    return send


@pytest.fixture
def nothing_stored(count_rows: Callable[[str], int]) -> Iterator[None]:
    yield
    assert count_rows("jobs") == 0


@pytest.mark.parametrize("number", NON_FINITE)
def test_a_non_finite_number_anywhere_in_a_spec_is_a_422_naming_the_field(
    post: Callable[[str], Any], number: str, nothing_stored: None
) -> None:
    fields = float_fields()
    assert {"module.params.lr@autoencoder", "trainer.gradient_clip_val", "max_runtime_s"} <= set(
        fields
    )
    for field in fields:
        answer = post(spec_text(field, number))
        assert answer.status_code == 422, (field, answer.text)
        body = answer.json()
        assert body["error_code"] in ("validation_error", "invalid_params"), body
        assert field.partition("@")[0] in body["detail"], (field, body["detail"])


def test_a_non_finite_number_deep_in_a_user_components_params_is_refused(
    post: Callable[[str], Any], nothing_stored: None
) -> None:
    # The autoencoder's schema knows no `nested`; the finite check runs before any schema, so
    # a user's component taking a dict or list is covered too. Here: the field is named.
    text = json.dumps(
        {**BASE, "module": {"name": "autoencoder", "params": {"x": {"y": ["__N__"]}}}}
    )
    answer = post(text.replace('"__N__"', "1e309"))
    assert answer.status_code == 422
    assert "module.params.x.y.0: must be a finite number" in answer.json()["detail"]


def _bounded(schema: dict[str, Any]) -> bool:
    options = [schema, *schema.get("anyOf", [])]
    numeric = [o for o in options if o.get("type") in ("integer", "number")]
    return all(
        ("minimum" in o or "exclusiveMinimum" in o) and ("maximum" in o or "exclusiveMaximum" in o)
        for o in numeric
    )


def _leaf_schema(schema: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for key in path.split("."):
        node = defs[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
        if key.isdigit():
            node = node["items"]
            continue
        options = [node, *node.get("anyOf", [])]
        node = next(
            o["properties"][key]
            for o in (defs[o["$ref"].rsplit("/", 1)[1]] if "$ref" in o else o for o in options)
            if key in o.get("properties", {})
        )
    return node


# Bounded by the server's settings at submit (MAX_EPOCHS_LIMIT, MAX_STEPS_LIMIT), not in the
# schema: the tests below send them past the setting.
SETTING_BOUNDED = {"trainer.max_epochs", "trainer.max_steps"}


def test_every_numeric_field_of_a_spec_and_of_the_builtins_has_bounds_in_its_schema() -> None:
    schema, defs = _spec_schema()
    numeric = fields_of(schema, defs, "number") + fields_of(schema, defs, "integer")
    unbounded = [
        f
        for f in numeric
        if f not in SETTING_BOUNDED and not _bounded(_leaf_schema(schema, defs, f))
    ]
    registry = get_registry()
    for kind, names in BUILTIN.items():
        for name in names:
            params = registry.get(kind, name).json_schema  # type: ignore[arg-type]
            for field in fields_of(params, {}, "number") + fields_of(params, {}, "integer"):
                if not _bounded(_leaf_schema(params, {}, field)):
                    unbounded.append(f"{kind}.params.{field} of {name}")
    assert unbounded == []


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("module.params.latent_dim", 10**6, "module.params.latent_dim"),
        ("module.params.lr", 1e300, "module.params.lr"),
        ("datamodule.params.batch_size", 2**63, "datamodule.params.batch_size"),
        ("datamodule.params.shape", [100_000, 100_000], "datamodule.params.shape.0"),
        ("datamodule.params.shape", [4096, 4096], "train_size, val_size, test_size or the shape"),
        ("datamodule.params.seed", 2**40, "datamodule.params.seed"),
        (
            "module.params",
            {"input_dim": 65_536, "hidden_dim": 16_384},
            "input_dim, hidden_dim or latent_dim",
        ),
        ("trainer.accumulate_grad_batches", 10**9, "trainer.accumulate_grad_batches"),
        ("trainer.limit_train_batches", 2**63, "trainer.limit_train_batches"),
        ("trainer.max_epochs", 2**63, "trainer.max_epochs"),
        ("trainer.max_steps", 2**63, "trainer.max_steps"),
        ("max_runtime_s", 1e12, "max_runtime_s"),
    ],
)
def test_absurd_sizes_counts_and_rates_are_a_422_at_submit(
    post: Callable[[str], Any], field: str, value: Any, says: str, nothing_stored: None
) -> None:
    answer = post(spec_text(field, json.dumps(value)))
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error_code"] in ("validation_error", "invalid_params")
    assert says in body["detail"], body["detail"]


def test_large_but_sensible_values_are_accepted(post: Callable[[str], Any]) -> None:
    spec = {
        "module": {
            "name": "autoencoder",
            "params": {"input_dim": 65_536, "hidden_dim": 256, "latent_dim": 256, "lr": 10},
        },
        "datamodule": {
            "name": "synthetic",
            "params": {"shape": [256, 256], "train_size": 3000, "val_size": 500, "test_size": 500},
        },
        "trainer": {"max_epochs": 1, "accumulate_grad_batches": 10_000, "gradient_clip_val": 1e6},
        "max_runtime_s": 366 * 86_400,
    }
    answer = post(json.dumps(spec))
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    ("module", "datamodule", "says"),
    [
        (
            {"name": "autoencoder"},
            {"name": "mnist"},
            "module.params.input_dim: is 64 but the datamodule's samples have 784 features",
        ),
        (
            {"name": "mlp_classifier", "params": {"input_dim": 8}},
            {"name": "synthetic", "params": {"shape": [2, 3]}},
            "module.params.input_dim: is 8 but the datamodule's samples have 6 features",
        ),
        (
            {"name": "mlp_classifier", "params": {"num_classes": 2}},
            {"name": "digits"},
            "module.params.num_classes: is 2 but the datamodule's labels go up to 9",
        ),
    ],
)
def test_a_module_that_does_not_fit_its_datamodule_is_a_422_at_submit(
    post: Callable[[str], Any],
    module: dict[str, Any],
    datamodule: dict[str, Any],
    says: str,
    nothing_stored: None,
) -> None:
    answer = post(json.dumps({**BASE, "module": module, "datamodule": datamodule}))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error_code"] == "invalid_params"
    assert says in answer.json()["detail"]


def test_a_module_that_fits_is_accepted(post: Callable[[str], Any]) -> None:
    spec = {
        **BASE,
        "module": {"name": "mlp_classifier", "params": {"input_dim": 784, "num_classes": 12}},
        "datamodule": {"name": "mnist"},
    }
    assert post(json.dumps(spec)).status_code == 201
