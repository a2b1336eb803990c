"""Workflow graphs: nodes, promises and bindings, and the tracer that builds them.

A ``@workflow`` function is called once, when its module loads, with promises in place of its inputs. Each call of
a task inside it adds a node whose inputs are bound to promises or constants; no task runs. Wiring mistakes are
found here and reported with the user's file and line.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from flyrun.errors import WorkflowDefinitionError
from flyrun.sdk import attributes
from flyrun.sdk.callsite import user_call_site
from flyrun.types import engine

START_NODE = "start-node"
@dataclass(eq=False)
class Node:
    id: str
    entity: Any
    bindings: dict[str, Binding]
    call_site: str
    upstream_ids: list[str] = field(default_factory=list)  # explicit ordering from `>>`
    # Extra, entity-specific settings for this node (gate names, map settings) kept for serialization.
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"node {self.id} ({self.entity.name})"

    def depends_on(self) -> list[str]:
        ids: list[str] = []
        for binding in self.bindings.values():
            ids.extend(binding.node_ids())
        ids.extend(self.upstream_ids)
        return [i for i in dict.fromkeys(ids) if i != START_NODE]


class NodeHandle:
    """What a call of an entity with no outputs returns inside a workflow; it can only be ordered."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def __rshift__(self, other: Any) -> Any:
        downstream = _node_of(other)
        if downstream is None:
            raise WorkflowDefinitionError(f"{user_call_site()}: `>>` needs a task call on both sides")
        if self.node.id not in downstream.upstream_ids:
            downstream.upstream_ids.append(self.node.id)
        return other

    def with_overrides(self, **overrides: Any) -> Any:
        """Per-node settings (name, timeout, retries, resources, image, cache...) that win over the entity's."""
        from flyrun.sdk.overrides import apply

        apply(self.node, overrides, user_call_site())
        return self

    def __bool__(self) -> bool:
        raise WorkflowDefinitionError(
            f"{user_call_site()}: the output of {self.node.label} is a promise, not a value: it cannot be "
            "used in Python control flow (if/while/and/or) inside a workflow",
            hint="move the decision into a task")


class Promise(NodeHandle):
    """A future value: output ``var`` of node ``node_id`` (or a workflow input, from ``start-node``)."""

    def __init__(self, node: Node | None, var: str, python_type: Any, attr_path: tuple = ()) -> None:
        super().__init__(node)  # type: ignore[arg-type]
        self.var = var
        self.python_type = python_type
        self.attr_path = attr_path  # out[0], out["k"], out.field: the steps into the output's value

    @property
    def node_id(self) -> str:
        return self.node.id if self.node is not None else START_NODE

    def describe(self) -> str:
        path = "".join(f"[{step!r}]" for step in self.attr_path)
        if self.node is None:
            return f"workflow input '{self.var}{path}'"
        return f"{self.node.id}.{self.var}{path} ({self.node.entity.name})"

    # Comparisons make conditions for conditional(...).if_(); attribute steps make new promises.
    __hash__ = NodeHandle.__hash__

    def __eq__(self, other: Any) -> Any:
        return comparison(self, "EQ", other)

    def __ne__(self, other: Any) -> Any:
        return comparison(self, "NEQ", other)

    def __gt__(self, other: Any) -> Any:
        return comparison(self, "GT", other)

    def __ge__(self, other: Any) -> Any:
        return comparison(self, "GTE", other)

    def __lt__(self, other: Any) -> Any:
        return comparison(self, "LT", other)

    def __le__(self, other: Any) -> Any:
        return comparison(self, "LTE", other)

    def is_true(self) -> Any:
        return is_bool(self, True)

    def is_false(self) -> Any:
        return is_bool(self, False)

    def is_none(self) -> Any:
        return is_none(self)

    def __getitem__(self, key: Any) -> Promise:
        return self._step(key, f"[{key!r}]")

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._step(name, f".{name}")

    def _step(self, key: Any, text: str) -> Promise:
        """The promise of ``self[key]`` (or ``self.key`` for a dataclass field), typed by walking this one's type."""
        builder = active_builder()
        scope = f": in workflow '{builder.workflow_name}'" if builder is not None else ""
        where = f"{user_call_site()}{scope}: {self.describe()}{text}"
        python_type = attributes.item_type(self.python_type, key, where, attribute=text.startswith("."))
        return Promise(self.node, self.var, python_type, (*self.attr_path, key))

    def __rshift__(self, other: Any) -> Any:
        if self.node is None:
            raise WorkflowDefinitionError(f"{user_call_site()}: a workflow input cannot be ordered with `>>`")
        return super().__rshift__(other)

    def __bool__(self) -> bool:
        raise WorkflowDefinitionError(
            f"{user_call_site()}: {self.describe()} is a promise, not a value: it cannot be used in Python "
            "control flow (if/while/and/or) inside a workflow", hint="move the decision into a task")

    def __iter__(self):
        raise WorkflowDefinitionError(f"{user_call_site()}: {self.describe()} is a promise and cannot be "
                                      "iterated inside a workflow", hint="use map_task, or iterate in a task")

    def __repr__(self) -> str:
        return f"Promise({self.describe()}: {engine.describe(self.python_type)})"


