"""What tasks and workflows have in common: a name, an interface, and a call that either adds a node to the
workflow being traced or runs locally."""

from __future__ import annotations

import sys
from typing import Any

from flyrun.errors import UsageError
from flyrun.sdk import graph, mocks
from flyrun.sdk.interface import Interface
from flyrun.types import engine


class Entity:
    name: str
    interface: Interface
    kind = "entity"  # "task" or "workflow", for messages and listings

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = graph.active_builder()
        if builder is not None:
            from flyrun.sdk.partials import check_call_through_partial

            check_call_through_partial(self, sys._getframe(1), builder.where(self, graph.user_call_site()))
            node = builder.add_node(self, args, kwargs)
            return graph.node_result(node, self.interface.outputs, self.interface.output_tuple)
        inputs = self.bind_local_arguments(args, kwargs)
        return self.interface.outputs_as_result(mocks.execute(self, inputs))

    def bind_local_arguments(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Outside a workflow an entity is called like the Python function it wraps."""
        names = list(self.interface.inputs)
        if len(args) > len(names):
            raise UsageError(f"{self.name} takes {len(names)} inputs but {len(args)} were given")
        inputs = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in self.interface.inputs:
                raise UsageError(f"{self.name} has no input '{name}'; inputs are: {', '.join(names) or 'none'}")
            if name in inputs:
                raise UsageError(f"{self.name} got input '{name}' twice")
            inputs[name] = value
        return self.complete_inputs(inputs)

    def complete_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults, then check that every required input is there and has the declared type."""
        complete = {**self.interface.defaults, **inputs}
        for name, python_type in self.interface.inputs.items():
            if name not in complete:
                raise UsageError(f"missing required input '{name}' ({engine.describe(python_type)}) "
                                 f"for {self.name}", hint=f"pass --{name}")
            try:
                complete[name] = engine.roundtrip(complete[name], python_type)
            except engine.TypeMismatch as exc:
                raise UsageError(f"input '{name}' of {self.name}: {exc}") from None
        return complete

    def local_execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run with complete, typed inputs and return the outputs by name."""
        raise NotImplementedError

    def signature(self) -> str:
        """``name(x: int, y: str = 'a') -> int``, for listings."""
        parts = []
        for name, python_type in self.interface.inputs.items():
            text = f"{name}: {engine.describe(python_type)}"
            if name in self.interface.defaults:
                text += f" = {self.interface.defaults[name]!r}"
            parts.append(text)
        outputs = ", ".join(f"{n}: {engine.describe(t)}" for n, t in self.interface.outputs.items())
        return f"{self.short_name}({', '.join(parts)})" + (f" -> {outputs}" if outputs else "")

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def module_attribute(self, module_name: str) -> str | None:
        """The module-level name this entity is bound to in ``module_name``, if any (looked up when asked)."""
        module = sys.modules.get(module_name)
        for key, value in vars(module).items() if module else ():
            if value is self:
                return key
        return None
