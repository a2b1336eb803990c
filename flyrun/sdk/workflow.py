"""``@workflow``: a function traced, when its module loads, into a graph of task nodes.

A task container (flyrun-execute) imports the module only to find one task; there tracing is deferred to the first
use of a workflow's graph (``deferred_tracing``), so a task of a 2,000-node workflow does not trace 2,000 nodes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk import graph, mocks
from flyrun.sdk.callsite import short_path
from flyrun.sdk.entity import Entity
from flyrun.sdk.interface import interface_from_function
from flyrun.sdk.task import task_name
from flyrun.types import engine

_DEFER_TRACING = False


@contextlib.contextmanager
def deferred_tracing() -> Iterator[None]:
    """Workflows defined inside this block are traced when their graph is first used, not when defined."""
    global _DEFER_TRACING
    previous, _DEFER_TRACING = _DEFER_TRACING, True
    try:
        yield
    finally:
        _DEFER_TRACING = previous


class Workflow(Entity):
    kind = "workflow"

    def __init__(self, fn: Callable[..., Any], name: str | None = None, failure_policy: Any = None,
                 on_failure: Any = None, docs: Any = None) -> None:
        self.fn = fn
        self.name = name or task_name(fn)
        self.call_site = f"{short_path(fn.__code__.co_filename)}:{fn.__code__.co_firstlineno}"
        where = f"{self.call_site}: workflow '{self.name}'"
        self.interface = interface_from_function(fn, where)
        self._where = where
        self._graph: tuple[list[graph.Node], dict[str, graph.Binding], list[graph.Node]] | None = None
        if not _DEFER_TRACING:
            self._traced()  # wiring mistakes are found when the module loads
        self.docs = None
        if docs is not None:  # flytekit's Documentation(...): serialized as the WorkflowSpec's description
            from flyrun.sdk.docs import checked_docs

            self.docs = checked_docs(docs, where)
        self.failure = None
        if failure_policy is not None or on_failure is not None:
            from flyrun.sdk import failure

            self.failure = failure.configure(self, failure_policy, on_failure, where)
        functools.update_wrapper(self, fn)

    def _traced(self) -> tuple[list[graph.Node], dict[str, graph.Binding], list[graph.Node]]:
        if self._graph is None:
            nodes, bindings = self._trace(self._where)
            self._graph = (nodes, bindings, graph.topological_order(nodes))
        return self._graph

    @property
    def nodes(self) -> list[graph.Node]:
        return self._traced()[0]

    @property
    def output_bindings(self) -> dict[str, graph.Binding]:
        return self._traced()[1]

    @property
    def ordered_nodes(self) -> list[graph.Node]:
        return self._traced()[2]

    @property
    def module(self) -> str:
        return self.fn.__module__

    @property
    def attribute(self) -> str:
        return self.fn.__qualname__

    def _trace(self, where: str) -> tuple[list[graph.Node], dict[str, graph.Binding]]:
        builder = graph.GraphBuilder(self.name)
        inputs = {name: graph.Promise(None, name, t) for name, t in self.interface.inputs.items()}
        token = graph._BUILDER.set(builder)
        try:
            result = self.fn(**inputs)
        finally:
            graph._BUILDER.reset(token)
        graph.check_finished(builder)
        return builder.nodes, self._bind_outputs(result, where)

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
        if self.failure is not None:  # failure_policy= / on_failure=
            from flyrun.sdk.failure import local_execute

            return local_execute(self, inputs)
        results: dict[str, dict[str, Any]] = {graph.START_NODE: inputs}
        for node in self.ordered_nodes:
            if hasattr(node.entity, "run_node"):  # a conditional runs the case it chooses
                results[node.id] = node.entity.run_node(node, results)
                continue
            node_inputs = {name: binding.resolve(results) for name, binding in node.bindings.items()}
            # Bindings were type-checked when the workflow was traced; only defaults are left to fill.
            results[node.id] = mocks.execute(node.entity, {**node.entity.interface.defaults, **node_inputs})
        outputs = {name: binding.resolve(results) for name, binding in self.output_bindings.items()}
        return {name: engine.roundtrip(value, self.interface.outputs[name]) for name, value in outputs.items()}

    def __repr__(self) -> str:
        return f"<workflow {self.name}>"


def workflow(_fn: Callable[..., Any] | None = None, *, name: str | None = None, failure_policy: Any = None,
             on_failure: Any = None, docs: Any = None) -> Any:
    """Make a workflow of a function: ``@workflow`` or ``@workflow(name=..., failure_policy=..., on_failure=...,
    docs=Documentation(...))``."""
    if _fn is not None:
        return Workflow(_fn, name=name)
    return lambda fn: Workflow(fn, name=name, failure_policy=failure_policy, on_failure=on_failure, docs=docs)
