"""Ray jobs (flyrun.plugins.ray): serialized as flytekitplugins-ray writes them, run locally with a Ray started for
the task, and run against a separate Ray cluster (a real `ray start --head` on 127.0.0.1) by address, locally
and through `flyrun sandbox`."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO, free_port

# Ray on a shared 2-core machine: no usage reports, no dashboard, and no token the test's peers would not share.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}

CONFIGS = '''
from flyrun import Resources, task, workflow
from flyrun.plugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig

full = RayJobConfig(
    head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1", "log-color": "true"},
                                    requests=Resources(cpu="1", mem="2Gi"), limits=Resources(cpu="2", mem="4Gi")),
    worker_node_config=[WorkerNodeConfig(group_name="workers", replicas=2, min_replicas=1, max_replicas=4,
                                         ray_start_params={"num-cpus": "1"}, requests=Resources(cpu="1"),
                                         limits=Resources(cpu="1", mem="1Gi"))],
    runtime_env={"pip": ["numpy"], "env_vars": {"A": "1"}},
    shutdown_after_job_finishes=True, ttl_seconds_after_finished=60, enable_autoscaling=True,
)


@task(task_config=full)
def t(x: int) -> int:
    return x


@task(task_config=RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="g", replicas=1)],
                               address="ray://h:10001"))
def t2(x: int) -> int:
    return x


@workflow
def wf(x: int) -> int:
    return t2(x=t(x=x))
'''

# What pyflyte package (flytekit 1.16.31 with flytekitplugins-ray 1.16.31) writes for the same program's tasks.
FLYTEKIT_CUSTOM_T = {
    "ttlSecondsAfterFinished": 60.0,
    "runtimeEnvYaml": "env_vars:\n  A: '1'\npip:\n- numpy\n",
    "shutdownAfterJobFinishes": True,
    "rayCluster": {
        "headGroupSpec": {
            "rayStartParams": {"log-color": "true", "num-cpus": "1"},
            "k8sPod": {"primaryContainerName": "primary", "metadata": {}, "podSpec": {"containers": [
                {"resources": {"limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "1", "memory": "2Gi"}},
                 "name": "ray-head"}]}}},
        "enableAutoscaling": True,
        "workerGroupSpec": [{
            "rayStartParams": {"num-cpus": "1"}, "groupName": "workers", "maxReplicas": 4.0, "minReplicas": 1.0,
            "replicas": 2.0,
            "k8sPod": {"primaryContainerName": "primary", "metadata": {}, "podSpec": {"containers": [
                {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1"}},
                 "name": "ray-worker"}]}}}]},
    "runtimeEnv": "eyJwaXAiOiBbIm51bXB5Il0sICJlbnZfdmFycyI6IHsiQSI6ICIxIn19",
}
FLYTEKIT_CUSTOM_T2 = {"rayCluster": {"workerGroupSpec": [
    {"groupName": "g", "maxReplicas": 1.0, "minReplicas": 1.0, "replicas": 1.0}]}}


def test_ray_tasks_serialize_as_flytekitplugins_ray_writes_them(cli, project, tmp_path):
    from flyteidl.admin import task_pb2
    from flyteidl.plugins import ray_pb2
    from google.protobuf import json_format, struct_pb2

    root = project({"rayflow.py": CONFIGS})
    out = tmp_path / "out"
    done = cli("package", str(root / "rayflow.py"), "--output-dir", str(out))
    assert done.exit_code == 0, done.output
    for name, expected in (("t", FLYTEKIT_CUSTOM_T), ("t2", FLYTEKIT_CUSTOM_T2)):
        spec = json.loads((out / "tasks" / f"rayflow.{name}.json").read_text())
        json_format.ParseDict(spec, task_pb2.TaskSpec(), ignore_unknown_fields=False)
        template = spec["template"]
        assert template["type"] == "ray" and "task_type_version" not in template  # flytekit's version 0
        # The custom is a protobuf Struct on the wire, whose numbers are doubles: compare what it becomes there.
        wire = json_format.MessageToDict(json_format.ParseDict(template["custom"], struct_pb2.Struct()))
        assert wire == expected, name
        json_format.ParseDict(template["custom"], ray_pb2.RayJob(), ignore_unknown_fields=False)  # a real RayJob
        assert template["container"]["args"][-4:] == ["task-module", "rayflow", "task-name", name]
    assert "address" not in json.dumps(FLYTEKIT_CUSTOM_T2)  # the address is the task's, not the cluster spec's


def test_pod_templates_and_autoscaler_options_in_the_spec(cli, project, tmp_path):
    root = project({"pods.py": '''
        from flyrun import PodTemplate, Resources, task
        from flyrun.plugins.ray import AutoscalerOptionsConfig, HeadNodeConfig, RayJobConfig, WorkerNodeConfig

        pod = PodTemplate(pod_spec={"containers": [{"name": "ray-head"}], "nodeSelector": {"pool": "ray"}},
                          labels={"team": "ml"})
        config = RayJobConfig(
            head_node_config=HeadNodeConfig(pod_template=pod),
            worker_node_config=[WorkerNodeConfig(group_name="w", replicas=0, max_replicas=3)],
            enable_autoscaling=True,
            autoscaler_options=AutoscalerOptionsConfig(
                upscaling_mode=AutoscalerOptionsConfig.UpscalingMode.AGGRESSIVE, idle_timeout_seconds=30,
                env={"K": "v"}, image="rayproject/ray:2.9.0", requests=Resources(cpu="500m")))

        @task(task_config=config)
        def t() -> None:
            pass
        '''})
    out = tmp_path / "out"
    assert cli("package", str(root / "pods.py"), "--output-dir", str(out)).exit_code == 0
    custom = json.loads((out / "tasks" / "pods.t.json").read_text())["template"]["custom"]
    # flytekit's shapes: K8sPod from the template, worker bounds around the replicas, the autoscaler's options
    assert custom["rayCluster"] == {
        "headGroupSpec": {"k8sPod": {"primaryContainerName": "primary", "metadata": {"labels": {"team": "ml"}},
                                     "podSpec": {"containers": [{"name": "ray-head"}],
                                                 "nodeSelector": {"pool": "ray"}}}},
        "workerGroupSpec": [{"groupName": "w", "maxReplicas": 3}],
        "enableAutoscaling": True,
        "autoscalerOptions": {"upscalingMode": "UPSCALING_MODE_AGGRESSIVE", "idleTimeoutSeconds": 30,
                              "env": [{"key": "K", "value": "v"}], "image": "rayproject/ray:2.9.0",
                              "resources": {"requests": [{"name": "CPU", "value": "500m"}]}}}


@pytest.mark.parametrize(("config", "message"), [
    ("RayJobConfig(worker_node_config=WorkerNodeConfig(group_name='g', replicas=1))",
     "RayJobConfig: worker_node_config must be a list of WorkerNodeConfig(group_name=, replicas=)"),
    ("RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name='g', replicas=-1)])",
     "WorkerNodeConfig 'g': replicas must be a whole number >= 0, not -1"),
    ("RayJobConfig(worker_node_config=[], head_node_config=HeadNodeConfig(ray_start_params={'num-cpus': 1}))",
     "HeadNodeConfig: ray_start_params must be a dict of strings to strings"),
    ("RayJobConfig(worker_node_config=[], address=' ')",
     "RayJobConfig: address must name a Ray cluster (ray://host:10001, host:6379 or auto)"),
])
def test_a_bad_config_is_one_line_naming_the_field(cli, project, config, message):
    root = project({"bad.py": f'''
        from flyrun import task
        from flyrun.plugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig

        @task(task_config={config})
        def t() -> None:
            pass
        '''})
    done = cli("run", str(root / "bad.py"), "t")
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.py:5: " in lines[0] and message in lines[0], done.stderr


def test_a_missing_ray_is_one_line_naming_the_extra(cli, project, monkeypatch):
    root = project({"f.py": '''
        from flyrun import task
        from flyrun.plugins.ray import RayJobConfig

        @task(task_config=RayJobConfig(worker_node_config=[]))
        def t() -> int:
            return 1
        '''})
    monkeypatch.setitem(sys.modules, "ray", None)  # what an import of a missing package raises
    done = cli("run", str(root / "f.py"), "t")
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["Error: Ray task 'f.t' needs ray, which is not installed: pip install 'flyrun[ray]'"], \
        done.stderr


def test_flyrun_and_the_plugin_import_no_ray():
    code = ("import sys, flyrun, flyrun.plugins.ray\n"
            "from flyrun.plugins.ray import RayJobConfig, WorkerNodeConfig\n"
            "RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name='g', replicas=1)])\n"
            "assert 'ray' not in sys.modules, 'ray imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert done.returncode == 0, done.stderr


# -- running Ray -----------------------------------------------------------------------------------------------
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (flyrun[ray])")

LOCAL = '''
from typing import Tuple

import ray

from flyrun import task, workflow
from flyrun.plugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig

HEAD = HeadNodeConfig(ray_start_params={"num-cpus": "1"})
WORKERS = [WorkerNodeConfig(group_name="g", replicas=1)]


@ray.remote
def square(x: int) -> int:
    return x * x


@task(task_config=RayJobConfig(head_node_config=HEAD, worker_node_config=WORKERS))
def squares(n: int) -> int:
    assert ray.cluster_resources()["CPU"] == 1  # the head node's num-cpus
    return sum(ray.get([square.remote(i) for i in range(n)]))


@task
def alive(after: int) -> bool:
    return ray.is_initialized()


@task(task_config=RayJobConfig(head_node_config=HEAD, worker_node_config=WORKERS, shutdown_after_job_finishes=False))
def node(after: bool) -> str:
    return ray.get_runtime_context().get_node_id()


@task
def still_alive(after: str) -> bool:
    return ray.is_initialized()


@workflow
def wf(n: int) -> Tuple[int, bool, str, str, bool]:
    total = squares(n=n)
    stopped = alive(after=total)  # the Ray squares started stopped with it
    first = node(after=stopped)
    second = node(after=stopped)  # shutdown_after_job_finishes=False: the same Ray as the first
    return total, stopped, first, second, still_alive(after=second)
'''


def _processes_naming(text: str) -> list[int]:
    """Pids whose command line names ``text`` (a Ray session's own temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in command:
                found.append(int(entry.name))
    return found


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flyrun.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(REPO), **RAY_ENV, **env), timeout=timeout)


@pytest.fixture
def ray_tmp():
    # Short: Ray's unix sockets live under it, and a socket path has a 107-byte limit.
    folder = tempfile.mkdtemp(prefix="fr-ray-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_ray
@pytest.mark.slow
def test_ray_remote_functions_in_a_local_run_and_ray_stops_after(project, ray_tmp, tmp_path):
    root = project({"rayjobs.py": LOCAL})
    elsewhere = tmp_path / "elsewhere"  # Ray's workers import the module from the project root, not the cwd
    elsewhere.mkdir()
    env = {"RAY_TMPDIR": ray_tmp, "HOME": str(tmp_path)}
    done = _run(["run", "-o", "json", str(root / "rayjobs.py"), "wf", "--n", "4"], elsewhere, env)
    assert done.returncode == 0, done.stderr
    outputs = json.loads(done.stdout)["outputs"]
    assert (outputs["o0"], outputs["o1"], outputs["o4"]) == (14, False, True)
    assert outputs["o2"] == outputs["o3"]
    assert _processes_naming(ray_tmp) == []  # nothing of the local Ray outlives the run


@pytest.fixture(scope="module")
def ray_head():
    """A separate Ray cluster: `ray start --head --block` on 127.0.0.1 with a marker resource, stopped at the end
    with everything it started (checked by the session folder in their command lines)."""
    folder = tempfile.mkdtemp(prefix="fr-head-", dir="/tmp")
    port = free_port()
    ray_cli = str(Path(sys.executable).parent / "ray") if (Path(sys.executable).parent / "ray").exists() else "ray"
    argv = [ray_cli, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
            "--num-cpus", "1", "--include-dashboard", "false", "--temp-dir", folder,
            "--resources", json.dumps({"flyrun_test_head": 1}), "--disable-usage-stats"]
    env = dict(os.environ, **RAY_ENV)
    head = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            probe = subprocess.run([ray_cli, "status", "--address", address], capture_output=True, text=True,
                                   env=env, timeout=60)
            if probe.returncode == 0 and "flyrun_test_head" in probe.stdout:
                break
            assert head.poll() is None, "ray start --head exited"
            assert time.monotonic() < deadline, f"the Ray head did not come up: {probe.stdout}{probe.stderr}"
            time.sleep(1)
        yield address
    finally:
        head.send_signal(signal.SIGTERM)  # --block: ray start stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=10)
        deadline = time.monotonic() + 30
        while _processes_naming(folder) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _processes_naming(folder)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        assert left == [], f"processes of the Ray head outlived it: {left}"


def _by_address(address: str) -> str:
    return textwrap.dedent(f'''
        import ray

        from flyrun import task, workflow
        from flyrun.plugins.ray import RayJobConfig, WorkerNodeConfig


        @ray.remote
        def square(x: int) -> int:
            return x * x


        @task(task_config=RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="g", replicas=1)],
                                       address="{address}"),
              environment={RAY_ENV!r})
        def on_cluster(n: int) -> str:
            # the marker resource exists only on the separate cluster
            assert ray.cluster_resources().get("flyrun_test_head") == 1, ray.cluster_resources()
            total = sum(ray.get([square.remote(i) for i in range(n)]))
            return f"{{total}} on port {{ray.get_runtime_context().gcs_address.rsplit(':', 1)[1]}}"


        @workflow
        def wf(n: int) -> str:
            return on_cluster(n=n)
        ''')


@needs_ray
@pytest.mark.slow
def test_a_task_runs_on_a_separate_ray_cluster_by_address(project, ray_head, tmp_path):
    root = project({"separate.py": _by_address(ray_head)})
    done = _run(["run", "-o", "json", str(root / "separate.py"), "wf", "--n", "4"], tmp_path,
                {"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"o0": f"14 on port {ray_head.rsplit(':', 1)[1]}"}


@needs_ray
@pytest.mark.slow
def test_a_sandbox_task_runs_on_a_separate_ray_cluster_by_address(sandbox_server, project, ray_head, tmp_path):
    root = project({"separate.py": _by_address(ray_head)})
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: {sandbox_server['endpoint']}\n  insecure: true\n  authType: None\n")
    done = _run(["-c", str(config), "run", "--remote", "--wait", "-o", "json", str(root / "separate.py"), "wf",
                 "--n", "5"], root, {"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"o0": f"30 on port {ray_head.rsplit(':', 1)[1]}"}


@needs_ray
def test_the_example_packages_as_ray_tasks(cli, tmp_path):
    out = tmp_path / "out"
    done = cli("package", str(REPO / "examples" / "ray_job.py"), "--output-dir", str(out))
    assert done.exit_code == 0, done.output
    template = json.loads((out / "tasks" / "ray_job.ray_task.json").read_text())["template"]
    assert template["type"] == "ray"
    assert template["custom"]["rayCluster"]["workerGroupSpec"][0]["k8sPod"]["podSpec"]["containers"][0] == {
        "name": "ray-worker", "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                            "limits": {"cpu": "1", "memory": "1Gi"}}}


@needs_ray
def test_an_address_where_no_cluster_answers_fails_fast_in_one_line(cli, project):
    port = free_port()  # nothing listens there
    root = project({"nowhere.py": f'''
        from flyrun import task
        from flyrun.plugins.ray import RayJobConfig

        @task(task_config=RayJobConfig(worker_node_config=[], address="127.0.0.1:{port}"))
        def t() -> int:
            return 1
        '''})
    started = time.monotonic()
    done = cli("run", str(root / "nowhere.py"), "t")
    assert done.exit_code == 6, done.output
    assert done.stderr.splitlines()[0] == (
        f"Error: task nowhere.t failed: ConnectionError: no Ray cluster answers at 127.0.0.1:{port} (Connection "
        "refused); start it, or fix RayJobConfig(address=...)")
    assert time.monotonic() - started < 60  # ray.init alone would retry for minutes
