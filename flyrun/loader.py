"""Find a project's root, import a user's module under the right dotted name, and find entities in it.

These rules decide both how a local run imports user code and, later, what goes into the remote code bundle and
how a task container finds a task again, so they live in this one module.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from flyrun.errors import FlyrunError, UsageError, UserCodeError
from flyrun.sdk.entity import Entity

_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", "site-packages", "build", "dist",
              ".venv", "venv", "env", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_ENTITY_FACTORIES = {"task", "workflow", "dynamic", "eager", "map_task", "partial", "ContainerTask", "reference_task",
                     "get_or_create", "reference_workflow", "reference_launch_plan", "Workflow",
                     "ImperativeWorkflow", "ReferenceTask", "ReferenceWorkflow", "ReferenceLaunchPlan",
                     "get_reference_entity"}


class ModuleLocation(NamedTuple):
    file: Path
    root: Path
    module_name: str


def find_project_root(file: Path) -> Path:
    """The first ancestor folder of ``file`` that has no ``__init__.py`` (Flyte's rule)."""
    folder = file.resolve().parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def locate(file: str | os.PathLike[str], root_dir: str | os.PathLike[str] | None = None) -> ModuleLocation:
    path = Path(file)
    if not path.exists():
        raise UsageError(f"file not found: {file}", hint="check the path, relative to the current directory")
    if path.is_dir():
        raise UsageError(f"{file} is a directory, not a Python file")
    if path.suffix != ".py":
        raise UsageError(f"{file} is not a Python file (.py)")
    path = path.resolve()
    if root_dir is not None:
        root = Path(root_dir).resolve()
        if not root.is_dir():
            raise UsageError(f"--root-dir {root_dir} is not a directory")
        if root not in path.parents:
            raise UsageError(f"{file} is not under --root-dir {root_dir}")
    else:
        root = find_project_root(path)
    relative = path.relative_to(root).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    bad = [p for p in parts if not p.isidentifier()]
    if bad:
        raise UsageError(f"{file}: '{bad[0]}' is not a valid Python module name under root {root}",
                         hint="rename it, or choose the root with --root-dir")
    return ModuleLocation(path, root, ".".join(parts))


def import_location(location: ModuleLocation) -> ModuleType:
    """Import the module with its root first on ``sys.path``; user errors name the user's file and line."""
    root = str(location.root)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    try:
        module = importlib.import_module(location.module_name)
    except FlyrunError:
        raise
    except SyntaxError as exc:
        where = f"{_display(exc.filename)}:{exc.lineno}" if exc.filename else location.module_name
        raise UserCodeError(f"{where}: syntax error: {exc.msg}") from exc
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        extra = _missing_extra(exc)
        if extra:
            raise UserCodeError(f"{_user_frame(exc, location.root)}: {exc}: pip install 'flyrun[{extra}]'") from exc
        raise UserCodeError(f"{_user_frame(exc, location.root)}: {type(exc).__name__} while importing "
                            f"{location.module_name}: {exc}") from exc
    loaded = getattr(module, "__file__", None)
    if loaded and Path(loaded).resolve() != location.file:
        raise UsageError(f"module name '{location.module_name}' is taken by {loaded}, so {location.file} "
                         "cannot be imported under it", hint="rename the file or choose --root-dir")
    return module


# Packages that user code imports and that an extra of flyrun installs: top-level module -> extra.
_EXTRAS = {"kubernetes": "kubernetes"}


def _missing_extra(exc: BaseException) -> str | None:
    """The flyrun extra that provides a missing package (a V1PodSpec needs ``kubernetes``), if one does."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    return _EXTRAS.get(exc.name.split(".", 1)[0])


def _display(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def _user_frame(exc: BaseException, root: Path) -> str:
    """``file:line`` of the innermost traceback frame under the project root."""
    import traceback  # only when a user's module fails to import

    frames = traceback.extract_tb(exc.__traceback__)
    root_text = str(root) + os.sep
    for frame in reversed(frames):
        if frame.filename.startswith(root_text):
            return f"{_display(frame.filename)}:{frame.lineno}"
    return _display(frames[-1].filename) + f":{frames[-1].lineno}" if frames else "<import>"


def is_entity(value: Any) -> bool:
    return isinstance(value, Entity)


def entities_in(module: ModuleType) -> dict[str, Any]:
    """Tasks and workflows defined in ``module`` (not the ones it imports), in definition order."""
    found = {}
    for name, value in vars(module).items():
        if is_entity(value) and getattr(value, "module", module.__name__) == module.__name__:
            found[name] = value
    return found


def get_entity(module: ModuleType, name: str, file: str) -> Any:
    value = getattr(module, name, None)
    if is_entity(value):
        return value
    available = ", ".join(entities_in(module)) or "none"
    what = "is not a task or workflow" if value is not None else "has no task or workflow named"
    message = f"{file} {what} '{name}'" if value is None else f"'{name}' in {file} {what}"
    if type(value).__module__.partition(".")[0] == "flytekit":  # the real flytekit's, imported without compat
        raise UsageError(f"{message}: it is a flytekit entity", hint="run flytekit programs with "
                         "`flyrun run --flytekit-compat` (or `compat: flytekit` in config)")
    raise UsageError(f"{message}; available: {available}")


def module_file_for(dotted: str, root: Path) -> Path | None:
    """``pkg.wf`` -> ``root/pkg/wf.py`` (or a package's ``__init__.py``) when it exists."""
    if not all(part.isidentifier() for part in dotted.split(".")):
        return None
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def scan_for_entity(name: str, folder: Path) -> list[Path]:
    """Python files under ``folder`` that define ``name`` as a task or workflow, found by parsing, not importing."""
    return [path for path in iter_python_files(folder) if name in defined_entity_names(path)]


def iter_python_files(folder: Path) -> Iterator[Path]:
    for base, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for file in sorted(files):
            if file.endswith(".py"):
                yield Path(base) / file


def defined_entity_names(path: Path) -> list[str]:
    """Names that ``path`` binds to tasks or workflows at module level, read from its syntax tree."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(_factory_name(d) in _ENTITY_FACTORIES for d in node.decorator_list):
                names.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if _factory_name(node.value.func) in _ENTITY_FACTORIES:
                names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _factory_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return _factory_name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


class Target(NamedTuple):
    location: ModuleLocation
    entity_name: str | None  # None: list what the file defines
    consumed: int  # how many command-line words named the target (1 or 2)


def resolve_target(words: list[str], cwd: Path, root_dir: str | None = None) -> Target:
    """Read ``FILE [ENTITY]``, ``FILE:ENTITY``, ``dotted.module ENTITY`` or a bare ``ENTITY``."""
    if not words:
        raise UsageError("missing FILE and ENTITY", hint="e.g. flyrun run examples/hello.py wf --x 3")
    first = words[0]
    second = words[1] if len(words) > 1 and not words[1].startswith("-") else None
    file_part, colon, entity_part = first.rpartition(":")
    if colon and file_part.endswith(".py") and entity_part:
        return Target(locate(file_part, root_dir), entity_part, 1)
    if first.endswith(".py") or os.sep in first or (cwd / first).exists():
        return Target(locate(first if os.path.isabs(first) else _relative_to(cwd, first), root_dir), second,
                      2 if second else 1)
    module_root = Path(root_dir).resolve() if root_dir else cwd
    module_file = module_file_for(first, module_root) if second else None
    if module_file is not None:
        return Target(locate(module_file, root_dir), second, 2)
    module, dot, entity = first.rpartition(".")
    if second is None and dot and entity.isidentifier():
        # MODULE.ENTITY as one word, as `flyrun run --remote` takes it.
        module_file = module_file_for(module, module_root)
        if module_file is not None:
            return Target(locate(module_file, root_dir), entity, 1)
    if second is None and first.isidentifier():
        return Target(_locate_by_scan(first, cwd, root_dir), first, 1)
    raise UsageError(f"{first}: no such file or module under {module_root}",
                     hint="give a .py file, a dotted module under the project root, or an entity name")


def _relative_to(cwd: Path, name: str) -> str:
    # Keep the user's spelling in messages when cwd is the process's working directory.
    return name if cwd == Path.cwd() else str(cwd / name)


def _locate_by_scan(name: str, cwd: Path, root_dir: str | None) -> ModuleLocation:
    matches = scan_for_entity(name, cwd)
    if not matches:
        raise UsageError(f"no task or workflow named '{name}' in the Python files under {cwd}",
                         hint="give the file too: flyrun run FILE ENTITY")
    if len(matches) > 1:
        listed = ", ".join(_display(str(m)) for m in matches[:5])
        if len(matches) > 5:
            listed += f" and {len(matches) - 5} more"
        raise UsageError(f"'{name}' is ambiguous: defined in {listed}",
                         hint="give the file too: flyrun run FILE ENTITY")
    return locate(matches[0], root_dir)