def _node_of(value: Any) -> Node | None:
    if isinstance(value, NodeHandle):
        return value.node
    if isinstance(value, tuple) and value and isinstance(value[0], Promise):
        return value[0].node
    return None


class Binding:
    """How one input of a node gets its value: a promise, a constant, or a list/dict of bindings."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any) -> None:
        self.kind = kind  # "promise" | "value" | "list" | "map"
        self.value = value

    def node_ids(self) -> list[str]:
        if self.kind == "promise":
            return [self.value.node_id]
        if self.kind == "list":
            return [i for b in self.value for i in b.node_ids()]
        if self.kind == "map":
            return [i for b in self.value.values() for i in b.node_ids()]
        return []

    def resolve(self, results: dict[str, dict[str, Any]]) -> Any:
        if self.kind == "promise":
            value = results[self.value.node_id][self.value.var]
            if self.value.attr_path:
                value = attributes.follow(value, self.value.attr_path)
            return value
        if self.kind == "list":
            return [b.resolve(results) for b in self.value]
        if self.kind == "map":
            return {k: b.resolve(results) for k, b in self.value.items()}
        return self.value


def bind(value: Any, python_type: Any, what: str) -> Binding:
    """Bind a value to an input of ``python_type``, or raise naming ``what`` and why it does not fit."""
    if isinstance(value, tuple) and hasattr(value, "_fields") and len(value) == 1 and isinstance(value[0], Promise):
        value = value[0]  # a one-field NamedTuple output passed on whole, as flytesnacks does
    if isinstance(value, Promise):
        source, target = engine.literal_type(value.python_type), engine.literal_type(python_type)
        if not engine.is_assignable(source, target):
            raise WorkflowDefinitionError(
                f"{what} expects {engine.describe(python_type)} but {value.describe()} is "
                f"{engine.describe(value.python_type)}")
        return Binding("promise", value)
    if isinstance(value, NodeHandle):
        raise WorkflowDefinitionError(f"{what}: {value.node.label} has no outputs to pass on")
    if _contains_promise(value):
        import typing

        origin, args = typing.get_origin(python_type), typing.get_args(python_type)
        if origin is list and isinstance(value, (list, tuple)):
            return Binding("list", [bind(v, args[0], f"{what}[{i}]") for i, v in enumerate(value)])
        if origin is dict and isinstance(value, dict):
            return Binding("map", {k: bind(v, args[1], f"{what}[{k!r}]") for k, v in value.items()})
        raise WorkflowDefinitionError(f"{what} expects {engine.describe(python_type)}, not a collection "
                                      "of promises")
    try:
        return Binding("value", engine.roundtrip(value, python_type))
    except engine.TypeMismatch as exc:
        raise WorkflowDefinitionError(f"{what} expects {engine.describe(python_type)}: {exc}") from None


def _contains_promise(value: Any) -> bool:
    if isinstance(value, NodeHandle):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_promise(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_promise(v) for v in value.values())
    return False


class GraphBuilder:
    """Collects the nodes of one workflow while its function is traced."""

    id_prefix = "n"  # a dynamic task's nodes are dn0, dn1... as flytekit names them
    scope = "workflow"

    def __init__(self, workflow_name: str) -> None:
        self.workflow_name = workflow_name
        self.nodes: list[Node] = []

    def where(self, entity: Any, call_site: str) -> str:
        """How messages name the node that a call of ``entity`` at ``call_site`` is about to add."""
        return (f"{call_site}: in {self.scope} '{self.workflow_name}', node {self.id_prefix}{len(self.nodes)} "
                f"({entity.name})")

    def add_node(self, entity: Any, args: tuple, kwargs: dict[str, Any], expected: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> Node:
        call_site = user_call_site()
        node_id = f"{self.id_prefix}{len(self.nodes)}"
        where = self.where(entity, call_site)
        if args:
            raise WorkflowDefinitionError(f"{where}: positional arguments are not allowed inside a workflow",
                                          hint="pass every input by keyword, e.g. t(x=1)")
        inputs = entity.interface.inputs if expected is None else expected
        unknown = [name for name in kwargs if name not in inputs]
        if unknown:
            raise WorkflowDefinitionError(f"{where}: unknown input '{unknown[0]}'; inputs are: "
                                          f"{', '.join(inputs) or 'none'}")
        missing = [n for n in inputs if n not in kwargs and n not in entity.interface.defaults]
        if missing:
            raise WorkflowDefinitionError(f"{where}: missing required input '{missing[0]}' "
                                          f"({engine.describe(inputs[missing[0]])})")
        bindings = {name: bind(value, inputs[name], f"{where}: input '{name}'") for name, value in kwargs.items()}
        node = Node(node_id, entity, bindings, call_site, metadata=dict(metadata or {}))
        self.nodes.append(node)
        return node


_BUILDER: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar("flyrun_builder", default=None)


def active_builder() -> GraphBuilder | None:
    return _BUILDER.get()


def node_result(node: Node, outputs: dict[str, Any], output_tuple: type | None) -> Any:
    """What a call inside a workflow returns: a handle, a promise, or a tuple of promises."""
    if not outputs:
        return NodeHandle(node)
    promises = [Promise(node, name, t) for name, t in outputs.items()]
    if len(promises) == 1 and output_tuple is None:
        return promises[0]
    return _node_tuple(output_tuple)(*promises) if output_tuple else NodeOutputs(promises)


class _NodeTupleMethods:
    """What flytekit's output tuple of a multi-output call offers besides its promises: ``with_overrides`` on
    the node and ``>>`` ordering, so ``a, b = t(x=x).with_overrides(retries=2)`` works as on a single output."""

    def _handle(self) -> NodeHandle:
        return NodeHandle(self[0].node)  # type: ignore[index]

    def with_overrides(self, **overrides: Any) -> Any:
        from flyrun.sdk.overrides import apply

        apply(self._handle().node, overrides, user_call_site())
        return self

    def __rshift__(self, other: Any) -> Any:
        return self._handle() >> other


class NodeOutputs(_NodeTupleMethods, tuple):
    """The promises of a call whose outputs are a plain tuple (``-> Tuple[int, str]``); also named ``o0``..."""

    def __getattr__(self, name: str) -> Any:
        for promise in self:
            if promise.var == name:
                return promise
        raise AttributeError(f"the call's outputs are {', '.join(p.var for p in self)}; no '{name}'")


_NODE_TUPLES: dict[type, type] = {}


def _node_tuple(output_tuple: type) -> type:
    """The task's NamedTuple output type with the node methods mixed in (one subclass per type)."""
    if output_tuple not in _NODE_TUPLES:
        _NODE_TUPLES[output_tuple] = type(output_tuple.__name__, (_NodeTupleMethods, output_tuple), {})
    return _NODE_TUPLES[output_tuple]


