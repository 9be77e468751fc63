"""The house's floors: imports point one way (``cli`` -> ... -> ``budget_guard`` -> ``ledger`` ->
``money`` -> ``errors``), the ledger's seam has nothing above it, and no import runs back up.

Read from the source (run-time imports, lazy ones inside functions included; ``TYPE_CHECKING``
blocks are types only and skipped), so a new import that breaks a floor fails here, not later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
# What the ledger package may stand on: the floors below it, nothing that decides or asks.
BELOW_LEDGER = {"errors", "cents", "money", "labs", "_secrets"}
BOTTOM = {"errors", "cents", "_secrets"}  # _secrets imports nothing of the project


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "minitrain").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.add(full if full in MODULES else child.module)
            visit(child)

    visit(ast.parse(MODULES[name].read_text()))
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _reach(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dep in GRAPH[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def _floor(module: str) -> str:
    return module.split(".")[1] if "." in module else module


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _floor(m) in ("ledger", *BOTTOM)))
def test_the_ledger_and_the_bottom_floors_sit_on_nothing_above_them(module: str) -> None:
    allowed = BOTTOM if _floor(module) in BOTTOM else {"ledger", *BELOW_LEDGER}
    above = {dep for dep in _reach(module) if _floor(dep) not in allowed}
    assert not above, f"{module} reaches {sorted(above)}"
    assert module not in _reach(module), f"{module} is in an import circle"


def test_money_and_labs_stand_only_on_the_bottom_floor() -> None:
    for module in ("minitrain.money", "minitrain.labs"):
        assert {_floor(dep) for dep in _reach(module)} <= BOTTOM, module


def test_the_rules_know_the_ledger_only_through_its_package() -> None:
    assert {_floor(dep) for dep in _reach("minitrain.budget_guard")} <= {
        "ledger",
        "reservations",  # the label's rules: one open reservation, what an actual closes
        *BELOW_LEDGER,
    }
    assert "minitrain.ledger.jsonl" not in GRAPH["minitrain.budget_guard"]
    assert "minitrain.ledger.postgres" not in GRAPH["minitrain.budget_guard"]


def test_the_cli_imports_no_ledger_backend_or_line_format() -> None:
    backends = ("jsonl", "memory", "postgres", "checkpoint", "reader", "file", "lock", "mark")
    format_ = ("entries", "line_format", "parser", "snapshot")
    inner = {f"minitrain.ledger.{m}" for m in (*backends, *format_)}
    for module in (m for m in MODULES if m.startswith("minitrain.cli")):
        assert not GRAPH[module] & inner, module
        assert not any(dep.rsplit(".", 1)[-1].startswith("_ledger") for dep in GRAPH[module])


def test_no_module_is_in_an_import_circle() -> None:
    circles = sorted(m for m in MODULES if m in _reach(m))
    assert not circles, f"in an import circle: {circles}"


RUN_FOLDER = ["runs", "launches", "watches", "run_folder"]


@pytest.mark.parametrize("module", ["launch", "watch", "cost", *RUN_FOLDER])
def test_launch_watch_and_cost_stand_beside_the_preflight_wing(module: str) -> None:
    """They read the run files through their owners; the pre-flight's walk is not theirs."""
    assert not {d for d in _reach(f"minitrain.{module}") if _floor(d) in ("preflight", "cli")}


def test_the_run_folder_is_named_in_one_place() -> None:
    naming = sorted(name for name, path in MODULES.items() if '/ "preflight"' in path.read_text())
    assert naming == ["minitrain.settings"]


def _all_imports(name: str) -> set[str]:
    """Every import of ``name``, the ``TYPE_CHECKING`` ones included (a type-only circle is
    still two modules that each need the other to be read)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


def test_the_ledger_package_has_no_circle_even_among_its_types() -> None:
    """Issue 24: ``entries`` <-> ``totals`` was a type-only circle; the shared type (the
    snapshot) moved, so the arrows between the ledger's modules run one way. The package's
    ``__init__`` (the protocol, which its backends name for types) is the one exception."""
    ledger = [m for m in MODULES if m.startswith("minitrain.ledger.")]
    graph = {m: _all_imports(m) - {"minitrain.ledger"} for m in ledger}

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for dep in graph.get(todo.pop(), set()) - seen:
                seen.add(dep)
                todo.append(dep)
        return seen

    assert not sorted(m for m in ledger if m in reach(m))


def test_each_kind_of_run_file_has_one_owner() -> None:
    """``run_folder`` names and writes files; each kind's owner (pre-flight runs, launches,
    watcher states) knows only its own keys, so none of the three imports another."""
    owners = {f"minitrain.{m}" for m in RUN_FOLDER} - {"minitrain.run_folder"}
    assert not _reach("minitrain.run_folder") & owners
    for owner in owners:
        assert not GRAPH[owner] & owners, owner
    for marker, owner in (('"-launch"', "launches"), ('".watch-"', "watches")):
        knowing = sorted(n for n, path in MODULES.items() if marker in path.read_text())
        assert knowing == [f"minitrain.{owner}"], marker


def test_the_vendor_adapters_stand_on_their_contract_and_nothing_that_decides() -> None:
    """``vendors/`` knows command lines and outputs; it never reaches the ledger, the guard,
    the run folder or the pre-flight."""
    below = {"vendors", "errors", "cents", "_commands", "_secrets", "_struct"}
    for module in (m for m in MODULES if _floor(m) == "vendors"):
        assert {_floor(dep) for dep in _reach(module)} <= below, module


def test_no_module_is_over_400_lines() -> None:
    """Issue 20: a module holds one concept; past 400 lines it holds two (split it by concept,
    not by size)."""
    long = {
        name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 400
    }
    assert not long, f"over 400 lines: {long}"


def test_init_writes_files_and_decides_nothing_about_money() -> None:
    """``budget init`` (issue 25) checks what it writes with the manifest's loader; it never
    reaches the ledger, the guard, the pre-flight or the CLI."""
    reached = {_floor(dep) for dep in _reach("minitrain.init")}
    assert not reached & {"ledger", "budget_guard", "settings", "preflight", "cli"}, reached
