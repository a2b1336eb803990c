"""Hand-built Flyte entities for sandbox tests, as protojson request bodies.

The tasks are what propeller runs: container args with ``{{.input}}`` and ``{{.outputPrefix}}`` that a small
``python -c`` script fills by reading ``inputs.pb`` and writing ``outputs.pb`` (or ``error.pb``) with flyteidl.
"""

from __future__ import annotations

import sys
import textwrap
import time
from typing import Any

import requests

PROJECT, DOMAIN = "flytesnacks", "development"
INT = {"simple": "INTEGER"}
STR = {"simple": "STRING"}
BOOL = {"simple": "BOOLEAN"}

# The script prelude: read the inputs, give the body `inputs` (a dict of Python values) and `write(outputs)`.
PRELUDE = """
import os, sys, time
from flyteidl.core import literals_pb2, errors_pb2
_m = literals_pb2.LiteralMap(); _m.ParseFromString(open(sys.argv[1], 'rb').read())
def _value(l):
    if l.HasField('collection'):
        return [_value(i) for i in l.collection.literals]
    p = l.scalar.primitive
    k = p.WhichOneof('value')
    return getattr(p, k) if k else None
inputs = {k: _value(v) for k, v in _m.literals.items()}
out_dir = sys.argv[2]
def _literal(v, l):
    if isinstance(v, bool): l.scalar.primitive.boolean = v
    elif isinstance(v, int): l.scalar.primitive.integer = v
    elif isinstance(v, float): l.scalar.primitive.float_value = v
    else: l.scalar.primitive.string_value = str(v)
def write(outputs):
    o = literals_pb2.LiteralMap()
    for k, v in outputs.items():
        _literal(v, o.literals[k])
    open(os.path.join(out_dir, 'outputs.pb'), 'wb').write(o.SerializeToString())
def fail(message, recoverable=False):
    d = errors_pb2.ErrorDocument()
    d.error.code = 'USER:ValueError'; d.error.message = message; d.error.origin = 1
    d.error.kind = 1 if recoverable else 0
    open(os.path.join(out_dir, 'error.pb'), 'wb').write(d.SerializeToString())
    sys.exit(1)
"""


def ident(kind: str, name: str, version: str = "v1") -> dict[str, str]:
    return {"resource_type": kind, "project": PROJECT, "domain": DOMAIN, "name": name, "version": version}


def variables(spec: dict[str, Any]) -> dict[str, Any]:
    return {"variables": {name: {"type": t, "description": ""} for name, t in spec.items()}}


def task(name: str, body: str, inputs: dict[str, Any], outputs: dict[str, Any], version: str = "v1",
         retries: int = 0, timeout: str | None = None, task_type: str = "python-task") -> dict[str, Any]:
    """A TaskCreateRequest whose container runs ``body`` (Python, after PRELUDE) as the task."""
    tid = ident("TASK", name, version)
    script = PRELUDE + textwrap.dedent(body)
    metadata: dict[str, Any] = {"runtime": {"type": "FLYTE_SDK", "version": "1.0", "flavor": "python"},
                                "retries": {"retries": retries}}
    if timeout:
        metadata["timeout"] = timeout
    return {"id": tid, "spec": {"template": {
        "id": tid, "type": task_type, "metadata": metadata,
        "interface": {"inputs": variables(inputs), "outputs": variables(outputs)},
        "container": {"image": "python:3.11", "args": [sys.executable, "-c", script, "{{.input}}",
                                                        "{{.outputPrefix}}"]}}}}


def promise(node: str, var: str) -> dict[str, Any]:
    return {"promise": {"node_id": node, "var": var}}


def integer(value: int) -> dict[str, Any]:
    return {"scalar": {"primitive": {"integer": str(value)}}}


