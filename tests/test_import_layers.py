"""Imports inside functions are there to pay for startup, not to hide import cycles.

An AST scan of every module under flyrun/ finds each import of a flyrun module made inside a function (outside
``if TYPE_CHECKING``). Each must be one of:

- in ``flyrun.cli``: the CLI edge, where a command's work is imported only when that command runs;
- of a module that pulls in a third-party library the importer does not already pull in (protobuf, requests,
  werkzeug, fsspec, pandas...), found from the module-level imports, so the reason is checked, not claimed;
- made by a module a local hello run loads, of a module that run does not load (checked by running it);
- listed in ``DEFERRED`` with the reason it is worth deferring.

Separately, no function-level import may close a cycle: if the module imported inside a function already imports,
directly or not, the importing module, the two depend on each other and the lazy import only hides it. The cycles
not yet untangled are listed in ``KNOWN_CYCLES``; the list can only shrink.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "flyrun"
# Always imported by the CLI, so importing it later saves nothing.
LIGHT_LIBRARIES = {"click"}

# (importer, imported) -> why the import waits for the function that needs it.
DEFERRED: dict[tuple[str, str], str] = {
    ("flyrun.local.container", "flyrun.idl.literals"):
        "the one place local dict literals become flyteidl messages; idl is a layer above local",
    ("flyrun.types.custom", "flyrun.idl.literals"):
        "only flytekit-shaped user transformers speak flyteidl messages; idl is a layer above types",
    ("flyrun.types.custom", "flyrun.data.flytecontext"):
        "only flytekit-shaped user transformers get a FlyteContext (file_access); data is a layer above types",
    ("flyrun.idl.entrypoint", "flyrun.idl.dynamic"):
        "only @dynamic tasks: a plain task's container never loads the workflow serializer",
    ("flyrun.idl.entrypoint", "flyrun.remote.eager"):
        "only an eager task on a platform launches child executions: other tasks never load the admin client",
    ("flyrun.idl.entrypoint", "flyrun.idl.bundle"):
        "only with --bundle: a task run with its code in place loads no tarfile (bench_entrypoint)",
    ("flyrun.idl.settings", "flyrun.sdk.image_spec"):
        "only serialization asks for a task's image; a task container loads the settings, never an ImageSpec",
}

# (importer, imported) pairs whose function-level import still closes a cycle; to be untangled, never added to.
KNOWN_CYCLES: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _targets(importer: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    # `from flyrun.sdk import graph` imports the module flyrun.sdk.graph (and its package, which closure() adds).
    submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules()]
    return submodules if len(submodules) == len(node.names) else [base, *submodules]


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        yield from _walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                   ast.Lambda)))


@cache
def scan() -> tuple[dict[str, set[str]], list[tuple[str, str, int]]]:
    """Module-level imports of each module, and every function-level import of a flyrun module."""
    top: dict[str, set[str]] = {}
    lazy: list[tuple[str, str, int]] = []
    for name, path in modules().items():
        top[name] = set()
        for node, in_function in _walk(ast.parse(path.read_text(), str(path)), False):
            for target in _targets(name, path, node):
                if in_function:
                    if target.split(".")[0] == "flyrun":
                        lazy.append((name, target, node.lineno))
                else:
                    top[name].add(target)
    return top, lazy


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_closure(name: str, edges: dict[str, set[str]]) -> set[str]:
    """Every module importing ``name`` imports (its packages first), following ``edges``."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        for module in _with_parents(stack.pop()):
            if module not in seen:
                seen.add(module)
                stack.extend(edges.get(module, ()))
    return seen


def libraries_pulled_in(name: str) -> set[str]:
    top, _ = scan()
    roots = {m.split(".")[0] for m in import_closure(name, top)}
    return {r for r in roots if r not in sys.stdlib_module_names and r != "flyrun" and r not in LIGHT_LIBRARIES
            and not r.startswith("_")}


def hidden_cycles() -> set[tuple[str, str]]:
    top, lazy = scan()
    edges = {name: set(targets) for name, targets in top.items()}
    for importer, target, _ in lazy:
        edges[importer].add(target)
    # The CLI and flyrun/__init__ (lazy public names) import everything on purpose; they are the top.
    edges = {name: targets for name, targets in edges.items() if name != "flyrun" and not name.startswith("flyrun.cli")}
    found = set()
    for importer, target, _ in lazy:
        if importer.startswith("flyrun.cli") or importer.startswith(target + ".") or target == "flyrun":
            continue
        if target.startswith(importer + "."):  # a package's own submodule behind a lazy attribute (PEP 562)
            continue
        if importer in import_closure(target, edges):
            found.add((importer, target))
    return found


