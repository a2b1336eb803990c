"""``@dynamic``: a task whose body runs at execution time, with real input values, and builds a graph.

Calls inside the body add nodes (``dn0, dn1...``), as they would in a workflow, but the inputs are values, so
Python loops and recursion over them work. Locally the graph then runs in this process, independent nodes at once
in threads (``flyrun.sdk.parallel``); in a task container (``flyrun-execute``) it is written as a
``DynamicJobSpec`` (``futures.pb``) for the engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flyrun.errors import FlyrunError, TaskExecutionError, WorkflowDefinitionError
from flyrun.sdk import graph, mocks, parallel
from flyrun.sdk.task import PythonFunctionTask
from flyrun.sdk.workflow import Workflow
from flyrun.types import engine

MAX_NODES_ENV = "FLYRUN_DYNAMIC_MAX_NODES"
DEFAULT_MAX_NODES = 5000  # Flyte's documented default for max_parallelism/width


def max_nodes() -> int:
    """How many nodes one dynamic task may generate (``FLYRUN_DYNAMIC_MAX_NODES``, default 5,000)."""
    value = os.environ.get(MAX_NODES_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_NODES
    if not value.isdigit() or int(value) < 1:
        raise WorkflowDefinitionError(f"{MAX_NODES_ENV}={value!r} is not a positive whole number",
                                      hint=f"e.g. {MAX_NODES_ENV}=10000, or unset it for {DEFAULT_MAX_NODES}")
    return int(value)


class DynamicBuilder(graph.GraphBuilder):
    """The graph of one run of a dynamic task's body, bounded in size."""

    id_prefix = "dn"
    scope = "dynamic task"

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(name)
        self.limit = limit

    def add_node(self, entity: Any, args: tuple, kwargs: dict[str, Any], expected: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> graph.Node:
        if len(self.nodes) >= self.limit:
            # Checked before the node exists, so a runaway loop stops at the limit instead of exhausting memory.
            raise WorkflowDefinitionError(
                f"{graph.user_call_site()}: dynamic task '{self.workflow_name}' generates more than {self.limit} "
                f"nodes (the limit)",
                hint=f"raise the limit with {MAX_NODES_ENV}=N, or group the work with map_task")
        return super().add_node(entity, args, kwargs, expected, metadata)


class DynamicGraph:
    """What a dynamic task's body built: its nodes, in running order, and how its outputs are bound."""

    def __init__(self, nodes: list[graph.Node], output_bindings: dict[str, graph.Binding]) -> None:
        self.nodes = nodes
        self.ordered_nodes = graph.topological_order(nodes)
        self.output_bindings = output_bindings


class DynamicTask(PythonFunctionTask):
    is_dynamic = True

    def build(self, inputs: dict[str, Any]) -> DynamicGraph:
        """Run the body with real inputs under a builder: calls become nodes, not runs."""
        inputs = {name: engine.fit(value, self.interface.inputs[name]) if name in self.interface.inputs else value
                  for name, value in inputs.items()}
        builder = DynamicBuilder(self.name, max_nodes())
        token = graph._BUILDER.set(builder)
        try:
            result = self.fn(**inputs)
        except FlyrunError:
            raise  # a wiring mistake or the node limit: flyrun's own message, with the user's line
        except Exception as exc:
            raise TaskExecutionError(self.name, exc) from exc
        finally:
            graph._BUILDER.reset(token)
        where = f"dynamic task '{self.name}'"
        # The output binding rules are a workflow's (one value per declared output, promises or constants).
        bindings = Workflow._bind_outputs(self, result, where)  # type: ignore[arg-type]
        return DynamicGraph(builder.nodes, bindings)

    def call_function(self, inputs: dict[str, Any]) -> dict[str, Any]:
        built = self.build(inputs)
        results: dict[str, dict[str, Any]] = {graph.START_NODE: {}}

        def run(node: graph.Node) -> dict[str, Any]:
            if hasattr(node.entity, "run_node"):  # a conditional runs the case it chooses
                return node.entity.run_node(node, results)
            node_inputs = {name: binding.resolve(results) for name, binding in node.bindings.items()}
            return mocks.execute(node.entity, {**node.entity.interface.defaults, **node_inputs})

        # Independent nodes overlap (threads), as a local map's items do; outcomes are a sequential run's.
        parallel.run_graph(built.ordered_nodes, results, run)
        outputs = {name: binding.resolve(results) for name, binding in built.output_bindings.items()}
        try:
            return {name: engine.roundtrip(outputs[name], t, output=True)
                    for name, t in self.interface.outputs.items()}
        except (engine.TypeMismatch, TypeError) as exc:
            raise TaskExecutionError(self.name, TypeError(f"output does not match the declared type: {exc}")) \
                from None

    def __repr__(self) -> str:
        return f"<dynamic {self.name}>"


def dynamic(_fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a dynamic task of a function: ``@dynamic`` or ``@dynamic(retries=2, ...)`` (the ``@task`` options)."""
    if _fn is not None:
        return DynamicTask(_fn, **options)
    return lambda fn: DynamicTask(fn, **options)
