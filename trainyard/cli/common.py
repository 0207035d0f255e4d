"""What every client command shares: --url/--token, the client, error reporting, output.

The server and token come from --url/--token or TRAINYARD_URL/TRAINYARD_TOKEN. A server error
prints its `error_code` and `detail` and exits 1; a usage error exits 2.

Every string that came from the server (job names, log lines, metric names, error messages)
reaches the terminal through `printable`/`echo`/`table`: a control character is shown as its
escape (`\x1b`), never sent, so a job named with an escape sequence cannot clear, retitle or
recolour the terminal of whoever lists it. rich draws only `Text` objects, never markup
strings, so a name like "[red]x" is printed as it is.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from trainyard.schemas.common import UNPRINTABLE

if TYPE_CHECKING:
    from trainyard.client import Client

Subparsers = Any
Handler = Callable[[argparse.Namespace], int]
DEFAULT_URL = "http://127.0.0.1:8000"


class UsageError(Exception):
    """Bad input on our side (a missing token, an unreadable file): exit status 2."""


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("TRAINYARD_URL", DEFAULT_URL),
        help="server URL (default: $TRAINYARD_URL or %(default)s)",
    )
    common.add_argument(
        "--token",
        default=os.environ.get("TRAINYARD_TOKEN"),
        help="API token (default: $TRAINYARD_TOKEN)",
    )
    return common


def client_of(args: argparse.Namespace) -> Client:
    from trainyard.client import Client

    if not args.token:
        raise UsageError(
            "no token: pass --token or set TRAINYARD_TOKEN (make one with `trainyard token create`)"
        )
    return Client(args.url, args.token)


def reports_errors(handler: Handler) -> Handler:
    """Turn the client's exceptions into one clear line on stderr and an exit status."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        import httpx

        from trainyard.client import TrainyardError
        from trainyard.download import ChecksumError

        try:
            return handler(args)
        except TrainyardError as exc:
            echo(f"error: {exc.error_code} (HTTP {exc.status}): {exc.detail}", sys.stderr)
        except ChecksumError as exc:
            echo(f"error: {exc}", sys.stderr)
        except UsageError as exc:
            echo(f"error: {exc}", sys.stderr)
            return 2
        except httpx.TransportError as exc:
            echo(
                f"error: cannot reach the Trainyard server at {args.url} ({exc}); is it running? "
                "Point --url or TRAINYARD_URL at it.",
                sys.stderr,
            )
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        return 1

    return run


def printable(value: object, keep: str = "") -> str:
    """`value` as text a terminal only displays: each control character (and each character
    that reorders text, like U+202E) becomes its visible escape; those in `keep` stay."""

    def escape(found: re.Match[str]) -> str:
        char = found.group()
        return char if char in keep else char.encode("unicode_escape", "backslashreplace").decode()

    return UNPRINTABLE.sub(escape, str(value))


def echo(text: object, file: IO[str] | None = None, *, keep: str = "", flush: bool = False) -> None:
    """print() for a line holding server data: see `printable`."""
    print(printable(text, keep), file=file or sys.stdout, flush=flush)


def print_json(value: Any) -> None:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    print(json.dumps(value, indent=2))


def table(rows: list[list[str]], header: list[str]) -> None:
    """A table on stdout: drawn by rich on a terminal; plain aligned columns for a script."""
    cells = [[printable(v) for v in row] for row in rows]
    if not sys.stdout.isatty():
        widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
        for row in [header, *cells]:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    drawn = Table(*header, box=box.SIMPLE_HEAD, header_style="bold", show_edge=False)
    for row in cells:
        drawn.add_row(*(Text(v) for v in row))  # Text: a name like "[x]" is not markup
    Console().print(drawn)
