"""Dashboard login: the session cookie, what it opens (only /ui), CSRF, and the security headers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from http.cookies import SimpleCookie

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.db.models import Token, utcnow
from api.db.session import session_scope
from api.ui.auth import COOKIE
from tests.conftest import ProjectToken
from tests.ui.conftest import HTML, UiClient, csrf_of, login


def cookie_of(response) -> SimpleCookie:  # type: ignore[no-untyped-def]
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar


def test_the_root_and_pages_send_an_anonymous_browser_to_the_login_form(anon: TestClient) -> None:
    assert anon.get("/", follow_redirects=False).headers["location"] == "/ui/"
    response = anon.get("/ui/jobs/abc?x=1", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fjobs%2Fabc%3Fx%3D1"
    form = anon.get("/ui/login")
    assert form.status_code == 200 and 'name="token"' in form.text


def test_a_bad_token_shows_the_form_again_with_an_error(anon: TestClient) -> None:
    for token in ("ty_nonsense", ""):
        response = anon.post("/ui/login", data={"token": token}, follow_redirects=False)
        assert response.status_code == 401
        assert 'name="token"' in response.text and 'id="login-error"' in response.text
        assert "set-cookie" not in response.headers


def test_a_valid_token_sets_a_strict_httponly_cookie_for_ui_only(
    anon: TestClient, project_token: ProjectToken
) -> None:
    response = anon.post(
        "/ui/login",
        data={"token": project_token.token, "next": "/ui/compare"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/ui/compare"
    morsel = cookie_of(response)[COOKIE]
    assert morsel["httponly"] and morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/ui" and not morsel["secure"]  # plain HTTP here
    assert project_token.project_name in anon.get("/ui/", headers=HTML).text


def test_the_cookie_is_secure_over_https(ui_app: FastAPI, project_token: ProjectToken) -> None:
    with TestClient(ui_app, base_url="https://testserver") as client:
        response = client.post(
            "/ui/login", data={"token": project_token.token}, follow_redirects=False
        )
    assert cookie_of(response)[COOKIE]["secure"]


def test_login_never_redirects_off_the_dashboard(
    anon: TestClient, project_token: ProjectToken
) -> None:
    for target in ("https://evil.example/", "//evil.example/ui/", "/v1/jobs"):
        response = anon.post(
            "/ui/login", data={"token": project_token.token, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/ui/"


def test_the_session_expires_with_its_token(
    anon: TestClient, make_token: Callable[..., ProjectToken], database_url: str
) -> None:
    token = make_token("expiring", expires_at=utcnow() + timedelta(hours=1))
    response = anon.post("/ui/login", data={"token": token.token}, follow_redirects=False)
    max_age = int(cookie_of(response)[COOKIE]["max-age"])
    assert 3500 < max_age <= 3600
    assert anon.get("/ui/api/v1/jobs").status_code == 200
    with session_scope(database_url) as session:
        session.execute(
            update(Token)
            .where(Token.id == token.token_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert anon.get("/ui/api/v1/jobs").status_code == 401


def test_revoking_the_token_ends_its_sessions(ui: UiClient, database_url: str) -> None:
    assert ui.client.get("/ui/api/v1/jobs").status_code == 200
    with session_scope(database_url) as session:
        session.execute(
            update(Token).where(Token.id == ui.token.token_id).values(revoked_at=utcnow())
        )
    response = ui.client.get("/ui/", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/login")


def test_the_cookie_never_authenticates_the_api(ui: UiClient) -> None:
    secret = ui.client.cookies.get(COOKIE)
    assert secret
    cookie = {"Cookie": f"{COOKIE}={secret}"}
    for path in ("/v1/jobs", "/v1/components"):
        response = ui.client.get(path, headers=cookie)
        assert response.status_code == 401 and response.json()["error_code"] == "unauthorized"
    # ...while the bearer token still works there and not under /ui.
    assert ui.client.get("/v1/jobs", headers=ui.token.headers).status_code == 200
    bare = TestClient(ui.client.app)
    assert bare.get("/ui/api/v1/jobs", headers=ui.token.headers).status_code == 401


def test_logout_clears_the_cookie_and_ends_the_session(ui: UiClient) -> None:
    secret = ui.client.cookies.get(COOKIE)
    response = ui.client.post("/ui/logout", data={"csrf_token": ui.csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert cookie_of(response)[COOKIE].value == ""
    # The old cookie value, replayed, opens nothing.
    replay = TestClient(ui.client.app, cookies={COOKIE: secret})
    assert replay.get("/ui/api/v1/jobs").status_code == 401


def test_state_changes_without_the_sessions_csrf_token_are_refused(
    ui: UiClient, make_ui: Callable[..., UiClient], count_jobs: Callable[[], int]
) -> None:
    other = make_ui("ui-other")
    body = {"module": {"name": "autoencoder"}, "datamodule": {"name": "digits"}}
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": other.csrf}):
        response = ui.client.post("/ui/api/v1/jobs", json=body, headers=headers)
        assert response.status_code == 403 and response.json()["error_code"] == "csrf_failed"
    assert count_jobs() == 0
    job = ui.submit()
    refused = ui.client.post(f"/ui/jobs/{job['id']}/cancel", data={}, headers=HTML)
    assert refused.status_code == 403 and "csrf_failed" in refused.text
    assert ui.client.get(f"/ui/api/v1/jobs/{job['id']}").json()["status"] == "queued"
    done = ui.client.post(
        f"/ui/jobs/{job['id']}/cancel", data={"csrf_token": ui.csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    assert ui.client.get(f"/ui/api/v1/jobs/{job['id']}").json()["status"] == "cancelled"


def test_every_page_allows_only_its_own_origin_and_runs_no_inline_script(ui: UiClient) -> None:
    job = ui.submit(name="x")
    pages = [
        "/ui/",
        f"/ui/jobs/{job['id']}",
        f"/ui/compare?job={job['id']}",
        "/ui/submit",
        "/ui/login",
    ]
    for path in pages:
        response = ui.client.get(path, headers=HTML)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'self'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["cache-control"] == "no-store"
        for tag in response.text.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            assert " src=" in opening or 'type="application/json"' in opening, (path, opening)
        assert " style=" not in response.text and "<style" not in response.text


def test_a_new_login_gets_its_own_csrf_token(ui_app: FastAPI, project_token: ProjectToken) -> None:
    with TestClient(ui_app) as first, TestClient(ui_app) as second:
        assert login(first, project_token.token) != login(second, project_token.token)
        assert csrf_of(first.get("/ui/", headers=HTML).text) == csrf_of(
            first.get("/ui/submit", headers=HTML).text
        )


def test_a_login_posted_from_another_site_is_refused(
    anon: TestClient, project_token: ProjectToken
) -> None:
    response = anon.post(
        "/ui/login",
        data={"token": project_token.token},
        headers={"Sec-Fetch-Site": "cross-site", "Accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers
