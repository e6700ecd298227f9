"""The package's import graph keeps its layers: checked statically, over every import in ``src/omnimaint``.

Every ``import`` counts, wherever it is: at module level, inside a function (a lazy import is still a
dependency) and under ``if TYPE_CHECKING:`` (so is a type). Rules (issue 17, DESIGN.md §1):

- :mod:`omnimaint.evaluation` never imports :mod:`omnimaint.training`, directly or through another module
  (methods that train reach evaluation through its registry, registered from training);
- :mod:`omnimaint.models` never imports :mod:`omnimaint.data.sample_builder` (models name what they read);
- no two modules depend on each other, through any number of modules in between;
- no package imports what its docstring says it must not (:data:`FORBIDDEN`).

Importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``: the forbidden-import rules follow
those implicit imports too (they run), the cycle rule does not (a package's ``__init__`` re-exporting its
submodules, which import each other by their full names, is how Python packages are built; an explicit
import of a package's ``__init__`` from one of its submodules does count). docs/decisions.md records why.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "omnimaint"

_LAYERS = {
    # What each package's docstring says it must not import (the command line is the top layer).
    "omnimaint.data": ["omnimaint.models", "omnimaint.training", "omnimaint.inference", "omnimaint.evaluation"],
    "omnimaint.sim": ["omnimaint.models", "omnimaint.training", "omnimaint.inference", "omnimaint.evaluation"],
    "omnimaint.adapters": ["omnimaint.models", "omnimaint.training", "omnimaint.inference"],
    "omnimaint.baselines": ["omnimaint.models", "omnimaint.training", "omnimaint.inference"],
    "omnimaint.models": ["omnimaint.training", "omnimaint.inference", "omnimaint.evaluation"],
    "omnimaint.inference": ["omnimaint.training", "omnimaint.evaluation"],
    "omnimaint.evaluation": ["omnimaint.training"],
    "omnimaint.training": ["omnimaint.cli", "omnimaint.service"],
    "omnimaint.service": ["omnimaint.training", "omnimaint.evaluation", "omnimaint.cli"],
    "omnimaint.diagnosis": ["omnimaint.training", "omnimaint.service", "omnimaint.cli"],
}
FORBIDDEN = [
    ("omnimaint.models", "omnimaint.data.sample_builder"),
    *((importer, imported) for importer, imports in _LAYERS.items() for imported in imports),
]
"""(importer, imported) package prefixes: no module under the first may reach a module under the second."""

ALLOWED_CYCLES: set[frozenset[str]] = set()
"""Cycles tolerated for now, each exactly as its set of modules; every entry says why and until when."""


@dataclass(frozen=True)
class SourceModule:
    """One module's source: its dotted name, the file it is in, and whether it is a package ``__init__``."""

    name: str
    path: Path
    text: str
    is_package: bool = False


@dataclass(frozen=True)
class ImportEdge:
    """``importer`` imports ``imported`` at ``path:line``; ``lazy`` inside a function, ``typing`` for types."""

    importer: str
    imported: str
    path: Path
    line: int
    lazy: bool = False
    typing: bool = False

    def describe(self) -> str:
        where = ", inside a function" if self.lazy else ""
        where += ", under TYPE_CHECKING" if self.typing else ""
        return f"{self.importer} ({self.path}:{self.line}{where}) imports {self.imported}"


def read_package(root: Path, package: str) -> list[SourceModule]:
    """Every module of ``package`` under ``root`` (a ``src`` folder)."""
    modules = []
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        shown = path.relative_to(root.parent)  # src/omnimaint/..., as a reader finds it
        modules.append(SourceModule(name, shown, path.read_text(encoding="utf-8"), is_package))
    return modules


