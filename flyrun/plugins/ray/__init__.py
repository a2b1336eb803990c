"""Ray jobs (as ``flytekitplugins.ray``): ``@task(task_config=RayJobConfig(...))``.

On a cluster the task is flytekit's ``ray`` task type, whose custom spec the KubeRay operator turns into a
RayJob. Locally and on the sandbox the task starts a local Ray, or connects to the cluster at ``address=``.
ray is the optional extra ``flyrun[ray]``, imported only when such a task runs.
"""

from flyrun.plugins.ray.config import AutoscalerOptionsConfig, HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from flyrun.plugins.ray.task import RayFunctionTask

__all__ = ["AutoscalerOptionsConfig", "HeadNodeConfig", "RayFunctionTask", "RayJobConfig", "WorkerNodeConfig"]
