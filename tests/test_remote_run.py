"""`flyrun run --remote` and `flyrun register` end to end against `flyrun sandbox`, through a recording proxy that
checks every body sent (tests/remote_support.py). The map over a partial, the approve gate and files on S3 are in
tests/test_sandbox_remote.py."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
from conftest import REPO
from remote_projects import BOXES_INPUTS, write_boxes, write_shop

pytestmark = pytest.mark.slow

OUTPUT_TEXT = ["o0: 3 lines; files: one.txt, sub/two.txt", "o1: 3"]
OUTPUTS = {"o0": "3 lines; files: one.txt, sub/two.txt", "o1": 3}


@pytest.fixture
def shop(tmp_path):
    return write_shop(tmp_path)


def test_a_package_runs_from_another_folder_with_local_file_and_folder_inputs(remote, shop):
    done = remote("run", "--remote", "--wait", str(shop.flow), "inventory", *shop.inputs, cwd=shop.work)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == OUTPUT_TEXT  # results only: progress lines are on stderr
    lines = done.stderr.splitlines()
    launched = next(i for i, line in enumerate(lines) if line.startswith("Execution "))
    assert "(launch_plan flytesnacks/development/shop.flow.inventory@" in lines[launched]
    assert lines[launched + 1].startswith("Go to http://")
    assert lines[launched + 1].endswith(" to see execution in the console.")
    assert "  n2: SUCCEEDED" in done.stderr.splitlines()  # node progress: plain lines on stderr without a TTY

    uploads = [c.json for c in remote.proxy.calls() if c.path == "/api/v1/dataproxy/artifact_urn"]
    assert {u["filename"] for u in uploads} >= {"notes.txt", "one.txt", "sub/two.txt"}
    created = [c.json for c in remote.proxy.calls() if c.method == "POST" and c.path == "/api/v1/executions"]
    inputs = created[0]["inputs"]["literals"]
    assert inputs["fd"]["scalar"]["blob"]["metadata"]["type"]["dimensionality"] == "MULTIPART"
    for name in ("ff", "fd"):  # the uploaded copies (the sandbox's data proxy stores under blobs/uploads)
        assert "/blobs/uploads/flytesnacks/development/" in inputs[name]["scalar"]["blob"]["uri"]
    assert inputs["ff"]["scalar"]["blob"]["uri"].endswith("/notes.txt")

    as_json = remote("run", "--remote", "--wait", "-o", "json", str(shop.flow), "inventory", *shop.inputs,
                     cwd=shop.work)
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)  # exactly one document: json.loads refuses anything after it
    assert document["phase"] == "SUCCEEDED" and document["outputs"] == OUTPUTS
    assert document["execution"]["url"].endswith(f"/executions/{document['execution']['name']}")
    assert document["registration"]["created"] == [] and not document["registration"]["bundle_uploaded"]
    assert "  n2: SUCCEEDED" in as_json.stderr.splitlines()


def test_an_unchanged_project_uploads_nothing_and_a_change_registers_a_new_version(remote, shop):
    args = ("run", "--remote", "-o", "json", str(shop.flow), "inventory", *shop.inputs)
    first = remote(*args, cwd=shop.work)
    assert first.exit_code == 0, first.output
    remote.proxy.clear()
    again = remote(*args, cwd=shop.work)
    assert again.exit_code == 0, again.output
    calls = remote.proxy.calls()
    assert not [c for c in calls if c.method == "PUT"], "nothing is uploaded again"
    bundle = [c for c in calls if c.path == "/api/v1/dataproxy/artifact_urn" and c.json["filename"].startswith("fast")]
    assert [c.status for c in bundle] == [409, 200]  # "do you have it?" -> yes; then where it is
    assert "content_md5" not in bundle[0].json and "content_md5" in bundle[1].json
    registrations = [c for c in calls if c.path in ("/api/v1/tasks", "/api/v1/workflows", "/api/v1/launch_plans")]
    assert len(registrations) == 5 and {c.status for c in registrations} == {409}
    # the bundle (2), the file (2) and the folder (2), five registrations, the execution
    assert [c.route for c in calls].count("POST /api/v1/dataproxy") == 6 and len(calls) == 12
    registered = json.loads(again.stdout)["registration"]
    assert registered["version"] == json.loads(first.stdout)["registration"]["version"]
    assert registered["created"] == [] and len(registered["existing"]) == 5

    with open(shop.root / "shop" / "tasks.py", "a") as source:
        source.write("\n# a change\n")
    remote.proxy.clear()
    changed = remote(*args, cwd=shop.work)
    assert changed.exit_code == 0, changed.output
    registered = json.loads(changed.stdout)["registration"]
    assert registered["version"] != json.loads(first.stdout)["registration"]["version"]
    assert registered["bundle_uploaded"] and len(registered["created"]) == 5
    puts = [c for c in remote.proxy.calls() if c.method == "PUT"]
    assert len(puts) == 1 and puts[0].status in (200, 201)  # the new bundle only; the inputs did not change


def test_register_a_folder_then_launch_what_only_the_server_has(remote, shop):
    registered = remote("register", str(shop.root / "shop"), "--version", "v1", "-o", "json", cwd=shop.work)
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["version"] == "v1"
    flow = shop.root / "shop" / "flow.py"
    flow.write_text(flow.read_text().replace('f"{lines} lines;', 'f"{lines} line(s);'))
    clash = remote("register", str(shop.root / "shop"), "--version", "v1", cwd=shop.work)
    assert clash.exit_code == 2 and clash.stdout == ""
    assert clash.stderr.splitlines()[-2].endswith("@v1 is already registered with a different definition")
    assert clash.stderr.splitlines()[-1] == "Hint: change the version (--version) or the code"
    second = remote("register", str(shop.root / "shop"), "--version", "v2", cwd=shop.work)
    assert second.exit_code == 0, second.output
    assert "registered launch_plan flytesnacks/development/shop.flow.inventory@v2" in second.stdout.splitlines()
    assert second.stdout.splitlines()[-1] == "version: v2"

    # shop.work has no Python files: the name can only be the server's, at its latest version
    latest = remote("run", "--remote", "--wait", "shop.flow.inventory", *shop.inputs, cwd=shop.work)
    assert latest.exit_code == 0, latest.output
    assert any(line.startswith("Execution ") and "@v2)." in line for line in latest.stderr.splitlines())
    assert latest.stdout.splitlines() == ["o0: 3 line(s); files: one.txt, sub/two.txt", "o1: 3"], latest.output
    pinned = remote("run", "--remote", "--wait", "--version", "v1", "shop.flow.inventory", *shop.inputs,
                    cwd=shop.work)
    assert pinned.exit_code == 0, pinned.output
    assert pinned.stdout.splitlines() == OUTPUT_TEXT
    task = remote("run", "--remote", "--wait", "-o", "json", "--version", "v1", "shop.tasks.count_lines",
                  "--ff", "notes.txt", cwd=shop.work)
    assert task.exit_code == 0, task.output
    assert json.loads(task.stdout)["outputs"] == {"o0": 3}
    remote.proxy.clear()
    dry = remote("run", "--remote", "--dry-run", "-o", "json", "shop.flow.inventory", *shop.inputs, cwd=shop.work)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {"launch": {"resource_type": "LAUNCH_PLAN", "project": "flytesnacks",
                                                 "domain": "development", "name": "shop.flow.inventory",
                                                 "version": "v2"}, "inputs": ["fd", "ff"]}
    assert {c.method for c in remote.proxy.calls()} == {"GET"}  # looked up, nothing sent
    missing = remote("run", "--remote", "--version", "v9", "shop.flow.inventory", *shop.inputs, cwd=shop.work)
    assert missing.exit_code == 2
    assert missing.stderr.splitlines()[0] == ("Error: no workflow or task named 'shop.flow.inventory' at version v9 "
                                              "in the Python files here or on the server (flytesnacks/development)")


def test_a_name_that_exists_is_taken_as_the_same_execution_with_a_warning(remote, tmp_path):
    hello = str(REPO / "examples" / "hello.py")
    first = remote("run", "--remote", "--wait", "--name", "same-name-twice", hello, "wf", "--x", "2")
    assert first.exit_code == 0, first.output
    second = remote("run", "--remote", "--wait", "-o", "json", "--name", "same-name-twice", hello, "wf", "--x", "7")
    assert second.exit_code == 0, second.output
    assert ("Warning: execution same-name-twice already exists; assuming it is the same execution (its inputs are "
            "not compared)") in second.stderr.splitlines()
    assert json.loads(second.stdout)["outputs"] == {"o0": "Hello world, the answer is 4"}


def test_without_wait_the_launch_lines_are_progress_on_stderr(remote):
    done = remote("run", "--remote", str(REPO / "examples" / "hello.py"), "wf", "--x", "1")
    assert done.exit_code == 0, done.output
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert any(line.startswith("Execution ") and " launched (launch_plan " in line for line in lines), lines
    assert any(line.startswith("Go to http") for line in lines), lines


def test_on_a_terminal_wait_draws_a_live_table_of_the_nodes(remote, tmp_path):
    """stderr on a pseudo-terminal: rich redraws one table of nodes and phases instead of printing lines."""
    primary, secondary = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(tmp_path), TERM="xterm")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "flyrun.cli.main", "-c", str(remote.config), "run", "--remote",
                             "--wait", str(REPO / "examples" / "hello.py"), "wf", "--x", "3"],
                            stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL, env=env, text=True)
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other end closed: the process is gone
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    stdout = proc.stdout.read()
    assert proc.wait(timeout=60) == 0, drawn
    assert stdout == "o0: Hello world, the answer is 9\n"  # the launch lines and the table are on stderr
    text = drawn.decode()
    assert "\x1b[2K" in text and "\x1b[32mSUCCEEDED" in text  # lines redrawn in place, phases in colour
    assert "  n1: SUCCEEDED" not in text  # no plain progress lines


def test_a_registered_workflow_takes_dataclasses_enums_dicts_and_files_by_name(remote, tmp_path):
    """Launched by name, the inputs are built from the server's interface alone, and accept what a launch from
    the file accepts: dataclasses (nested, in lists and maps), enums, a plain dict, a file and a folder."""
    boxes = write_boxes(tmp_path)
    local = remote("run", str(boxes.flow), "pack", *BOXES_INPUTS, cwd=boxes.work)
    expected = "o0: a,b 5 blue ['k'] hi ['one.txt'] int Color"
    assert local.exit_code == 0 and local.stdout == expected + "\n", local.output
    registered = remote("register", str(boxes.root), "--version", "boxes-v1", cwd=boxes.work)
    assert registered.exit_code == 0, registered.output

    launched = remote("run", "--remote", "--wait", "boxes.pack", *BOXES_INPUTS, cwd=boxes.work)
    assert launched.exit_code == 0, launched.output
    assert launched.stdout.splitlines() == [expected]  # the launch lines are progress, on stderr
    created = [c.json for c in remote.proxy.calls() if c.method == "POST" and c.path == "/api/v1/executions"]
    literals = created[-1]["inputs"]["literals"]
    from flyrun.types import engine

    assert engine.struct_payload(literals["boxes"]["collection"]["literals"][0], "Box") == (
        {"name": "b", "size": {"width": 2, "height": 1.5}, "color": "blue"}, True)
    assert literals["color"]["scalar"]["primitive"]["string_value"] == "blue"
    assert "/blobs/uploads/" in literals["notes"]["scalar"]["blob"]["uri"]

    shown = remote("run", "--remote", "boxes.pack", "--help", cwd=boxes.work)
    assert shown.exit_code == 0, shown.output
    summary = " ".join(shown.stdout.split())
    assert "first: Box = {'name': 'a', 'size': {'width': 1, 'height': 2.5}, 'color': 'red'}" in summary
    assert "--color [red|blue]" in summary and "= ..." not in summary

    wrong = remote("run", "--remote", "boxes.pack", *BOXES_INPUTS, "--first", '{"name": "c", "colour": "red"}',
                   cwd=boxes.work)
    assert wrong.exit_code == 2
    assert wrong.stderr.splitlines()[0] == ("Error: Invalid value for '--first': Box has no field 'colour' "
                                            "(fields: name, size, color)")


CHAIN3 = '''
from flyrun import task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def chain3(x: int = 0) -> int:
    return inc(x=inc(x=inc(x=x)))
'''


def test_a_server_name_is_launched_from_a_folder_holding_a_file_of_the_same_module_name(remote, tmp_path):
    """`run --remote chain3.chain3` where chain3.py is a script that defines no chain3: the server's entity; where
    chain3.py defines it: the local code, MODULE.ENTITY as one word."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "chain3.py").write_text(CHAIN3)
    registered = remote("register", str(project / "chain3.py"), "--version", "chain3-v1", cwd=tmp_path)
    assert registered.exit_code == 0, registered.output
    work = tmp_path / "work"
    work.mkdir()
    (work / "chain3.py").write_text("print('a script, not a workflow')\n")
    launched = remote("run", "--remote", "--wait", "chain3.chain3", "--x", "4", cwd=work)
    assert launched.exit_code == 0, launched.output
    assert "(launch_plan flytesnacks/development/chain3.chain3@chain3-v1)." in launched.stderr
    assert launched.stdout == "o0: 7\n"
    local_code = remote("run", "--remote", "--wait", "-o", "json", "chain3.chain3", "--x", "1", cwd=project)
    assert local_code.exit_code == 0, local_code.output
    document = json.loads(local_code.stdout)
    assert document["outputs"] == {"o0": 4} and "registration" in document
