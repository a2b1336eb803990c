"""Conditionals as ``BranchNode``s: the cases' conditions and nodes, the else node or the error to fail with."""

from __future__ import annotations

from typing import Any

from flyrun.idl.literals import binding_data
from flyrun.idl.settings import SerializationSettings
from flyrun.sdk import graph


def branch_node(node: graph.Node, settings: SerializationSettings, owner: str) -> dict:
    """A conditional's node as flytekit serializes it, named by the conditional."""
    from flyrun.idl.workflows import node_bindings, node_dict

    conditional = node.entity
    where = f"{owner}, conditional '{conditional.name}'"
    inputs = node_bindings(node, where)
    inputs.extend({"var": name, "binding": binding_data(literal)}
                  for name, literal in conditional.static_inputs.items())
    result: dict[str, Any] = {"id": node.id, "metadata": {"name": conditional.name}, "inputs": inputs,
                              "upstream_node_ids": node.depends_on()}
    blocks = [{"condition": document, "then_node": node_dict(case, settings, where)}
              for document, case in conditional.cases]
    if_else: dict[str, Any] = {"case": blocks[0], "other": blocks[1:]}
    if conditional.else_node is not None:
        if_else["else_node"] = node_dict(conditional.else_node, settings, where)
    else:
        if_else["error"] = {"failed_node_id": conditional.name, "message": conditional.error}
    result["branch_node"] = {"if_else": if_else}
    return result
