"""Resolvers: how a task container finds its task again from the loader arguments flyrun serialized.

``flyrun.default``: ``task-module <dotted module> task-name <attribute>`` (the module dotted from the project
root, which the entrypoint puts first on ``sys.path``).
``flyrun.map``: ``vars "<bound,...>" resolver flyrun.default task-module <m> task-name <a>``: one item of a map
task over that task; the inputs named in ``vars`` are bound (passed whole to every item), the others are mapped.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from flyrun.idl.settings import DEFAULT_RESOLVER, MAP_RESOLVER


class ResolverError(Exception):
    """The loader arguments are malformed or name nothing runnable."""


@dataclass(frozen=True)
class LoadedTask:
    task: Any  # the task whose function runs
    bound_inputs: frozenset[str] | None = None  # None: a plain task; a set: one item of a map task

    @property
    def is_map_item(self) -> bool:
        return self.bound_inputs is not None


def map_loader_args(bound_inputs: list[str] | set[str], task_loader_args: list[str]) -> list[str]:
    return ["vars", ",".join(sorted(bound_inputs)), "resolver", DEFAULT_RESOLVER, *task_loader_args]


def load(resolver: str, loader_args: list[str]) -> LoadedTask:
    if resolver == DEFAULT_RESOLVER:
        return LoadedTask(_load_task(_pairs(loader_args)))
    if resolver == MAP_RESOLVER:
        pairs = _pairs(loader_args)
        inner = pairs.get("resolver", DEFAULT_RESOLVER)
        if inner != DEFAULT_RESOLVER:
            raise ResolverError(f"a map task over resolver {inner!r} is not supported")
        bound = frozenset(name for name in pairs.get("vars", "").split(",") if name)
        return LoadedTask(_load_task(pairs), bound)
    raise ResolverError(f"unknown resolver {resolver!r}; expected {DEFAULT_RESOLVER} or {MAP_RESOLVER}")


def _pairs(words: list[str]) -> dict[str, str]:
    if len(words) % 2:
        raise ResolverError(f"loader arguments must be KEY VALUE pairs, got {words!r}")
    return dict(zip(words[::2], words[1::2]))


def _load_task(pairs: dict[str, str]) -> Any:
    try:
        module_name, attribute = pairs["task-module"], pairs["task-name"]
    except KeyError as missing:
        raise ResolverError(f"loader arguments lack {missing.args[0]}") from None
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part, None)
        if value is None:
            raise ResolverError(f"module {module_name} has no task {attribute!r}")
    if not callable(getattr(value, "run_function", None)):
        raise ResolverError(f"{module_name}.{attribute} is a {type(value).__name__}, not a task flyrun can run")
    return value