class _ImportCollector(ast.NodeVisitor):
    """The imports of one module, each resolved to the deepest module of the package that it names."""

    def __init__(self, module: SourceModule, known: set[str], package: str) -> None:
        self.module, self.known, self.package = module, known, package
        self.edges: list[ImportEdge] = []
        self._function_depth = 0
        self._type_checking_depth = 0

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._function_depth += 1
        self.generic_visit(node)
        self._function_depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" not in ast.unparse(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._type_checking_depth += 1
        for statement in node.body:
            self.visit(statement)
        self._type_checking_depth -= 1
        for statement in node.orelse:
            self.visit(statement)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node)
        for alias in node.names:
            # ``from a.b import c`` imports the module a.b.c when there is one, else a name of a.b.
            submodule = f"{base}.{alias.name}"
            self._add(submodule if submodule in self.known else base, node.lineno)

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.module.name.split(".")
        anchor = parts if self.module.is_package else parts[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        return ".".join([*anchor, *([node.module] if node.module else [])])

    def _add(self, name: str, line: int) -> None:
        if name != self.package and not name.startswith(f"{self.package}."):
            return
        while name not in self.known and "." in name:
            name = name.rsplit(".", 1)[0]
        if name != self.module.name and (name, line) not in {(edge.imported, edge.line) for edge in self.edges}:
            self.edges.append(
                ImportEdge(
                    self.module.name,
                    name,
                    self.module.path,
                    line,
                    lazy=self._function_depth > 0,
                    typing=self._type_checking_depth > 0,
                )
            )


def import_edges(modules: Iterable[SourceModule], package: str = PACKAGE) -> list[ImportEdge]:
    """Every import from one module of ``package`` to another, in source order."""
    modules = list(modules)
    known = {module.name for module in modules}
    edges = []
    for module in modules:
        collector = _ImportCollector(module, known, package)
        collector.visit(ast.parse(module.text, filename=str(module.path)))
        edges.extend(collector.edges)
    return edges


def _parents(name: str) -> Iterator[str]:
    """The packages whose ``__init__`` importing ``name`` runs first: ``a``, ``a.b`` for ``a.b.c``."""
    parts = name.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(f"{prefix}.")


def forbidden_imports(edges: list[ImportEdge], importer: str, imported: str) -> list[str]:
    """One message per module under ``importer`` that reaches a module under ``imported``, with the path."""
    outgoing: dict[str, list[ImportEdge]] = {}
    for edge in edges:
        outgoing.setdefault(edge.importer, []).append(edge)
        for parent in _parents(edge.imported):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            if not _under(edge.importer, parent):
                outgoing[edge.importer].append(
                    ImportEdge(edge.importer, parent, edge.path, edge.line, edge.lazy, edge.typing)
                )
    messages = []
    for start in sorted({edge.importer for edge in edges if _under(edge.importer, importer)}):
        chain = _first_path(outgoing, start, lambda name: _under(name, imported))
        if chain:
            messages.append(f"{start} imports {imported}: " + "; ".join(edge.describe() for edge in chain))
    return messages


def _first_path(
    outgoing: dict[str, list[ImportEdge]], start: str, is_target: Callable[[str], bool]
) -> list[ImportEdge]:
    """The shortest chain of imports from ``start`` to a module ``is_target`` accepts (empty if none)."""
    came_from: dict[str, ImportEdge] = {}
    frontier, seen = [start], {start}
    while frontier:
        following = []
        for name in frontier:
            for edge in outgoing.get(name, []):
                if edge.imported in seen:
                    continue
                seen.add(edge.imported)
                came_from[edge.imported] = edge
                if is_target(edge.imported):
                    chain = [edge]
                    while chain[0].importer != start:
                        chain.insert(0, came_from[chain[0].importer])
                    return chain
                following.append(edge.imported)
        frontier = following
    return []


def import_cycles(edges: list[ImportEdge]) -> list[list[ImportEdge]]:
    """Each set of modules that import each other (a strongly connected component), as its imports."""
    outgoing: dict[str, set[str]] = {}
    for edge in edges:
        outgoing.setdefault(edge.importer, set()).add(edge.imported)
    # Tarjan's algorithm, iterative so that a deep package cannot exhaust the recursion limit.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(outgoing):
        if root in index:
            continue
        work = [(root, iter(sorted(outgoing.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(outgoing.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
    return [
        [edge for edge in edges if edge.importer in component and edge.imported in component]
        for component in sorted(components, key=sorted)
    ]


@pytest.fixture(scope="module")
def edges() -> list[ImportEdge]:
    return import_edges(read_package(SOURCE_ROOT, PACKAGE))


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN)
def test_a_layer_never_imports_what_it_must_not(edges: list[ImportEdge], importer: str, imported: str) -> None:
    found = forbidden_imports(edges, importer, imported)
    assert not found, f"{importer} must not import {imported}, not even lazily:\n" + "\n".join(found)


def test_no_two_modules_import_each_other(edges: list[ImportEdge]) -> None:
    cycles = [cycle for cycle in import_cycles(edges) if frozenset(e.importer for e in cycle) not in ALLOWED_CYCLES]
    assert not cycles, "modules that import each other (move the shared part down, or inject it):\n" + "\n".join(
        "; ".join(edge.describe() for edge in cycle) for cycle in cycles
    )


def test_every_allowed_cycle_is_still_a_cycle(edges: list[ImportEdge]) -> None:
    present = {frozenset(edge.importer for edge in cycle) for cycle in import_cycles(edges)}
    stale = [sorted(cycle) for cycle in ALLOWED_CYCLES - present]
    assert not stale, f"these modules no longer import each other: remove them from ALLOWED_CYCLES: {stale}"


def test_the_graph_sees_the_package() -> None:
    modules = read_package(SOURCE_ROOT, PACKAGE)
    names = {module.name for module in modules}
    assert {"omnimaint", "omnimaint.evaluation", "omnimaint.training.run", "omnimaint.models.omni"} <= names
    graph = import_edges(modules)
    assert any(e.importer == "omnimaint.training.run" and _under(e.imported, "omnimaint.models") for e in graph)


def _synthetic(sources: dict[str, str]) -> list[ImportEdge]:
    """The import edges of a made-up package ``pkg`` whose modules (``pkg`` ends in ``/__init__``) hold ``sources``."""
    modules = [
        SourceModule(
            name.removesuffix(".__init__"),
            Path(*name.split(".")).with_suffix(".py"),
            source,
            is_package=name.endswith(".__init__"),
        )
        for name, source in sources.items()
    ]
    return import_edges(modules, package="pkg")


def test_a_cycle_through_a_lazy_import_is_reported_with_both_lines() -> None:
    edges = _synthetic(
        {
            "pkg.__init__": "",
            "pkg.a": "from pkg.b import run\n",
            "pkg.b": "import os\n\n\ndef run():\n    from pkg import a\n    return a\n",
            "pkg.c": "import pkg.a\n",
        }
    )
    cycles = import_cycles(edges)
    assert [[edge.describe() for edge in cycle] for cycle in cycles] == [
        [
            f"pkg.a ({Path('pkg/a.py')}:1) imports pkg.b",
            f"pkg.b ({Path('pkg/b.py')}:5, inside a function) imports pkg.a",
        ]
    ]


def test_a_longer_cycle_is_one_component() -> None:
    edges = _synthetic(
        {
            "pkg.a": "import pkg.b\n",
            "pkg.b": "from . import c\n",
            "pkg.c": "from .a import x\n",
            "pkg.d": "import pkg.a\n",
        }
    )
    assert [sorted({edge.importer for edge in cycle}) for cycle in import_cycles(edges)] == [
        ["pkg.a", "pkg.b", "pkg.c"]
    ]


def test_a_clean_graph_has_no_cycles_and_no_forbidden_imports() -> None:
    edges = _synthetic({"pkg.evaluation.x": "import pkg.models.m\n", "pkg.models.m": "import os\n"})
    assert import_cycles(edges) == []
    assert forbidden_imports(edges, "pkg.evaluation", "pkg.training") == []


def test_a_forbidden_import_under_type_checking_is_reported() -> None:
    edges = _synthetic(
        {
            "pkg.training.__init__": "",
            "pkg.training.fit": "",
            "pkg.evaluation.__init__": "",
            "pkg.evaluation.x": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.training.fit import Trainer\n"
            ),
        }
    )
    [message] = forbidden_imports(edges, "pkg.evaluation", "pkg.training")
    assert message.startswith("pkg.evaluation.x imports pkg.training: ")
    assert f"{Path('pkg/evaluation/x.py')}:4, under TYPE_CHECKING) imports pkg.training.fit" in message


def test_a_forbidden_import_through_another_module_names_the_chain() -> None:
    edges = _synthetic(
        {
            "pkg.evaluation.x": "def score():\n    import pkg.inference.z\n",
            "pkg.inference.z": "from pkg.training import fit\n",
            "pkg.training.fit": "",
        }
    )
    [message] = forbidden_imports(edges, "pkg.evaluation", "pkg.training")
    assert "pkg.evaluation.x (" in message
    assert ":2, inside a function) imports pkg.inference.z; " in message
    assert message.endswith(":1) imports pkg.training.fit")


def test_a_forbidden_package_init_is_reached_through_its_submodule() -> None:
    # Importing pkg.training.fit runs pkg/training/__init__.py first: that import is reported too.
    edges = _synthetic(
        {
            "pkg.evaluation.x": "import pkg.inference.z\n",
            "pkg.inference.__init__": "import pkg.training\n",
            "pkg.inference.z": "",
            "pkg.training.__init__": "",
        }
    )
    [message] = forbidden_imports(edges, "pkg.evaluation", "pkg.training")
    assert "imports pkg.inference; " in message
    assert message.endswith("imports pkg.training")
