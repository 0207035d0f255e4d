"""`from trainyard.components import LitAutoEncoder` keeps working in users' code.

The built-in components live in `catalog.components` (they need torch); this module loads them
on first use, so that `import trainyard` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("catalog.components"), name)


def __dir__() -> list[str]:
    return dir(importlib.import_module("catalog.components"))