HELLO_PROBE = """
import json, sys
from flyrun.cli.main import run_cli
code = run_cli(["run", "examples/hello.py", "wf", "--x", "3"])
sys.stdout.flush()
print("\\nMODULES=" + json.dumps(sorted(m for m in sys.modules if m.startswith("flyrun"))), file=sys.stderr)
sys.exit(code)
"""


@cache
def hello_modules() -> frozenset[str]:
    """The flyrun modules a local run of examples/hello.py loads (a fresh interpreter, so nothing else is)."""
    import json

    proc = subprocess.run([sys.executable, "-c", HELLO_PROBE], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return frozenset(json.loads(proc.stderr.rsplit("MODULES=", 1)[1]))


def justified(importer: str, target: str) -> bool:
    if importer.startswith("flyrun.cli") or (importer, target) in DEFERRED:
        return True
    if libraries_pulled_in(target) - libraries_pulled_in(importer):
        return True
    hello = hello_modules()
    return importer in hello and target not in hello


def unjustified() -> list[str]:
    _, lazy = scan()
    problems = []
    for importer, target, line in lazy:
        if justified(importer, target):
            continue
        problems.append(f"{modules()[importer].relative_to(REPO)}:{line}: {importer} imports {target} inside a "
                        "function; import it at the top, or add it to DEFERRED with the reason")
    return problems


def test_every_function_level_import_pays_for_startup():
    assert unjustified() == []


def test_no_function_level_import_hides_a_cycle():
    found = hidden_cycles()
    assert sorted(found - KNOWN_CYCLES) == [], "new import cycles, hidden by a function-level import"
    assert sorted(KNOWN_CYCLES - found) == [], "untangled: remove these from KNOWN_CYCLES"


def test_deferred_entries_are_used_and_needed():
    _, lazy = scan()
    used = {(importer, target) for importer, target, _ in lazy}
    assert sorted(set(DEFERRED) - used) == [], "stale DEFERRED entries"
    hello = hello_modules()
    assert [(i, t) for i, t in DEFERRED if libraries_pulled_in(t) - libraries_pulled_in(i)
            or (i in hello and t not in hello)] == [], "justified already; they need no DEFERRED entry"
    assert [pair for pair, reason in DEFERRED.items() if not reason.strip()] == []


def test_module_level_imports_have_no_cycles():
    """With no cycle among module-level imports, any module can be imported first, in any order."""
    top, _ = scan()
    flyrun_edges = {name: {t for t in targets if t in modules() and t != name} for name, targets in top.items()}
    # A package's __init__ importing its own submodules is not a cycle the import system trips on.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(flyrun_edges.get(name, ())):
            for module in _with_parents(target):
                if module == name or name.startswith(module + "."):
                    continue
                if state.get(module) == 1:
                    cycles.append(path[path.index(module):] + [module] if module in path else [name, module])
                elif module not in state:
                    visit(module, path + [module])
        state[name] = 2

    for name in sorted(flyrun_edges):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_type_families_register_through_the_registry_not_the_engine():
    top, lazy = scan()
    families = ("annotated", "containers", "pickles", "scalars", "structs")
    for family in families:
        imports = top[f"flyrun.types.{family}"] | {t for i, t, _ in lazy if i == f"flyrun.types.{family}"}
        assert "flyrun.types.engine" not in imports, family
        assert "flyrun.types.registry" in imports, family
    outside = sorted(i for i, targets in top.items() if "flyrun.types.registry" in targets
                     and not i.startswith("flyrun.types.") and i != "flyrun.data.blob_type")
    assert outside == [], "outside flyrun.types, import flyrun.types.engine (it loads the families)"


PACKAGES = sorted({name.split(".")[1] for name in modules() if name.count(".") >= 1
                   and name.split(".")[1] not in ("plugins",)})


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_alone_in_a_fresh_interpreter(package):
    names = sorted(n for n in modules() if n == f"flyrun.{package}" or n.startswith(f"flyrun.{package}."))
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_scan_finds_what_it_should(tmp_path):
    """The scan itself: a function-level import is found, one under TYPE_CHECKING is not."""
    _, lazy = scan()
    assert ("flyrun.sdk.task", "flyrun.sdk.secrets") in {(i, t) for i, t, _ in lazy}
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\ndef f():\n    import b\n")
    assert [(n.names[0].name, f) for n, f in _walk(tree, False) if isinstance(n, ast.Import)] == [("b", True)]
