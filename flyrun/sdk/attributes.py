"""Promise attributes: ``out[0]``, ``out["key"]``, ``out.field`` on list, dict and dataclass outputs.

Each step types the new promise by walking the output's type (a list's item, a dict's value, a dataclass's field),
as Flyte's compiler walks ``collection_type``, ``map_value_type`` and ``structure.dataclass_type``. On the wire the
steps are the binding's ``attr_path``; every runner follows them on the value (``follow``) or on the literal.
The promise itself is made in ``sdk/graph.py`` (``Promise.__getitem__``), which imports this module.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from flyrun.errors import RunFailedError, WorkflowDefinitionError
from flyrun.types import engine


class AttributeStepError(WorkflowDefinitionError, AttributeError):
    """A bad ``out.field``: an AttributeError too, so ``getattr(promise, name, default)`` still works."""


def item_type(python_type: Any, key: Any, where: str, attribute: bool) -> Any:
    origin, args = typing.get_origin(python_type), typing.get_args(python_type)
    described = engine.describe(python_type)
    if attribute:
        if not (isinstance(python_type, type) and dataclasses.is_dataclass(python_type)):
            raise AttributeStepError(f"{where}: {described} has no fields", hint="fields are read on dataclasses")
        hints = typing.get_type_hints(python_type)
        names = [f.name for f in dataclasses.fields(python_type)]
        if key not in names:
            raise AttributeStepError(f"{where}: {described} has no field '{key}' (fields: {', '.join(names)})")
        return hints[key]
    if origin is list and isinstance(key, int) and not isinstance(key, bool):
        return args[0]
    if origin is dict and isinstance(key, str):
        if args and args[0] is not str:
            raise WorkflowDefinitionError(f"{where}: only dicts with str keys can be indexed")
        return args[1]
    if isinstance(python_type, type) and dataclasses.is_dataclass(python_type) and isinstance(key, str):
        return item_type(python_type, key, where, attribute=True)
    if python_type is dict or origin is dict:
        raise WorkflowDefinitionError(f"{where}: an untyped dict cannot be indexed inside a workflow",
                                      hint="annotate it, e.g. Dict[str, int]")
    raise WorkflowDefinitionError(f"{where}: {described} cannot be indexed with {key!r}",
                                  hint="index lists with ints, Dict[str, ...] with strs, dataclasses by field")


def follow(value: Any, path: tuple) -> Any:
    """Walk ``path`` into a Python value (the local runner's side of ``attr_path``)."""
    for key in path:
        try:
            value = getattr(value, key) if dataclasses.is_dataclass(value) else value[key]
        except (IndexError, KeyError, AttributeError, TypeError) as exc:
            raise RunFailedError(f"cannot take {key!r} of {type(value).__name__} value: {exc}") from None
    return value