def task_node(node_id: str, task_request: dict[str, Any], bindings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    node = {"id": node_id, "metadata": {"name": task_request["id"]["name"]},
            "inputs": [{"var": var, "binding": b} for var, b in bindings.items()],
            "task_node": {"reference_id": task_request["id"]}}
    node.update(extra)
    return node


def workflow(name: str, inputs: dict[str, Any], outputs: dict[str, Any], nodes: list[dict[str, Any]],
             output_bindings: dict[str, Any], version: str = "v1",
             sub_workflows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    wid = ident("WORKFLOW", name, version)
    return {"id": wid, "spec": {"template": workflow_template(wid, inputs, outputs, nodes, output_bindings),
                                "sub_workflows": sub_workflows or []}}


def workflow_template(wid: dict[str, str], inputs: dict[str, Any], outputs: dict[str, Any],
                      nodes: list[dict[str, Any]], output_bindings: dict[str, Any]) -> dict[str, Any]:
    return {"id": wid, "metadata": {}, "interface": {"inputs": variables(inputs), "outputs": variables(outputs)},
            "nodes": nodes, "outputs": [{"var": v, "binding": b} for v, b in output_bindings.items()]}


def launch_plan(workflow_request: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    wid = workflow_request["id"]
    parameters = {name: {"var": {"type": t}, "default": value} for name, (t, value) in (defaults or {}).items()}
    return {"id": dict(wid, resource_type="LAUNCH_PLAN"),
            "spec": {"workflow_id": wid, "default_inputs": {"parameters": parameters}, "fixed_inputs": {}}}


class Client:
    """A thin REST client for tests: the raw ``requests`` responses, plus polling helpers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url + path, json=body, timeout=30, **kwargs)

    def register(self, *requests_: dict[str, Any]) -> None:
        """Create tasks, workflows and launch plans (by their id's resource type), tolerating 409."""
        paths = {"TASK": "/api/v1/tasks", "WORKFLOW": "/api/v1/workflows", "LAUNCH_PLAN": "/api/v1/launch_plans"}
        for request in requests_:
            response = self.post(paths[request["id"]["resource_type"]], request)
            assert response.status_code in (200, 409), response.text

    def launch(self, reference: dict[str, Any], inputs: dict[str, Any] | None = None, name: str | None = None,
               **spec: Any) -> str:
        body = {"project": PROJECT, "domain": DOMAIN, "spec": {"launch_plan": reference, **spec},
                "inputs": {"literals": inputs or {}}}
        if name:
            body["name"] = name
        response = self.post("/api/v1/executions", body)
        assert response.status_code == 200, response.text
        return response.json()["id"]["name"]

    def execution(self, name: str) -> dict[str, Any]:
        return self.get(f"/api/v1/executions/{PROJECT}/{DOMAIN}/{name}").json()

    def wait(self, name: str, timeout: float = 60, phases: tuple[str, ...] = ("QUEUED", "RUNNING")) -> dict[str, Any]:
        """Poll until the execution leaves ``phases``."""
        deadline = time.monotonic() + timeout
        while True:
            execution = self.execution(name)
            if execution["closure"]["phase"] not in phases:
                return execution
            assert time.monotonic() < deadline, f"execution {name} still {execution['closure']['phase']}"
            time.sleep(0.05)

    def nodes(self, name: str, parent: str | None = None) -> dict[str, dict[str, Any]]:
        params = {"limit": 1000, **({"unique_parent_id": parent} if parent else {})}
        response = self.get(f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/{name}", params=params)
        return {n["id"]["node_id"]: n for n in response.json()["node_executions"]}

    def wait_for_node(self, name: str, node_id: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = self.get(f"/api/v1/node_executions/{PROJECT}/{DOMAIN}/{name}/{node_id}")
            if response.status_code == 200 and response.json()["closure"]["phase"] == phase:
                return response.json()
            assert time.monotonic() < deadline, f"node {node_id} of {name} never reached {phase}"
            time.sleep(0.05)

    def outputs(self, name: str) -> dict[str, Any]:
        return self.get(f"/api/v1/data/executions/{PROJECT}/{DOMAIN}/{name}").json()["full_outputs"]["literals"]

    def signal(self, name: str, signal_id: str, value: dict[str, Any]) -> requests.Response:
        return self.post("/api/v1/signals", {"id": {"signal_id": signal_id, "execution_id": {
            "project": PROJECT, "domain": DOMAIN, "name": name}}, "value": value})


# -- a few ready-made entities --------------------------------------------------------------------------------
SQUARE = task("tests.square", "write({'o0': inputs['x'] * inputs['x']})", {"x": INT}, {"o0": INT})
ADD = task("tests.add", "write({'o0': inputs['a'] + inputs['b']})", {"a": INT, "b": INT}, {"o0": INT})


def square_twice() -> dict[str, Any]:
    """wf(x) = square(square(x))."""
    return workflow("tests.square_twice", {"x": INT}, {"o0": INT},
                    [task_node("n0", SQUARE, {"x": promise("start-node", "x")}),
                     task_node("n1", SQUARE, {"x": promise("n0", "o0")})],
                    {"o0": promise("n1", "o0")})


def square_twice_plan() -> dict[str, Any]:
    """The launch plan of square_twice, with x defaulting to 2 (one definition: the server is shared)."""
    return launch_plan(square_twice(), {"x": (INT, integer(2))})


def approve_workflow(name: str = "tests.approved") -> dict[str, Any]:
    """square(x) -> approve(.., "review") -> add(it, 1)."""
    gate = {"id": "n1", "metadata": {"name": "review", "timeout": "600s"},
            "inputs": [{"var": "o0", "binding": promise("n0", "o0")}],
            "gate_node": {"approve": {"signal_id": "review"}}}
    return workflow(name, {"x": INT}, {"o0": INT},
                    [task_node("n0", SQUARE, {"x": promise("start-node", "x")}), gate,
                     task_node("n2", ADD, {"a": promise("n1", "o0"), "b": integer(1)})],
                    {"o0": promise("n2", "o0")})
