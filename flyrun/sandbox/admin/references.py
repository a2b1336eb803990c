"""Workflows that run an already registered workflow by reference (``reference_workflow``).

Such a node's ``sub_workflow_ref`` names a workflow the request does not carry in ``sub_workflows``. The sandbox
takes its templates from the registered workflow's compiled closure (its own sub-workflows too) and adds them to
the request's ``sub_workflows``, so the execution runs the registered workflow as a sub-workflow. flyteadmin's
compiler, by its source, only looks in ``sub_workflows`` (UNVERIFIED whether a cluster accepts such a reference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flyrun.sandbox.admin.compiler import END_NODE, START_NODE, entity_key, walk_nodes
from flyrun.sandbox.admin.wire import ApiError, Code


def embed_referenced_workflows(spec: Any, get_workflow: Callable[[Any], Any]) -> None:
    """Add to ``spec.sub_workflows`` every registered workflow its nodes refer to but it does not carry."""
    known = {entity_key(sub.id) for sub in spec.sub_workflows}
    pending = [spec.template, *spec.sub_workflows]
    while pending:
        workflow = pending.pop()
        failure_node = [workflow.failure_node] if workflow.HasField("failure_node") else []
        for node in walk_nodes([*workflow.nodes, *failure_node]):
            if not (node.HasField("workflow_node") and node.workflow_node.HasField("sub_workflow_ref")):
                continue
            ref = node.workflow_node.sub_workflow_ref
            if entity_key(ref) in known or entity_key(ref) == entity_key(spec.template.id):
                continue
            try:
                registered = get_workflow(ref)
            except ApiError as error:
                if error.code == Code.NOT_FOUND:
                    continue  # the compiler reports the unknown sub-workflow, naming the node
                raise
            closure = registered.closure.compiled_workflow
            for compiled in [closure.primary, *closure.sub_workflows]:
                key = entity_key(compiled.template.id)
                if key in known:
                    continue
                known.add(key)
                added = spec.sub_workflows.add()
                added.CopyFrom(source_template(compiled.template))
                pending.append(added)


def source_template(compiled: Any) -> Any:
    """A compiled template without the start and end nodes the compiler added: what registration takes."""
    template = type(compiled)()
    template.CopyFrom(compiled)
    kept = [node for node in template.nodes if node.id not in (START_NODE, END_NODE)]
    del template.nodes[:]
    template.nodes.extend(kept)
    return template