def topological_order(nodes: list[Node]) -> list[Node]:
    """Nodes in an order that runs every node after the ones it depends on; ties keep definition order."""
    by_id = {n.id: n for n in nodes}
    done: set[str] = set()
    ordered: list[Node] = []
    visiting: set[str] = set()

    def visit(node: Node) -> None:
        if node.id in done:
            return
        if node.id in visiting:
            raise WorkflowDefinitionError(f"{node.call_site}: `>>` ordering makes a cycle through {node.label}")
        visiting.add(node.id)
        for upstream in node.depends_on():
            if upstream in by_id:
                visit(by_id[upstream])
        visiting.discard(node.id)
        done.add(node.id)
        ordered.append(node)

    for node in nodes:
        visit(node)
    return ordered


# Conditions: comparisons of promises (``x > 1``, ``flag.is_true()``) build a ``BooleanExpression`` in its wire form
# at once. They live here, with ``Promise``, whose operators build them; ``sdk/conditions.py`` builds the branch
# node from them.

NONE_INPUT = "none"  # the branch input holding the None literal that is_none() compares with
NONE_LITERAL: dict[str, Any] = {"scalar": {"none_type": {}}}
_SIMPLE = ("INTEGER", "FLOAT", "STRING", "BOOLEAN", "DATETIME", "DURATION")
_PYTHON_OPERATORS = {"EQ": "==", "NEQ": "!=", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}
_OPEN = "_flyrun_open_conditionals"  # the builder's unfinished conditionals, checked when the trace ends


