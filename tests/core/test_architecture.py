"""The package's layout is the one `docs/architecture.md` describes: every module is on a floor,
no module imports from a floor above its own, by an import statement or a module path in a string,
no two modules import each other through any chain, and imports of the package stand at the top of
a module (only the command line defers its own, to answer `--help` without TensorFlow)."""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "keras_vis"
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


# A module path written as a string: "keras_vis.attribution" or "keras_vis.attribution:cam".
MODULE_PATH = re.compile(r"keras_vis(?:\.\w+)+(?::\w+)?")
# Modules that name others by string on purpose, and the highest floor they may name: the registry
# names the techniques' functions, imported on first use, so that it stays a leaf `--help` reads
# without TensorFlow; the package's `__init__` is the lazy public API over every floor.
CATALOGUES = {PACKAGE / "registry.py": "techniques", PACKAGE / "__init__.py": "applications"}
# The command line imports its commands inside functions: `keras-vis --help` loads no TensorFlow.
DEFERRING_UNITS = {"cli"}


def parsed(path):
    return ast.parse(path.read_text(encoding="utf-8"))


def imported_names(path, *, strings=True, tree=None):
    """`(node, dotted name)` of every package module or name a module imports, at module level or
    inside functions, and (with `strings`) of every module path it writes as a string; `tree` is
    the module's parsed source, if the caller has it."""
    for node in ast.walk(tree or parsed(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value.replace(":", ".")] if MODULE_PATH.fullmatch(node.value) else []
        else:
            continue
        yield from ((node, name) for name in names if name.startswith("keras_vis."))


def module_file(name):
    """The file of the longest package module that the dotted `name` starts with."""
    parts = name.split(".")[1:]
    for end in range(len(parts), -1, -1):
        base = PACKAGE.joinpath(*parts[:end])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if end and candidate.exists():
                return candidate
    return PACKAGE / "__init__.py"


def imported_units(path, *, strings=False):
    """The package units a module imports, at module level or inside functions."""
    return {unit_of(module_file(name)) for _, name in imported_names(path, strings=strings)} - {
        "__init__"}


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


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(
    PACKAGE)))
def test_no_module_names_a_module_of_a_floor_above_its_own_in_a_string(path):
    placed = floors()
    own = CATALOGUES.get(path) or placed.get(unit_of(path), "applications")
    named = imported_units(path, strings=True) - imported_units(path)
    above = {unit for unit in named if FLOOR_ORDER.index(placed[unit]) > FLOOR_ORDER.index(own)}
    assert not above, f"{path.name} names modules of {sorted(above)} in strings"


def import_graph():
    """`{module file: the package module files it imports}`, the package's `__init__` (the lazy
    public API) left out, as are the catalogues' strings, which name what is imported on use."""
    top = PACKAGE / "__init__.py"
    return {path: {module_file(name) for _, name in imported_names(path, strings=False)}
            - {top, path}
            for path in PACKAGE.rglob("*.py") if path != top}


def circles(graph):
    """Every strongly connected set of more than one module (Tarjan's algorithm)."""
    index, low, stack, found, counter = {}, {}, [], [], iter(range(len(graph) ** 2 + 1))

    def visit(node):
        index[node] = low[node] = next(counter)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(str(p.relative_to(PACKAGE)) for p in component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_through_any_chain():
    assert circles(import_graph()) == []


def test_no_units_import_each_other_through_any_chain():
    """A unit (a top-level module or subpackage) that imports another is below it: the report
    does not read the command line, which runs the report."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        if path != PACKAGE / "__init__.py":
            graph.setdefault(PACKAGE / unit_of(path), set()).update(
                PACKAGE / unit for unit in imported_units(path) - {unit_of(path)})
    assert circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    a, b, c = (PACKAGE / name for name in ("a.py", "b.py", "c.py"))
    assert circles({a: {b}, b: {c}, c: {a}}) == [["a.py", "b.py", "c.py"]]
    assert circles({a: {b}, b: {c}, c: set()}) == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(
    PACKAGE)))
def test_the_package_is_imported_at_the_top_of_each_module(path):
    if unit_of(path) in DEFERRING_UNITS:
        return
    tree = parsed(path)
    inside = {id(node) for function in ast.walk(tree)
              if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function)}
    late = [f"line {node.lineno}: {name}"
            for node, name in imported_names(path, strings=False, tree=tree) if id(node) in inside]
    assert late == []


def test_the_registry_needs_no_other_module_of_the_package():
    assert imported_units(PACKAGE / "registry.py") == set()


def test_the_document_names_every_module_of_the_rules_package():
    modules = {path.stem for path in (PACKAGE / "rules").glob("*.py") if path.stem != "__init__"}
    section = DOC.split("- `rules/`", 1)[1].split("\n- ", 1)[0]
    assert [module for module in sorted(modules) if f"`{module}`" not in section] == []
