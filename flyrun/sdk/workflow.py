"""``@workflow``: a function traced, when its module loads, into a graph of task nodes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk import graph
from flyrun.sdk.entity import Entity
from flyrun.sdk.interface import interface_from_function
from flyrun.sdk.task import task_name
from flyrun.types import engine


class Workflow(Entity):
    kind = "workflow"

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or task_name(fn)
        self.call_site = f"{graph._short_path(fn.__code__.co_filename)}:{fn.__code__.co_firstlineno}"
        where = f"{self.call_site}: workflow '{self.name}'"
        self.interface = interface_from_function(fn, where)
        self.nodes: list[graph.Node] = []
        self.output_bindings: dict[str, graph.Binding] = {}
        self._trace(where)
        self.ordered_nodes = graph.topological_order(self.nodes)
        functools.update_wrapper(self, fn)

    @property
    def module(self) -> str:
        return self.fn.__module__

    @property
    def attribute(self) -> str:
        return self.fn.__qualname__

    def _trace(self, where: str) -> None:
        builder = graph.GraphBuilder(self.name)
        inputs = {name: graph.Promise(None, name, t) for name, t in self.interface.inputs.items()}
        token = graph._BUILDER.set(builder)
        try:
            result = self.fn(**inputs)
        finally:
            graph._BUILDER.reset(token)
        from flyrun.sdk.conditions import check_finished
        check_finished(builder)
        self.nodes = builder.nodes
        self.output_bindings = self._bind_outputs(result, where)

    def _bind_outputs(self, result: Any, where: str) -> dict[str, graph.Binding]:
        outputs = self.interface.outputs
        if not outputs:
            returns_value = result is not None and not isinstance(result, graph.NodeHandle)
            if returns_value or isinstance(result, graph.Promise):
                raise WorkflowDefinitionError(f"{where} returns a value but declares no return type",
                                              hint="annotate the return type, e.g. `-> int`")
            return {}
        if result is None:
            raise WorkflowDefinitionError(f"{where} declares outputs ({', '.join(outputs)}) but returns nothing")
        values = result if len(outputs) > 1 or self.interface.output_tuple else (result,)
        if not isinstance(values, tuple) or len(values) != len(outputs):
            raise WorkflowDefinitionError(f"{where} must return {len(outputs)} values "
                                          f"({', '.join(outputs)})")
        return {name: graph.bind(value, outputs[name], f"{where}: output '{name}'")
                for (name, value) in zip(outputs, values)}

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        results: dict[str, dict[str, Any]] = {graph.START_NODE: inputs}
        for node in self.ordered_nodes:
            if hasattr(node.entity, "run_node"):  # a conditional runs the case it chooses
                results[node.id] = node.entity.run_node(node, results)
                continue
            node_inputs = {name: binding.resolve(results) for name, binding in node.bindings.items()}
            # Bindings were type-checked when the workflow was traced; only defaults are left to fill.
            results[node.id] = node.entity.local_execute({**node.entity.interface.defaults, **node_inputs})
        outputs = {name: binding.resolve(results) for name, binding in self.output_bindings.items()}
        return {name: engine.roundtrip(value, self.interface.outputs[name]) for name, value in outputs.items()}

    def __repr__(self) -> str:
        return f"<workflow {self.name}>"


def workflow(_fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Make a workflow of a function: ``@workflow`` or ``@workflow(name=...)``."""
    if _fn is not None:
        return Workflow(_fn, name=name)
    return lambda fn: Workflow(fn, name=name)