class Expression:
    """A condition: a ``BooleanExpression`` dict and the promises its operands read."""

    def __init__(self, document: dict, promises: list[Promise], uses_none: bool = False) -> None:
        self.document = document
        self.promises = promises
        self.uses_none = uses_none

    def _join(self, operator: str, other: Any) -> Expression:
        if not isinstance(other, Expression):
            raise WorkflowDefinitionError(f"{_where()}: `{'&' if operator == 'AND' else '|'}` joins "
                                          f"two conditions, not {_what(other)}",
                                          hint="compare the promise, e.g. (x > 1) & flag.is_true()")
        document = {"conjunction": {"operator": operator, "left_expression": self.document,
                                    "right_expression": other.document}}
        return Expression(document, self.promises + other.promises, self.uses_none or other.uses_none)

    def __and__(self, other: Any) -> Expression:
        return self._join("AND", other)

    def __or__(self, other: Any) -> Expression:
        return self._join("OR", other)

    def __bool__(self) -> bool:
        raise WorkflowDefinitionError(f"{_where()}: a condition cannot be used with Python's "
                                      "and/or/not or in an if statement", hint="join conditions with & and |")


def _what(value: Any) -> str:
    if isinstance(value, Promise):
        return f"{value.describe()} ({engine.describe(value.python_type)})"
    return f"{type(value).__name__} {value!r}"


def operand_key(promise: Promise) -> str:
    """flytekit's name for a promise as a branch input: ``.x`` for a workflow input, ``n0.o0`` for an output."""
    node_id = "" if promise.node is None else promise.node.id
    suffix = "".join(f".{step}" for step in getattr(promise, "attr_path", ()))
    return f"{node_id}.{promise.var}{suffix}"


def _comparable_type(promise: Promise, where: str) -> tuple[Any, dict]:
    """The promise's type with Optional removed, and its literal type; only primitives and enums compare."""
    import typing

    python_type = promise.python_type
    args = [a for a in typing.get_args(python_type) if a is not type(None)]
    if type(None) in typing.get_args(python_type) and len(args) == 1:
        python_type = args[0]
    literal_type = engine.literal_type(python_type)
    if literal_type.get("simple") not in _SIMPLE and "enum_type" not in literal_type:
        raise WorkflowDefinitionError(f"{where}: {_what(promise)} cannot be compared: conditions compare "
                                      "primitives (int, float, str, bool, datetime, timedelta)",
                                      hint="compute a primitive in a task and compare that")
    return python_type, literal_type


def _where() -> str:
    builder = active_builder()
    scope = f": in workflow '{builder.workflow_name}'" if builder is not None else ""
    return f"{user_call_site()}{scope}"


