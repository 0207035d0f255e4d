"""/docs: Swagger UI served from the app's own files (no CDN), as vendored in VENDOR.json."""

from __future__ import annotations

import hashlib
import json
import re

from fastapi.testclient import TestClient

from api.openapi import SWAGGER_UI


def test_docs_page_loads_every_asset_from_the_app(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert len(assets) == 3, assets  # bundle, stylesheet, favicon
    assert all(asset.startswith("/docs/assets/") for asset in assets), assets
    assert "http" not in " ".join(assets)
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.content == (SWAGGER_UI / asset.rsplit("/", 1)[1]).read_bytes()


def test_vendored_files_match_their_record() -> None:
    record = json.loads((SWAGGER_UI / "VENDOR.json").read_text())
    assert record["package"] == "swagger-ui-dist" and record["version"]
    for name, digest in record["files"].items():
        assert hashlib.sha256((SWAGGER_UI / name).read_bytes()).hexdigest() == digest, name
    bundle = (SWAGGER_UI / "swagger-ui-bundle.js").read_text(errors="replace")
    assert "SwaggerUIBundle" in bundle
