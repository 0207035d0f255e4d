"""GET /v1/components publishes the registry with JSON Schemas."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_components_lists_builtins_with_schemas(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/v1/components", headers=auth)
    assert response.status_code == 200
    items = {(c["kind"], c["name"]): c for c in response.json()["items"]}
    assert {("module", "autoencoder"), ("module", "mlp_classifier")} <= set(items)
    assert {("datamodule", n) for n in ("digits", "mnist", "synthetic")} <= set(items)
    schema = items[("module", "autoencoder")]["params_schema"]
    assert schema["properties"]["hidden_dim"]["type"] == "integer"
    assert schema["properties"]["hidden_dim"]["default"] == 64
    assert schema["additionalProperties"] is False


def test_components_need_a_token(client: TestClient) -> None:
    assert client.get("/v1/components").status_code == 401
