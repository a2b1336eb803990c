"""Array nodes (``map_task``): run the sub-node once per item and gather its outputs into lists, in order.

Each item gets its own inputs: an input named in ``bound_inputs`` (a ``partial``'s fixed value) or not holding a
list is passed as is; every other input is indexed. Those item inputs are what the item node records; a map
task (task_type_version 1) is given the array node's whole ``inputs.pb`` and its index, as propeller gives them
(``ArrayItem``), which is what flytekit's ``pyflyte-map-execute`` reads. ``min_successes``/``min_success_ratio``
say how many items must succeed; a failed item's outputs are ``None`` in the gathered lists.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flyrun.sandbox.engine.literals import collection_literal, literal_map, none_literal
from flyrun.sandbox.engine.records import USER, NodeRecord
from flyrun.sandbox.engine.runtime import Aborted, ArrayItem, ExecuteNode, NodeFailed, RunContext, Scope


def item_inputs(inputs: Any, bound: set[str], index: int) -> Any:
    return literal_map({name: (literal.collection.literals[index]
                               if name not in bound and literal.HasField("collection") else literal)
                        for name, literal in inputs.literals.items()})


def item_count(inputs: Any, bound: set[str]) -> int:
    sizes = {name: len(literal.collection.literals) for name, literal in inputs.literals.items()
             if name not in bound and literal.HasField("collection")}
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"{name}: {size}" for name, size in sorted(sizes.items()))
        raise NodeFailed.of("InvalidArrayLength", f"the mapped inputs have different lengths ({detail})", USER)
    return next(iter(sizes.values()), 0)


def required_successes(array: Any, total: int) -> int:
    criteria = array.WhichOneof("success_criteria")
    if criteria == "min_successes":
        return min(array.min_successes, total)
    ratio = array.min_success_ratio if criteria == "min_success_ratio" else 1.0
    return math.ceil(total * ratio)


def run_array(ctx: RunContext, record: NodeRecord, node: Any, inputs: Any, scope: Scope, execute: ExecuteNode) -> Any:
    array = node.array_node
    bound = set(array.bound_inputs)
    total = item_count(inputs, bound)
    needed = required_successes(array, total)
    allowed_failures = total - needed
    scope = scope.child()
    results: list[Any] = [None] * total
    errors: dict[int, BaseException] = {}
    record.note(items={"total": total, "succeeded": 0, "failed": 0})

    def one(index: int) -> None:
        unique_id = f"{record.node_id}-0-{index}"
        try:
            item = ArrayItem(index, ctx.node_dir(record.node_id) / "inputs.pb")
            results[index] = execute(ctx, array.node, item_inputs(inputs, bound, index), unique_id,
                                     record.node_id, scope, item=item)
        except (NodeFailed, Aborted) as error:
            errors[index] = error
            if len(errors) > allowed_failures and not array.run_all_sub_nodes:
                scope.stop()
        done = sum(r is not None for r in results)
        record.note(items={"total": total, "succeeded": done, "failed": len(errors)})

    workers = array.parallelism if array.WhichOneof("parallelism_option") and array.parallelism else total
    with ThreadPoolExecutor(max_workers=max(1, min(workers, total, 4 * (os.cpu_count() or 1), 64))) as pool:
        list(pool.map(one, range(total)))
    if ctx.root.stopped:
        raise Aborted()
    if len(errors) > allowed_failures:
        raise _array_failure(errors, total, needed)
    return _gather(ctx, array.node, results)


def _array_failure(errors: dict[int, BaseException], total: int, needed: int) -> NodeFailed:
    failed = {i: e for i, e in errors.items() if isinstance(e, NodeFailed)}
    stopped = len(errors) - len(failed)
    first = min(failed) if failed else min(errors)
    reason = failed[first].error.message if failed else "aborted"
    more = f", {stopped} stopped early" if stopped else ""
    return NodeFailed.of("ArrayNodeFailed", f"{len(failed)} of {total} items failed ({needed} needed to succeed"
                                            f"{more}); item {first}: {reason}", USER)


def _gather(ctx: RunContext, sub_node: Any, results: list[Any]) -> Any:
    names: list[str] = []
    if sub_node.HasField("task_node"):
        names = list(ctx.task(sub_node.task_node.reference_id).interface.outputs.variables)
    for result in results:
        if result is not None:
            names += [n for n in result.literals if n not in names]
    gathered = {}
    for name in names:
        items = [r.literals[name] if r is not None and name in r.literals else none_literal() for r in results]
        gathered[name] = collection_literal(items)
    return literal_map(gathered)
