"""No import circle inside hexo_pipeline: every intra-package import (module level or inside a function),
read with `ast`, forms an acyclic graph of modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "hexo_pipeline"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def intra_package_imports(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the hexo_pipeline modules it imports (a `from pkg import name` of a submodule counts as
    importing the submodule, else the package)."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_circle():
    cycle = find_cycle(intra_package_imports())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_checker_sees_a_circle_through_a_function_level_import(tmp_path):
    pkg = tmp_path / "hexo_pipeline"
    (pkg / "defs").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "defs" / "__init__.py").write_text("")
    (pkg / "definitions.py").write_text("from .defs.assets import a\n")
    (pkg / "defs" / "assets.py").write_text("def f():\n    from ..definitions import defs\n")
    assert find_cycle(intra_package_imports(pkg)) == [
        "hexo_pipeline.definitions",
        "hexo_pipeline.defs.assets",
        "hexo_pipeline.definitions",
    ]
