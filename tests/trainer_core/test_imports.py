"""trainer_core's import graph: no cycles outside TYPE_CHECKING, no imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import trainer_core

ROOT = Path(trainer_core.__file__).parent
# Optional packages are imported where used, so trainer_core runs without them.
LAZY_ALLOWED = {
    "tensorboard",
    "tensorboardX",
    "torch.utils.tensorboard",
    "torch.utils.tensorboard.summary",
    "matplotlib.pyplot",  # LRFinder.plot
    "psutil",  # DeviceStatsMonitor's CPU stats
    "mlflow",  # MLFlowLogger
    "mlflow.entities",
    "mlflow.tracking",
    "mlflow.tracking.context.registry",
    "mlflow.utils.mlflow_tags",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    # ``from pkg import sub`` may import a submodule: count both
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Module -> trainer_core modules it imports at import time; plus imports in functions."""
    graph: dict[str, set[str]] = {}
    nested: list[str] = []
    modules = {_module_name(p) for p in ROOT.rglob("*.py")}
    for path in sorted(ROOT.rglob("*.py")):
        name = _module_name(path)
        tree = ast.parse(path.read_text())
        edges: set[str] = set()
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(t for t in _imported(node) if t in modules and t != name)
        graph[name] = edges
        top_level = {id(n) for n in tree.body}
        type_checking = {
            id(inner)
            for n in tree.body
            if isinstance(n, ast.If) and _is_type_checking(n)
            for inner in ast.walk(n)
        }
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in top_level:
                continue
            if id(node) in type_checking:
                continue
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if not set(names) <= LAZY_ALLOWED:
                nested.append(f"{name}:{node.lineno} {names}")
    return graph, nested


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_outside_type_checking() -> None:
    graph, _ = _graph()
    # the package __init__ re-exports everything; its edges are not part of a cycle
    graph = {k: {v for v in vs if v != "trainer_core"} for k, vs in graph.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_imports_inside_functions() -> None:
    _, nested = _graph()
    assert nested == []


def test_the_checker_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
