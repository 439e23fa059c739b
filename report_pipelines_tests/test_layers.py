"""The package's layering: no import cycle, pure helpers that import nothing of ours, adapters
that do not build the code location, and handlers short enough to read at a glance."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "report_pipelines"
ROOT = "report_pipelines"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The most specific module of ours that ``name`` refers to (a module, or a name in one)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Every module of ours that ``module`` imports, at the top or inside a function."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import submodule` imports the submodule; `from module import name`
            # imports the module.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name.split(".")[0] != ROOT:
                continue
            resolved = _resolve(name)
            if resolved and resolved != module:
                found.add(resolved)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_walker_sees_imports():
    # A walker that found nothing would pass the cycle test vacuously.
    assert "report_pipelines.models" in GRAPH["report_pipelines.jobs"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_package_modules():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("module", ["report_pipelines.formatting", "report_pipelines.sql"])
def test_pure_helpers_import_nothing_of_ours(module):
    assert GRAPH[module] == set()


def _reaches(start: str, target: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(GRAPH.get(node, ()))
    return False


@pytest.mark.parametrize(
    "adapter", ["report_pipelines.cli", "report_pipelines.api.app", "report_pipelines.service"]
)
def test_adapters_and_the_service_do_not_build_the_code_location(adapter):
    modules = [m for m in MODULES if m == adapter or m.startswith(adapter + ".")]
    assert modules, adapter
    for module in modules:
        assert not _reaches(module, "report_pipelines.definitions"), module


def _handlers():
    from report_pipelines.api import app as api_app
    from report_pipelines.cli import main

    def commands(group):
        for command in group.commands.values():
            if hasattr(command, "commands"):
                yield from commands(command)
            else:
                yield f"cli {command.name}", command.callback

    yield from commands(main)
    for route in api_app.router.routes:
        yield f"api {route.path} {sorted(route.methods)}", route.endpoint


MAX_HANDLER_LINES = 40


@pytest.mark.parametrize("name,handler", list(_handlers()), ids=lambda v: v if isinstance(v, str) else "")
def test_each_cli_and_api_handler_fits_in_a_screen(name, handler):
    lines = inspect.getsource(handler).splitlines()
    assert len(lines) <= MAX_HANDLER_LINES, f"{name}: {len(lines)} lines"
