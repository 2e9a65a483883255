"""The shape of the product packages: dependencies point one way, and every package's docstring maps its rooms.

The dependency rule, read from the source (every import, including those inside functions):

* ``ledger`` imports nothing of ``exchange``, ``policies`` or ``connectors``; everything may import ``ledger``;
* ``connectors`` imports neither ``exchange`` nor ``policies``, and of ``ledger`` only pure helpers (no models,
  no database), so that an endpoint kind can be tested and reused without the hub;
* ``policies`` imports neither ``exchange`` nor ``connectors``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("exchange", "ledger", "connectors", "policies")

FORBIDDEN: dict[str, frozenset[str]] = {
    "ledger": frozenset({"exchange", "policies", "connectors"}),
    "connectors": frozenset({"exchange", "policies"}),
    "policies": frozenset({"exchange", "connectors"}),
}
# The only ledger modules a connector may use: pure helpers that touch neither the models nor the database.
CONNECTOR_LEDGER_HELPERS = frozenset({"ledger.wareki", "ledger.documents.fonts", "ledger.files", "ledger.jurisdiction"})
# Alembic loads revision files by path; they are scripts in a folder, not a package with rooms.
NOT_PACKAGES = frozenset({Path("ledger/migrations/versions")})


@dataclass(frozen=True)
class Edge:
    source: Path
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.importer} imports {self.imported}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _product_files() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _known_modules() -> set[str]:
    return {_module_name(path) for path in _product_files()}


def _imports(source: str, module: str, *, is_package: bool, known: set[str]) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in ``source``, wherever it is written; relative ones made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            for alias in node.names:
                # ``from ledger.documents import fonts`` imports the module ``ledger.documents.fonts``.
                submodule = f"{base}.{alias.name}"
                yield node.lineno, submodule if submodule in known else base


def _edges() -> list[Edge]:
    known = _known_modules()
    return [
        Edge(path.relative_to(ROOT), line, _module_name(path), imported)
        for path in _product_files()
        for line, imported in _imports(
            path.read_text(encoding="utf-8"), _module_name(path), is_package=path.name == "__init__.py", known=known
        )
    ]


def _breaks_the_rule(edge: Edge) -> bool:
    source_top = edge.importer.split(".")[0]
    target_top = edge.imported.split(".")[0]
    if target_top in FORBIDDEN.get(source_top, frozenset()):
        return True
    return source_top == "connectors" and target_top == "ledger" and edge.imported not in CONNECTOR_LEDGER_HELPERS


def test_the_import_graph_has_no_edge_against_the_dependency_rule() -> None:
    edges = _edges()
    assert len(edges) > 100, "the import graph was not read"
    offending = [str(edge) for edge in edges if _breaks_the_rule(edge)]
    assert not offending, "imports against the dependency rule (see this test's docstring):\n" + "\n".join(offending)


def test_the_rule_catches_imports_inside_functions_and_relative_ones() -> None:
    source = "def late() -> None:\n    from exchange import hub\n    import connectors.box\nfrom .models import base\n"
    known = _known_modules()
    found = sorted(_imports(source, "ledger.probe", is_package=False, known=known))
    assert found == [(2, "exchange.hub"), (3, "connectors.box"), (4, "ledger.models.base")]
    edges = [Edge(Path("ledger/probe.py"), line, "ledger.probe", imported) for line, imported in found]
    assert [_breaks_the_rule(edge) for edge in edges] == [True, True, False]
    assert _breaks_the_rule(Edge(Path("connectors/x.py"), 1, "connectors.x", "ledger.models.packages"))
    assert _breaks_the_rule(Edge(Path("policies/x.py"), 1, "policies.x", "connectors.base"))
    assert not _breaks_the_rule(Edge(Path("connectors/x.py"), 1, "connectors.x", "ledger.wareki"))
    assert not _breaks_the_rule(Edge(Path("exchange/x.py"), 1, "exchange.x", "policies.rules"))


def _package_dirs() -> list[Path]:
    dirs = {path.parent for path in _product_files()}
    return sorted(d for d in dirs if d.relative_to(ROOT) not in NOT_PACKAGES)


def _rooms(directory: Path) -> list[str]:
    """The submodules and subpackages a reader of the package would look for (not ``__init__``/``__main__``)."""
    modules = [p.stem for p in directory.glob("*.py") if not p.stem.startswith("__")]
    packages = [p.name for p in directory.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    return sorted(modules + packages)


def test_every_package_has_an_init_whose_docstring_maps_its_rooms() -> None:
    problems = []
    for directory in _package_dirs():
        where = directory.relative_to(ROOT)
        init = directory / "__init__.py"
        if not init.exists():
            problems.append(f"{where}: no __init__.py")
            continue
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if not docstring.strip():
            problems.append(f"{where}/__init__.py: no docstring")
            continue
        missing = [room for room in _rooms(directory) if not re.search(rf"(?<!\w){re.escape(room)}(?!\w)", docstring)]
        if missing:
            problems.append(f"{where}/__init__.py: the docstring does not name {', '.join(missing)}")
    assert not problems, "package maps out of date:\n" + "\n".join(problems)
