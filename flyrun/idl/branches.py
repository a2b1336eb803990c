"""Conditionals as ``BranchNode``s: the cases' conditions and nodes, the else node or the error to fail with."""

from __future__ import annotations

from typing import Any

from flyrun.idl.literals import binding_data
from flyrun.idl.settings import SerializationSettings
from flyrun.sdk import graph


def branch_node(node: graph.Node, result: dict, settings: SerializationSettings, owner: str) -> dict:
    """Fill ``result`` (the node's id, inputs and upstream ids) as flytekit serializes a conditional."""
    from flyrun.idl.workflows import node_dict

    conditional = node.entity
    result["metadata"] = {"name": conditional.name}
    result["inputs"].extend({"var": name, "binding": binding_data(literal)}
                            for name, literal in conditional.static_inputs.items())
    where = f"{owner}, conditional '{conditional.name}'"
    blocks = [{"condition": document, "then_node": node_dict(case, settings, where)}
              for document, case in conditional.cases]
    if_else: dict[str, Any] = {"case": blocks[0], "other": blocks[1:]}
    if conditional.else_node is not None:
        if_else["else_node"] = node_dict(conditional.else_node, settings, where)
    else:
        if_else["error"] = {"failed_node_id": conditional.name, "message": conditional.error}
    result["branch_node"] = {"if_else": if_else}
    return result
