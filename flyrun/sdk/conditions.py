"""``conditional("name").if_(...).then(...).elif_(...).else_().then(...)``: branch nodes in a workflow.

Comparisons of promises build a ``BooleanExpression`` in its wire form at once, so the local run evaluates exactly
what a cluster gets (``flyrun.types.conditions``). A constant takes the type of the promise it is compared with
(``x > 1`` with a float ``x`` compares floats), because propeller refuses to compare an integer with a float.
``is_none()`` compares with a branch input bound to the None literal: propeller's evaluator only reads primitive
and variable operands, never a scalar one.

Each case's call is traced into its own scope (ids restart at ``n0``, as flytekit numbers them); the branch node
itself is added to the enclosing scope when the last case closes.

The comparisons themselves (``Expression``, ``comparison``, ``is_none``...) live in ``sdk/graph.py`` with the
``Promise`` operators that build them, so the graph never has to import this module.
"""

from __future__ import annotations

from typing import Any

from flyrun.errors import RunFailedError, WorkflowDefinitionError
from flyrun.sdk import graph
from flyrun.sdk.graph import _OPEN, NONE_INPUT, NONE_LITERAL, Expression, _what, _where, operand_key
from flyrun.sdk.interface import Interface
from flyrun.types import engine
from flyrun.types.conditions import ConditionError, evaluate


def conditional(name: str) -> ConditionalSection:
    """Start a conditional named ``name`` inside a workflow."""
    builder = graph.active_builder()
    where = graph.user_call_site()
    if builder is None:
        raise WorkflowDefinitionError(f"{where}: conditional({name!r}) only works inside a @workflow")
    if not isinstance(name, str) or not name.strip():
        raise WorkflowDefinitionError(f"{where}: a conditional needs a non-empty name, not {name!r}")
    return ConditionalSection(builder, name, where)


class ConditionalSection:
    def __init__(self, builder: graph.GraphBuilder, name: str, call_site: str) -> None:
        self.builder = builder
        self.name = name
        self.call_site = call_site
        self.where = f"{call_site}: in workflow '{builder.workflow_name}', conditional '{name}'"
        self.scope = builder.nodes  # where the branch node goes: the workflow, or an enclosing case
        self.cases: list[Case] = []
        self.error: str | None = None
        builder.__dict__.setdefault(_OPEN, []).append(self)

    def if_(self, condition: Any) -> Case:
        if self.cases:
            raise WorkflowDefinitionError(f"{self.where}: if_() comes once, first", hint="use elif_()")
        return self._case(condition)

    def elif_(self, condition: Any) -> Case:
        if not self.cases:
            raise WorkflowDefinitionError(f"{self.where}: elif_() before if_()")
        return self._case(condition)

    def else_(self) -> Case:
        if not self.cases:
            raise WorkflowDefinitionError(f"{self.where}: else_() before if_()")
        return self._case(None)

    def _case(self, condition: Any) -> Case:
        if self.cases and self.cases[-1].node is None:
            raise WorkflowDefinitionError(f"{self.where}: the previous case has no then()")
        if condition is not None and not isinstance(condition, Expression):
            raise WorkflowDefinitionError(
                f"{_where()}, conditional '{self.name}': the condition is {_what(condition)}, not a "
                "bool condition", hint="compare a promise (x > 1), or use is_true()/is_false() on a bool promise")
        case = Case(self, condition)
        self.cases.append(case)
        self.builder.nodes = []  # the case's call is traced into its own scope
        return case

    def __bool__(self) -> bool:
        raise WorkflowDefinitionError(f"{self.where} is not finished: it has no else_()")

    def finish(self) -> Any:
        self.builder.nodes = self.scope
        getattr(self.builder, _OPEN).remove(self)
        outputs, shape = self._outputs()
        promises: dict[str, graph.Promise] = {}
        for case in self.cases:
            for promise in case.condition.promises if case.condition is not None else ():
                promises.setdefault(operand_key(promise), promise)
        inputs = {key: promises[key].python_type for key in sorted(promises)}
        entity = Conditional(self, inputs, outputs)
        bindings = {key: graph.Binding("promise", promises[key]) for key in sorted(promises)}
        node = graph.Node(f"n{len(self.scope)}", entity, bindings, self.call_site)
        # The cases' own inputs come from outer nodes: the branch runs after them.
        node.upstream_ids.extend(i for case in self.cases if case.node for i in case.node.depends_on()
                                 if i not in node.upstream_ids)
        self.scope.append(node)
        return graph.node_result(node, outputs, None) if shape != "tuple" or not outputs else \
            tuple(graph.Promise(node, name, t) for name, t in outputs.items())

    def _outputs(self) -> tuple[dict[str, Any], str]:
        """The outputs every case gives (by name); their types must agree."""
        returning = [case for case in self.cases if case.node is not None]
        names = [name for name in returning[0].outputs if all(name in c.outputs for c in returning)]
        for name in names:
            types = {engine.describe(c.outputs[name]) for c in returning}
            literal_types = {repr(engine._strip(engine.literal_type(c.outputs[name]))) for c in returning}
            if len(literal_types) > 1:
                raise WorkflowDefinitionError(f"{self.where}: the branches return different types for output "
                                              f"'{name}' ({', '.join(sorted(types))})",
                                              hint="make every branch return the same type")
        return {name: returning[0].outputs[name] for name in names}, returning[0].shape


