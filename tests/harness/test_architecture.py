"""The floors of docs/architecture.md, enforced: every module of golive is parsed (never imported)
and each import it makes, at the top or inside a function, must go down, never up or sideways
against the table below; and no two packages may import each other, even through others."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import golive

ROOT = Path(golive.__file__).parent  # golive/, its linked folders followed

MIDDLE = {"fixtures", "chaos", "drills", "loadtests", "reports", "suites", "images"}
# What each part of golive may import (besides itself, the standard library and third parties).
# "golive" is golive/__init__.py: the version, nothing else. Within the middle floor, the stack
# (fixtures) is below what uses it, and the suites, which test everything, are above the rest.
MAY_IMPORT: dict[str, set[str]] = {
    "golive": set(),
    "system_under_test": set(),
    "core": {"golive"},
    # The backend is reached through fixtures/backend.py (the backend contract), never imported.
    "fixtures": {"golive", "core"},
    "chaos": {"golive", "core", "fixtures"},
    "drills": {"golive", "core", "fixtures"},
    "loadtests": {"golive", "core", "fixtures"},
    "reports": {"golive", "core", "fixtures"},
    "images": {"golive", "core", "fixtures"},
    # The suites judge any backend (`--app`): they reach it over HTTP and through the contract,
    # never into the reference backend's modules (its own tests are tests/backend/).
    "suites": {"golive", "core", "fixtures", "chaos", "drills", "loadtests"},
    "stages": {"golive", "core", *MIDDLE - {"suites", "images"}},
    "commands": {"golive", "core", "stages", *MIDDLE - {"suites", "images"}},
    "cli": {"core", "commands", "images"},
    "audit": set(),
}
# golive/<name>.py modules at the top: the roof (the entry point and the app) and a lone tool.
TOP_MODULES = {
    "__init__": "golive",
    "__main__": "cli",
    "entry": "cli",
    "cli": "cli",
    "audit": "audit",
}


def modules() -> Iterator[tuple[str, Path]]:
    for directory, subdirectories, files in os.walk(ROOT, followlinks=True):
        subdirectories[:] = [name for name in subdirectories if name not in ("node_modules", "__pycache__")]
        for file in files:
            if file.endswith(".py"):
                path = Path(directory) / file
                parts = path.relative_to(ROOT.parent).with_suffix("").parts
                yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every golive module `module` imports, with the line; relative imports made absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            # `from golive import suites` imports the package golive.suites: each name may be a module.
            yield from ((f"{source}.{alias.name}", node.lineno) for alias in node.names)


def part_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "golive":
        return None
    if len(parts) == 1:
        return "golive"
    if parts[1] in MAY_IMPORT:
        return parts[1]
    return TOP_MODULES.get(parts[1])


def dependencies() -> dict[str, dict[str, list[str]]]:
    """part -> part it imports -> where (file:line)."""
    found: dict[str, dict[str, list[str]]] = {}
    for module, path in modules():
        importer = part_of(module)
        assert importer is not None, f"{path}: in no part of docs/architecture.md's floors"
        for target, line in imported(module, path):
            part = part_of(target)
            if part is not None and part != importer:
                found.setdefault(importer, {}).setdefault(part, []).append(f"{path}:{line}")
    return found


def test_every_part_of_golive_is_on_a_floor() -> None:
    parts = {part_of(module) for module, _ in modules()}
    assert parts == set(MAY_IMPORT)


def test_imports_go_down_the_floors_only() -> None:
    wrong = [
        f"{where}: {importer} imports {part}"
        for importer, parts in dependencies().items()
        for part, places in parts.items()
        if part not in MAY_IMPORT[importer]
        for where in places
    ]
    assert wrong == []


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as the path that closes it, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for successor in sorted(graph.get(node, ())):
            found = visit(successor, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    return next((found for node in sorted(graph) if (found := visit(node, [])) is not None), None)


def test_no_two_parts_import_each_other() -> None:
    graph = {importer: set(parts) for importer, parts in dependencies().items()}
    assert cycle(graph) is None


def test_no_two_packages_import_each_other() -> None:
    """Within a part too: a package and a package beside it (not inside it) are imported one way."""
    packages = {module for module, path in modules() if path.name == "__init__.py"}

    def package_of(module: str) -> str:
        while module not in packages:
            module = module.rpartition(".")[0]
        return module

    graph: dict[str, set[str]] = {}
    for module, path in modules():
        importer = package_of(module)
        for target, _ in imported(module, path):
            if target.split(".")[0] != "golive":
                continue
            while target and target not in packages and target.rpartition(".")[0]:
                target = target.rpartition(".")[0]
            related = target.startswith(f"{importer}.") or importer.startswith(f"{target}.")
            if target in packages and target != importer and not related:
                graph.setdefault(importer, set()).add(target)
    assert cycle(graph) is None


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"x": {"y"}, "y": {"y"}}, ["y", "y"]),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[str] | None) -> None:
    assert cycle(graph) == expected


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    """The checker bites: core importing the stack, and a relative import out of the reference
    backend, are both reported."""
    core = tmp_path / "golive" / "core"
    core.mkdir(parents=True)
    (core / "bad.py").write_text("from golive.fixtures.stack import Stack\n")
    backend = tmp_path / "golive" / "system_under_test" / "db"
    backend.mkdir(parents=True)
    (backend / "__init__.py").write_text("from ...fixtures import stack\n")
    found = {
        (part_of(module), part_of(target))
        for module, path in [
            ("golive.core.bad", core / "bad.py"),
            ("golive.system_under_test.db", backend / "__init__.py"),
        ]
        for target, _ in imported(module, path)
    }
    assert ("core", "fixtures") in found
    assert ("system_under_test", "fixtures") in found
    assert "fixtures" not in MAY_IMPORT["core"] | MAY_IMPORT["system_under_test"]
