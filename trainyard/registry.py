"""`from trainyard.registry import component, register` keeps working in users' code.

The registry lives in `catalog.registry` (it needs the server extra); this module loads it on
first use, so that `import trainyard` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("catalog.registry"), name)


def __dir__() -> list[str]:
    return dir(importlib.import_module("catalog.registry"))