class Case:
    def __init__(self, section: ConditionalSection, condition: Expression | None) -> None:
        self.section = section
        self.condition = condition
        self.node: graph.Node | None = None
        self.outputs: dict[str, Any] = {}
        self.shape = "single"

    def _close(self) -> list[graph.Node]:
        nodes = self.section.builder.nodes
        self.section.builder.nodes = self.section.scope
        return nodes

    def then(self, result: Any) -> Any:
        nodes = self._close()
        where = self.section.where
        if len(nodes) != 1:
            raise WorkflowDefinitionError(f"{where}: then() takes one call of a task, workflow or conditional, "
                                          f"made inside it ({len(nodes)} were made)")
        self.node = nodes[0]
        promises = list(result) if isinstance(result, tuple) else [result] if isinstance(result, graph.Promise) \
            else []
        if result is not None and not isinstance(result, (tuple, graph.NodeHandle)):
            raise WorkflowDefinitionError(f"{where}: then() takes a call's result, not {_what(result)}")
        for promise in promises:
            if not isinstance(promise, graph.Promise) or promise.node is not self.node:
                raise WorkflowDefinitionError(f"{where}: then() takes the result of the call made inside it")
        self.outputs = {p.var: p.python_type for p in promises}
        self.shape = "tuple" if isinstance(result, tuple) else "single"
        return self.section.finish() if self.condition is None else self.section

    def fail(self, message: str) -> Any:
        nodes = self._close()
        if self.condition is not None:
            raise WorkflowDefinitionError(f"{self.section.where}: fail() ends the else_() case only")
        if nodes:
            raise WorkflowDefinitionError(f"{self.section.where}: fail() takes a message, not a call")
        if not isinstance(message, str) or not message:
            raise WorkflowDefinitionError(f"{self.section.where}: fail() needs a message")
        self.section.cases.pop()
        if not self.section.cases or all(c.node is None for c in self.section.cases):
            raise WorkflowDefinitionError(f"{self.section.where}: every case fails")
        self.section.error = message
        return self.section.finish()


class Conditional:
    """The entity of a branch node: its cases (condition dict, node), an else node or a failure message."""

    kind = "branch"

    def __init__(self, section: ConditionalSection, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        self.name = section.name
        self.call_site = section.call_site
        cases = section.cases
        self.cases = [(c.condition.document, c.node) for c in cases if c.condition is not None]
        self.else_node = next((c.node for c in cases if c.condition is None), None)
        self.error = section.error
        self.static_inputs = {NONE_INPUT: NONE_LITERAL} if any(
            c.condition.uses_none for c in cases if c.condition is not None) else {}
        self.interface = Interface(inputs=inputs, outputs=outputs)

    @property
    def nodes(self) -> list[graph.Node]:
        return [node for _, node in self.cases if node is not None] + ([self.else_node] if self.else_node else [])

    def choose(self, inputs: dict[str, dict]) -> graph.Node | None:
        """The node of the first case whose condition holds (inputs are literal dicts), else the else node."""
        for document, node in self.cases:
            if evaluate(document, {**inputs, **self.static_inputs}):
                return node
        return self.else_node

    def run_node(self, node: graph.Node, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Run locally: evaluate the conditions on the inputs' literal form, then run the chosen node."""
        literals = {key: engine.to_literal(binding.resolve(results), self.interface.inputs[key])
                    for key, binding in node.bindings.items()}
        try:
            chosen = self.choose(literals)
        except ConditionError as exc:
            raise RunFailedError(f"conditional '{self.name}' ({self.call_site}): {exc}") from None
        if chosen is None:
            raise RunFailedError(f"conditional '{self.name}' failed: {self.error}")
        return run_graph_node(chosen, results)

    def __repr__(self) -> str:
        return f"<conditional {self.name}>"


def run_graph_node(node: graph.Node, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Run one node of a workflow graph locally, given the outputs of the nodes before it."""
    run = getattr(node.entity, "run_node", None)
    if run is not None:
        return run(node, results)
    inputs = {name: binding.resolve(results) for name, binding in node.bindings.items()}
    return node.entity.local_execute({**node.entity.interface.defaults, **inputs})