def comparison(promise: Promise, operator: str, other: Any) -> Expression:
    """``promise <operator> other`` as a condition; ``other`` is a promise or a constant."""
    where = _where()
    if other is None and operator in ("EQ", "NEQ"):
        expression = is_none(promise)
        if operator == "EQ":
            return expression
        expression.document["comparison"]["operator"] = "NEQ"
        return expression
    python_type, literal_type = _comparable_type(promise, where)
    symbol = _PYTHON_OPERATORS[operator]
    if literal_type.get("simple") == "BOOLEAN" and operator not in ("EQ", "NEQ"):
        raise WorkflowDefinitionError(f"{where}: `{symbol}` is not defined on a bool ({promise.describe()})",
                                      hint="use is_true(), is_false() or ==")
    if isinstance(other, Promise):
        _, other_type = _comparable_type(other, where)
        if engine._strip(other_type) != engine._strip(literal_type):
            raise WorkflowDefinitionError(
                f"{where}: cannot compare {_what(promise)} with {_what(other)}: a cluster compares only values "
                "of the same type", hint="convert one of them in a task")
        right: dict = {"var": operand_key(other)}
        promises = [promise, other]
    else:
        if isinstance(other, (NodeHandle, Expression)):
            raise WorkflowDefinitionError(f"{where}: cannot compare {_what(promise)} with {_what(other)}")
        try:
            constant = engine.to_literal(engine.roundtrip(other, python_type), python_type)
        except engine.TypeMismatch as exc:
            raise WorkflowDefinitionError(f"{where}: cannot compare {_what(promise)} with {other!r}: {exc}") \
                from None
        right = {"primitive": constant["scalar"]["primitive"]}
        promises = [promise]
    document = {"comparison": {"operator": operator, "left_value": {"var": operand_key(promise)},
                               "right_value": right}}
    return Expression(document, promises)


def is_bool(promise: Promise, value: bool) -> Expression:
    where = _where()
    _, literal_type = _comparable_type(promise, where)
    if literal_type.get("simple") != "BOOLEAN":
        raise WorkflowDefinitionError(f"{where}: is_{str(value).lower()}() needs a bool promise, and "
                                      f"{_what(promise)} is not one", hint="compare it instead, e.g. x > 0")
    return comparison(promise, "EQ", value)


def is_none(promise: Promise) -> Expression:
    document = {"comparison": {"operator": "EQ", "left_value": {"var": operand_key(promise)},
                               "right_value": {"var": NONE_INPUT}}}
    return Expression(document, [promise], uses_none=True)


def check_finished(builder: GraphBuilder) -> None:
    """Called when a workflow's trace ends: a conditional without else_() is an error ("Dangling If")."""
    for section in getattr(builder, _OPEN, ()):
        raise WorkflowDefinitionError(f"{section.where} has no else_(): every conditional needs one",
                                      hint='end it with .else_().then(...) or .else_().fail("message")')


# create_node: flytekit's explicit node, whose outputs are attributes (``node.o0``).

class CreatedNode(NodeHandle):
    """What ``create_node`` returns inside a workflow: the node, its outputs as attributes (``node.o0``)."""

    def __init__(self, node: Node, outputs: dict[str, Any]) -> None:
        super().__init__(node)
        self.outputs = {name: Promise(node, name, t) for name, t in outputs.items()}

    def __getattr__(self, name: str) -> Any:
        outputs = self.__dict__.get("outputs", {})
        if name in outputs:
            return outputs[name]
        raise AttributeError(f"{self.node.label} has no output '{name}'; outputs are: "
                             f"{', '.join(outputs) or 'none'}")


def create_node(entity: Any, *args: Any, **kwargs: Any) -> Any:
    """flytekit's ``create_node``: inside a workflow, a node whose outputs are ``node.o0``...; outside, a call."""
    builder = active_builder()
    if builder is None:
        return entity(*args, **kwargs)
    node = builder.add_node(entity, args, kwargs)
    return CreatedNode(node, entity.interface.outputs)
