"""Dependencies point one way: a package imports only from the layers below it (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import triggerbench

PACKAGE = Path(triggerbench.__file__).parent

#: Each top-level module or sub-package of triggerbench and its layer; a module may import its
#: own layer's other modules only where this says so (same number) and any lower layer.
LAYERS: dict[str, int] = {
    "__init__": 0,
    "errors": 0,
    "interrupt": 0,
    "progress": 1,
    "schema": 1,
    "options": 1,
    "files": 1,
    "quiet": 1,
    "scenarios": 1,
    "precision": 1,
    "config_files": 1,
    "environment": 2,
    "devices": 3,
    "physics": 3,
    "models": 4,
    "power": 4,
    "fpga": 5,
    "runners": 6,
    "workers": 6,
    "measure": 7,
    "plan": 8,
    "results": 8,
    "reports": 9,
    "farm": 9,
    "pytest_plugin": 10,
    "cli": 10,
}


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py")


def _imported_units(tree: ast.AST) -> set[str]:
    units: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "triggerbench":
                continue
            units.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            units.update(a.name.split(".")[1] for a in node.names if a.name.startswith("triggerbench."))
    return {"__init__" if u == "__version__" else u for u in units}


def _upward_imports() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = _unit(path)
        for imported in _imported_units(ast.parse(path.read_text(encoding="utf-8"))) - {unit}:
            if LAYERS[imported] > LAYERS[unit]:
                found.append(f"{path.relative_to(PACKAGE)} ({unit}) -> {imported}")
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in PACKAGE.rglob("*.py")}
    assert units <= set(LAYERS), f"give these a layer in LAYERS: {sorted(units - set(LAYERS))}"


def test_no_import_points_up() -> None:
    assert _upward_imports() == []


def test_the_check_finds_an_upward_import() -> None:
    """The check itself: a schema that imported the runners would be found."""
    tree = ast.parse("from triggerbench.runners import registry\n")
    assert _imported_units(tree) == {"runners"}
    assert LAYERS["runners"] > LAYERS["schema"]
