"""Load the files to package and find every entity to register: the ones they define and the ones those use."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyrun import loader
from flyrun.errors import UsageError
from flyrun.idl.workflows import failure_handlers


@dataclass
class Project:
    root: Path
    modules: list[str] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)  # every task to register, once each
    workflows: list[Any] = field(default_factory=list)  # sub-workflows before the workflows that run them
    launch_plans: list[Any] = field(default_factory=list)  # named launch plans (not the default ones)


def python_files(paths: list[str]) -> list[Path]:
    """The files named, and the ``.py`` files under the folders named (sorted, each once)."""
    if not paths:
        raise UsageError("nothing to package", hint="give Python files or folders, e.g. flyrun package flows/")
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in loader.iter_python_files(path):
                found[file.resolve()] = None
        elif path.exists() or given.endswith(".py"):
            found[loader.locate(path).file] = None
        else:
            raise UsageError(f"file not found: {given}")
    return list(found)


def load_project(paths: list[str], root_dir: str | None = None) -> Project:
    """Import every file under one project root and collect the entities they define, with what those use."""
    locations = [loader.locate(file, root_dir) for file in python_files(paths)]
    if not locations:
        raise UsageError(f"no Python files in {', '.join(paths)}")
    roots = sorted({location.root for location in locations})
    if len(roots) > 1:
        raise UsageError(f"the files belong to different project roots: {_show(roots[0])} and {_show(roots[1])}",
                         hint="package each project separately, or choose one root with --root-dir")
    project = Project(root=roots[0])
    defined: list[Any] = []
    for location in locations:
        module = loader.import_location(location)
        project.modules.append(location.module_name)
        defined.extend(loader.entities_in(module).values())
    project.tasks, project.workflows = collect(defined)
    project.launch_plans = launch_plans_of(defined)
    return project


def launch_plans_of(entities: list[Any]) -> list[Any]:
    """Named launch plans among ``entities`` and called as nodes by their workflows, once each by name."""
    found: dict[str, Any] = {}

    def visit(entity: Any) -> None:
        if entity.kind == "launch_plan":
            if not entity.is_default:
                found.setdefault(entity.name, entity)
            visit(entity.workflow)
        elif entity.kind == "workflow":
            for node in entity.nodes:
                visit(node.entity)

    for entity in entities:
        visit(entity)
    return list(found.values())


def collect(entities: list[Any]) -> tuple[list[Any], list[Any]]:
    """Tasks and workflows reachable from ``entities``; a workflow comes after every workflow it runs."""
    tasks: dict[str, Any] = {}
    workflows: dict[str, Any] = {}

    def visit(entity: Any) -> None:
        if entity.kind == "launch_plan":
            visit(entity.workflow)
        elif entity.kind == "workflow":
            if entity.name in workflows:
                return

            for node in [*entity.nodes, *failure_handlers(entity)]:
                visit(node.entity)
            workflows[entity.name] = entity
        else:
            for node in entity.nodes if entity.kind == "branch" else ():  # what a conditional's cases run
                visit(node.entity)
            for task in registered_tasks(entity):
                tasks.setdefault(task.name, task)
            wrapper = getattr(entity, "eager_workflow", None)  # @eager: flytekit registers a workflow of it too
            if wrapper is not None:
                workflows.setdefault(wrapper.name, wrapper)

    for entity in entities:
        visit(entity)
    return list(tasks.values()), list(workflows.values())


def registered_tasks(entity: Any) -> list[Any]:
    """The tasks an entity needs registered (a plain task is its own)."""
    if entity.kind != "task":
        return []
    cleanup = getattr(entity, "cleanup", None) if getattr(entity, "is_eager", False) else None
    return [entity, cleanup] if cleanup is not None else [entity]


def _show(path: Path) -> str:
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative
