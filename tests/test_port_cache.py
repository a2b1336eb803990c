"""flytekit's ``Cache``/``CachePolicy`` under flyrun: local runs honour ``ignored_inputs``, `flyrun package` writes
the cache settings as `pyflyte package` does (same file, packaged by both), bad settings are one line, and the
sandbox takes the registration and runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from flytekit_support import clean_env, pyflyte_program

# A flytekit program: run by flyrun in compatibility mode and packaged by pyflyte as written.
FLYTEKIT_FLOWS = '''
import os
from pathlib import Path

from flytekit import Cache, task, workflow


class Pepper:
    """A cache policy of the user's: the version follows the salt and the function's name."""

    def get_version(self, salt, params):
        return f"{salt}:{params.func.__name__}"


def note(text):
    log = os.environ.get("CACHE_TEST_LOG")
    if log:
        with Path(log).open("a") as file:
            file.write(text + "\\n")


@task(cache=Cache(version="1", serialize=True, ignored_inputs=("x",)))
def add(x: int, y: int) -> int:
    note(f"add {x} {y}")
    return x + y


@task(cache=Cache(policies=[Pepper()], salt="s", ignored_inputs="note"))
def scaled(y: int, note: str) -> int:
    return 2 * y


@task(cache=True, cache_version="2")
def legacy(y: int) -> int:
    return y


@workflow
def wf(x: int, y: int) -> int:
    return legacy(y=scaled(y=add(x=x, y=y), note="n"))


@workflow
def overridden(y: int) -> int:
    return legacy(y=y).with_overrides(cache=Cache(version="7", serialize=True))
'''


def _flows(root: Path) -> Path:
    path = root / "pk" / "flows.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    (root / "pk" / "__init__.py").write_text("")
    path.write_text(FLYTEKIT_FLOWS)
    return path


def test_a_run_differing_only_in_an_ignored_input_hits_the_cache(cli, tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("CACHE_TEST_LOG", str(log))
    flows = _flows(tmp_path / "proj")
    outputs = []
    for x, y in ((1, 5), (2, 5), (2, 6)):
        done = cli("run", "--flytekit-compat", "-o", "json", str(flows), "add", "--x", str(x), "--y", str(y))
        assert done.exit_code == 0, done.output
        outputs.append(json.loads(done.stdout)["outputs"]["o0"])
    # x is ignored: (2, 5) reuses (1, 5)'s outputs, as Flyte's cache would; y is not: (2, 6) runs.
    assert outputs == [6, 6, 8]
    assert log.read_text().splitlines() == ["add 1 5", "add 2 6"]


@pytest.mark.slow
def test_cache_settings_serialize_as_pyflyte_package_writes_them(cli, tmp_path):
    pytest.importorskip("flytekit", reason="flytekit is in the test extra")
    from flyteidl.admin import task_pb2, workflow_pb2
    from google.protobuf import json_format

    root = tmp_path / "proj"
    _flows(root)
    archive = tmp_path / "pyflyte.tgz"
    done = subprocess.run([pyflyte_program("pyflyte"), "--pkgs", "pk", "package", "--image", "img:1", "-o",
                           str(archive)], cwd=root, capture_output=True, text=True, timeout=180,
                          env=clean_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    import tarfile

    theirs, their_nodes = {}, {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.endswith("_2.pb"):
                workflow = workflow_pb2.WorkflowSpec.FromString(tar.extractfile(member).read())
                their_nodes[workflow.template.id.name] = [
                    json_format.MessageToDict(node.metadata, preserving_proto_field_name=True)
                    for node in workflow.template.nodes]
            if member.name.endswith("_1.pb"):
                spec = task_pb2.TaskSpec.FromString(tar.extractfile(member).read())
                theirs[spec.template.id.name] = json_format.MessageToDict(spec.template.metadata,
                                                                          preserving_proto_field_name=True)
    out = tmp_path / "flyrun-out"
    packaged = cli("package", "--flytekit-compat", str(root / "pk" / "flows.py"), "--output-dir", str(out),
                   "--image", "img:1")
    assert packaged.exit_code == 0, packaged.output
    keys = ("discoverable", "discovery_version", "cache_serializable", "cache_ignore_input_vars")
    for name in ("pk.flows.add", "pk.flows.scaled", "pk.flows.legacy"):
        ours = json.loads((out / "tasks" / f"{name}.json").read_text())["template"]["metadata"]
        assert {k: ours.get(k) for k in keys} == {k: theirs[name].get(k) for k in keys}, name
    # with_overrides(cache=Cache(version=..., serialize=...)) on a node: its NodeMetadata, as pyflyte writes it.
    [node] = json.loads((out / "workflows" / "pk.flows.overridden.json").read_text())["template"]["nodes"]
    [their_node] = their_nodes["pk.flows.overridden"]
    keys = ("cacheable", "cache_version", "cache_serializable")
    assert {k: node["metadata"].get(k) for k in keys} == {k: their_node.get(k) for k in keys} == {
        "cacheable": True, "cache_version": "7", "cache_serializable": True}
    # The policy's version is the sha256 of what the policies return, joined, as flytekit computes it.
    import hashlib

    assert theirs["pk.flows.scaled"]["discovery_version"] == hashlib.sha256(b"s:scaled").hexdigest()


def test_cache_and_cache_policy_are_flytekits_names():
    import flyrun
    from flyrun.core.cache import Cache, CachePolicy, VersionParameters

    assert flyrun.Cache is Cache and flyrun.CachePolicy is CachePolicy

    class Fixed:
        def get_version(self, salt: str, params: VersionParameters) -> str:
            return "v" + salt

    assert isinstance(Fixed(), CachePolicy)
    cache = Cache(policies=Fixed(), salt="1", ignored_inputs="a")
    assert cache.get_ignored_inputs() == ("a",)
    assert cache.get_version(VersionParameters(func=len)) == __import__("hashlib").sha256(b"v1").hexdigest()
    assert Cache(version="3").get_version(VersionParameters(func=len)) == "3"


@pytest.mark.parametrize(("setting", "message"), [
    ("cache=Cache(version=3)", "Cache: version must be a non-empty string, not 3"),
    ("cache=Cache()", "Cache: give a version or at least one cache policy to compute one"),
    ("cache=Cache(version='1', policies=['x'])", "Cache: 'x' is not a cache policy"),
    ("cache=Cache(version='1', ignored_inputs=('z',))",
     "task 'flows.t': the cache's ignored inputs name no input of the task: z"),
    ("cache=Cache(version='1', ignored_inputs=3)", "Cache: ignored_inputs must be an input name or a tuple"),
    ("cache=Cache(version='1'), cache_version='2'", "cache=Cache(...) replaces cache_version, cache_serialize"),
    ("cache=Cache(policies=[Broken()])", "Cache: cache policy Broken failed to compute a version (KeyError"),
    ("cache='yes'", "cache must be True, False or a Cache(...), not 'yes'"),
    ("cache_ignore_input_vars=('q',), cache=True, cache_version='1'", "ignored inputs name no input of the task: q"),
])
def test_bad_cache_settings_are_one_line(cli, project, setting, message):
    root = project({"flows.py": f'''
        from flyrun import Cache, task

        class Broken:
            def get_version(self, salt, params):
                raise KeyError("nope")

        @task({setting})
        def t(x: int) -> int:
            return x
        '''})
    done = cli("run", str(root / "flows.py"), "t", "--x", "1")
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert message in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert len([line for line in lines if not line.lower().startswith("hint:")]) == 1, done.stderr


def test_a_node_cache_override_needs_a_version(cli, project):
    root = project({"flows.py": '''
        from flyrun import Cache, task, workflow

        class Fixed:
            def get_version(self, salt, params):
                return "1"

        @task
        def t(x: int) -> int:
            return x

        @workflow
        def wf(x: int) -> int:
            return t(x=x).with_overrides(cache=Cache(policies=[Fixed()]))
        '''})
    done = cli("run", str(root / "flows.py"), "wf", "--x", "1")
    assert done.exit_code == 2, done.output
    assert "with_overrides on node n0 (flows.t): cache=Cache(...) on a node needs a version" in done.stderr


def test_a_plain_cached_task_loads_no_cache_module(flyrun_process, project):
    root = project({"flows.py": '''
        import sys
        from flyrun import task

        @task(cache=True, cache_version="1")
        def t(x: int) -> str:
            return str("flyrun.sdk.cache" in sys.modules)
        '''})
    done = flyrun_process("run", str(root / "flows.py"), "t", "--x", "1")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == "o0: False"


@pytest.mark.slow
def test_cache_settings_register_and_run_on_the_sandbox(remote, tmp_path):
    flows = _flows(tmp_path / "proj")
    done = remote("run", "--flytekit-compat", "--remote", "--wait", "-o", "json", str(flows), "wf", "--x", "1",
                  "--y", "2")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"o0": 6}
