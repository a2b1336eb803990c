"""Every JSON body the client sends parses strictly into its flyteidl request message.

The `remote` fixture checks this after every test that uses it; here one session touches every route that
carries a body, so none goes unchecked, and the check itself is shown to catch what FlyteAdmin would refuse.
"""

from __future__ import annotations

import json

import pytest
from remote_projects import write_shop, write_stages
from remote_support import BODY_MESSAGES, Call, message_for, strict_errors


@pytest.mark.slow
def test_every_route_with_a_body_is_sent_and_parses_strictly(remote, tmp_path):
    shop, stages = write_shop(tmp_path), write_stages(tmp_path)
    assert remote("register", str(shop.root / "shop"), "--version", "wire-1").exit_code == 0
    assert remote("run", "--remote", str(shop.flow), "inventory", *shop.inputs, cwd=shop.work).exit_code == 0
    asks = remote("run", "--remote", "-o", "json", str(stages), "asks")
    assert asks.exit_code == 0, asks.output
    name = json.loads(asks.stdout)["execution"]["name"]
    assert remote("set-input", name, "count", "2", "--retry-for", "30").exit_code == 0
    sleepy = remote("run", "--remote", "-o", "json", "--labels", "team=data", "--annotations", "a=b", "--tags", "t1",
                    "-e", "K=V", "--service-account", "robot", "--max-parallelism", "2", "--overwrite-cache",
                    "--raw-output-data-prefix", str(tmp_path / "raw"), "--name", "wire-sleepy", str(stages), "sleepy")
    assert sleepy.exit_code == 0, sleepy.output
    assert remote("executions", "terminate", "wire-sleepy").exit_code == 0

    calls = remote.proxy.calls()
    sent = {(c.method, message_for(c.method, c.path).__name__) for c in calls if c.body and c.path.startswith("/api/")}
    expected = {(method, name) for method, _, _, name in BODY_MESSAGES if name != "LaunchPlanUpdateRequest"}
    assert sent == expected  # (flyrun activates no launch plan: it registers no schedules)
    assert strict_errors(calls) == []
    # The sandbox advertises binary protobuf (Accept-Post), so registrations go that way; everything else is JSON.
    registrations = [c for c in calls if c.path in ("/api/v1/tasks", "/api/v1/workflows", "/api/v1/launch_plans")]
    assert registrations and all(c.binary and c.content_type == "application/x-protobuf" for c in registrations)
    assert not [c for c in calls if c.body and c.path.startswith("/api/") and c.binary and c not in registrations]
    created = [c.json for c in calls if c.path == "/api/v1/executions" and c.json.get("name") == "wire-sleepy"]
    spec = created[0]["spec"]
    assert spec["labels"] == {"values": {"team": "data"}} and spec["tags"] == ["t1"]
    assert spec["security_context"] == {"run_as": {"k8s_service_account": "robot"}}
    assert spec["envs"] == {"values": [{"key": "K", "value": "V"}]} and spec["max_parallelism"] == 2


def test_the_check_refuses_unknown_fields_and_unknown_routes():
    bodies = [Call("POST", "/api/v1/executions", b'{"project": "p", "domain": "d", "spec": {"bogus": 1}}', 200),
              Call("POST", "/api/v1/signals", b'{"id": {"signal_id": "g"}, "value": {"scalar": 1}}', 200),
              Call("POST", "/api/v1/somewhere", b"{}", 404),
              Call("PUT", "/sandbox/blobs/put/x", b"\x00\x01 file bytes", 200),
              Call("POST", "/api/v1/tasks", b'{"id": {"resource_type": "TASK", "name": "t"}}', 200)]
    problems = strict_errors(bodies)
    assert len(problems) == 3
    assert "ExecutionCreateRequest" in problems[0] and "bogus" in problems[0]
    assert "SignalSetRequest" in problems[1]
    assert problems[2].startswith("POST /api/v1/somewhere: no flyteidl message")


def test_the_check_refuses_binary_bodies_with_unknown_fields_at_any_depth():
    from flyteidl.admin import task_pb2

    request = task_pb2.TaskCreateRequest()
    request.id.name = "t"
    request.spec.template.container.image = "i"
    good = request.SerializeToString()
    inner = request.id.SerializeToString() + b"\xf8\x07\x01"  # field number 127, unknown to Identifier
    nested = b"\x0a" + bytes([len(inner)]) + inner + task_pb2.TaskCreateRequest(spec=request.spec).SerializeToString()
    kind = "application/x-protobuf"
    problems = strict_errors([Call("POST", "/api/v1/tasks", good, 200, kind),
                              Call("POST", "/api/v1/tasks", nested, 200, kind),
                              Call("POST", "/api/v1/tasks", good + b"\xf8\x07\x01", 200, kind),
                              Call("POST", "/api/v1/tasks", b"\xff\xff", 200, kind)])
    assert len(problems) == 3
    assert problems[0] == ("POST /api/v1/tasks as binary TaskCreateRequest: unknown field number 127 in "
                           "TaskCreateRequest.id")
    assert problems[1].endswith("unknown field number 127 in TaskCreateRequest")
    assert problems[2].startswith("POST /api/v1/tasks as binary TaskCreateRequest: ")
