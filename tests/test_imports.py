"""The import rules of ARCHITECTURE.md, checked on the source (every import, even inside
functions) and, for the light modules, in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each package must never import (a prefix matches the module and its submodules).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "trainer_core": ("api", "worker", "trainyard", "celery", "sqlalchemy", "fastapi"),
    "worker": ("api.routes", "api.main"),
}
# The only parts of the worker that the API may import: no torch behind them.
API_MAY_IMPORT_FROM_WORKER = ("worker.celery_app", "worker.dispatch")


def imports_of(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found += [(path, node.module)]
                found += [(path, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_forbidden_imports(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports_of(package)
        if any(matches(module, prefix) for prefix in FORBIDDEN[package])
    ]
    assert not bad, f"{package} imports what it must not:\n" + "\n".join(bad)


def test_api_imports_only_the_light_part_of_worker() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports_of("api")
        if matches(module, "worker")
        and module != "worker"
        and not any(matches(module, light) for light in API_MAY_IMPORT_FROM_WORKER)
    ]
    assert not bad, "api imports heavy worker modules:\n" + "\n".join(bad)


@pytest.mark.parametrize("module", ["worker.dispatch", "worker.celery_app", "trainyard.cli"])
def test_light_modules_do_not_load_torch(module: str) -> None:
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"importing {module} loads torch\n{result.stderr}"
