"""``mlflow_autolog`` (as ``flytekitplugins.mlflow``): MLflow autologging around a task, with a deck of the run.

mlflow is the optional extra ``flyrun[mlflow]``, imported only when a decorated task runs.
"""

from flyrun.plugins.mlflow.tracking import mlflow_autolog

__all__ = ["mlflow_autolog"]
