"""The shape of the codebase, stated as facts a newcomer can rely on.

Every rule lives in one place only if the places cannot quietly grow into each other: the
record (`evidence`) never depends on the legal side (`casework`), no two modules need each
other, no module grows past what one reader holds in mind, and a broken import of the
project's own code fails loudly instead of being caught and papered over.
"""

from __future__ import annotations

import ast
import itertools
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("casework", "evidence")
MAX_MODULE_LINES = 800
# Pure data or one cohesive parser may be longer (issue #15): each entry says which it is.
LONG_MODULES_ALLOWED = {
    # One cohesive parser: numbering schemes, headings and definitions of Terms documents.
    "evidence/terms/clauses.py",
}


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_import_linter_contracts_hold():
    """`evidence` never imports `casework`, and sibling packages and modules never import
    each other in a cycle (the contracts in pyproject.toml)."""
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each a cycle."""
    order = itertools.count()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = next(order)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_module_import_cycle():
    """No two modules import each other, directly or round a loop, even from inside a
    function: a deferred import that dodges a cycle still is one."""
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    assert _cycles(graph) == []


def test_no_module_is_over_the_size_a_reader_holds():
    long = {
        str(path.relative_to(ROOT)): n
        for path in _sources()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert set(long) <= LONG_MODULES_ALLOWED, long


def _project_imports(node: ast.AST) -> list[str]:
    names = []
    for inner in ast.walk(node):
        if isinstance(inner, ast.Import):
            names += [alias.name for alias in inner.names]
        elif isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
            names.append(inner.module)
        elif isinstance(inner, ast.ImportFrom) and inner.level:
            names.append("." * inner.level + (inner.module or ""))
    return [n for n in names if n.startswith(".") or n.split(".")[0] in (*PACKAGES, "tests")]


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    kinds = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(
        isinstance(kind, ast.Name) and kind.id in {"ImportError", "ModuleNotFoundError"}
        for kind in kinds
    )


@pytest.mark.parametrize("package", [*PACKAGES, "tests"])
def test_no_import_error_fallback_around_project_code(package):
    """`except ImportError` guards only genuinely optional third-party packages; around the
    project's own modules it would hide a broken import (and, say, build a report without
    its methodology)."""
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            if any(_catches_import_error(h) for h in node.handlers) and _project_imports(
                ast.Module(body=node.body, type_ignores=[])
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
