"""The import rules of ARCHITECTURE.md, checked on the source (every import, even inside
functions), on the whole import graph (no cycles), and in a fresh interpreter (what importing
the client really loads).

The layers, bottom to top: trainer_core < catalog < api, worker < server < trainyard (the client
and the user CLI). Each imports only what lies below it; the wire schemas (trainyard.schemas),
shared by the client and the API, import only pydantic.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trainer_core", "catalog", "api", "worker", "server", "trainyard")
SERVER_LIBRARIES = ("torch", "celery", "sqlalchemy", "fastapi", "uvicorn", "alembic")
# What the client package may import of itself and of the API's side: the wire schemas only.
CLIENT_PARTS = ("trainyard.client", "trainyard.cli", "trainyard.download")
CLIENT_SHIMS = ("trainyard.registry", "trainyard.components")  # lazy re-exports of the catalog

# What each package must never import (a prefix matches the module and its submodules).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "trainer_core": ("catalog", "api", "worker", "server", "trainyard", "celery", "sqlalchemy",
                     "fastapi"),
    "catalog": ("api", "worker", "server", "trainyard", "celery", "sqlalchemy", "fastapi"),
    "api": ("server", *CLIENT_PARTS, *CLIENT_SHIMS),
    "worker": ("api.routes", "api.main", "server", *CLIENT_PARTS, *CLIENT_SHIMS),
    "server": (*CLIENT_PARTS, *CLIENT_SHIMS),
    "trainyard": ("trainer_core", "catalog", "api", "worker", "server", *SERVER_LIBRARIES),
}  # fmt: skip
# The wire schemas: an allow-list, since they must import nothing but pydantic.
SCHEMAS_MAY_IMPORT = ("pydantic", "trainyard.schemas", "__future__", *sys.stdlib_module_names)
# The only parts of the worker that the API may import: no torch behind them.
API_MAY_IMPORT_FROM_WORKER = ("worker.celery_app", "worker.dispatch")
# Import cycles known when this test was written, each as the set of its import edges, to be
# removed by the package's owner. Empty: none today (the trainer_core cycle saving <->
# module/datamodule was broken in b86f1ae). Any cycle not listed here fails the test.
KNOWN_CYCLES: list[frozenset[tuple[str, str]]] = []


def imports_of(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
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


def test_the_wire_schemas_import_only_pydantic() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports_of("trainyard.schemas")
        if not any(matches(module, allowed) for allowed in SCHEMAS_MAY_IMPORT)
    ]
    assert not bad, "trainyard.schemas imports more than pydantic:\n" + "\n".join(bad)


def test_api_imports_only_the_light_part_of_worker() -> None:
    bad = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports_of("api")
        if matches(module, "worker")
        and module != "worker"
        and not any(matches(module, light) for light in API_MAY_IMPORT_FROM_WORKER)
    ]
    assert not bad, "api imports heavy worker modules:\n" + "\n".join(bad)


def import_cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """The strongly connected components of the module graph with more than one module
    (Tarjan's algorithm, iterative: the graph is deeper than the recursion limit allows)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[set[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[module] = min(low[module], index[child])
    return cycles


def test_no_import_cycle_outside_type_checking() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    new = []
    for cycle in import_cycles(graph):
        edges = {(a, b) for a in cycle for b in graph.find_modules_directly_imported_by(a) & cycle}
        if not any(edges <= known for known in KNOWN_CYCLES):
            new.append("\n".join(f"  {a} -> {b}" for a, b in sorted(edges)))
    assert not new, "import cycles (an import inside a function counts too):\n" + "\n\n".join(new)


def test_import_cycles_are_found() -> None:
    """The cycle finder itself, on a graph with one cycle of three and a self-contained tail."""
    graph = grimp.ImportGraph()
    for importer, imported in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [{"a", "b", "c"}]


@pytest.mark.parametrize("module", ["worker.dispatch", "worker.celery_app", "trainyard.cli"])
def test_light_modules_do_not_load_torch(module: str) -> None:
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"importing {module} loads torch\n{result.stderr}"


def test_importing_the_client_loads_nothing_of_the_server() -> None:
    """In this venv every server package is installed, so only our imports keep them out."""
    server = [*SERVER_LIBRARIES, "api", "worker", "catalog", "trainer_core"]
    code = (
        "import json, sys, trainyard, trainyard.cli, trainyard.cli.watch, trainyard.download;"
        "trainyard.Client; trainyard.TrainyardError; trainyard.ChecksumError;"
        "trainyard.cli.build_parser();"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout)) & set(server)
    assert not loaded, f"importing the client loaded server packages: {sorted(loaded)}"
