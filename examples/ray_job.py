"""Ray jobs (flytekitplugins.ray's RayJobConfig, ported by changing the import).

    pip install 'flyrun[ray]'
    flyrun run examples/ray_job.py ray_wf --n 10
    RAY_CLUSTER=127.0.0.1:6379 flyrun run examples/ray_job.py cluster_wf --n 10   # an existing Ray cluster
    flyrun run --remote examples/ray_job.py ray_wf --n 10      # on `flyrun sandbox` or a Flyte cluster (KubeRay)

Locally and on the sandbox the task starts a Ray of one CPU on this machine for its body (and stops it after), or
joins the cluster at ``address=``. On a Flyte cluster the same config is the RayJob spec KubeRay starts.
"""

import os
import typing

import ray

from flyrun import Resources, task, workflow
from flyrun.plugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig


@ray.remote
def f(x: int) -> int:
    return x * x


config = RayJobConfig(
    head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1", "log-color": "True"}),
    worker_node_config=[WorkerNodeConfig(group_name="ray-group", replicas=1, limits=Resources(cpu="1", mem="1Gi"))],
    runtime_env={"env_vars": {"GREETING": "hello"}},
    shutdown_after_job_finishes=True,
    ttl_seconds_after_finished=3600,
)


@task(task_config=config)
def ray_task(n: int) -> typing.List[int]:
    futures = [f.remote(i) for i in range(n)]
    return ray.get(futures)


# "Ray jobs on separate clusters": the same task body, run by a Ray cluster that already exists.
on_cluster = RayJobConfig(worker_node_config=[WorkerNodeConfig(group_name="ray-group", replicas=1)],
                          address=os.environ.get("RAY_CLUSTER", "auto"))


@task(task_config=on_cluster)
def cluster_task(n: int) -> typing.List[int]:
    return ray.get([f.remote(i) for i in range(n)])


@workflow
def ray_wf(n: int) -> typing.List[int]:
    return ray_task(n=n)


@workflow
def cluster_wf(n: int) -> typing.List[int]:
    return cluster_task(n=n)
