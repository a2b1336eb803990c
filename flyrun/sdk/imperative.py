"""The imperative workflow builder, flytekit's ``ImperativeWorkflow`` (``flytekit.Workflow``).

``wb = Workflow(name="my.wf")``, then ``wb.add_workflow_input``, ``wb.add_entity`` (or its aliases ``add_task``,
``add_subwf``, ``add_launch_plan``) and ``wb.add_workflow_output`` build the same graph a ``@workflow`` function
traces, so it runs locally, serializes and runs on a cluster as any workflow. Each call is checked when it is
made, and a mistake names the user's file and line and the node.
"""

from __future__ import annotations

import sys
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk import failure, graph
from flyrun.sdk.entity import ModuleLevelEntity
from flyrun.sdk.graph import CreatedNode
from flyrun.sdk.interface import Interface
from flyrun.sdk.workflow import Workflow as _TracedWorkflow
from flyrun.types import engine


class ImperativeWorkflow(ModuleLevelEntity, _TracedWorkflow):
    """A workflow built by calls rather than traced from a function; everything else is a ``@workflow``'s."""

    attribute_fallback = "short_name"

    def __init__(self, name: str, failure_policy: Any = None, interruptible: bool = False) -> None:
        # The traced class's __init__ runs a function; this one starts empty and grows with each add_* call.
        self.call_site = graph.user_call_site()
        if not isinstance(name, str) or not name:
            raise WorkflowDefinitionError(f"{self.call_site}: Workflow(name=...) needs a non-empty name")
        self.name = name
        self._module = sys._getframe(1).f_globals.get("__name__", "__main__")
        self.interface = Interface()
        self._nodes: list[graph.Node] = []
        self._output_bindings: dict[str, graph.Binding] = {}
        self.inputs: dict[str, graph.Promise] = {}
        self.interruptible = interruptible
        self._builder = graph.GraphBuilder(name)
        self._failure_policy = failure_policy

        self.failure = failure.configure(self, failure_policy, None, self._where_at(self.call_site))

    def _where_at(self, call_site: str) -> str:
        return f"{call_site}: workflow '{self.name}'"

    # -- what the rest of flyrun reads off a workflow -----------------------------------------------------------

    def _traced(self) -> tuple[list[graph.Node], dict[str, graph.Binding], list[graph.Node]]:
        # Built call by call, never traced: the graph is whatever has been added so far.
        return self._nodes, self._output_bindings, graph.topological_order(self._nodes)

    @property
    def python_interface(self) -> Interface:
        """flytekit's name for the interface."""
        return self.interface

    # -- building ---------------------------------------------------------------------------------------------
    def add_workflow_input(self, input_name: str, python_type: Any) -> graph.Promise:
        """Declare an input; the returned promise (also ``wb.inputs[name]``) can be bound to nodes and outputs."""
        where = self._where_at(graph.user_call_site())
        if not isinstance(input_name, str) or not input_name.isidentifier():
            raise WorkflowDefinitionError(f"{where}: input name {input_name!r} is not a Python identifier")
        if input_name in self.interface.inputs:
            raise WorkflowDefinitionError(f"{where}: input '{input_name}' is already declared")
        try:
            engine.literal_type(python_type)
        except engine.TypeMismatch as exc:
            raise WorkflowDefinitionError(f"{where}: input '{input_name}': {exc}") from None
        self.interface.inputs[input_name] = python_type
        promise = graph.Promise(None, input_name, python_type)
        self.inputs[input_name] = promise
        return promise

    def add_entity(self, entity: Any, **kwargs: Any) -> CreatedNode:
        """Add a node running ``entity`` (a task, workflow, launch plan, reference...) with these inputs bound;
        its outputs are ``node.outputs["o0"]`` or ``node.o0``."""
        if not callable(entity) or not hasattr(entity, "interface") and not hasattr(entity, "func"):
            raise WorkflowDefinitionError(f"{graph.user_call_site()}: in workflow '{self.name}', add_entity needs "
                                          f"a task, workflow or launch plan, not {entity!r}")
        count = len(self._builder.nodes)
        token = graph._BUILDER.set(self._builder)
        try:
            result = entity(**kwargs)  # the entity's own call adds the node, with its own checks
        finally:
            graph._BUILDER.reset(token)
        if len(self._builder.nodes) != count + 1:
            raise WorkflowDefinitionError(f"{graph.user_call_site()}: in workflow '{self.name}', add_entity of "
                                          f"{entity!r} must add exactly one node")
        node = self._builder.nodes[-1]
        self._nodes = self._builder.nodes
        created = CreatedNode(node, {})
        values = result if isinstance(result, tuple) else (result,)
        created.outputs = {p.var: p for p in values if isinstance(p, graph.Promise)}
        return created

    def add_task(self, task: Any, **kwargs: Any) -> CreatedNode:
        return self.add_entity(task, **kwargs)

    def add_subwf(self, sub_wf: Any, **kwargs: Any) -> CreatedNode:
        return self.add_entity(sub_wf, **kwargs)

    def add_launch_plan(self, launch_plan: Any, **kwargs: Any) -> CreatedNode:
        return self.add_entity(launch_plan, **kwargs)

    def add_workflow_output(self, output_name: str, p: Any, python_type: Any = None) -> None:
        """Make a node's output (or a workflow input, or a list/dict of them with ``python_type``) an output."""
        where = self._where_at(graph.user_call_site())
        label = f"{where}: output '{output_name}'"
        if not isinstance(output_name, str) or not output_name.isidentifier():
            raise WorkflowDefinitionError(f"{where}: output name {output_name!r} is not a Python identifier")
        if output_name in self.interface.outputs:
            raise WorkflowDefinitionError(f"{label} is already declared")
        if not graph._contains_promise(p) or (isinstance(p, graph.NodeHandle) and not isinstance(p, graph.Promise)):
            shown = p.node.label if isinstance(p, graph.NodeHandle) else repr(p)
            raise WorkflowDefinitionError(
                f"{label} must be bound to a promise (a node's output or a workflow input), not {shown}",
                hint="pass node.outputs['o0'] (or node.o0) of a node add_entity returned, or wb.inputs['name']")
        if python_type is None:
            if not isinstance(p, graph.Promise):
                raise WorkflowDefinitionError(f"{label}: a list or dict of promises needs python_type=, e.g. "
                                              "python_type=list[int]")
            python_type = p.python_type
        self._output_bindings[output_name] = graph.bind(p, python_type, label)
        self.interface.outputs[output_name] = python_type

    def add_on_failure_handler(self, entity: Any) -> None:
        """The failure node: ``entity`` runs with the workflow's inputs (and ``err``) if the workflow fails."""
        self.failure = failure.configure(self, self._failure_policy, entity,
                                         self._where_at(graph.user_call_site()))

    def ready(self) -> bool:
        """flytekit's check: there is at least one node, and every declared input is used."""
        used = {b.value.var for node in self.nodes for b in _promise_bindings(node.bindings.values())
                if b.value.node is None}
        used |= {b.value.var for b in _promise_bindings(self.output_bindings.values()) if b.value.node is None}
        return bool(self.nodes) and set(self.interface.inputs) <= used

    def __repr__(self) -> str:
        return f"<imperative workflow {self.name}>"


def _promise_bindings(bindings: Any) -> list[graph.Binding]:
    found: list[graph.Binding] = []
    for binding in bindings:
        if binding.kind == "promise":
            found.append(binding)
        elif binding.kind == "list":
            found.extend(_promise_bindings(binding.value))
        elif binding.kind == "map":
            found.extend(_promise_bindings(binding.value.values()))
    return found


Workflow = ImperativeWorkflow
