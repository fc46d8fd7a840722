"""The house rules of docs/architecture.md that a parser can check.

- ``library/`` imports no feature package nor any layer above it: features add their work
  through ``library.hooks`` and are loaded by ``smartalbum.features`` at the top.
- No module imports another module's private (``_name``) names, nor reaches them as
  ``module._name``: what others need is a public function of the layer that owns it.

The source is parsed with :mod:`ast` (nothing is imported), so the test is fast and sees
imports inside functions as well.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "smartalbum"

#: What library/ must not import: the feature packages and the layers above them.
ABOVE_LIBRARY = (
    "smartalbum.tags",
    "smartalbum.faces",
    "smartalbum.categories",
    "smartalbum.mobile",
    "smartalbum.sync",
    "smartalbum.training",
    "smartalbum.jobs",
    "smartalbum.web",
    "smartalbum.cli",
    "smartalbum.features",
    "smartalbum.serverless",
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    target: str  # the module imported from
    name: str | None  # the name imported from it (None: ``import target``)

    def __str__(self) -> str:
        what = f"from {self.target} import {self.name}" if self.name else f"import {self.target}"
        return f"{self.module}:{self.line}: {what}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def imports(module: str) -> Iterator[Import]:
    """Every import of ``module`` (relative ones resolved), at any depth, plus the module
    names given to ``importlib.import_module`` / ``__import__`` as literals."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name, None)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                yield Import(module, node.lineno, target, alias.name)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            if called in ("import_module", "__import__") and literal:
                yield Import(module, node.lineno, arg.value, None)  # type: ignore[attr-defined]


def private_uses(module: str) -> Iterator[str]:
    """``from x import _y``, ``import x._y`` and ``x._y`` on another smartalbum module."""
    bound: dict[str, str] = {}  # local name -> smartalbum module it names
    for imp in imports(module):
        if not imp.target.startswith("smartalbum"):
            continue
        if imp.name is None:
            if any(is_private(part) for part in imp.target.split(".")):
                yield str(imp)
            bound[imp.target.split(".")[0]] = "smartalbum"
            continue
        if is_private(imp.name) and imp.target != module:
            yield str(imp)
        if f"{imp.target}.{imp.name}" in MODULES:
            bound[imp.name] = f"{imp.target}.{imp.name}"
    path = MODULES[module]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:  # ``from x import y as z``: z names module x.y
                full = f"{node.module}.{alias.name}"
                if alias.asname and full in MODULES:
                    bound[alias.asname] = full
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        chain, value = [], node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in bound:
            owner = ".".join([bound[value.id], *reversed(chain)])
            if owner in MODULES and owner != module:
                yield f"{module}:{node.lineno}: {owner}.{node.attr}"


def area(module: str) -> str:
    """Which helper's part of the tree a module is in (to say where a failure is)."""
    leaf = module.rpartition(".")[2]
    if module.startswith("smartalbum.cli") or leaf.endswith("cli") or leaf == "cli_tools":
        return "cli"
    if module.startswith("smartalbum.web"):
        return "web"
    return "core"


def test_library_imports_no_feature_package_nor_a_layer_above() -> None:
    offenders = [
        str(imp)
        for module in MODULES
        if module.startswith("smartalbum.library")
        for imp in imports(module)
        if any(imp.target == top or imp.target.startswith(top + ".") for top in ABOVE_LIBRARY)
    ]
    assert offenders == [], "library/ reaches up:\n" + "\n".join(offenders)


@pytest.mark.parametrize("part", ["core", "web", "cli"])
def test_no_module_uses_another_modules_private_names(part: str) -> None:
    offenders = [use for module in MODULES if area(module) == part for use in private_uses(module)]
    assert offenders == [], "private names used across modules:\n" + "\n".join(offenders)


def test_the_checks_see_what_they_look_for(tmp_path: Path, monkeypatch) -> None:
    """The parser finds each form of the violations (else the tests above prove nothing)."""
    fake = tmp_path / "smartalbum"
    (fake / "library").mkdir(parents=True)
    (fake / "library" / "bad.py").write_text(
        "import importlib\n"
        "from smartalbum.library import indexer as ix\n"
        "from smartalbum.library.indexer import _under_roots\n"
        "from ..tags.store import tag_catalog\n"
        "def f():\n"
        "    importlib.import_module('smartalbum.faces.jobs')\n"
        "    return ix._absolute\n"
    )
    (fake / "library" / "indexer.py").write_text("")
    here = sys.modules[__name__]
    monkeypatch.setattr(here, "SRC", tmp_path)
    monkeypatch.setattr(here, "MODULES", {module_name(p): p for p in fake.rglob("*.py")})
    targets = [imp.target for imp in imports("smartalbum.library.bad")]
    assert "smartalbum.tags.store" in targets and "smartalbum.faces.jobs" in targets
    assert [use.split(": ", 1)[1] for use in private_uses("smartalbum.library.bad")] == [
        "from smartalbum.library.indexer import _under_roots",
        "smartalbum.library.indexer._absolute",
    ]
