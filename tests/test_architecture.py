"""The package's layout is the one `docs/architecture.md` describes: every module is on a floor,
and no module imports from a floor above its own."""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_vis"
DOC = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
FLOOR_ORDER = ("core", "techniques", "applications")


def floors():
    """`{unit: floor}` read from the floor table of the document (`rules/` is written `rules/`)."""
    found = {}
    for line in DOC.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 3 and cells[1] in FLOOR_ORDER:
            for unit in re.findall(r"`([\w/]+)`", cells[2]):
                found[unit.rstrip("/")] = cells[1]
    return found


def units():
    """The package's top-level modules and subpackages."""
    names = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    names |= {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    return names


def unit_of(path):
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_units(path):
    """The package units a module imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "keras_vis" and len(parts) > 1 and parts[1] in units():
                found.add(parts[1])
    return found


def test_the_document_puts_every_module_on_one_floor():
    assert set(floors()) == units() - {"__init__"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(
    PACKAGE)))
def test_no_module_imports_from_a_floor_above_its_own(path):
    unit = unit_of(path)
    if unit == "__init__":  # the lazy top-level API re-exports every floor
        return
    placed = floors()
    own = FLOOR_ORDER.index(placed[unit])
    above = {other for other in imported_units(path) - {unit}
             if FLOOR_ORDER.index(placed[other]) > own}
    assert not above, f"{unit} ({placed[unit]}) imports {sorted(above)}"


def test_the_registry_needs_no_other_module_of_the_package():
    assert imported_units(PACKAGE / "registry.py") == set()


def test_the_document_names_every_module_of_the_rules_package():
    modules = {path.stem for path in (PACKAGE / "rules").glob("*.py") if path.stem != "__init__"}
    section = DOC.split("- `rules/`", 1)[1].split("\n- ", 1)[0]
    assert [module for module in sorted(modules) if f"`{module}`" not in section] == []
