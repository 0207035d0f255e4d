"""The Jinja2 environment of the dashboard: autoescaping on for every template, always."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

UI_DIR = Path(__file__).resolve().parent
STATIC_DIR = UI_DIR / "static"
STATUS_TEXT = {  # the words beside each status colour (colour alone says nothing to some users)
    "queued": "Queued",
    "running": "Running",
    "cancelling": "Cancelling",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return f"{value:.6g}"


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(UI_DIR / "templates"),
        autoescape=True,  # every template, whatever its name: user strings are never markup
        undefined=jinja2.StrictUndefined,
    )
    # Keep a schema's property order (the form lists fields as the spec declares them).
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    env.filters.update(utc=_utc, iso=_iso, duration=_duration, number=_number, pretty=_pretty_json)
    env.globals["status_text"] = STATUS_TEXT
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """A page; `session` (the LiveSession, or None on the login page) is always there."""
    live = getattr(request.state, "ui_session", None)
    base = {"session": live, "csrf_token": live.csrf_token if live else ""}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
